"""The desk at a year (commit "Desk at a year"), on SQLite and PostgreSQL:

- a mission's row keeps its call's instant (UTC), its plate key and its customer account
  beside its document, whichever way the row is written (the office, a tablet's push, an
  order replacing the document), cut to their columns;
- migration 0011 fills them for the rows stored before (NULL where the document has none);
- the reports' collections of a period, net of voids, read for the period only, agree
  with reading the whole history in order (the code it replaced);
- the anomaly list pages by key: the newest 200, then the older ones, filters kept.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.office import missions as office_missions
from server.office.anomalies import open_anomaly
from server.office.mission_keys import call_instant, keys
from server.office.period_collections import net_collections
from server.platform.public_ids import ANOMALY, to_ref
from server.platform.tables import anomalies, journal_entries, missions
from shared.journal import EntryType
from shared.plates import plate_key
from sync.protocol import PushStatus
from tests.anomaly_refs import anomaly_ref
from tests.conftest import example
from tests.desk_support import sign_in
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.sync_support import NOW as PUSH_NOW
from tests.sync_support import TENANT, Tablet, add_tenant, enrol
from tests.sync_support import send as push
from tests.test_orders import MISSION, order_b, shop  # noqa: F401
from tests.test_orders import send as send_order
from tests.test_push_ingest import PRIVATE, valuation_payload
from tests.test_push_ingest import publish as publish_contract
from tests.test_rights_migration import migrate, old_engine  # noqa: F401

ROADSIDE = example("missions", "private-tow")  # M-P-0001, GH-482-KL, called 10:00 Paris


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def row_keys(eng: sa.Engine, mission_id: str, tenant_id: str = TENANT) -> tuple[Any, ...]:
    with eng.connect() as conn:
        row = conn.execute(
            sa.select(missions.c.call_at, missions.c.plate_key, missions.c.customer).where(
                missions.c.tenant_id == tenant_id, missions.c.id == mission_id
            )
        ).one()
    return tuple(row)


# --- 1. the keys of a document ---------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("2026-03-10T09:40:00+01:00", utc(2026, 3, 10, 8, 40)),
        ("2026-03-10T23:30:00-02:00", utc(2026, 3, 11, 1, 30)),  # the next day in UTC
        ("2026-06-30T05:15:30+05:30", utc(2026, 6, 29, 23, 45, 30)),
        ("2026-03-10T10:00:00Z", utc(2026, 3, 10, 10, 0)),
        ("2026-03-10T10:00:00.250+00:00", utc(2026, 3, 10, 10, 0, 0, 250000)),
        ("2026-03-10T09:40:00", None),  # naive: no instant
        ("2026-03-10", None),  # a day, naive
        ("hier à 10h", None),
        ("", None),
        (12345, None),
        (None, None),
    ],
)
def test_the_calls_instant_is_in_utc_and_none_unless_the_document_gives_an_offset(call, expected):
    got = call_instant({"times": {"call": call}})
    assert got == expected
    if expected is not None:
        assert got.utcoffset() == timedelta(0)
        assert (got.year, got.month, got.day, got.hour, got.minute) == (
            expected.year,
            expected.month,
            expected.day,
            expected.hour,
            expected.minute,
        )
    assert keys({"times": {"call": call}})["call_at"] == expected


@pytest.mark.parametrize("document", [{}, {"times": {}}, {"times": None}, {"times": {"x": 1}}])
def test_no_call_no_instant(document):
    assert call_instant(document) is None
    assert keys(document) == {"call_at": None, "plate_key": None, "customer": None}


@pytest.mark.parametrize("times", ["2026-03-10T09:40:00+01:00", ["2026-03-10T09:40:00+01:00"]])
def test_times_that_are_not_a_mapping_are_unreadable(times):
    assert call_instant({"times": times}) is None


@pytest.mark.parametrize(
    ("vehicle", "expected"),
    [
        ({"plate": "ab 123 cd"}, "AB123CD"),
        ({"plate": "AB-123-CD"}, "AB123CD"),
        ({"plate": " ab.123_cd/ "}, "AB123CD"),
        ({"plate": "1234 ab 75"}, "1234AB75"),
        ({"plate": "é-12-ü"}, "12"),  # letters outside ASCII are no part of the key
        ({"plate": "A" * 25}, "A" * 20),  # cut to its column
        ({"plate": "ß" * 11}, "SS" * 10),  # upper-cased to 22 letters, then cut
        ({"plate": "-- --"}, None),  # nothing to compare on
        ({"plate": ""}, None),
        ({"plate": None}, None),
        ({"plate": 123}, None),
        ({"class": "VL"}, None),
        ("AB-123-CD", None),  # not a mapping
        (None, None),
    ],
)
def test_the_plate_key_is_the_shared_key_cut_to_twenty(vehicle, expected):
    assert keys({"vehicle": vehicle})["plate_key"] == expected
    plate = vehicle.get("plate") if isinstance(vehicle, dict) else None
    if isinstance(plate, str):
        assert expected == (plate_key(plate)[:20] or None)


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        ("GARAGE-DUPONT", "GARAGE-DUPONT"),
        ("x" * 160, "x" * 160),
        ("é" * 161, "é" * 160),
        ("y" * 400, "y" * 160),
        ("", None),
        (None, None),
        (42, None),
        (["GARAGE-DUPONT"], None),
    ],
)
def test_the_customer_is_kept_cut_to_160(customer, expected):
    assert keys({"customer": customer})["customer"] == expected


# --- 1. every way a mission row is written fills them ------------------------------------


def test_a_mission_the_office_creates_gets_its_keys(engine):  # noqa: F811
    add_tenant(engine)
    long_account = "COMPTE-" + "9" * 200
    first = {
        **ROADSIDE,
        "id": "M-KEYS-1",
        "customer": long_account,
        "vehicle": {"plate": "gh 482.kl", "class": "VL"},
        "times": {"call": "2026-03-10T23:30:00-02:00"},
    }
    second = {
        **ROADSIDE,
        "id": "M-KEYS-2",
        "customer": None,
        "vehicle": {"plate": None, "class": "VL"},
        "times": {"call": "2026-03-10T10:00:00Z"},
    }
    with engine.begin() as conn:
        office_missions.create(conn, TENANT, first, None, actor="clerk", now=PUSH_NOW)
        office_missions.create(conn, TENANT, second, "d1", actor="clerk", now=PUSH_NOW)
    call_at, plate, customer = row_keys(engine, "M-KEYS-1")
    assert call_at == utc(2026, 3, 11, 1, 30) and call_at.utcoffset() == timedelta(0)
    assert plate == "GH482KL"
    assert customer == long_account[:160] and len(customer) == 160
    assert row_keys(engine, "M-KEYS-2") == (utc(2026, 3, 10, 10, 0), None, None)
    with engine.connect() as conn:  # the board's day finds it through the column
        found = conn.execute(
            sa.select(missions.c.id).where(
                missions.c.tenant_id == TENANT,
                missions.c.call_at >= utc(2026, 3, 11),
                missions.c.call_at < utc(2026, 3, 12),
            )
        ).all()
    assert [r.id for r in found] == ["M-KEYS-1"]


def test_a_valid_call_beyond_what_utc_can_hold_does_not_stop_the_mission(engine):  # noqa: F811
    add_tenant(engine)
    document = {**ROADSIDE, "id": "M-FAR", "times": {"call": "9999-12-31T23:30:00-01:00"}}
    with engine.begin() as conn:
        office_missions.create(conn, TENANT, document, None, actor="clerk", now=PUSH_NOW)
    assert row_keys(engine, "M-FAR") == (None, "GH482KL", None)


def test_a_mission_a_tablet_creates_through_a_push_gets_its_keys(engine):  # noqa: F811
    add_tenant(engine)
    publish_contract(engine, PRIVATE)
    tablet = Tablet("dev-1")
    enrol(engine, tablet)
    met = {
        **ROADSIDE,
        "customer": "GARAGE-DUPONT",
        "vehicle": {"plate": "gh 482 kl", "class": "VL"},
        "times": {"call": "2026-03-10T00:30:00+02:00"},  # the day before, in UTC
    }
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(PRIVATE, met))
    assert push(engine, tablet, tablet.wire()).status is PushStatus.OK
    with engine.connect() as conn:
        row = conn.execute(sa.select(missions).where(missions.c.id == "M-P-0001")).one()
    assert (row.source, row.created_by) == ("device", "dev-1")
    assert (row.call_at, row.plate_key, row.customer) == (
        utc(2026, 3, 9, 22, 30),
        "GH482KL",
        "GARAGE-DUPONT",
    )
    assert (row.call_at, row.plate_key, row.customer) == tuple(
        keys(json.loads(row.document)).values()
    )


def test_an_order_replacing_the_document_replaces_its_keys(shop):  # noqa: F811
    send_order(shop, order_b(services=[{"code": "TOW"}]), driver="D1")
    # Assistance B's order: FT-613-QA, called 09:40 Paris; no customer account.
    assert row_keys(shop, MISSION, "acme") == (utc(2026, 3, 10, 8, 40), "FT613QA", None)
    amended = send_order(
        shop,
        order_b(
            message_id="B-MSG-2",
            services=[{"code": "TOW"}],
            vehicle={"plate": "zz 999 zz", "weight_kg": 1450},
            times={"call": "2026-03-11T07:05:00+02:00"},
        ),
    )
    assert amended["outcome"] == "amended"
    with shop.connect() as conn:
        document = office_missions.get(conn, "acme", MISSION)["document"]
    assert document["vehicle"]["plate"] == "zz 999 zz"
    assert row_keys(shop, MISSION, "acme") == (utc(2026, 3, 11, 5, 5), "ZZ999ZZ", None)


# --- 2. migration 0011 fills the rows stored before -----------------------------------------

STORED_BEFORE: list[tuple[str, str, str, tuple[Any, ...]]] = [
    (
        "acme",
        "M-1",
        json.dumps(
            {
                "customer": "GARAGE-DUPONT",
                "vehicle": {"plate": "ab 123 cd", "class": "VL"},
                "times": {"call": "2026-03-10T09:40:00+01:00"},
            }
        ),
        (utc(2026, 3, 10, 8, 40), "AB123CD", "GARAGE-DUPONT"),
    ),
    (
        "acme",
        "M-2",
        json.dumps(
            {"customer": None, "vehicle": {"plate": None}, "times": {"call": "2026-03-10T09:40"}}
        ),
        (None, None, None),
    ),
    (
        "acme",
        "M-3",
        json.dumps({"customer": "", "vehicle": {"plate": ""}, "times": {"call": "hier"}}),
        (None, None, None),
    ),
    ("acme", "M-4", json.dumps({"vehicle": "AB-123-CD"}), (None, None, None)),
    (
        "acme",
        "M-5",
        json.dumps(
            {
                "customer": "x" * 200,
                "vehicle": {"plate": "ß" * 11},
                "times": {"call": "2026-03-10T23:30:00-02:00"},
            }
        ),
        (utc(2026, 3, 11, 1, 30), "SS" * 10, "x" * 160),
    ),
    ("acme", "M-6", "not json", (None, None, None)),
    ("acme", "M-7", "[1, 2]", (None, None, None)),
    (
        "beta",
        "M-0",  # after acme's last row by (tenant, id), before it by id alone
        json.dumps({"vehicle": {"plate": "1234 ab 75"}, "times": {"call": "2026-03-12T00:00Z"}}),
        (utc(2026, 3, 12), "1234AB75", None),
    ),
    (
        "beta",
        "M-9",
        json.dumps({"customer": "ACME", "times": {"call": "2026-03-10T10:00:00+00:00"}}),
        (utc(2026, 3, 10, 10, 0), None, "ACME"),
    ),
]


def test_the_missions_stored_before_get_their_keys_from_their_document(
    old_engine,  # noqa: F811
    monkeypatch,
):
    # Small batches, so the migration's walk over (tenant, id) crosses tenants.
    monkeypatch.setattr("server.office.mission_keys.BATCH", 2)
    migrate(old_engine, "0010")
    with old_engine.begin() as conn:
        for tenant in ("acme", "beta"):
            conn.execute(
                sa.text(
                    "INSERT INTO tenants (id, name, payments_enabled, settings, change_seq,"
                    " journal_seq, created_at) VALUES (:t, :t, true, '{}', 0, 0,"
                    " '2026-01-05 00:00:00+00')"
                ),
                {"t": tenant},
            )
        for tenant, mission_id, document, _ in STORED_BEFORE:
            conn.execute(
                sa.text(
                    "INSERT INTO missions (tenant_id, id, document, status, source, created_at,"
                    " created_by) VALUES (:t, :i, :d, 'new', 'office', :c, 'clerk')"
                ),
                {"t": tenant, "i": mission_id, "d": document, "c": utc(2026, 3, 10, 7)},
            )

    migrate(old_engine, "head")
    with old_engine.connect() as conn:
        got = {
            (r.tenant_id, r.id): (r.call_at, r.plate_key, r.customer)
            for r in conn.execute(
                sa.select(
                    missions.c.tenant_id,
                    missions.c.id,
                    missions.c.call_at,
                    missions.c.plate_key,
                    missions.c.customer,
                )
            )
        }
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("missions")}
    assert got == {(t, i): expected for t, i, _, expected in STORED_BEFORE}
    for tenant, mission_id, document, _ in STORED_BEFORE[:5]:
        assert got[(tenant, mission_id)] == tuple(keys(json.loads(document)).values())
    assert {"ix_missions_call", "ix_missions_plate", "ix_missions_customer"} <= indexes

    migrate(old_engine, "0010", down=True)
    with old_engine.connect() as conn:
        names = {c["name"] for c in sa.inspect(conn).get_columns("missions")}
    assert not names & {"call_at", "plate_key", "customer"}


# --- 3. the collections of a period, net of voids ---------------------------------------------

BASE = utc(2026, 3, 10)
OTHER = "other"


def _amount(row: Any) -> str | None:
    """What the reports read of a collection: here its amount, None when it has none."""
    amount = json.loads(row.body)["payload"].get("amount")
    return amount if isinstance(amount, str) else None


def _store(eng: sa.Engine, entries: list[dict[str, Any]]) -> None:
    with eng.begin() as conn:
        conn.execute(sa.delete(journal_entries))
        for e in entries:
            conn.execute(
                sa.insert(journal_entries).values(
                    device_id=e["device_id"],
                    seq=e["seq"],
                    tenant_id=e["tenant_id"],
                    type=e["type"],
                    at="2026-03-10T00:00:00.000Z",
                    driver_id="d1",
                    mission_id="M-1",
                    hash=e["hash"],
                    prev_hash="0" * 64,
                    sig="0" * 128,
                    body=json.dumps({"type": e["type"], "payload": e["payload"]}),
                    received_at=e["received_at"],
                )
            )


def _reference(
    entries: list[dict[str, Any]], first: datetime, after: datetime
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What the reports read before (driver_report._collections at 91f09f0^): every
    collection and reversal of the tenant's tablets received before the period's end, in
    the order received; a reversal takes back, once, a collection received before it."""
    mine = sorted(
        (
            e
            for e in entries
            if e["tenant_id"] == TENANT
            and not e["device_id"].startswith("server:")
            and e["type"] in ("collection", "reversal")
            and e["received_at"] < after
        ),
        key=lambda e: (e["received_at"], e["device_id"], e["seq"]),
    )
    known: dict[str, str] = {}
    voided: set[str] = set()
    counted: list[tuple[str, str]] = []
    taken_back: list[tuple[str, str]] = []
    for e in mine:
        if e["type"] == "collection":
            amount = e["payload"].get("amount")
            if not isinstance(amount, str):
                continue
            known[e["hash"]] = amount
            if e["received_at"] >= first:
                counted.append((e["hash"], amount))
            continue
        try:
            ref = str(e["payload"]["reverses"]["hash"])
        except (KeyError, TypeError):
            continue
        if ref in known and ref not in voided:
            voided.add(ref)
            if e["received_at"] >= first:
                taken_back.append((ref, known[ref]))
    return counted, taken_back


