"""Agents: the people a tenant pays on results for the business they bring (seed 003;
docs/commissions.md "Agents"), not necessarily users of Towline — a garage owner, an
insurer's contact, a scout. A register per tenant (`agents`), and who brought each
mission (`mission_agents`), named at the phone call or in an ordering party's API order.

Both tables only grow (migration 0009's triggers): a mission's agent changed later is a
new line, and the latest line is the one in force. An agent's id is also the key of their
commission rules (`commission:<id>`, server.office.commissions), so it may not be the id
of a driver or an office user of the tenant.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable
from server.platform.tables import agents, drivers, mission_agents, missions, users

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_MAX = 200
VIAS = ("phone", "api", "desk")


def add(
    conn: sa.Connection,
    tenant_id: str,
    agent_id: object,
    name: object,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Add an agent to the tenant's register; refused when the id is malformed or already
    a person's of this tenant (an agent, a driver or an office user)."""
    ident = str(agent_id or "").strip()
    if not ID.match(ident):
        raise Unprocessable(
            "Identifiant d'apporteur invalide : lettres, chiffres, « . », « _ » ou « - », "
            '64 caractères au plus, par exemple "paolo".',
            'Invalid agent id: letters, digits, ".", "_" or "-", 64 characters at most, '
            'e.g. "paolo".',
            code="agent_id_invalid",
        )
    label = " ".join(str(name or "").split())
    if not 0 < len(label) <= NAME_MAX:
        raise Unprocessable(
            f"Indiquez le nom de l'apporteur ({NAME_MAX} caractères au plus).",
            f"Give the agent's name ({NAME_MAX} characters at most).",
            code="agent_name_invalid",
        )
    taken_by = (
        (agents, ("un apporteur", "an agent")),
        (drivers, ("un chauffeur", "a driver")),
        (users, ("un utilisateur", "an office user")),
    )
    for table, what in taken_by:
        taken = conn.execute(
            sa.select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.id == ident)
        ).first()
        if taken is not None:
            raise Conflict(
                f"L'identifiant {ident} est déjà pris par {what[0]} de cette société : "
                "choisissez-en un autre (les règles de commission sont rangées sous cet "
                "identifiant).",
                f"Id {ident} is already {what[1]}'s in this company: choose another (commission "
                "rules are kept under this id).",
                code="agent_exists",
            )
    conn.execute(
        sa.insert(agents).values(
            tenant_id=tenant_id, id=ident, name=label, added_at=now, added_by=actor[:64]
        )
    )
    audit(conn, tenant_id, actor, "agent.add", ident, now, detail={"name": label})
    return {"id": ident, "name": label, "added_at": now.isoformat(), "added_by": actor[:64]}


def listed(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's agents, by id."""
    return [
        {"id": r.id, "name": r.name, "added_at": r.added_at.isoformat(), "added_by": r.added_by}
        for r in conn.execute(
            sa.select(agents).where(agents.c.tenant_id == tenant_id).order_by(agents.c.id)
        )
    ]


def names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    """{agent id: name}."""
    return {
        str(r.id): str(r.name)
        for r in conn.execute(
            sa.select(agents.c.id, agents.c.name).where(agents.c.tenant_id == tenant_id)
        )
    }


def require(conn: sa.Connection, tenant_id: str, agent_id: str) -> str:
    """The agent's name; `agent_unknown` (422) when the register has no such agent."""
    found = names(conn, tenant_id).get(agent_id)
    if found is None:
        raise Unprocessable(
            f"Apporteur inconnu : {agent_id}. Ajoutez-le d'abord au registre des apporteurs "
            "(Tableaux de bord → Commissions, ou towline-server commissions agents --add).",
            f"Unknown agent: {agent_id}. Add them to the register of agents first "
            "(Dashboards → Commissions, or towline-server commissions agents --add).",
            code="agent_unknown",
        )
    return found


def name_for_mission(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    agent_id: str,
    *,
    via: str,
    actor: str,
    now: datetime,
) -> dict[str, Any] | None:
    """Record that `agent_id` brought the mission (a new line; nothing when that agent is
    already the one in force). Refused (`agent_unknown`) for an agent not registered."""
    name = require(conn, tenant_id, agent_id)
    made = conn.execute(
        sa.select(missions.c.id).where(
            missions.c.tenant_id == tenant_id, missions.c.id == mission_id
        )
    ).first()
    if made is None:  # an order that made no mission (its file is done): nobody brought one
        return None
    current = of_mission(conn, tenant_id, mission_id)
    if current is not None and current["id"] == agent_id:
        return None
    last = conn.execute(
        sa.select(sa.func.max(mission_agents.c.line_no)).where(
            mission_agents.c.tenant_id == tenant_id, mission_agents.c.mission_id == mission_id
        )
    ).scalar_one_or_none()
    conn.execute(
        sa.insert(mission_agents).values(
            tenant_id=tenant_id,
            mission_id=mission_id,
            line_no=int(last or 0) + 1,
            agent_id=agent_id,
            via=via if via in VIAS else "desk",
            named_at=now,
            named_by=actor[:64],
        )
    )
    audit(conn, tenant_id, actor, "mission.agent", mission_id, now, detail={"agent": agent_id})
    return {"id": agent_id, "name": name, "via": via}


def of_mission(conn: sa.Connection, tenant_id: str, mission_id: str) -> dict[str, Any] | None:
    """The agent in force on the mission (`id`, `name`, `via`, `named_at`, `named_by`), or
    None."""
    row = conn.execute(
        sa.select(mission_agents, agents.c.name)
        .join(
            agents,
            sa.and_(
                agents.c.tenant_id == mission_agents.c.tenant_id,
                agents.c.id == mission_agents.c.agent_id,
            ),
        )
        .where(mission_agents.c.tenant_id == tenant_id, mission_agents.c.mission_id == mission_id)
        .order_by(mission_agents.c.line_no.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "id": row.agent_id,
        "name": row.name,
        "via": row.via,
        "named_at": row.named_at.isoformat(),
        "named_by": row.named_by,
    }


def by_mission(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    """{mission: the agent in force on it}, for the tenant's missions that have one."""
    out: dict[str, tuple[int, str]] = {}
    for r in conn.execute(
        sa.select(
            mission_agents.c.mission_id, mission_agents.c.line_no, mission_agents.c.agent_id
        ).where(mission_agents.c.tenant_id == tenant_id)
    ):
        if r.mission_id not in out or r.line_no > out[r.mission_id][0]:
            out[r.mission_id] = (int(r.line_no), str(r.agent_id))
    return {mission: agent for mission, (_, agent) in out.items()}
