"""Ordering parties (donneurs d'ordre) of a tenant: who orders missions and whose
contracts price them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.people.identity import audit
from server.platform.errors import Conflict
from server.platform.tables import ordering_parties


def exists(conn: sa.Connection, tenant_id: str, party_id: str) -> bool:
    return (
        conn.execute(
            sa.select(ordering_parties.c.id).where(
                ordering_parties.c.tenant_id == tenant_id, ordering_parties.c.id == party_id
            )
        ).first()
        is not None
    )


def create_party(
    conn: sa.Connection, tenant_id: str, party_id: str, name: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    if exists(conn, tenant_id, party_id):
        raise Conflict(
            f"Le donneur d'ordre {party_id} existe déjà.",
            f"Ordering party {party_id} already exists.",
            code="ordering_party_exists",
        )
    conn.execute(
        sa.insert(ordering_parties).values(
            tenant_id=tenant_id, id=party_id, name=name, created_at=now
        )
    )
    audit(conn, tenant_id, actor, "ordering_party.create", party_id, now)
    return {"id": party_id, "name": name, "created_at": now}


def list_parties(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(ordering_parties)
        .where(ordering_parties.c.tenant_id == tenant_id)
        .order_by(ordering_parties.c.id)
    )
    return [{"id": r.id, "name": r.name, "created_at": r.created_at} for r in rows]
