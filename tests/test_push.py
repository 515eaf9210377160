"""Push on SQLite and PostgreSQL (ARCHITECTURE "Push"): retries are harmless, a fork is
refused and raised as an alert that survives the refusal, a gap names the expected seq,
anything altered is refused with nothing stored, a revoked tablet's batch is quarantined."""

from __future__ import annotations

import itertools
import json
import threading

import hypothesis.strategies as st
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from server.platform.tables import journal_entries
from shared import journal
from shared.canonical import canonical_json
from sync.protocol import MAX_PUSH_ENTRIES, ErrorCode, PushStatus
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import (
    Tablet,
    add_tenant,
    anomalies_of,
    enrol,
    head_of,
    quarantined,
    send,
    stored,
)


@pytest.fixture
def tablet(engine):  # noqa: F811
    add_tenant(engine)
    t = Tablet("dev-1")
    enrol(engine, t)
    return t


def test_a_batch_is_stored_with_its_hashed_body_and_signature_and_moves_the_head(engine, tablet):  # noqa: F811
    tablet.write(3)
    result = send(engine, tablet, tablet.wire())
    assert (result.status, result.stored, result.http_status) == (PushStatus.OK, 3, 200)
    assert result.to_wire() == {
        "status": "ok",
        "acknowledged": {"seq": 3, "hash": tablet.entries[2].hash},
    }
    assert head_of(engine, "dev-1") == (3, tablet.entries[2].hash)
    with engine.connect() as conn:
        row = conn.execute(sa.select(journal_entries).where(journal_entries.c.seq == 2)).one()
    second = tablet.entries[1]
    assert row.body.encode() == canonical_json(second.entry.as_dict())
    assert journal.entry_hash(second.entry) == row.hash == second.hash
    assert (row.sig, row.type, row.driver_id, row.mission_id) == (
        second.sig,
        "mission_step",
        "d1",
        "M-1",
    )
    assert row.prev_hash == tablet.entries[0].hash


def test_a_batch_sent_twice_is_acknowledged_again_and_nothing_is_doubled(engine, tablet):  # noqa: F811
    tablet.write(4)
    first = send(engine, tablet, tablet.wire())
    again = send(engine, tablet, tablet.wire())
    assert again.status is PushStatus.OK
    assert again.acknowledged == first.acknowledged == tablet.head
    assert again.stored == 0
    assert stored(engine, "dev-1") == [(e.seq, e.hash) for e in tablet.entries]
    assert anomalies_of(engine) == []


def test_a_batch_overlapping_what_is_stored_stores_only_the_new_entries(engine, tablet):  # noqa: F811
    tablet.write(6)
    send(engine, tablet, tablet.wire(1, 4))
    result = send(engine, tablet, tablet.wire(3, 6))
    assert (result.status, result.stored, result.acknowledged) == (PushStatus.OK, 2, tablet.head)
    assert [seq for seq, _ in stored(engine, "dev-1")] == [1, 2, 3, 4, 5, 6]


def test_an_old_batch_arriving_after_a_newer_one_is_acknowledged_with_the_current_head(
    engine,  # noqa: F811
    tablet,
):
    tablet.write(6)
    send(engine, tablet, tablet.wire(1, 3))
    send(engine, tablet, tablet.wire(4, 6))
    late = send(engine, tablet, tablet.wire(1, 3))
    assert (late.status, late.acknowledged) == (PushStatus.OK, tablet.head)


def test_the_same_seq_with_another_hash_is_a_fork_refused_and_the_alert_persists(engine, tablet):  # noqa: F811
    tablet.write(3)
    send(engine, tablet, tablet.wire())
    copy = Tablet("dev-1", key=tablet.key)  # the tablet copied, then writing its own history
    copy.entries = tablet.entries[:1]
    copy.write(1, mission_id="M-9", amount="80.00")
    result = send(engine, tablet, copy.wire(1, 2))
    assert (result.status, result.http_status) == (PushStatus.FORK, 409)
    assert result.acknowledged == tablet.head  # unchanged
    assert "Alerte de sécurité" in result.to_wire("fr")["message"]
    assert stored(engine, "dev-1") == [(e.seq, e.hash) for e in tablet.entries]
    [alert] = anomalies_of(engine, "journal_fork")
    assert (alert.device_id, alert.status, alert.mission_id) == ("dev-1", "open", "M-9")
    assert alert.detail["seq"] == 2
    assert alert.detail["stored_hash"] == tablet.entries[1].hash
    assert alert.detail["received_hash"] == copy.entries[1].hash
    assert alert.detail["received_signature_valid"] is True


