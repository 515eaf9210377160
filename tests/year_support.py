"""Writes `simulation.year`'s synthetic year into the server's database: the tenant, its
ordering parties, contracts, drivers and trucks (`setup`), then days of every truck in
bulk (`generate`: COPY on PostgreSQL, one executemany on SQLite), not through the push
endpoint.

Shared by the reconciliation bench (bench/reconcile.py, which puts the repository on its
path) and tests/test_synthetic_year.py. It lives here, not next to the generator, because
it uses the server's tables and services and the `simulation` package never imports
`server` (tests/test_simulation.py checks it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from server.office import contracts, reconcile_facts
from server.people import identity
from server.people import ordering_parties as parties
from server.platform.tables import UTCDateTime, card_settlements, devices, drivers
from simulation.year import (
    BENCH,
    CONTRACT_OF,
    EXAMPLES,
    TENANT,
    YEAR,
    Rates,
    Rows,
    Year,
    device_of,
    driver_of,
)

FLUSH_MISSIONS = 10_000  # missions per transaction, about


def bulk(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Many rows at once: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


class Stamps:
    """Aware instants as the column type stores them (SQLite: text), cached by value."""

    def __init__(self, dialect: Any) -> None:
        self.process = UTCDateTime().bind_processor(dialect)
        self.cache: dict[Any, Any] = {}

    def __call__(self, moment: Any) -> Any:
        if self.process is None:
            return moment
        if moment not in self.cache:
            self.cache[moment] = self.process(moment)
        return self.cache[moment]


def stamped(rows: list[tuple[Any, ...]], positions: tuple[int, ...], stamp: Stamps) -> list[Any]:
    if stamp.process is None:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for p in positions:
            values[p] = stamp(values[p])
        out.append(tuple(values))
    return out


def with_facts(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Journal rows with what reconciliation reads of them, as the push writes it
    (server.office.reconcile_facts): from each body's type and payload."""
    kind, body = Rows.JOURNAL.index("type"), Rows.JOURNAL.index("body")
    out = []
    for row in rows:
        made = reconcile_facts.columns(row[kind], json.loads(row[body])["payload"])
        out.append((*row, made["facts"], made["ref"]))
    return out


def flush(conn: Any, rows: Rows, stamp: Stamps, chunk: str) -> None:
    """The rows, then each month's card settlement file (imported by the office) and the
    trucks' chain heads."""
    bulk(conn, "missions", Rows.MISSIONS, stamped(rows.missions, (8,), stamp))
    bulk(conn, "valuations", Rows.VALUATIONS, stamped(rows.valuations, (8,), stamp))
    journal = with_facts(stamped(rows.journal, (11,), stamp))
    bulk(conn, "journal_entries", (*Rows.JOURNAL, "facts", "ref"), journal)
    bulk(conn, "audit_log", Rows.AUDIT, stamped(rows.audit, (6,), stamp))
    by_month: dict[str, list[tuple[str, str, int]]] = {}
    for line in rows.cards:
        by_month.setdefault(line[0][:7], []).append(line)
    for month, lines in sorted(by_month.items()):
        first, last = min(x[0] for x in lines), max(x[0] for x in lines)
        name = f"remises-{first}-{last}.csv"
        settlement_id = conn.execute(
            sa.insert(card_settlements)
            .values(
                tenant_id=TENANT,
                file_name=name,
                file_sha256=hashlib.sha256(f"{chunk}:{month}:{name}".encode()).hexdigest(),
                period_from=first,
                period_to=last,
                imported_by="office",
                imported_at=datetime.now(UTC),
            )
            .returning(card_settlements.c.id)
        ).scalar_one()
        bulk(
            conn,
            "card_settlement_lines",
            (*Rows.LINES, "ref"),
            [
                (settlement_id, n + 1, TENANT, *line, reconcile_facts.card_key(line[1], line[2]))
                for n, line in enumerate(lines)
            ],
        )
    heads: dict[str, tuple[int, str]] = {}
    for row in rows.journal:
        heads[row[0]] = (row[1], row[7])
    for device, (seq, digest) in heads.items():
        conn.execute(
            sa.update(devices).where(devices.c.id == device).values(head_seq=seq, head_hash=digest)
        )


def setup(engine: sa.Engine, trucks: int) -> None:
    """The tenant, its ordering parties and contracts, trucks and drivers, on a database
    already at the schema's head (`server.platform.db.upgrade`)."""
    now = datetime(YEAR - 1, 12, 15, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        identity.create_tenant(conn, TENANT, "Dépannage Bench", payments_enabled=True, now=now)
        parties.create_party(conn, TENANT, "ASSIST-A", "Assistance A", actor="bench", now=now)
        parties.create_party(conn, TENANT, "ASSIST-B", "Assistance B", actor="bench", now=now)
        for name in sorted(set(CONTRACT_OF.values())):
            document = json.loads((EXAMPLES / "contracts" / f"{name}.json").read_text("utf-8"))
            contracts.publish(conn, TENANT, document, actor="bench", now=now)
        conn.execute(
            sa.insert(drivers),
            [
                {
                    "tenant_id": TENANT,
                    "id": driver_of(t),
                    "name": f"Chauffeur {t + 1}",
                    "pin_hash": "bench$not-a-real-hash",
                    "role": "driver",
                    "active": True,
                    "created_at": now,
                }
                for t in range(trucks)
            ],
        )
        conn.execute(
            sa.insert(devices),
            [
                {
                    "id": device_of(t),
                    "tenant_id": TENANT,
                    "label": f"Camion {t + 1}",
                    "public_key": f"{t:064x}",
                    "approval_secret": f"{t + 1:064x}",
                    "approval_key_id": 1,
                    "enrolled_at": now,
                    "head_seq": 0,
                }
                for t in range(trucks)
            ],
        )


@dataclass
class Generated:
    year: Year  # its `counts` and `planted` cover the days generated
    seconds: float  # generating and writing, the templates aside
    python_seconds: float  # of which making the rows


Progress = Callable[[int, int, float], None]  # (day index, missions so far, seconds so far)


def generate(
    engine: sa.Engine,
    trucks: int,
    per_day: int,
    first: int,
    last: int,
    *,
    rates: Rates = BENCH,
    progress: Progress | None = None,
) -> Generated:
    """Days [first, last) of every truck, continuing the chains already stored, flushed
    every few days (about `FLUSH_MISSIONS` missions), one transaction each."""
    with engine.connect() as conn:
        heads = {
            r.id: (int(r.head_seq), str(r.head_hash))
            for r in conn.execute(
                sa.select(devices.c.id, devices.c.head_seq, devices.c.head_hash).where(
                    devices.c.tenant_id == TENANT, devices.c.head_seq > 0
                )
            )
        }
    year = Year(trucks, per_day, heads, rates)
    stamp = Stamps(engine.dialect)
    started = time.perf_counter()
    build = 0.0
    rows = Rows()
    per_flush = max(1, FLUSH_MISSIONS // max(1, year.trucks * year.per_day))
    for index in range(first, last):
        t0 = time.perf_counter()
        year.day(index, rows)
        build += time.perf_counter() - t0
        if (index - first + 1) % per_flush == 0 or index == last - 1:
            with engine.begin() as conn:
                flush(conn, rows, stamp, f"{index}")
            rows = Rows()
            if progress is not None:
                done = (index - first + 1) * year.trucks * year.per_day
                progress(index, done, time.perf_counter() - started)
    return Generated(year, time.perf_counter() - started, build)
