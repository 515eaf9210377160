"""The journal envelope: chaining, hashing, signing, the wire form, and append-only."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import journal, signing
from shared.errors import InvalidDocument
from shared.journal import EntryType, SignedEntry, append, genesis

KEY = signing.private_key_from_bytes(bytes(range(32)))  # fixed, so signatures are reproducible
PUBLIC = signing.public_key_of(KEY)
AT = "2026-11-24T09:30:00.000Z"

CASH_COLLECTION = {
    "mission_id": "M-2026-0042",
    "method": "cash",
    "amount": "38.40",
    "tendered": "50.00",
    "change": "11.60",
    "note": "Espèces reçues",
}


def collect(head: journal.Head, payload: dict[str, Any] | None = None) -> SignedEntry:
    return append(
        head,
        type=EntryType.COLLECTION,
        at=AT,
        driver_id="driver-17",
        payload=CASH_COLLECTION if payload is None else payload,
        private_key=KEY,
    )


def problems_of(error: InvalidDocument) -> dict[str, str]:
    return {problem.path: problem.text.en for problem in error.problems}


# JSON values a payload may hold (no floats), nested a little.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-journal.MAX_SAFE_INT, max_value=journal.MAX_SAFE_INT)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


# --- the documented bytes (docs/journal.md carries the same vector) ------------------------


def test_known_vector_hash_and_signature_match_the_documented_bytes() -> None:
    signed = collect(genesis("tablet-0001"))
    assert signed.entry.prev_hash == (
        "137f2f93794222982545013a2a9c7aef61cda83f4489842ee613c82156af7d4c"
    )
    assert signed.hash == "338242132aec79cb87c69e98fde3fbe02488281731994f052d8a3d208e902184"
    assert signed.sig == (
        "04780cb7e251d1cf940cd1c2b3c4f33a43cc788f680b124ee8b39b5c2d66ed17"
        "c97147ed71250a4d67817853e479f923fe4a79f4a923a7a6c8247bc16cb90909"
    )
    assert signing.public_key_to_bytes(PUBLIC).hex() == (
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    )


def test_genesis_is_sha256_of_the_fixed_prefix_and_the_device_id() -> None:
    expected = hashlib.sha256(b"towline:journal:genesis:tablet-0001").hexdigest()
    assert genesis("tablet-0001") == journal.Head("tablet-0001", 0, expected)
    assert genesis("tablet-0002").hash != expected


def test_hash_is_sha256_of_sorted_compact_utf8_json_of_the_seven_envelope_fields() -> None:
    signed = collect(genesis("tablet-0001"))
    document = {
        "device_id": "tablet-0001",
        "seq": 1,
        "type": "collection",
        "at": AT,
        "driver_id": "driver-17",
        "payload": CASH_COLLECTION,
        "prev_hash": genesis("tablet-0001").hash,
    }
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert signed.hash == hashlib.sha256(raw.encode("utf-8")).hexdigest()


def test_signature_is_ed25519_of_the_32_raw_bytes_of_the_hash() -> None:
    signed = collect(genesis("tablet-0001"))
    PUBLIC.verify(bytes.fromhex(signed.sig), bytes.fromhex(signed.hash))  # raises if wrong
    assert not signing.verify(PUBLIC, bytes.fromhex(signed.sig), signed.hash.encode("ascii"))


# --- chaining ------------------------------------------------------------------------------


def test_first_entry_is_number_1_and_chains_to_the_device_genesis() -> None:
    first = collect(genesis("tablet-0001"))
    assert first.entry.seq == 1
    assert first.entry.device_id == "tablet-0001"
    assert first.entry.prev_hash == journal.genesis_hash("tablet-0001")


def test_each_entry_takes_the_next_number_and_chains_to_the_previous_hash() -> None:
    first = collect(genesis("tablet-0001"))
    second = collect(first.head)
    third = collect(second.head)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert second.entry.prev_hash == first.hash
    assert third.entry.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3  # same payload, different hashes


def test_same_inputs_give_the_same_entry_hash_and_signature() -> None:
    assert collect(genesis("tablet-0001")) == collect(genesis("tablet-0001"))


@settings(max_examples=300, deadline=None)
@given(payload=payloads, data=st.data())
def test_canonical_bytes_identical_for_equal_payloads_whatever_the_key_order(
    payload: dict[str, Any], data: st.DataObject
) -> None:
    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            keys = data.draw(st.permutations(list(value)))
            return {key: shuffled(value[key]) for key in keys}
        if isinstance(value, list):
            return [shuffled(item) for item in value]
        return value

    one = collect(genesis("tablet-0001"), payload)
    other = collect(genesis("tablet-0001"), shuffled(payload))
    assert journal.to_wire_bytes(one) == journal.to_wire_bytes(other)
    assert one.hash == other.hash


def test_a_decimal_amount_is_hashed_as_its_text() -> None:
    with_decimal = collect(genesis("t"), {"amount": Decimal("38.40")})
    with_text = collect(genesis("t"), {"amount": "38.40"})
    assert with_decimal.entry.payload["amount"] == "38.40"
    assert with_decimal.hash == with_text.hash


# --- what an entry refuses -----------------------------------------------------------------


def test_a_float_anywhere_in_a_payload_is_refused_with_its_path() -> None:
    with pytest.raises(InvalidDocument) as refused:
        collect(genesis("t"), {"lines": [{"amount": 38.4}]})
    problems = problems_of(refused.value)
    assert list(problems) == ["payload.lines[0].amount"]
    assert "float refused" in problems["payload.lines[0].amount"]
    assert "virgule flottante" in refused.value.message("fr")


@given(value=st.floats(allow_nan=True, allow_infinity=True))
@settings(max_examples=50, deadline=None)
def test_every_float_is_refused_in_a_payload(value: float) -> None:
    with pytest.raises(InvalidDocument):
        collect(genesis("t"), {"amount": value})


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"n": 2**53}, "payload.n"),
        ({"n": Decimal("NaN")}, "payload.n"),
        ({"when": datetime(2026, 1, 1)}, "payload.when"),
        ({"text": "\ud800"}, "payload.text"),
        ({1: "key is not text"}, "payload"),
    ],
)
def test_payload_values_any_verifier_could_misread_are_refused(
    payload: dict[Any, Any], path: str
) -> None:
    with pytest.raises(InvalidDocument) as refused:
        collect(genesis("t"), payload)
    assert list(problems_of(refused.value)) == [path]


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-24T09:30:00+00:00",  # one spelling only: Z
        "2026-11-24 09:30:00Z",
        "2026-13-24T09:30:00Z",
        "2026-11-24T09:30:00.1234567Z",
        "2026-11-24T09:30:00Z\n",
    ],
)
def test_at_must_be_an_iso_utc_timestamp_ending_in_z(at: str) -> None:
    with pytest.raises(InvalidDocument) as refused:
        append(genesis("t"), type=EntryType.DISPUTE, at=at, driver_id="d", payload={},
               private_key=KEY)  # fmt: skip
    assert list(problems_of(refused.value)) == ["at"]


def test_an_unknown_entry_type_is_refused_with_the_known_types() -> None:
    with pytest.raises(InvalidDocument) as refused:
        append(genesis("t"), type="payment", at=AT, driver_id="d", payload={}, private_key=KEY)  # type: ignore[arg-type]
    assert "collection" in problems_of(refused.value)["type"]


def test_entry_types_are_exactly_the_journal_events() -> None:
    assert {str(t) for t in EntryType} == {
        "register_opened", "register_closed", "collection", "reversal", "discount",
        "deferral", "dispute", "valuation_recorded", "mission_step", "bank_deposit",
        "closing", "office_decision_applied", "deposit_set", "approval_refused", "pin_refused",
        "site_facts", "beneficiary_recorded",
        # the server's own journal
        "invoice_issued", "credit_note_issued", "office_decision", "office_payment",
        "document_rendered",
    }  # fmt: skip


def test_an_entry_without_a_driver_is_allowed_for_the_server_journal() -> None:
    signed = append(genesis("server"), type=EntryType.CLOSING, at=AT, driver_id=None,
                    payload={}, private_key=KEY)  # fmt: skip
    assert signed.entry.driver_id is None
    with pytest.raises(InvalidDocument):
        append(genesis("t"), type=EntryType.CLOSING, at=AT, driver_id="", payload={},
               private_key=KEY)  # fmt: skip


def test_utc_timestamp_writes_any_aware_time_in_utc_with_milliseconds() -> None:
    paris = timezone(timedelta(hours=1))
    assert journal.utc_timestamp(datetime(2026, 11, 24, 10, 30, 0, 123456, paris)) == (
        "2026-11-24T09:30:00.123Z"
    )
    assert journal.utc_timestamp(datetime(2026, 11, 24, 9, 30, tzinfo=UTC)) == AT
    with pytest.raises(ValueError):
        journal.utc_timestamp(datetime(2026, 11, 24, 9, 30))


# --- append-only ---------------------------------------------------------------------------


def test_a_recorded_entry_cannot_be_changed_in_place() -> None:
    signed = collect(genesis("t"), {"amount": "38.40", "lines": [{"a": "1"}]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        signed.entry.payload = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        signed.hash = "0" * 64  # type: ignore[misc]
    with pytest.raises(TypeError):
        signed.entry.payload["amount"] = "0.00"  # type: ignore[index]
    with pytest.raises(TypeError):
        signed.entry.payload["lines"][0]["a"] = "2"
    assert signed.entry.payload == {"amount": "38.40", "lines": [{"a": "1"}]}


def test_the_journal_api_offers_no_way_to_update_or_delete() -> None:
    verbs = ("update", "delete", "remove", "edit", "replace", "pop", "set", "amend", "drop")
    public = [name for name in dir(journal) if not name.startswith("_")]
    assert "append" in public
    assert [name for name in public if any(verb in name.lower() for verb in verbs)] == []


def test_a_wrong_collection_is_reversed_by_a_new_entry_that_references_it() -> None:
    collection = collect(genesis("t"))
    reversal = append(
        collection.head,
        type=EntryType.REVERSAL,
        at="2026-11-24T09:41:00.000Z",
        driver_id="driver-17",
        payload={"reverses": journal.reference(collection), "reason": "wrong amount"},
        private_key=KEY,
    )
    assert reversal.entry.seq == 2
    assert reversal.entry.payload["reverses"] == {
        "device_id": "t",
        "seq": 1,
        "hash": collection.hash,
    }
    assert collection.entry.payload == CASH_COLLECTION  # the original is untouched


# --- wire form -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(payload=payloads, driver=st.none() | st.text(min_size=1, max_size=5).filter(str.isprintable))
def test_wire_form_round_trips_exactly(payload: dict[str, Any], driver: str | None) -> None:
    signed = append(genesis("t"), type=EntryType.DISCOUNT, at=AT, driver_id=driver,
                    payload=payload, private_key=KEY)  # fmt: skip
    assert journal.from_wire(journal.to_wire(signed)) == signed
    assert journal.from_wire_bytes(journal.to_wire_bytes(signed)) == signed
    assert json.loads(journal.to_wire_bytes(signed)) == journal.to_wire(signed)


@settings(max_examples=300, deadline=None)
@given(payload=payloads, amount=st.none() | st.decimals(allow_nan=False, allow_infinity=False))
def test_an_entry_read_from_the_wire_keeps_the_bytes_its_hash_covers(
    payload: dict[str, Any], amount: Decimal | None
) -> None:
    # A push reads received JSON and hashes the bytes written straight from it (the
    # checked path of from_wire); a Python caller may hand decimals. Either way they must be
    # the canonical bytes of the entry built and checked in full.
    if amount is not None:
        payload = {**payload, "amount": amount}
    signed = append(genesis("t"), type=EntryType.DISCOUNT, at=AT, driver_id="d",
                    payload=payload, private_key=KEY)  # fmt: skip
    built = journal.Entry(**{name: getattr(signed.entry, name) for name in journal.ENTRY_FIELDS})
    expected = json.dumps(
        built.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    received = json.loads(journal.to_wire_bytes(signed))
    for wire in (received, {**journal.to_wire(signed), "payload": payload}):
        read = journal.from_wire(wire)
        assert read.entry == built
        assert read.entry.canonical() == expected
        assert journal.entry_hash(read.entry) == signed.hash == hashlib.sha256(expected).hexdigest()


def test_wire_form_is_the_envelope_plus_hash_and_sig_in_lowercase_hex() -> None:
    signed = collect(genesis("tablet-0001"))
    wire = journal.to_wire(signed)
    assert sorted(wire) == sorted([*journal.ENTRY_FIELDS, "hash", "sig"])
    assert wire["hash"] == signed.hash and wire["sig"] == signed.sig
    assert len(wire["sig"]) == 128 and wire["sig"] == wire["sig"].lower()


def test_from_wire_lists_every_unknown_missing_or_wrong_field_at_once() -> None:
    wire = journal.to_wire(collect(genesis("t")))
    del wire["at"]
    wire["seq"] = "1"
    wire["hash"] = wire["hash"].upper()
    wire["payload"] = {"amount": 38.4}
    wire["amended_by"] = "office"
    with pytest.raises(InvalidDocument) as refused:
        journal.from_wire(wire)
    problems = problems_of(refused.value)
    assert problems == {
        "amended_by": "unknown field",
        "at": "missing field",
        "seq": "sequence number expected: an integer from 1",
        "hash": "64 lowercase hexadecimal digits expected",
        "payload.amount": 'binary float refused (38.4): write it as text, such as "12.50"',
    }
    assert refused.value.message("fr").startswith("Entrée de journal : 5 erreurs")


@pytest.mark.parametrize("data", [[], "entry", None, 42])
def test_from_wire_refuses_anything_but_an_object(data: object) -> None:
    with pytest.raises(InvalidDocument) as refused:
        journal.from_wire(data)
    assert problems_of(refused.value) == {"": "a JSON object is expected"}


def test_from_wire_refuses_a_boolean_for_seq() -> None:
    wire = journal.to_wire(collect(genesis("t")))
    wire["seq"] = True
    with pytest.raises(InvalidDocument) as refused:
        journal.from_wire(wire)
    assert list(problems_of(refused.value)) == ["seq"]


def test_from_wire_bytes_refuses_bytes_that_are_not_the_canonical_form() -> None:
    signed = collect(genesis("t"))
    spaced = json.dumps(journal.to_wire(signed), sort_keys=True).encode("utf-8")
    assert json.loads(spaced) == journal.to_wire(signed)
    with pytest.raises(InvalidDocument) as refused:
        journal.from_wire_bytes(spaced)
    assert "not canonical" in refused.value.message("en")


def test_from_wire_bytes_refuses_another_spelling_of_the_same_text() -> None:
    signed = collect(genesis("t"), {"note": "tab\x1fhere"})
    raw = journal.to_wire_bytes(signed)
    assert b"\\u001f" in raw
    respelled = raw.replace(b"\\u001f", b"\\u001F")  # JSON reads both as the same text
    assert json.loads(respelled) == json.loads(raw)
    with pytest.raises(InvalidDocument):
        journal.from_wire_bytes(respelled)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b'{"seq": NaN}'])
def test_from_wire_bytes_refuses_unreadable_json_in_words(raw: bytes) -> None:
    with pytest.raises(InvalidDocument) as refused:
        journal.from_wire_bytes(raw)
    assert [problem.path for problem in refused.value.problems] == [""]
    assert "unreadable JSON" in refused.value.message("en")
