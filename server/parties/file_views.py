"""What the ordering party and the office see of a file: the party its state and its own
messages, the office the whole log with the file's orders and missions (the file's table
itself is server.parties.files)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.parties import files as party_files
from server.parties.order_store import state_label, valued_by_tablet
from server.platform.tables import missions as missions_table
from server.platform.tables import orders as orders_table


def _orders_of_file(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> list[Any]:
    return list(
        conn.execute(
            sa.select(orders_table)
            .where(
                orders_table.c.tenant_id == tenant_id,
                orders_table.c.party_id == party_id,
                orders_table.c.file_number == file_number,
            )
            .order_by(orders_table.c.received_at, orders_table.c.id)
        )
    )


def file_for_party(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """What the ordering party may see of its own file: the state and its own messages
    (never the office's notes)."""
    stored = party_files.get_file(conn, tenant_id, party_id, file_number)
    messages = [
        {
            "message_id": e["message_id"],
            "kind": e["event"],
            "state": e["state_after"],
            "at": e["at"],
        }
        for e in party_files.history(conn, tenant_id, party_id, file_number)
        if e["source"] == "party" and e["message_id"] is not None
    ]
    return {
        "file_number": file_number,
        "state": stored["state"],
        "state_label": state_label(stored["state"]),
        "updated_at": stored["updated_at"],
        "messages": messages,
    }


def file_detail(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """The office's view of a file: state, warning, the whole log, its orders and
    missions."""
    stored = party_files.get_file(conn, tenant_id, party_id, file_number)
    mission_rows = conn.execute(
        sa.select(missions_table)
        .where(
            missions_table.c.tenant_id == tenant_id,
            missions_table.c.ordering_party_id == party_id,
            missions_table.c.file_number == file_number,
        )
        .order_by(missions_table.c.id)
    ).all()
    return {
        **stored,
        "state_label": state_label(stored["state"]),
        "history": party_files.history(conn, tenant_id, party_id, file_number),
        "orders": [
            {
                "order_id": r.id,
                "message_id": r.message_id,
                "mission_id": r.mission_id,
                "ruleset_version": r.ruleset_version,
                "received_at": r.received_at,
                "received_by": r.received_by,
            }
            for r in _orders_of_file(conn, tenant_id, party_id, file_number)
        ],
        "missions": [
            {
                "id": m.id,
                "status": m.status,
                "driver_id": m.driver_id,
                "valued_by_tablet": valued_by_tablet(conn, tenant_id, m.id),
            }
            for m in mission_rows
        ],
    }


def list_files(
    conn: sa.Connection,
    tenant_id: str,
    *,
    party_id: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    found = party_files.list_files(conn, tenant_id, party_id=party_id, state=state, limit=limit)
    return [{**f, "state_label": state_label(f["state"])} for f in found]
