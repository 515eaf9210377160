"""The reports' collections of a period are read through the journal's type index with
the time of receipt (migration 0016, issue 18), on SQLite and PostgreSQL: every query
`net_collections` sends names `ix_journal_type` in its plan with the period in its
condition, and the migration upgrades and downgrades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.office.period_collections import net_collections
from server.platform.tables import journal_entries
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import TENANT, add_tenant
from tests.test_rights_migration import migrate, old_engine  # noqa: F401

START = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = ("collection", "reversal", "mission_step", "valuation_recorded")


def _journal(eng: sa.Engine, count: int = 4000) -> None:
    """A tablet's entries over three months, of four types, so that a plan has a choice."""
    rows = [
        {
            "device_id": "dev-1",
            "seq": n + 1,
            "tenant_id": TENANT,
            "type": TYPES[n % len(TYPES)],
            "at": "2026-03-01T00:00:00.000Z",
            "driver_id": "d1",
            "mission_id": f"M-{n // 8}",
            "hash": f"{n:064x}",
            "prev_hash": f"{n - 1:064x}" if n else "0" * 64,
            "sig": "00",
            "body": "{}",
            "received_at": START - timedelta(days=30) + timedelta(minutes=45 * n),
        }
        for n in range(count)
    ]
    with eng.begin() as conn:
        conn.execute(sa.insert(journal_entries), rows)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE journal_entries")


def test_a_periods_collections_and_voids_are_read_through_the_type_index(engine):  # noqa: F811
    add_tenant(engine)
    _journal(engine)
    sent: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "journal_entries" in statement and statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", keep)
        collected, _ = net_collections(conn, TENANT, START, START + timedelta(days=31), len)
        sa.event.remove(conn, "before_cursor_execute", keep)
        postgres = conn.dialect.name == "postgresql"
        assert collected and len(sent) == 2  # the month's collections; the reversals
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in sent:
            verb = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
            rows = conn.exec_driver_sql(f"{verb} {statement}", parameters)
            plan = "\n".join(str(r[-1]) for r in rows)
            # the period bounds the index's range, not a filter of what it read
            bounded = [line for line in plan.splitlines() if "received_at" in line]
            assert "ix_journal_type" in plan and bounded, plan
            assert all("Filter" not in line for line in bounded), plan
        conn.rollback()


def test_migration_0016_adds_the_time_of_receipt_to_the_type_index(old_engine):  # noqa: F811
    def columns() -> list[str]:
        with old_engine.connect() as conn:
            if old_engine.dialect.name == "postgresql":
                sql = (
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND indexname = 'ix_journal_type'"
                )
                definition = conn.exec_driver_sql(sql).scalar_one()
                return [c.strip() for c in definition.split("(", 1)[1].rstrip(")").split(",")]
            rows = conn.exec_driver_sql("PRAGMA index_info('ix_journal_type')")
            return [r[2] for r in sorted(rows, key=lambda r: r[0])]

    migrate(old_engine, "0015")
    assert columns() == ["tenant_id", "type"]
    migrate(old_engine, "0016")
    assert columns() == ["tenant_id", "type", "received_at"]
    migrate(old_engine, "0015", down=True)
    assert columns() == ["tenant_id", "type"]