def test_a_batch_starting_beyond_head_plus_one_is_a_gap_naming_the_expected_seq(engine, tablet):  # noqa: F811
    tablet.write(8)
    send(engine, tablet, tablet.wire(1, 3))
    result = send(engine, tablet, tablet.wire(6, 8))
    assert (result.status, result.expected_seq, result.http_status) == (PushStatus.GAP, 4, 409)
    assert result.to_wire("en")["expected_seq"] == 4
    assert "no. 4" in result.to_wire("en")["message"]
    assert [seq for seq, _ in stored(engine, "dev-1")] == [1, 2, 3]


def altered(wire):
    wire[1]["payload"] = {**wire[1]["payload"], "amount": "999.00"}
    return wire


def resigned_without_link(tablet):
    """Entry 2 rebuilt with a wrong prev_hash, validly hashed and signed by the tablet."""
    wire = tablet.wire()
    entry = journal.Entry(**{**tablet.entries[1].entry.as_dict(), "prev_hash": "0" * 64})
    digest = journal.entry_hash(entry)
    sig = tablet.key.sign(bytes.fromhex(digest)).hex()
    wire[1] = {**entry.as_dict(), "hash": digest, "sig": sig}
    return wire


def bad_last_signature(wire):
    wire[-1]["sig"] = "ab" * 64
    return wire


@pytest.mark.parametrize(
    ("damage", "finding"),
    [
        (lambda t: altered(t.wire()), "altered"),
        (lambda t: bad_last_signature(t.wire()), "bad_signature"),
        (resigned_without_link, "broken_link"),
    ],
    ids=["altered_entry", "bad_signature", "broken_link"],
)
def test_an_altered_or_unsigned_or_unlinked_batch_is_refused_with_nothing_stored(
    engine,  # noqa: F811
    tablet,
    damage,
    finding,
):
    tablet.write(3)
    result = send(engine, tablet, damage(tablet))
    assert result.status is None
    assert (result.code, result.http_status) == (ErrorCode.JOURNAL_INVALID, 422)
    assert result.to_wire("en")["code"] == "journal_invalid"
    assert "nothing stored" in result.to_wire("en")["message"]
    assert stored(engine, "dev-1") == []
    assert head_of(engine, "dev-1")[0] == 0
    [kept] = anomalies_of(engine, "journal_invalid")
    assert finding in {f["kind"] for f in kept.detail["findings"]}


def test_an_entry_already_stored_but_altered_on_resend_is_refused_not_acknowledged(engine, tablet):  # noqa: F811
    tablet.write(3)
    send(engine, tablet, tablet.wire())
    result = send(engine, tablet, altered(tablet.wire()))
    assert result.code is ErrorCode.JOURNAL_INVALID
    assert stored(engine, "dev-1") == [(e.seq, e.hash) for e in tablet.entries]


def test_a_malformed_entry_is_refused_naming_every_problem_and_nothing_is_stored(engine, tablet):  # noqa: F811
    tablet.write(3)
    wire = tablet.wire()
    wire[0]["payload"] = {"amount": 12.5}
    del wire[2]["sig"]
    result = send(engine, tablet, wire)
    assert (result.code, result.http_status) == (ErrorCode.INVALID_ENTRY, 422)
    message = result.to_wire("en")["message"]
    assert "[0] payload.amount: binary float refused" in message
    assert "[2] sig: missing field" in message
    assert stored(engine, "dev-1") == []
    assert anomalies_of(engine) == []


def test_a_batch_larger_than_the_limit_is_refused(engine, tablet):  # noqa: F811
    tablet.write(MAX_PUSH_ENTRIES + 1)
    result = send(engine, tablet, tablet.wire())
    assert (result.code, result.http_status) == (ErrorCode.BATCH_TOO_LARGE, 413)
    assert str(MAX_PUSH_ENTRIES) in result.to_wire("fr")["message"]
    assert stored(engine, "dev-1") == []
    assert send(engine, tablet, tablet.wire(1, MAX_PUSH_ENTRIES)).stored == MAX_PUSH_ENTRIES


