"""Pull on SQLite and PostgreSQL: pages bounded by the protocol, scoped to the device's
drivers, tombstones, and a cursor that always moves forward."""

from __future__ import annotations

from server.devices.pull import pull
from server.platform import changes
from server.platform.db import reading
from sync import protocol, schemas
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import NOW, TENANT, add_tenant


def record(eng, *items):
    with eng.begin() as conn:
        for kind, entity, data, scope in items:
            changes.record(conn, TENANT, kind, entity, data, scope=scope, now=NOW)


def page(eng, cursor, drivers=("d1",), limit=None):
    with reading(eng).connect() as conn:
        return pull(conn, tenant_id=TENANT, driver_ids=drivers, cursor=cursor, limit=limit)


def test_a_page_holds_the_tenants_changes_and_only_this_devices_drivers_missions(engine):  # noqa: F811
    add_tenant(engine)
    add_tenant(engine, "other")
    record(
        engine,
        ("contract", "PRIVATE", {"version": 1}, None),
        ("mission", "M-1", {"driver_id": "d1"}, "d1"),
        ("mission", "M-2", {"driver_id": "d2"}, "d2"),
        ("mission", "M-1", None, "d1"),
    )
    with engine.begin() as conn:
        changes.record(conn, "other", "mission", "X-1", {"secret": True}, scope="d1", now=NOW)
    got = page(engine, 0)
    assert got.to_wire() == {
        "changes": [
            {"seq": 1, "kind": "contract", "id": "PRIVATE", "data": {"version": 1}},
            {"seq": 2, "kind": "mission", "id": "M-1", "data": {"driver_id": "d1"}},
            {"seq": 4, "kind": "mission", "id": "M-1", "data": None},  # the tombstone
        ],
        "next_cursor": 4,
        "has_more": False,
    }
    assert schemas.load(schemas.PullResponse, got.to_wire())["next_cursor"] == 4


def test_an_empty_incremental_pull_returns_nothing_and_keeps_the_cursor(engine):  # noqa: F811
    add_tenant(engine)
    record(engine, ("contract", "A", {}, None))
    got = page(engine, 1)
    assert (got.changes, got.next_cursor, got.has_more) == ([], 1, False)


def test_a_page_of_other_drivers_changes_is_empty_but_moves_the_cursor(engine):  # noqa: F811
    add_tenant(engine)
    record(engine, *[("mission", f"M-{n}", {}, "d2") for n in range(5)])
    got = page(engine, 0, limit=3)
    assert (got.changes, got.next_cursor, got.has_more) == ([], 3, True)


def test_the_page_size_is_bounded_by_the_protocol(engine):  # noqa: F811
    add_tenant(engine)
    record(engine, *[("mission", f"M-{n}", {}, None) for n in range(protocol.MAX_PAGE + 5)])
    assert len(page(engine, 0, limit=10**6).changes) == protocol.MAX_PAGE
    assert len(page(engine, 0).changes) == protocol.DEFAULT_PAGE
    assert len(page(engine, 0, limit=0).changes) == protocol.DEFAULT_PAGE


def test_pages_read_one_after_another_give_every_change_once_in_order(engine):  # noqa: F811
    add_tenant(engine)
    record(engine, *[("mission", f"M-{n}", {"n": n}, None) for n in range(1, 24)])
    cursor, seen, more = 0, [], True
    while more:
        got = page(engine, cursor, limit=5)
        seen += [c.seq for c in got.changes]
        cursor, more = got.next_cursor, got.has_more
    assert seen == list(range(1, 24))
