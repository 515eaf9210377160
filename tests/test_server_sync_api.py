"""The push and pull endpoints refuse what they must, clearly, and store nothing then:
another device's entries, an outdated client, malformed or oversized batches, a forged
entry; and a tablet only ever pulls what its own drivers may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.platform.tables import anomalies, journal_entries
from shared import journal
from sync.protocol import MAX_PUSH_ENTRIES, PROTOCOL_HEADER
from tests.server_support import enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def chain(tablet, count, start=None):
    head = start or journal.genesis(tablet["device_id"])
    out = []
    for n in range(count):
        signed = journal.append(
            head,
            type="mission_step",
            at=journal.utc_timestamp(AT + timedelta(minutes=n)),
            driver_id="D1",
            payload={"mission_id": "M1", "from": "assigned", "to": "en_route"},
            private_key=tablet["key"],
        )
        out.append(signed)
        head = signed.head
    return out


def push(w, tablet, entries, **headers):
    return w.client.post(
        "/api/v1/sync/push",
        json={
            "protocol": 1,
            "device_id": tablet["device_id"],
            "entries": [
                journal.to_wire(e) if isinstance(e, journal.SignedEntry) else e for e in entries
            ],
        },
        headers={"Authorization": f"Bearer {tablet['token']}", **headers},
    )


def test_a_push_is_stored_once_and_acknowledged(world):  # noqa: F811
    tablet = enrol(world)
    entries = chain(tablet, 3)
    first = push(world, tablet, entries)
    assert first.status_code == 200, first.json
    assert first.json["acknowledged"] == {"seq": 3, "hash": entries[-1].hash}
    assert push(world, tablet, entries).status_code == 200
    assert world.count(journal_entries) == 3


def test_entries_of_another_device_are_refused(world):  # noqa: F811
    mine = enrol(world)
    theirs = enrol(world, seed=b"\x09" * 32)
    answer = push(world, mine, chain(theirs, 1))
    assert answer.status_code in (403, 422), answer.json
    body = {
        "protocol": 1,
        "device_id": theirs["device_id"],
        "entries": [journal.to_wire(e) for e in chain(theirs, 1)],
    }
    answer = world.client.post(
        "/api/v1/sync/push", json=body, headers={"Authorization": f"Bearer {mine['token']}"}
    )
    assert (answer.status_code, answer.json["code"]) == (403, "wrong_device")
    assert world.count(journal_entries) == 0


@pytest.mark.parametrize(
    ("version", "status", "code"), [("0", 426, "update_required"), ("99", 400, "server_too_old")]
)
def test_a_client_of_another_protocol_is_told_what_to_do(world, version, status, code):  # noqa: F811
    tablet = enrol(world)
    answer = push(world, tablet, chain(tablet, 1), **{PROTOCOL_HEADER: version})
    assert (answer.status_code, answer.json["code"]) == (status, code)
    assert answer.json["message"]
    assert world.count(journal_entries) == 0


def test_a_forged_entry_is_refused_and_nothing_is_stored(world):  # noqa: F811
    tablet = enrol(world)
    entries = [journal.to_wire(e) for e in chain(tablet, 2)]
    entries[0]["payload"] = {**entries[0]["payload"], "to": "closed"}
    answer = push(world, tablet, entries)
    assert answer.status_code == 422, answer.json
    assert world.count(journal_entries) == 0
    assert world.count(anomalies, kind="journal_invalid") == 1


def test_a_float_or_unknown_field_in_an_entry_is_refused(world):  # noqa: F811
    tablet = enrol(world)
    entry = journal.to_wire(chain(tablet, 1)[0])
    for bad in ({**entry, "payload": {"amount": 12.5}}, {**entry, "colour": "red"}):
        answer = push(world, tablet, [bad])
        assert answer.status_code == 422, answer.json
    assert world.count(journal_entries) == 0


def test_an_oversized_batch_is_refused(world):  # noqa: F811
    tablet = enrol(world)
    entry = journal.to_wire(chain(tablet, 1)[0])
    answer = push(world, tablet, [entry] * (MAX_PUSH_ENTRIES + 1))
    assert answer.status_code == 413, answer.json
    assert world.count(journal_entries) == 0


def test_a_gap_names_the_expected_sequence(world):  # noqa: F811
    tablet = enrol(world)
    entries = chain(tablet, 3)
    answer = push(world, tablet, entries[2:])
    assert (answer.status_code, answer.json["status"], answer.json["expected_seq"]) == (
        409,
        "gap",
        1,
    )


def test_a_tablet_pulls_only_its_own_drivers_missions_and_never_another_tenants(world):  # noqa: F811
    admin = world.auth("acme.admin")
    mission = {
        "id": "M-9",
        "ordering_party": None,
        "vehicle": {"class": "VL"},
        "times": {"call": "2026-03-10T10:00:00+01:00"},
        "services": [{"code": "TOW"}],
    }
    for mission_id, driver in (("M-D1", "D1"), ("M-D2", "D2")):
        made = world.client.post(
            "/api/v1/missions",
            headers=admin,
            json={"document": {**mission, "id": mission_id}, "driver_id": driver},
        )
        assert made.status_code == 201, made.json
    tablet = enrol(world, drivers=["D1"])
    answer = world.client.post(
        "/api/v1/sync/pull",
        json={"cursor": 0},
        headers={"Authorization": f"Bearer {tablet['token']}"},
    )
    assert answer.status_code == 200, answer.json
    ids = {c["id"] for c in answer.json["changes"] if c["kind"] == "mission"}
    assert ids == {"M-D1"}
    # an office user's token is not a device's
    office = world.client.post("/api/v1/sync/pull", json={"cursor": 0}, headers=admin)
    assert office.status_code == 401


def test_a_money_entry_whose_amount_cannot_be_read_is_refused_in_words(world):  # noqa: F811
    """Signed by the tablet's own key, so the chain verifies: the payload is what is wrong."""
    tablet = enrol(world)
    bad = journal.append(
        journal.genesis(tablet["device_id"]),
        type="collection",
        at=journal.utc_timestamp(AT),
        driver_id="D1",
        payload={"mission_id": "M1", "method": "cash", "amount": "12,50"},
        private_key=tablet["key"],
    )
    answer = push(world, tablet, [bad])
    assert (answer.status_code, answer.json["code"]) == (422, "invalid_entry"), answer.json
    assert "[0] payload.amount: montant illisible : « 12,50 »" in answer.json["message"]
    assert world.count(journal_entries) == 0 and world.count(anomalies) == 0
