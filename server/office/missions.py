"""Missions on the server: created by the office (or by a tablet, for a private
customer met on the road), assigned to a driver.

A mission reaches only its driver's tablets: each assignment is a `mission` change in
the pull feed scoped to that driver; a reassignment also sends the previous driver's
tablets a tombstone, so the mission disappears from them. When the office cancels a
mission, its driver's tablets receive it again with `"status": "cancelled"` and the
`cancel_reason`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import mission_keys
from server.people import ordering_parties as parties
from server.people.drivers import existing_drivers
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import missions
from shared.canonical import canonical_json
from shared.errors import InvalidDocument, Problem
from shared.mission import load_mission

NEW = "new"
ASSIGNED = "assigned"
CANCELLED = "cancelled"  # shared.steps.Step.CANCELLED, which server.devices.ingest checks


def _driver_must_exist(conn: sa.Connection, tenant_id: str, driver_id: str) -> None:
    if not existing_drivers(conn, tenant_id, [driver_id]):
        raise Unprocessable(
            f"Chauffeur inconnu ou inactif : {driver_id}.",
            f"Unknown or inactive driver: {driver_id}.",
            code="driver_unknown",
        )


def _wire(row: Any) -> dict[str, Any]:
    """The mission as the office lists it and as its driver's tablets receive it."""
    return {
        "id": row.id,
        "file_number": row.file_number,
        "ordering_party_id": row.ordering_party_id,
        "driver_id": row.driver_id,
        "status": row.status,
        "cancel_reason": row.cancel_reason,
        "source": row.source,
        "document": json.loads(row.document),
    }


def _row(conn: sa.Connection, tenant_id: str, mission_id: str) -> Any:
    return conn.execute(
        sa.select(missions).where(missions.c.tenant_id == tenant_id, missions.c.id == mission_id)
    ).first()


def _announce(conn: sa.Connection, tenant_id: str, row: Any, now: datetime) -> None:
    data = _wire(row)
    data.pop("source")
    changes.record(conn, tenant_id, "mission", row.id, data, scope=row.driver_id, now=now)


def create(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, Any],
    driver_id: str | None,
    *,
    source: str = "office",
    actor: str,
    now: datetime,
    path: str = "document",
) -> dict[str, Any]:
    """Validate a mission document with the core and store it; with a driver, its
    tablets learn it at their next pull."""
    try:
        mission = load_mission(document)
    except InvalidDocument as error:
        raise InvalidDocument(
            error.what,
            [Problem(f"{path}.{p.path}" if p.path else path, p.text) for p in error.problems],
        ) from None
    party = mission.ordering_party
    if party is not None and not parties.exists(conn, tenant_id, party):
        raise Unprocessable(
            f"Donneur d'ordre inconnu : {party}.",
            f"Unknown ordering party: {party}.",
            code="ordering_party_unknown",
        )
    if driver_id is not None:
        _driver_must_exist(conn, tenant_id, driver_id)
    if _row(conn, tenant_id, mission.id) is not None:
        raise Conflict(
            f"La mission {mission.id} existe déjà.",
            f"Mission {mission.id} already exists.",
            code="mission_exists",
        )
    conn.execute(
        sa.insert(missions).values(
            tenant_id=tenant_id,
            id=mission.id,
            file_number=mission.file_number,
            ordering_party_id=party,
            driver_id=driver_id,
            document=canonical_json(document).decode("utf-8"),
            status=ASSIGNED if driver_id else NEW,
            source=source,
            created_at=now,
            created_by=actor,
            **mission_keys.keys(document),
        )
    )
    row = _row(conn, tenant_id, mission.id)
    if driver_id is not None:
        _announce(conn, tenant_id, row, now)
    audit(
        conn, tenant_id, actor, "mission.create", mission.id, now, detail={"driver_id": driver_id}
    )
    return _wire(row)


def assign(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    driver_id: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Give the mission to `driver_id`; the previous driver's tablets get a tombstone."""
    row = _row(conn, tenant_id, mission_id)
    if row is None:
        raise not_found("Mission", "Mission", mission_id)
    _driver_must_exist(conn, tenant_id, driver_id)
    if row.driver_id == driver_id:
        return _wire(row)
    if row.driver_id is not None:
        changes.record(conn, tenant_id, "mission", mission_id, None, scope=row.driver_id, now=now)
    status = ASSIGNED if row.status == NEW else row.status
    conn.execute(
        sa.update(missions)
        .where(missions.c.tenant_id == tenant_id, missions.c.id == mission_id)
        .values(driver_id=driver_id, status=status)
    )
    row = _row(conn, tenant_id, mission_id)
    _announce(conn, tenant_id, row, now)
    audit(
        conn, tenant_id, actor, "mission.assign", mission_id, now, detail={"driver_id": driver_id}
    )
    return _wire(row)


def cancel(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Cancel the mission: its driver's tablets learn it at their next pull (no more
    steps but the cancellation; money already taken is still recorded). Once only."""
    row = _row(conn, tenant_id, mission_id)
    if row is None:
        raise not_found("Mission", "Mission", mission_id)
    if row.status == CANCELLED:
        raise Conflict(
            f"La mission {mission_id} est déjà annulée ({row.cancel_reason}).",
            f"Mission {mission_id} is already cancelled ({row.cancel_reason}).",
            code="mission_already_cancelled",
        )
    previous = row.status
    conn.execute(
        sa.update(missions)
        .where(missions.c.tenant_id == tenant_id, missions.c.id == mission_id)
        .values(status=CANCELLED, cancel_reason=reason, cancelled_at=now, cancelled_by=actor)
    )
    row = _row(conn, tenant_id, mission_id)
    if row.driver_id is not None:  # an unassigned mission is on no tablet
        _announce(conn, tenant_id, row, now)
    audit(
        conn,
        tenant_id,
        actor,
        "mission.cancel",
        mission_id,
        now,
        reason=reason,
        detail={"driver_id": row.driver_id, "previous_status": previous},
    )
    return _wire(row)


def get(conn: sa.Connection, tenant_id: str, mission_id: str) -> dict[str, Any]:
    row = _row(conn, tenant_id, mission_id)
    if row is None:
        raise not_found("Mission", "Mission", mission_id)
    return _wire(row)


def list_missions(
    conn: sa.Connection,
    tenant_id: str,
    *,
    driver_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    query = sa.select(missions).where(missions.c.tenant_id == tenant_id)
    if driver_id is not None:
        query = query.where(missions.c.driver_id == driver_id)
    if status is not None:
        query = query.where(missions.c.status == status)
    rows = conn.execute(query.order_by(missions.c.created_at.desc(), missions.c.id).limit(limit))
    return [_wire(r) for r in rows]
