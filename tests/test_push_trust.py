"""What a push may record (issue 16), on SQLite and PostgreSQL: an entry in the name of a
driver the tablet may not speak for, or without the right for the act, stays on the chain
but is held (nothing derived) and raised naming the driver, the tablet and the entry; and
an entry whose own signature fails inside a valid chain is caught by the back-check, one
whose signature ends the batch is refused."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from server.devices import signature_checks
from server.devices.entry_rights import RIGHT_OF, Driver, Facts, held
from server.office import resolutions
from server.platform import jobs
from server.platform.tables import decisions, journal_entries, missions, roles, valuations
from shared import journal, signing
from shared.journal import Entry, EntryType
from sync.protocol import ErrorCode, PushStatus
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import (
    NOW,
    TENANT,
    Tablet,
    add_driver,
    add_tenant,
    anomalies_of,
    enrol,
    head_of,
    send,
    stored,
)
from tests.test_push_ingest import PRIVATE, ROADSIDE, publish, valuation_payload


@pytest.fixture
def tablet(engine):  # noqa: F811
    """Tablet "Camion 3" of d1; d2 is a driver of the company not enrolled on it; d3 is
    enrolled but has a role without payment rights."""
    add_tenant(engine, crew=("d1", "d2"))
    with engine.begin() as conn:
        conn.execute(sa.insert(roles).values(tenant_id=TENANT, name="helper", rights=[]))
        add_driver(conn, TENANT, "d3", role="helper", name="Nina")
    publish(engine, PRIVATE)
    t = Tablet("dev-1")
    enrol(engine, t, drivers=("d1", "d3"), label="Camion 3")
    return t


def _rows(eng, table):
    with eng.connect() as conn:
        return list(conn.execute(sa.select(table)).all())


def test_a_valuation_by_a_driver_not_enrolled_on_the_tablet_is_stored_but_held_and_named(
    engine,  # noqa: F811
    tablet,
):
    tablet.write(
        type=EntryType.VALUATION_RECORDED, driver_id="d2", **valuation_payload(PRIVATE, ROADSIDE)
    )
    result = send(engine, tablet, tablet.wire())
    assert (result.status, result.stored) == (PushStatus.OK, 1)  # the chain stays whole
    assert head_of(engine, "dev-1") == (1, tablet.head.hash)
    assert _rows(engine, missions) == [] and _rows(engine, valuations) == []  # nothing derived
    [alert] = anomalies_of(engine, "entry_unauthorised")
    assert (alert.device_id, alert.driver_id, alert.mission_id) == ("dev-1", "d2", "M-P-0001")
    assert alert.detail["reason"] == "driver_not_enrolled"
    assert alert.detail["tablet"] == {"device_id": "dev-1", "label": "Camion 3"}
    assert [e["seq"] for e in alert.detail["entries"]] == [1]
    assert alert.detail["entries"][0]["hash"] == tablet.head.hash
    assert "D2 (d2), qui n'est pas enrôlé sur cette tablette" in alert.detail["fr"]
    assert "« Camion 3 »" in alert.detail["fr"]


def test_entries_after_a_held_one_are_derived_as_usual(engine, tablet):  # noqa: F811
    tablet.write(
        type=EntryType.COLLECTION,
        driver_id="ghost",
        mission_id="M-P-0001",
        method="cash",
        amount="180.00",
    )
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(PRIVATE, ROADSIDE))
    assert send(engine, tablet, tablet.wire()).stored == 2
    assert [m.id for m in _rows(engine, missions)] == ["M-P-0001"]
    [alert] = anomalies_of(engine, "entry_unauthorised")
    assert (alert.detail["reason"], alert.driver_id, alert.amount_cents) == (
        "driver_unknown",
        "ghost",
        18000,
    )
    assert [c["seq"] for c in alert.detail["collections"]] == [1]  # what `void` voids
    assert "chauffeur que la société n'a pas (« ghost »)" in alert.detail["fr"]


def test_a_collection_by_a_driver_whose_role_lacks_collect_is_held(engine, tablet):  # noqa: F811
    tablet.write(
        type=EntryType.COLLECTION,
        driver_id="d3",
        mission_id="M-GHOST",
        method="cash",
        amount="50.00",
    )
    send(engine, tablet, tablet.wire())
    [alert] = anomalies_of(engine, "entry_unauthorised")
    assert (alert.detail["reason"], alert.detail["rights"], alert.driver_id) == (
        "right_missing",
        ["collect"],
        "d3",
    )
    assert "le rôle « helper » n'a pas le droit « encaisser »" in alert.detail["fr"]
    assert anomalies_of(engine, "collection_unknown_mission") == []  # held: not derived


def test_a_collection_while_the_payments_module_is_off_is_held(engine):  # noqa: F811
    add_tenant(engine, payments=False)
    t = Tablet("dev-9")
    enrol(engine, t)
    t.write(type=EntryType.COLLECTION, mission_id="M-1", method="cash", amount="20.00")
    t.write(type=EntryType.MISSION_STEP)  # no right needed to work a mission
    assert send(engine, t, t.wire()).stored == 2
    [alert] = anomalies_of(engine, "entry_unauthorised")
    assert alert.detail["reason"] == "payments_disabled"
    assert [e["seq"] for e in alert.detail["entries"]] == [1]


def test_a_reversal_stands_only_on_an_office_void_of_that_collection(engine, tablet):  # noqa: F811
    [collection] = tablet.write(
        type=EntryType.COLLECTION, mission_id="M-1", method="cash", amount="30.00"
    )
    send(engine, tablet, tablet.wire())
    with engine.begin() as conn:
        conn.execute(
            sa.insert(decisions).values(
                tenant_id=TENANT,
                id="dec_real",
                type="void_collection",
                mission_id="M-1",
                device_id="dev-1",
                entry_seq=1,
                driver_id="d1",
                data=json.dumps({"collection": journal.reference(collection)}),
                decided_by="u1",
                decided_at=NOW,
            )
        )
    reverses = journal.reference(collection)
    common = {
        "mission_id": "M-1",
        "reverses": reverses,
        "method": "cash",
        "amount": "30.00",
        "reason": "x",
    }
    # Nina's role has no payment right: the office's void stands, her own does not.
    tablet.write(type=EntryType.REVERSAL, driver_id="d3", decision="dec_real", **common)
    tablet.write(type=EntryType.REVERSAL, driver_id="d1", decision="dec_forged", **common)
    tablet.write(type=EntryType.REVERSAL, driver_id="d3", **common)
    send(engine, tablet, tablet.wire(2))
    found = {
        a.detail["reason"]: [e["seq"] for e in a.detail["entries"]]
        for a in anomalies_of(engine, "entry_unauthorised")
    }
    assert found == {"decision_unknown": [3], "right_missing": [4]}
    own = anomalies_of(engine, "entry_unauthorised")[-1]
    assert (own.driver_id, own.detail["rights"]) == ("d3", ["void_collection"])
    [own] = anomalies_of(engine, "entry_unauthorised")[1:]
    assert (own.driver_id, own.detail["rights"]) == ("d3", ["void_collection"])


def test_a_type_only_the_server_writes_and_a_money_entry_without_driver_are_held(engine, tablet):  # noqa: F811
    tablet.write(type=EntryType.INVOICE_ISSUED, number="F2026-000001")
    tablet.write(
        type=EntryType.DISCOUNT, driver_id=None, mission_id="M-1", amount="5.00", approval_ref="1:X"
    )
    tablet.write(
        type=EntryType.OFFICE_DECISION_APPLIED, driver_id=None, decision="dec_1", type_="unlock"
    )
    send(engine, tablet, tablet.wire())
    found = {
        a.detail["reason"]: [e["seq"] for e in a.detail["entries"]]
        for a in anomalies_of(engine, "entry_unauthorised")
    }
    assert found == {"type_reserved": [1], "driver_missing": [2]}


def test_a_batch_of_honest_entries_raises_nothing(engine, tablet):  # noqa: F811
    tablet.write(type=EntryType.COLLECTION, mission_id="M-1", method="cash", amount="10.00")
    tablet.write(type=EntryType.DISCOUNT, mission_id="M-1", amount="5.00", approval_ref="1:ABC")
    tablet.write(type=EntryType.DISPUTE, driver_id="d3", mission_id="M-1", reason="trop cher")
    send(engine, tablet, tablet.wire())
    assert anomalies_of(engine, "entry_unauthorised") == []


_MONEY = sorted(RIGHT_OF, key=str)
_RIGHTS = ["approve_discount", "collect", "issue_credit_note", "reconcile", "void_collection"]


@given(
    kind=st.sampled_from(_MONEY),
    rights=st.sets(st.sampled_from(_RIGHTS)),
    payments=st.booleans(),
    enrolled=st.booleans(),
)
def test_a_money_entry_is_held_exactly_when_a_condition_fails(kind, rights, payments, enrolled):
    entry = Entry(
        device_id="dev-1",
        seq=1,
        type=kind,
        at="2026-03-10T09:00:00.000Z",
        driver_id="d1",
        payload={"mission_id": "M-1", "amount": "1.00"},
        prev_hash="0" * 64,
    )
    facts = Facts(
        payments_enabled=payments,
        enrolled=frozenset({"d1"} if enrolled else ()),
        drivers={"d1": Driver("d1", "Luc", "r", frozenset(rights))},
        decisions={},
    )
    found = held(entry, facts)
    expected = (
        "driver_not_enrolled"
        if not enrolled
        else "payments_disabled"
        if not payments
        else None
        if RIGHT_OF[kind].value in rights
        else "right_missing"
    )
    assert (found.reason if found else None) == expected


# --- every signature ------------------------------------------------------------------------


def _bad_signature(wire: list[dict], index: int) -> list[dict]:
    """The entry keeps its content, hash and links: only its own signature is wrong."""
    wire[index] = {**wire[index], "sig": "ab" * 64}
    return wire


def _back_check(engine) -> int:  # noqa: F811
    """Run the jobs a push asked for (the signature back-check), as a worker would."""
    return jobs.drain(jobs.Context(engine, lambda: None, lambda: NOW))


def test_a_bad_signature_inside_a_valid_chain_is_caught_by_the_back_check(engine, tablet):  # noqa: F811
    tablet.write(3)
    result = send(engine, tablet, _bad_signature(tablet.wire(), 1))
    # The chain and the last signature vouch for every entry's content: stored, acknowledged.
    assert (result.status, result.stored) == (PushStatus.OK, 3)
    assert anomalies_of(engine, "journal_invalid") == []
    with engine.connect() as conn:
        assert signature_checks.pending(conn, TENANT) == [
            {"device_id": "dev-1", "first": 1, "last": 3}
        ]
    assert _back_check(engine) == 1
    [alert] = anomalies_of(engine, "journal_invalid")
    assert alert.detail["source"] == "back_check"
    assert [(f["kind"], f["seq"]) for f in alert.detail["findings"]] == [("bad_signature", 2)]
    assert alert.detail["entries"] == [
        {"device_id": "dev-1", "seq": 2, "hash": tablet.entries[1].hash}
    ]
    assert (alert.device_id, alert.driver_id, alert.status) == ("dev-1", "d1", "open")
    assert "entrées n° 2," in alert.detail["fr"] and "« Camion 3 »" in alert.detail["fr"]
    # Nothing lost: every entry stays on the chain, with the signature as received.
    assert stored(engine, "dev-1") == [(e.seq, e.hash) for e in tablet.entries]
    with engine.connect() as conn:
        sigs = conn.execute(
            sa.select(journal_entries.c.sig).order_by(journal_entries.c.seq)
        ).scalars()
        assert list(sigs) == [tablet.entries[0].sig, "ab" * 64, tablet.entries[2].sig]
        assert signature_checks.pending(conn, TENANT) == []
    assert _back_check(engine) == 0  # checked once


def test_a_batch_whose_signatures_all_verify_raises_nothing_at_the_back_check(engine, tablet):  # noqa: F811
    tablet.write(4)
    send(engine, tablet, tablet.wire(1, 2))
    send(engine, tablet, tablet.wire(3, 4))
    assert _back_check(engine) == 2  # one job per stored batch
    assert anomalies_of(engine, "journal_invalid") == []


def test_a_bad_last_signature_is_still_refused_at_the_push(engine, tablet):  # noqa: F811
    tablet.write(3)
    result = send(engine, tablet, _bad_signature(tablet.wire(), 2))
    assert (result.code, result.http_status) == (ErrorCode.JOURNAL_INVALID, 422)
    assert "entry no. 3" in result.to_wire("en")["message"]
    assert stored(engine, "dev-1") == []
    [kept] = anomalies_of(engine, "journal_invalid")
    assert [(f["kind"], f["seq"]) for f in kept.detail["findings"]] == [("bad_signature", 3)]
    with engine.connect() as conn:
        assert signature_checks.pending(conn, TENANT) == []  # nothing stored, nothing to check


def test_a_resent_entry_with_another_signature_that_fails_is_refused(engine, tablet):  # noqa: F811
    tablet.write(2)
    send(engine, tablet, tablet.wire())
    assert send(engine, tablet, tablet.wire()).status is PushStatus.OK  # the same bytes: a retry
    result = send(engine, tablet, _bad_signature(tablet.wire(), 0))
    assert result.code is ErrorCode.JOURNAL_INVALID
    assert stored(engine, "dev-1") == [(e.seq, e.hash) for e in tablet.entries]


def test_the_offices_void_of_a_held_collection_is_applied_without_a_new_alert(engine, tablet):  # noqa: F811
    [taken] = tablet.write(
        type=EntryType.COLLECTION, driver_id="ghost", mission_id="M-1", method="cash", amount="9.00"
    )
    send(engine, tablet, tablet.wire())
    with engine.begin() as conn:
        conn.execute(
            sa.insert(decisions).values(
                tenant_id=TENANT,
                id="dec_void",
                type="void_collection",
                mission_id="M-1",
                device_id="dev-1",
                entry_seq=1,
                driver_id="ghost",
                data=json.dumps({"collection": journal.reference(taken)}),
                decided_by="u1",
                decided_at=NOW,
            )
        )
    tablet.write(
        type=EntryType.REVERSAL,
        driver_id="ghost",  # the tablet applies a void in the name of whoever collected
        decision="dec_void",
        mission_id="M-1",
        reverses=journal.reference(taken),
        method="cash",
        amount="9.00",
        reason="annulé par le bureau",
    )
    send(engine, tablet, tablet.wire(2))
    assert [a.detail["reason"] for a in anomalies_of(engine, "entry_unauthorised")] == [
        "driver_unknown"
    ]


def test_the_office_voids_a_held_collection_or_accepts_it_in_one_action(engine, tablet):  # noqa: F811
    key = signing.private_key_from_bytes(bytes(range(1, 33)))
    tablet.write(
        type=EntryType.COLLECTION, driver_id="d2", mission_id="M-1", method="cash", amount="9.00"
    )
    tablet.write(
        type=EntryType.COLLECTION, driver_id="ghost", mission_id="M-1", method="cash", amount="4.00"
    )
    send(engine, tablet, tablet.wire())
    not_enrolled, unknown = anomalies_of(engine, "entry_unauthorised")
    with engine.begin() as conn:
        done = resolutions.resolve(
            conn, TENANT, not_enrolled.id, "void", "pas son camion", key=key, actor="u1", now=NOW
        )
        resolutions.resolve(
            conn, TENANT, unknown.id, "acknowledge", "remplaçant", key=key, actor="u1", now=NOW
        )
    [decided] = _rows(engine, decisions)
    assert (decided.id, decided.type, decided.entry_seq) == (
        done["decisions"][0],
        "void_collection",
        1,
    )
    assert {a.status for a in anomalies_of(engine, "entry_unauthorised")} == {"resolved"}
