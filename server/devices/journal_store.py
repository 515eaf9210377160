"""Writing a verified batch into `journal_entries`: every new entry with its canonical body
(the hashed bytes), hash and signature, in one statement (docs/sync-protocol.md "Push",
step 7), and what reconciliation reads of it (`server.office.reconcile_facts`: its facts,
its lookup key, whether it repeats an earlier entry). Only
`server.devices.push` calls it, after the batch verified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from server.devices.ingest import mission_of
from server.office import reconcile_facts
from server.platform.tables import journal_entries
from shared.journal import SignedEntry


def store(
    conn: sa.Connection,
    tenant_id: str,
    new: list[SignedEntry],
    wire: Sequence[Mapping[str, Any]],
    now: datetime,
) -> None:
    """Every new entry with its canonical body (the hashed bytes), hash and signature.
    `wire` holds the entries as received, in the same order as `new`."""
    rows = [
        {
            "device_id": s.entry.device_id,
            "seq": s.seq,
            "tenant_id": tenant_id,
            "type": str(s.entry.type),
            "at": s.entry.at,
            "driver_id": s.entry.driver_id,
            "mission_id": mission_of(s),
            "hash": s.hash,
            "prev_hash": s.entry.prev_hash,
            "sig": s.sig,
            "body": _body(s),
            "received_at": now,
            **reconcile_facts.columns(str(s.entry.type), _payload(s, data)),
        }
        for s, data in zip(new, wire, strict=True)
    ]
    if new:
        reconcile_facts.mark_repeats(conn, tenant_id, new[0].entry.device_id, rows)
    if conn.dialect.name == "postgresql":
        _copy(conn, rows)
    else:
        conn.execute(sa.insert(journal_entries), rows)  # one executemany


def _copy(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows in one COPY, in the connection's open transaction (a batch
    of INSERTs costs about three times as much). COPY bypasses SQLAlchemy's types, so
    each value goes through its column's bind processing first (UTC instants)."""
    columns = list(journal_entries.c.keys())
    processors = [journal_entries.c[name].type.bind_processor(conn.dialect) for name in columns]
    values = [
        [
            row[name] if process is None else process(row[name])
            for name, process in zip(columns, processors, strict=True)
        ]
        for row in rows
    ]
    names = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in columns)
    table = conn.dialect.identifier_preparer.format_table(journal_entries)
    cursor = cast(Any, conn.connection.dbapi_connection).cursor()
    try:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    finally:
        cursor.close()


def _payload(signed: SignedEntry, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload as received (plain JSON, checked by `from_wire`: the same values as
    the entry's, quicker to read), else the entry's own."""
    payload = data.get("payload")
    return payload if type(payload) is dict else signed.entry.payload


def _body(signed: SignedEntry) -> str:
    """The canonical JSON of a verified entry: the very bytes the push hashed when it
    verified the chain (`Entry.canonical`, written once from the received data)."""
    return signed.entry.canonical().decode("utf-8")
