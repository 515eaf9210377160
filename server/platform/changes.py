"""The pull feed: every change a device may need (contracts, missions, office
decisions…), numbered per tenant by a gapless counter.

The counter lives in the tenant's row and is bumped by an UPDATE in the same
transaction that inserts the change. On PostgreSQL that row lock serialises writers of
one tenant, so change N+1 can never commit before change N and a reader paging by
cursor never skips a row (a plain sequence could). On SQLite, BEGIN IMMEDIATE already
serialises writers.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.platform.tables import changes, tenants
from shared.canonical import plain

MAX_PAGE = 1000
DEVICE_SCOPE = "device:"  # a change for one tablet only: "device:<device id>"


def device_scope(device_id: str) -> str:
    """The scope of a change meant for one tablet (an office decision about it)."""
    return DEVICE_SCOPE + device_id


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    kind: str
    entity_id: str
    data: Mapping[str, Any] | None  # None: the entity was removed (a tombstone)

    def to_wire(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "id": self.entity_id, "data": self.data}


def record(
    conn: sa.Connection,
    tenant_id: str,
    kind: str,
    entity_id: str,
    data: Mapping[str, Any] | None,
    *,
    scope: str | None,
    now: datetime,
) -> int:
    """Append a change for the tenant's devices (`scope`: one driver's tablets, one
    tablet's with `device_scope`, or all with None); returns its sequence number. Must
    run inside the transaction that makes the change."""
    seq = conn.execute(
        sa.update(tenants)
        .where(tenants.c.id == tenant_id)
        .values(change_seq=tenants.c.change_seq + 1)
        .returning(tenants.c.change_seq)
    ).scalar_one()
    conn.execute(
        sa.insert(changes).values(
            tenant_id=tenant_id,
            seq=seq,
            kind=kind,
            entity_id=entity_id,
            scope=scope,
            data=None if data is None else json.dumps(plain(data), sort_keys=True),
            created_at=now,
        )
    )
    return int(seq)


def page(
    conn: sa.Connection,
    tenant_id: str,
    cursor: int,
    scopes: Collection[str],
    limit: int = MAX_PAGE,
) -> tuple[list[Change], int, bool]:
    """Changes after `cursor` visible to a device whose scopes are `scopes` (its drivers'
    ids and its own `device_scope`).

    Returns (changes, next_cursor, has_more). The cursor advances over rows the device
    may not see too, so an empty page still moves it forward.
    """
    rows, next_cursor, has_more = stored_page(conn, tenant_id, cursor, scopes, limit)
    visible = [
        Change(seq, kind, entity_id, None if data is None else json.loads(data))
        for seq, kind, entity_id, data in rows
    ]
    return visible, next_cursor, has_more


StoredChange = tuple[int, str, str, str | None]  # seq, kind, entity id, data as stored


def stored_page(
    conn: sa.Connection,
    tenant_id: str,
    cursor: int,
    scopes: Collection[str],
    limit: int = MAX_PAGE,
) -> tuple[list[StoredChange], int, bool]:
    """`page`, with each change's data left as the JSON text `record` stored (None for a
    tombstone): for a server that copies it into an answer without parsing it again."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = conn.execute(
        sa.select(
            changes.c.seq, changes.c.kind, changes.c.entity_id, changes.c.scope, changes.c.data
        )
        .where(changes.c.tenant_id == tenant_id, changes.c.seq > cursor)
        .order_by(changes.c.seq)
        .limit(limit + 1)
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    visible = [
        (int(seq), kind, entity_id, data)
        for seq, kind, entity_id, scope, data in rows
        if scope is None or scope in scopes
    ]
    next_cursor = rows[-1].seq if rows else cursor
    return visible, int(next_cursor), has_more
