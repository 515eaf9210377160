"""What the ordering party and the office see of a file: the party its state, its own
messages and its missions' final facts, the office the whole log with the file's orders
and missions (the file's table itself is server.parties.files).

A mission's final facts (`server.office.final_facts`) are the facts the server values it
on — the order with what the driver found on site, as counted — beside the order's: the
same the party's invoice and claim follow."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.office.final_facts import final_facts
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


def _missions_of_file(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> list[Any]:
    return list(
        conn.execute(
            sa.select(missions_table)
            .where(
                missions_table.c.tenant_id == tenant_id,
                missions_table.c.ordering_party_id == party_id,
                missions_table.c.file_number == file_number,
            )
            .order_by(missions_table.c.id)
        )
    )


def file_for_party(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """What the ordering party may see of its own file: the state, its own messages
    (never the office's notes) and, per mission, the final facts beside its order's
    (facts still kept for the office are not shown to the party: they are not counted)."""
    stored = party_files.get_file(conn, tenant_id, party_id, file_number)
    found = [
        (m.id, final_facts(conn, tenant_id, m.id))
        for m in _missions_of_file(conn, tenant_id, party_id, file_number)
    ]
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
        "missions": [
            {
                "id": mission_id,
                "final_facts": None
                if final is None
                else {k: v for k, v in final.items() if k != "held_for_office"},
            }
            for mission_id, final in found
        ],
    }


def file_detail(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """The office's view of a file: state, warning, the whole log, its orders and
    missions."""
    stored = party_files.get_file(conn, tenant_id, party_id, file_number)
    mission_rows = _missions_of_file(conn, tenant_id, party_id, file_number)
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
                "final_facts": final_facts(conn, tenant_id, m.id),
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
