"""The demo tenant a newcomer gets from `make run`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from server import demo
from server.platform.tables import changes, contracts, drivers, missions, users
from tests.storage import engine  # noqa: F401

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def count(conn, table):
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_demo_seeds_once_and_hands_out_fresh_enrolment_codes(engine):  # noqa: F811
    with engine.begin() as conn:
        first = demo.seed(conn, NOW)
    with engine.begin() as conn:
        again = demo.seed(conn, NOW)
    assert (first.created, again.created) == (True, False)
    assert len(first.codes) == len(again.codes) == 3
    assert {c["code"] for c in first.codes}.isdisjoint({c["code"] for c in again.codes})
    with engine.connect() as conn:
        assert count(conn, users) == 3
        assert count(conn, drivers) == 3
        assert count(conn, contracts) == 3
        assert count(conn, missions) == first.missions == 10
        # every contract and every assigned mission reached the pull feed
        kinds = conn.execute(sa.select(changes.c.kind, sa.func.count()).group_by(changes.c.kind))
        feed = dict(kinds.all())
    assert feed["contract"] == 3 and feed["mission"] == 10
