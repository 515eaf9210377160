"""What the desk's lists search a mission by, kept in columns beside its document
(docs/scaling.md "The desk at a year"): the call's instant (the dispatch board's day,
the reports' period), the vehicle's plate key (the lookup at the call) and the contract's
customer account. Derived from the document each time it is written (created by the
office or a tablet, replaced by an order), and filled for the rows stored before by
migration 0011; the document stays the record, these only find it through an index.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shared.plates import plate_key

BATCH = 5000


def call_instant(document: Mapping[str, Any]) -> datetime | None:
    """The call's time as an aware UTC instant; None when absent, unreadable or naive
    (the board then reads the mission's creation, as it did from the document)."""
    times = document.get("times")
    call = times.get("call") if isinstance(times, Mapping) else None
    if not isinstance(call, str):
        return None
    try:
        moment = datetime.fromisoformat(call)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):  # unreadable, or beyond what UTC can hold
        return None


def keys(document: Mapping[str, Any]) -> dict[str, Any]:
    """{call_at, plate_key, customer} of a mission document, for its row."""
    vehicle = document.get("vehicle")
    plate = vehicle.get("plate") if isinstance(vehicle, Mapping) else None
    key = plate_key(plate) if isinstance(plate, str) else ""
    customer = document.get("customer")
    return {
        "call_at": call_instant(document),
        "plate_key": key[:20] or None,
        "customer": customer[:160] if isinstance(customer, str) and customer else None,
    }


def backfill(conn: sa.Connection, table: Any) -> int:
    """Fill the keys of every row (`table`: the missions table, or the migration's light
    copy of it), in batches of primary keys; returns how many rows were read."""
    after = ("", "")
    done = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.tenant_id, table.c.id, table.c.document)
            .where(sa.tuple_(table.c.tenant_id, table.c.id) > sa.tuple_(*after))
            .order_by(table.c.tenant_id, table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return done
        updates = []
        for row in rows:
            try:
                document = json.loads(row.document)
            except (TypeError, ValueError):
                continue
            if isinstance(document, Mapping):
                made = keys(document)
                updates.append(
                    {
                        "t": row.tenant_id,
                        "i": row.id,
                        "c": made["call_at"],
                        "p": made["plate_key"],
                        "a": made["customer"],
                    }
                )
        if updates:
            conn.execute(
                sa.update(table)
                .where(table.c.tenant_id == sa.bindparam("t"), table.c.id == sa.bindparam("i"))
                .values(
                    call_at=sa.bindparam("c"),
                    plate_key=sa.bindparam("p"),
                    customer=sa.bindparam("a"),
                ),
                updates,
            )
        done += len(rows)
        after = (rows[-1].tenant_id, rows[-1].id)
