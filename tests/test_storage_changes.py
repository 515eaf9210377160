"""The pull feed on SQLite and PostgreSQL: gapless per-tenant numbering, scoped pages,
tombstones, and a reader that never skips a change while writers commit concurrently."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from server.platform import changes
from server.platform.db import reading
from server.platform.tables import tenants
from tests.storage import engine  # noqa: F401 - the fixture

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def add_tenant(eng, tenant_id):
    with eng.begin() as conn:
        conn.execute(
            sa.insert(tenants).values(
                id=tenant_id,
                name=tenant_id,
                payments_enabled=True,
                settings={},
                change_seq=0,
                created_at=NOW,
            )
        )


def test_changes_are_numbered_per_tenant_from_one(engine):  # noqa: F811
    add_tenant(engine, "acme")
    add_tenant(engine, "other")
    with engine.begin() as conn:
        a1 = changes.record(conn, "acme", "contract", "A", {"v": 1}, scope=None, now=NOW)
        b1 = changes.record(conn, "other", "contract", "B", {"v": 1}, scope=None, now=NOW)
        a2 = changes.record(conn, "acme", "mission", "M1", None, scope="d1", now=NOW)
    assert (a1, a2, b1) == (1, 2, 1)


def test_a_page_shows_only_what_the_devices_drivers_may_see_and_moves_the_cursor(engine):  # noqa: F811
    add_tenant(engine, "acme")
    with engine.begin() as conn:
        changes.record(conn, "acme", "contract", "A", {"amount": "1.50"}, scope=None, now=NOW)
        changes.record(conn, "acme", "mission", "M1", {"driver": "d1"}, scope="d1", now=NOW)
        changes.record(conn, "acme", "mission", "M2", {"driver": "d2"}, scope="d2", now=NOW)
        changes.record(conn, "acme", "mission", "M1", None, scope="d1", now=NOW)
    with engine.connect() as conn:
        seen, cursor, more = changes.page(conn, "acme", 0, {"d1"}, limit=3)
        assert [(c.seq, c.entity_id, c.data) for c in seen] == [
            (1, "A", {"amount": "1.50"}),
            (2, "M1", {"driver": "d1"}),
        ]
        assert (cursor, more) == (3, True)
        seen, cursor, more = changes.page(conn, "acme", cursor, {"d1"})
        assert [(c.seq, c.data) for c in seen] == [(4, None)]  # the tombstone
        assert (cursor, more) == (4, False)
        assert changes.page(conn, "acme", cursor, {"d1"}) == ([], 4, False)


def test_a_rolled_back_change_leaves_no_gap(engine):  # noqa: F811
    add_tenant(engine, "acme")
    try:
        with engine.begin() as conn:
            changes.record(conn, "acme", "contract", "A", {}, scope=None, now=NOW)
            raise RuntimeError("the rest of the write failed")
    except RuntimeError:
        pass
    with engine.begin() as conn:
        assert changes.record(conn, "acme", "contract", "A", {}, scope=None, now=NOW) == 1


def test_a_reader_never_skips_a_change_while_writers_commit_concurrently(engine):  # noqa: F811
    add_tenant(engine, "acme")
    writers, per_writer = 4, 25
    done = threading.Event()

    def write(n):
        for i in range(per_writer):
            with engine.begin() as conn:
                changes.record(conn, "acme", "mission", f"W{n}-{i}", {"i": i}, scope=None, now=NOW)

    seen: list[int] = []

    def read():
        cursor = 0
        while True:
            finished = done.is_set()
            with reading(engine).connect() as conn:
                got, cursor, _ = changes.page(conn, "acme", cursor, set(), limit=7)
            seen.extend(c.seq for c in got)
            if finished and not got:
                return

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(timeout=60)
    assert seen == list(range(1, writers * per_writer + 1))
