"""The office's own fix of a mission made from an order, before a tablet values it (seed
000, "Solution 1"), and a draft cleaning rule made from such a fix."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import missions
from server.parties.order_document import FORCED, ORDER, differences
from server.parties.order_store import (
    FileLog,
    Rules,
    as_received,
    cleaning_of,
    mission_row,
    order_of_mission,
    valued_by_tablet,
    write_mission,
)
from server.platform.errors import Conflict, Unprocessable, not_found
from shared.cleaning_paths import MISSION_FIELDS, copy_json
from shared.cleaning_proposal import propose_rule
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.mission import load_mission


def correct_mission(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    document: Any,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """The office cleans an order by hand before a tablet values it (seed 000, "Solution
    1"): the mission's new document, with what changed logged on the file naming the
    clerk. Refused once a tablet valued the mission (then the price is corrected by a
    credit note), on a cancelled mission, or when the id, party or file change."""
    mission = mission_row(conn, tenant_id, mission_id)
    if mission is None:
        raise not_found("Mission", "Mission", mission_id)
    if mission.status == missions.CANCELLED:
        raise Conflict(
            f"La mission {mission_id} est annulée : elle ne se corrige plus.",
            f"Mission {mission_id} is cancelled: it can no longer be corrected.",
            code="mission_cancelled",
        )
    if valued_by_tablet(conn, tenant_id, mission_id):
        raise Conflict(
            f"Une tablette a déjà valorisé la mission {mission_id} : corrigez le prix par un "
            "avoir (ou acceptez la contestation), pas en modifiant la mission.",
            f"A tablet already valued mission {mission_id}: correct the price with a credit "
            "note (or accept the dispute), not by editing the mission.",
            code="mission_already_valued",
        )
    if not isinstance(document, Mapping):
        raise InvalidDocument(
            ORDER, [Problem("document", Text("un objet est attendu", "an object"))]
        )
    try:
        load_mission(document)
    except InvalidDocument as error:
        raise InvalidDocument(
            error.what,
            [
                Problem(f"document.{p.path}" if p.path else "document", p.text)
                for p in error.problems
            ],
        ) from None
    held = {
        "id": mission.id,
        "ordering_party": mission.ordering_party_id,
        "file_number": mission.file_number,
    }
    moved = [k for k, v in held.items() if document.get(k) != v]
    if moved:
        raise Unprocessable(
            "L'identifiant, le donneur d'ordre et le numéro de dossier d'une mission ne se "
            f"corrigent pas ({', '.join(moved)}).",
            f"A mission's id, ordering party and file number cannot be corrected "
            f"({', '.join(moved)}).",
            code="mission_identity",
        )
    before = json.loads(mission.document)
    changed = differences(before, dict(document))
    wire = write_mission(
        conn,
        tenant_id,
        mission_id,
        document,
        actor=actor,
        now=now,
        action="mission.manual_clean",
        detail={"reason": reason, "changes": len(changed)},
    )
    if mission.ordering_party_id and mission.file_number:
        FileLog(conn, tenant_id, mission.ordering_party_id, mission.file_number, actor, now).log(
            "manual_clean",
            {"mission_id": mission_id, "reason": reason, "changes": changed},
            source="office",
        )
    return {**wire, "changes": changed}


def _default_rule_id(mission_id: str, taken: set[str]) -> str:
    base = "fix-" + re.sub(r"[^A-Za-z0-9_.-]", "-", mission_id)[:54]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def rule_from_fix(
    conn: sa.Connection, tenant_id: str, mission_id: str, *, rule_id: str | None = None
) -> dict[str, Any]:
    """A draft rule from the office's hand fix of a mission made from an order
    (shared.cleaning_proposal.propose_rule), and the party's rule set with it appended,
    as the next version: to edit, then publish.

    The fix is read against the order as received cleaned by the party's current rule
    set: a new rule runs after the existing ones and sees what they left."""
    mission = mission_row(conn, tenant_id, mission_id)
    if mission is None:
        raise not_found("Mission", "Mission", mission_id)
    row = order_of_mission(conn, tenant_id, mission)
    if row is None:
        raise Conflict(
            f"La mission {mission_id} ne vient pas d'un ordre de mission : il n'y a pas de "
            "commande reçue d'où tirer une règle.",
            f"Mission {mission_id} does not come from an order: there is no order as "
            "received to make a rule from.",
            code="no_order",
        )
    rules = Rules(conn, tenant_id, row.party_id)
    stored = rules.latest()
    before = cleaning_of(as_received(row), stored).order
    before.pop("message_id", None)
    fixed = json.loads(mission.document)
    after = {k: copy_json(v) for k, v in before.items() if k not in MISSION_FIELDS or k in FORCED}
    # The coverage block is the order's, with what intake looked up: not a fix to learn;
    # nor is the beneficiary (older missions' documents do not carry it).
    kept = (*FORCED, "coverage", "beneficiary")
    after.update({k: copy_json(v) for k, v in fixed.items() if k not in kept})
    for key in ("coverage", "file_consumed", "beneficiary"):
        if key in before:
            after[key] = copy_json(before[key])
    current_rules = [] if stored is None else list(stored.document.get("rules", []))
    taken = {str(r.get("id")) for r in current_rules if isinstance(r, Mapping)}
    chosen = rule_id or _default_rule_id(mission_id, taken)
    proposal = propose_rule(before, after, rule_id=chosen)
    head = 0 if stored is None else stored.ruleset.version
    return {
        "mission_id": mission_id,
        "order_id": row.id,
        "party_id": row.party_id,
        "based_on_version": None if stored is None else head,
        "rule": proposal.rule,
        "left_out": list(proposal.left_out),
        "draft": {
            "party": row.party_id,
            "version": head + 1,
            "rules": [*current_rules, proposal.rule],
        },
    }