def _net(
    eng: sa.Engine, first: datetime, after: datetime
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    with eng.connect() as conn:
        collected, voided = net_collections(conn, TENANT, first, after, _amount)
    return [(r.hash, v) for r, v in collected], [(r.hash, v) for r, v in voided]


def _entries(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal rows the ops make: seqs per tablet in the order received (a tablet's
    chain arrives in order), collections numbered, reversals naming theirs (or not)."""
    hashes = {i: f"{i:064x}" for i, op in enumerate(ops) if op["type"] == "collection"}
    collections = sorted(hashes)
    minutes = [op["minute"] for op in ops]
    for i, op in enumerate(ops):  # a void made `delay` minutes after its collection
        delay, target = op.get("delay"), op.get("target")
        if op["type"] == "reversal" and None not in (delay, target) and collections:
            k = collections[target % len(collections)]
            minutes[i] = max(0, ops[k]["minute"] + delay)
    order = sorted(range(len(ops)), key=lambda i: (minutes[i], ops[i]["device_id"], i))
    seqs: dict[str, int] = {}
    made: dict[int, dict[str, Any]] = {}
    for i in order:
        op = ops[i]
        seqs[op["device_id"]] = seqs.get(op["device_id"], 0) + 1
        made[i] = {
            "device_id": op["device_id"],
            "seq": seqs[op["device_id"]],
            "tenant_id": op["tenant_id"],
            "type": op["type"],
            "received_at": BASE + timedelta(minutes=minutes[i], seconds=op["second"]),
            "hash": hashes.get(i, f"r{i:063x}"),
        }
    for i, op in enumerate(ops):
        entry = made[i]
        if op["type"] == "collection":
            entry["payload"] = {"mission_id": "M-1", "method": "cash"}
            if op["readable"]:
                entry["payload"]["amount"] = f"{i + 1}.00"
            continue
        entry["payload"] = {"mission_id": "M-1"}
        if not op["readable"]:
            continue
        if op["target"] is None or not collections:
            entry["payload"]["reverses"] = {"hash": f"{'e' * 60}{i:04x}"}  # nobody's
            continue
        k = collections[op["target"] % len(collections)]
        target = made[k]
        named: dict[str, Any] = {"hash": hashes[k]}
        if op["key"] == "right":
            named.update(device_id=target["device_id"], seq=target["seq"])
        elif op["key"] == "wrong":  # another collection's key, or none's
            other = collections[(op["target"] + 1) % len(collections)]
            wrong = made[other] if other != k else {"device_id": "dev_z", "seq": 99}
            named.update(device_id=wrong["device_id"], seq=wrong["seq"])
        elif op["key"] == "text":
            named.update(device_id=target["device_id"], seq=str(target["seq"]))
        entry["payload"]["reverses"] = named
    return [made[i] for i in range(len(ops))]


def _scenario(eng: sa.Engine) -> None:
    add_tenant(eng)
    add_tenant(eng, OTHER, crew=())


def test_the_periods_collections_net_of_voids_in_a_known_history(engine):  # noqa: F811
    _scenario(engine)
    ops = [  # the period: minutes [10, 20)
        {"type": "collection", "minute": 5},  # 0: before the period, voided before it (3)
        {"type": "collection", "minute": 12},  # 1: in it; voided in it (5), not before (4)
        {"type": "collection", "minute": 25},  # 2: after it
        {"type": "reversal", "minute": 8, "target": 0},  # 3
        {"type": "reversal", "minute": 11, "target": 1},  # 4: before its collection
        {"type": "reversal", "minute": 15, "target": 1, "device_id": "dev_b"},  # 5: counts
        {"type": "reversal", "minute": 13, "target": 0},  # 6: a second void of 0
        {"type": "reversal", "minute": 14, "target": None},  # 7: an unknown hash
        {"type": "reversal", "minute": 16, "target": 2},  # 8: its collection comes later
        {"type": "collection", "minute": 10},  # 9: at the period's first instant
        # 10: a second void of 9 (13 came first), naming it by hash only
        {"type": "reversal", "minute": 19, "target": 3, "key": "none", "device_id": "dev_b"},
        {"type": "collection", "minute": 20},  # 11: at its end: out
        {"type": "reversal", "minute": 20, "target": 1},  # 12: at its end: out
        {"type": "reversal", "minute": 17, "target": 3, "device_id": "dev_b"},  # 13: voids 9
    ]
    full = [
        {
            "device_id": "dev_a",
            "tenant_id": TENANT,
            "second": 0,
            "readable": True,
            "key": "right",
            **op,
        }
        for op in ops
    ]
    entries = _entries(full)
    h = {i: entries[i]["hash"] for i in (0, 1, 2, 9, 11)}
    assert entries[10]["payload"]["reverses"] == {"hash": h[9]}  # target 3: the 4th one
    _store(engine, entries)
    first, after = BASE + timedelta(minutes=10), BASE + timedelta(minutes=20)
    collected, voided = _net(engine, first, after)
    assert sorted(collected) == sorted([(h[1], "2.00"), (h[9], "10.00")])
    assert sorted(voided) == sorted([(h[1], "2.00"), (h[9], "10.00")])
    assert (sorted(collected), sorted(voided)) == tuple(
        sorted(x) for x in _reference(entries, first, after)
    )
    # The day before the period: collection 0 and its void (3); nothing else.
    assert _net(engine, BASE, first) == ([(h[0], "1.00")], [(h[0], "1.00")])


def _op(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "type": st.just(kind),
            "device_id": st.sampled_from(["dev_a", "dev_a", "dev_b", "dev_b", "server:acme"]),
            "tenant_id": st.sampled_from([TENANT] * 7 + [OTHER]),
            "minute": st.integers(0, 30),
            "second": st.sampled_from([0, 0, 0, 0, 30]),
            "readable": st.sampled_from([True] * 5 + [False]),
            "target": st.integers(0, 7) | st.integers(0, 7) | st.integers(0, 7) | st.none(),
            "key": st.sampled_from(["right", "right", "none", "wrong", "text"]),
            "delay": st.none() | st.integers(-3, 12) | st.just(0),  # 0: ties, by tablet
        }
    ).map(lambda op: {**op, "device_id": "dev_o"} if op["tenant_id"] == OTHER else op)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    collections=st.lists(_op("collection"), min_size=1, max_size=8),
    reversals=st.lists(_op("reversal"), min_size=1, max_size=10),
    start=st.integers(0, 20),
    length=st.integers(8, 20) | st.integers(0, 30),
)
def test_the_periods_collections_agree_with_reading_the_whole_history(
    engine,  # noqa: F811
    collections,
    reversals,
    start,
    length,
):
    with engine.connect() as conn:  # the tenants once per database, the rows per example
        seeded = conn.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one()
    if not seeded:
        _scenario(engine)
    entries = _entries(collections + reversals)
    _store(engine, entries)
    first = BASE + timedelta(minutes=start)
    after = first + timedelta(minutes=length)
    collected, voided = _net(engine, first, after)
    counted, taken_back = _reference(entries, first, after)
    assert sorted(collected) == sorted(counted)
    assert sorted(voided) == sorted(taken_back)


# --- 4. the anomaly list, a page at a time ---------------------------------------------------

FICT, DISC = "fictitious_collection", "discount_without_approval"


def _plant(w: World, count: int) -> dict[str, list[int]]:
    """`count` open anomalies, newest last: every ninth a discount of Julie's (d2), the
    others fictitious collections of Karim's (d1); their row ids by kind."""
    with w.engine.begin() as conn:
        for n in range(count):
            kind, driver = (DISC, "d2") if n % 9 == 4 else (FICT, "d1")
            open_anomaly(
                conn,
                tenant_id="demo",
                kind=kind,
                detail={"fr": f"Anomalie {n}", "en": f"Anomaly {n}"},
                now=START + timedelta(minutes=n),
                mission_id=f"M-{n}",
                driver_id=driver,
                amount_cents=100 + n,
            )
        rows = conn.execute(
            sa.select(anomalies.c.id, anomalies.c.kind)
            .where(anomalies.c.tenant_id == "demo", anomalies.c.status == "open")
            .order_by(anomalies.c.id)
        ).all()
    by_kind: dict[str, list[int]] = {FICT: [], DISC: []}
    for r in rows:
        by_kind[r.kind].append(int(r.id))
    return by_kind


def _page(client: Any, url: str) -> tuple[list[str], str]:
    answer = client.get(url)
    assert answer.status_code == 200, url
    body = answer.get_data(as_text=True)
    return re.findall(r'data-anomaly="(\d+)"', body), body


def _older(body: str, label: str = "Plus anciennes") -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)">' + label + "</a>", body)
    return html.unescape(found.group(1)) if found else None


def _newest_link(body: str) -> str | None:
    found = re.search(r'<a href="([^"]+)">Les plus récentes</a>', body)
    return html.unescape(found.group(1)) if found else None


def test_more_than_200_open_anomalies_page_by_key_newest_first(world):  # noqa: F811
    by_kind = _plant(world, 280)
    assert (len(by_kind[FICT]), len(by_kind[DISC])) == (249, 31)
    client = world.app.test_client()
    assert sign_in(client, "bureau").status_code == 302

    def refs(ids: list[int]) -> list[str]:
        return [str(anomaly_ref(world.app, i)) for i in ids]

    every = sorted(by_kind[FICT] + by_kind[DISC], reverse=True)
    first, body = _page(client, "/desk/anomalies")
    assert first == refs(every[:200])
    assert _newest_link(body) is None  # the first page links no first page
    older = _older(body)
    assert older is not None
    assert parse_qs(urlsplit(older).query).get("status") == ["open"]
    second, body = _page(client, older)
    assert second == refs(every[200:])
    assert not set(first) & set(second)
    assert _older(body) is None  # the last page
    assert _newest_link(body) == "/desk/anomalies?status=open"

    # Filtered: the link keeps the filters, and the next page holds only what they match.
    mine = sorted(by_kind[FICT], reverse=True)
    query = f"/desk/anomalies?kind={FICT}&driver_id=d1"
    first, body = _page(client, query)
    assert first == refs(mine[:200])
    older = _older(body)
    assert older is not None
    args = parse_qs(urlsplit(older).query)
    assert (args["kind"], args["driver_id"], args["status"]) == ([FICT], ["d1"], ["open"])
    assert set(args) == {"kind", "driver_id", "status", "before"}
    second, body = _page(client, older)
    assert second == refs(mine[200:]) and len(second) == 49
    assert not set(first) & set(second)
    assert _older(body) is None
    newest = _newest_link(body)
    assert newest is not None
    assert parse_qs(urlsplit(newest).query) == {
        "kind": [FICT],
        "driver_id": ["d1"],
        "status": ["open"],
    }
    assert _page(client, newest)[0] == first
    # Julie's 31 fit on one page: no link.
    julies, body = _page(client, "/desk/anomalies?driver_id=d2")
    assert julies == refs(sorted(by_kind[DISC], reverse=True))
    assert _older(body) is None and "pages" not in body.split("</table>")[-1]
    # In English.
    english = client.get("/desk/anomalies?lang=en").get_data(as_text=True)
    assert _older(english, "Older") is not None


BAD_BEFORE = ["abc", "-5", "12abc", "1e3", "", " ", "١٢٣", "9" * 19, "1.5", "0x10"]


def test_a_bad_before_is_ignored_and_the_first_page_shown(world):  # noqa: F811
    _plant(world, 210)
    client = world.app.test_client()
    sign_in(client, "bureau")
    first, body = _page(client, "/desk/anomalies")
    assert len(first) == 200
    for before in BAD_BEFORE:
        got, page = _page(client, "/desk/anomalies?before=" + before)
        assert got == first, before
        assert _newest_link(page) is None, before
        assert _older(page) == _older(body), before


def test_the_older_link_does_not_show_a_row_id(world):  # noqa: F811
    by_kind = _plant(world, 205)
    client = world.app.test_client()
    sign_in(client, "bureau")
    _, body = _page(client, "/desk/anomalies")
    older = _older(body)
    assert older is not None
    before = parse_qs(urlsplit(older).query)["before"][0]
    oldest_shown = sorted(by_kind[FICT] + by_kind[DISC], reverse=True)[199]
    with world.app.app_context():  # the anomaly's public ref, as the desk shows elsewhere
        assert before == str(to_ref(ANOMALY, oldest_shown)) != str(oldest_shown)