def test_entries_of_another_device_are_refused(engine, tablet):  # noqa: F811
    other = Tablet("dev-2")
    other.write(2)
    result = send(engine, tablet, other.wire())
    assert (result.code, result.http_status) == (ErrorCode.WRONG_DEVICE, 403)
    assert stored(engine, "dev-2") == stored(engine, "dev-1") == []


def test_entries_out_of_device_order_within_a_batch_are_refused(engine, tablet):  # noqa: F811
    tablet.write(3)
    wire = tablet.wire()
    result = send(engine, tablet, [wire[0], wire[2], wire[1]])
    assert result.code is ErrorCode.INVALID_ENTRY
    assert "device order" in result.to_wire("en")["message"]
    assert stored(engine, "dev-1") == []


def test_a_revoked_tablets_batch_is_kept_whole_in_quarantine_and_shown_to_the_office(
    engine,  # noqa: F811
    tablet,
):
    tablet.write(2)
    send(engine, tablet, tablet.wire(1, 1))
    wire = tablet.wire()
    wire.append({"anything": "even malformed is kept"})
    result = send(engine, tablet, wire, revoked=True)
    assert (result.status, result.http_status) == (PushStatus.QUARANTINED, 202)
    assert result.acknowledged == tablet.entries[0].head
    assert "retirée du service" in result.to_wire("fr")["message"]
    assert quarantined(engine) == [("dev-1", "device_revoked", json.loads(json.dumps(wire)))]
    assert [seq for seq, _ in stored(engine, "dev-1")] == [1]
    [visible] = anomalies_of(engine, "quarantined_push")
    assert (visible.device_id, visible.detail["entries"], visible.detail["seqs"]) == (
        "dev-1",
        3,
        [1, 2],
    )


def test_an_empty_batch_is_acknowledged_with_the_current_head(engine, tablet):  # noqa: F811
    result = send(engine, tablet, [])
    assert (result.status, result.acknowledged) == (PushStatus.OK, journal.genesis("dev-1"))
    assert result.to_wire()["acknowledged"]["hash"] == journal.genesis_hash("dev-1")


def test_the_same_batch_sent_twice_at_once_is_stored_once(engine, tablet):  # noqa: F811
    tablet.write(50)
    results = []

    def go():
        results.append(send(engine, tablet, tablet.wire()))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.stored for r in results) == [0, 0, 0, 50]
    assert {r.acknowledged for r in results} == {tablet.head}
    assert len(stored(engine, "dev-1")) == 50


_NUMBERS = itertools.count(1)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    size=st.integers(1, 4),
    deliveries=st.lists(st.integers(0, 5), max_size=12),
)
def test_any_order_of_duplicated_and_reordered_batches_then_an_honest_resend_stores_all_once(
    engine,  # noqa: F811
    size,
    deliveries,
):
    """Whatever the network delivered, and in whatever order, the journal on the server
    is a prefix of the tablet's, and resending from the acknowledged head completes it."""
    add_tenant_once(engine)
    tablet = Tablet(f"dev-{next(_NUMBERS)}")
    enrol(engine, tablet)
    tablet.write(6 * size)
    batches = [tablet.wire(1 + n * size, (n + 1) * size) for n in range(6)]
    for n in deliveries:
        result = send(engine, tablet, batches[n])
        assert result.status in (PushStatus.OK, PushStatus.GAP)
        held = stored(engine, tablet.device_id)
        assert held == [(e.seq, e.hash) for e in tablet.entries[: len(held)]]
    acked = head_of(engine, tablet.device_id)[0]
    assert send(engine, tablet, tablet.wire(acked + 1)).status is PushStatus.OK
    assert stored(engine, tablet.device_id) == [(e.seq, e.hash) for e in tablet.entries]
    assert anomalies_of(engine) == []


def add_tenant_once(eng):
    from server.platform.tables import tenants

    with eng.connect() as conn:
        if conn.execute(sa.select(tenants.c.id)).first() is not None:
            return
    add_tenant(eng)
