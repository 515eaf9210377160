"""The chain verifier: an untouched chain verifies clean, and any tampering is reported."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from shared import journal, signing
from shared.canonical import canonical_json
from shared.chain_verifier import Finding, FindingKind, SignatureCheck, verify_chain
from shared.errors import InvalidDocument
from shared.journal import Entry, EntryType, Head, SignedEntry, append, genesis

DEVICE = "tablet-0001"
KEY = signing.private_key_from_bytes(bytes(range(32)))
PUBLIC = signing.public_key_of(KEY)
STRANGER = signing.private_key_from_bytes(bytes(range(100, 132)))  # not this device's key
TIMES = ["2026-11-24T09:30:00.000Z", "2026-11-24T09:41:07.250Z", "2027-01-01T00:00:00Z"]
BOTH_MODES = pytest.mark.parametrize("mode", list(SignatureCheck))


def build(
    count: int, device: str = DEVICE, head: Head | None = None, at: str = TIMES[0]
) -> list[SignedEntry]:
    """A readable chain: entry n collects n euros."""
    head = head or genesis(device)
    chain = []
    for _ in range(count):
        signed = append(
            head,
            type=EntryType.COLLECTION,
            at=at,
            driver_id="driver-17",
            payload={"mission_id": "M-1", "method": "cash", "amount": f"{head.seq + 1}.00"},
            private_key=KEY,
        )
        chain.append(signed)
        head = signed.head
    return chain


def verify(
    entries: list[SignedEntry],
    acknowledged: Head | None = None,
    mode: SignatureCheck = SignatureCheck.EVERY,
    after: Head | None = None,
) -> list[tuple[str, int]]:
    findings = verify_chain(
        entries,
        device_id=DEVICE,
        public_key=PUBLIC,
        acknowledged=acknowledged,
        signatures=mode,
        after=after,
    )
    return [(str(f.kind), f.seq) for f in findings]


def with_payload(signed: SignedEntry, payload: dict[str, Any]) -> Entry:
    fields = {name: getattr(signed.entry, name) for name in journal.ENTRY_FIELDS}
    return Entry(**{**fields, "payload": payload})


# --- examples, one per finding -------------------------------------------------------------


@BOTH_MODES
def test_an_untouched_chain_verifies_clean(mode: SignatureCheck) -> None:
    chain = build(5)
    assert verify(chain, acknowledged=chain[-1].head, mode=mode) == []
    assert verify([], mode=mode) == []


@BOTH_MODES
def test_missing_entries_are_a_gap_naming_the_missing_numbers(mode: SignatureCheck) -> None:
    chain = build(6)
    findings = verify_chain(
        chain[:2] + chain[4:], device_id=DEVICE, public_key=PUBLIC, signatures=mode
    )
    assert [(f.kind, f.seq, f.index) for f in findings] == [(FindingKind.GAP, 3, None)]
    assert findings[0].message("fr") == (
        "Entrées manquantes : n° 3 à 4. Des entrées ont été perdues ou supprimées."
    )
    assert findings[0].message("en") == (
        "Missing entries: no. 3 to 4. Entries were lost or deleted."
    )


def test_losing_the_first_entry_is_a_gap_at_number_1() -> None:
    assert verify(build(3)[1:]) == [("gap", 1)]


def test_two_different_entries_for_one_number_are_a_fork() -> None:
    chain = build(3)
    rewritten = build(1, head=chain[0].head, at=TIMES[1])[0]
    findings = verify_chain([*chain, rewritten], device_id=DEVICE, public_key=PUBLIC)
    assert [(f.kind, f.seq, f.index) for f in findings] == [(FindingKind.FORK, 2, 3)]
    assert "Alerte de sécurité" in findings[0].message("fr")


def test_the_same_entry_stored_twice_is_a_duplicate() -> None:
    chain = build(3)
    assert verify([*chain[:2], chain[1], chain[2]]) == [("duplicate", 2)]


@BOTH_MODES
def test_content_changed_under_its_hash_is_altered(mode: SignatureCheck) -> None:
    chain = build(3)
    forged = SignedEntry(with_payload(chain[1], {"amount": "0.01"}), chain[1].hash, chain[1].sig)
    assert verify([chain[0], forged, chain[2]], mode=mode) == [("altered", 2)]


@BOTH_MODES
def test_content_changed_with_a_recomputed_hash_breaks_the_signature_and_the_link(
    mode: SignatureCheck,
) -> None:
    chain = build(3)
    entry = with_payload(chain[1], {"amount": "0.01"})
    forged = SignedEntry(entry, journal.entry_hash(entry), chain[1].sig)
    assert verify([chain[0], forged, chain[2]], mode=mode) == [
        ("bad_signature", 2),
        ("broken_link", 3),
    ]


def test_two_entries_stored_in_the_wrong_order_are_reordered() -> None:
    chain = build(4)
    findings = verify_chain(
        [chain[0], chain[2], chain[1], chain[3]], device_id=DEVICE, public_key=PUBLIC
    )
    assert [(f.kind, f.seq, f.index) for f in findings] == [(FindingKind.REORDERED, 2, 2)]
    assert findings[0].message("en") == "Entry no. 2 is out of place: it is stored after no. 3."


def test_an_entry_signed_by_another_key_has_a_bad_signature() -> None:
    chain = build(3)
    forged = append(
        chain[1].head,
        type=EntryType.REVERSAL,
        at=TIMES[1],
        driver_id="driver-17",
        payload={"reverses": journal.reference(chain[1])},
        private_key=STRANGER,
    )
    assert verify([*chain[:2], forged]) == [("bad_signature", 3)]
    assert verify([*chain[:2], forged], mode=SignatureCheck.RUN_ENDS) == [("bad_signature", 3)]


def test_an_entry_not_chained_to_its_predecessor_is_a_broken_link() -> None:
    chain = build(2)
    stray = build(1, head=Head(DEVICE, 2, "0" * 64))
    assert verify(chain + stray) == [("broken_link", 3)]


def test_an_entry_of_another_device_is_reported_as_such() -> None:
    chain = build(2)
    other = build(3, device="tablet-0002")
    findings = verify_chain([*chain, other[2]], device_id=DEVICE, public_key=PUBLIC)
    assert [(f.kind, f.seq, f.index) for f in findings] == [(FindingKind.WRONG_DEVICE, 3, 2)]
    assert "tablet-0002" in findings[0].message("fr")


def test_a_chain_ending_before_the_acknowledged_head_is_truncated() -> None:
    chain = build(5)
    findings = verify_chain(
        chain[:3], device_id=DEVICE, public_key=PUBLIC, acknowledged=chain[-1].head
    )
    assert [(f.kind, f.seq) for f in findings] == [(FindingKind.TRUNCATED, 5)]
    assert findings[0].message("fr").startswith("Le journal s'arrête au n° 3 alors que le serveur")
    assert verify([], acknowledged=chain[-1].head) == [("truncated", 5)]


def test_a_chain_rewritten_after_the_acknowledged_head_is_truncated_even_if_longer() -> None:
    chain = build(5)
    rewritten = chain[:3] + build(
        4, head=chain[2].head, at=TIMES[1]
    )  # the device key redid 4 and 5, then 6, 7
    findings = verify_chain(
        rewritten, device_id=DEVICE, public_key=PUBLIC, acknowledged=chain[-1].head
    )
    assert [(f.kind, f.seq) for f in findings] == [(FindingKind.TRUNCATED, 5)]
    assert "ne contient pas l'entrée n° 5" in findings[0].message("fr")
    assert verify(rewritten) == []  # without the acknowledged head, nothing can tell


def test_every_problem_is_reported_not_only_the_first() -> None:
    chain = build(8)
    forged = SignedEntry(with_payload(chain[1], {"amount": "0.01"}), chain[1].hash, chain[1].sig)
    tampered = [chain[0], forged, chain[3], chain[2], chain[5], chain[5]]
    assert verify(tampered, acknowledged=chain[-1].head) == [
        ("altered", 2),
        ("reordered", 3),
        ("gap", 5),
        ("duplicate", 6),
        ("truncated", 8),
    ]


# --- the fast path and batches -------------------------------------------------------------


def test_fast_path_trusts_the_chain_for_inner_signatures_the_audit_does_not() -> None:
    chain = build(4)
    damaged = SignedEntry(chain[1].entry, chain[1].hash, "00" * 64)
    tampered = [chain[0], damaged, *chain[2:]]
    assert verify(tampered, mode=SignatureCheck.RUN_ENDS) == []  # content proven by entry 4's sig
    assert verify(tampered, mode=SignatureCheck.EVERY) == [("bad_signature", 2)]


def test_fast_path_checks_the_last_signature_of_every_run() -> None:
    chain = build(4)
    damaged = SignedEntry(chain[3].entry, chain[3].hash, "00" * 64)
    assert verify([*chain[:3], damaged], mode=SignatureCheck.RUN_ENDS) == [("bad_signature", 4)]
    before_gap = SignedEntry(chain[1].entry, chain[1].hash, "00" * 64)
    assert verify([chain[0], before_gap, chain[3]], mode=SignatureCheck.RUN_ENDS) == [
        ("bad_signature", 2),
        ("gap", 3),
    ]


def test_a_pushed_batch_is_verified_against_the_stored_head() -> None:
    chain = build(6)
    stored = chain[2].head
    assert verify(chain[3:], after=stored) == []
    assert verify(chain[4:], after=stored) == [("gap", 4)]
    assert verify(chain[2:], after=stored) == [("duplicate", 3)]
    other = build(3, at=TIMES[1])  # a different entry 3
    assert verify(chain[3:], after=Head(DEVICE, 3, other[2].hash)) == [("broken_link", 4)]


def test_a_head_of_another_device_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        verify_chain([], device_id=DEVICE, public_key=PUBLIC, after=genesis("tablet-0002"))


# --- properties: any tampering is detected -------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
json_values = (  # two levels deep: enough for every byte form, and cheaper than st.recursive
    json_scalars
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=6), json_scalars, max_size=3)
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=4)


@functools.cache
def _plain_chain(count: int, variant: int) -> tuple[SignedEntry, ...]:
    head, chain = genesis(DEVICE), []
    for number in range(count):
        signed = append(
            head,
            type=list(EntryType)[(number + variant) % len(EntryType)],
            at=TIMES[(number * variant) % len(TIMES)],
            driver_id=["driver-17", "driver-3", None][(number + variant) % 3],
            payload={"amount": f"{number}.{variant}0", "variant": variant},
            private_key=KEY,
        )
        chain.append(signed)
        head = signed.head
    return tuple(chain)


def plain_chains(min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[list[SignedEntry]]:
    """Cheap chains for the tests where what matters is the order, not the content."""
    return st.builds(
        lambda count, variant: list(_plain_chain(count, variant)),
        st.integers(min_size, max_size),
        st.integers(0, 3),
    )


@st.composite
def chains(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> list[SignedEntry]:
    """A chain in which one entry, anywhere, has an arbitrary envelope and payload; the others
    come from a cache (drawing every entry would cost more time than it finds bugs)."""
    count = draw(st.integers(min_size, max_size))
    rich = draw(st.integers(0, count - 1))
    chain = list(_plain_chain(count, draw(st.integers(0, 3))))
    chain[rich:] = []
    head = chain[-1].head if chain else genesis(DEVICE)
    for number in range(rich, count):
        signed = append(
            head,
            type=draw(st.sampled_from(EntryType)) if number == rich else EntryType.COLLECTION,
            at=draw(st.sampled_from(TIMES)) if number == rich else TIMES[0],
            driver_id=draw(st.sampled_from(["driver-17", "driver-3", None])),
            payload=draw(payloads) if number == rich else {"amount": f"{number}.50"},
            private_key=KEY,
        )
        chain.append(signed)
        head = signed.head
    return chain


def detected(
    tampered: list[SignedEntry], original: list[SignedEntry], mode: SignatureCheck
) -> bool:
    acknowledged = original[-1].head if original else None
    return bool(verify(tampered, acknowledged=acknowledged, mode=mode))


def field_spans(raw: bytes, wire: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Where each field's value lies in the stored bytes (built as the canonical encoder does)."""
    spans, offset = {}, 1
    for name in sorted(wire):
        offset += len(canonical_json(name)) + 1
        size = len(canonical_json(wire[name]))
        spans[name] = (offset, offset + size)
        offset += size + 1
    assert offset == len(raw)
    return spans


def flip(raw: bytes, position: int, mask: int) -> bytes:
    return raw[:position] + bytes([raw[position] ^ mask]) + raw[position + 1 :]


@settings(max_examples=2000, deadline=None)
@given(chain=chains(), data=st.data())
def test_any_byte_flip_anywhere_in_any_stored_entry_is_detected(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 1), label="entry")
    raw = journal.to_wire_bytes(chain[index])
    position = data.draw(st.integers(0, len(raw) - 1), label="byte")
    try:
        read = journal.from_wire_bytes(flip(raw, position, data.draw(st.integers(1, 255))))
    except InvalidDocument:
        event("refused when read")
        return
    event("read, then reported by the verifier")
    assert detected([*chain[:index], read, *chain[index + 1 :]], chain, SignatureCheck.EVERY)


HEX = b"0123456789abcdef"
ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@settings(max_examples=2000, deadline=None)
@given(chain=chains(), data=st.data())
def test_any_byte_changed_in_any_field_value_is_detected(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 1), label="entry")
    raw = journal.to_wire_bytes(chain[index])
    field = data.draw(st.sampled_from(journal.WIRE_FIELDS), label="field")
    wire = journal.to_wire(chain[index])
    start, end = field_spans(raw, wire)[field]
    if isinstance(wire[field], str):
        start, end = start + 1, end - 1  # inside the quotes (the test above flips those)
    if start == end:
        return  # an empty text
    position = data.draw(st.integers(start, end - 1), label="byte")
    # A byte of the same class where there is one (a hex digit for another), so the change
    # reads as a well-formed entry and the verifier, not the reader, has to find it.
    old = raw[position]
    same_class = next((c for c in (HEX, ALNUM) if old in c), None)
    if same_class is None:
        new = old ^ data.draw(st.integers(1, 255), label="mask")
    else:
        new = data.draw(st.sampled_from([c for c in same_class if c != old]), label="byte value")
    try:
        read = journal.from_wire_bytes(raw[:position] + bytes([new]) + raw[position + 1 :])
    except InvalidDocument:
        event(f"{field}: refused when read")
        return
    event(f"{field}: reported by the verifier")
    assert detected([*chain[:index], read, *chain[index + 1 :]], chain, SignatureCheck.EVERY)


@settings(max_examples=1200, deadline=None)
@given(chain=chains(), data=st.data())
def test_any_change_of_content_even_rehashed_is_detected_on_the_fast_path_too(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 1), label="entry")
    wire = journal.to_wire(chain[index])
    field = data.draw(st.sampled_from([*journal.ENTRY_FIELDS, "hash"]), label="field")
    replacement = data.draw(
        {
            "device_id": st.sampled_from(["tablet-0002", "tablet-0001 "]),
            "seq": st.integers(1, 10),
            "type": st.sampled_from(EntryType),
            "at": st.sampled_from(TIMES),
            "driver_id": st.sampled_from(["driver-17", "driver-3", None]),
            "payload": payloads,
            "prev_hash": st.sampled_from([e.hash for e in chain] + [genesis(DEVICE).hash]),
            "hash": st.sampled_from([e.hash for e in chain] + ["0" * 64]),
        }[field]
    )
    if canonical_json(replacement) == canonical_json(wire[field]):
        return  # not a change
    read = journal.from_wire({**wire, field: replacement})
    if field != "hash" and data.draw(st.booleans(), label="hash recomputed to match"):
        event("hash recomputed")
        read = SignedEntry(read.entry, journal.entry_hash(read.entry), read.sig)
    for mode in SignatureCheck:
        assert detected([*chain[:index], read, *chain[index + 1 :]], chain, mode)


@settings(max_examples=2000, deadline=None)
@given(chain=plain_chains(), data=st.data())
def test_deleting_any_run_of_entries_is_detected(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(chain) - 1))
    end = data.draw(st.integers(start + 1, len(chain)))
    for mode in SignatureCheck:
        assert detected(chain[:start] + chain[end:], chain, mode)


@settings(max_examples=2000, deadline=None)
@given(chain=plain_chains(), data=st.data())
def test_truncating_the_chain_is_detected_against_the_acknowledged_head(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    kept = data.draw(st.integers(0, len(chain) - 1))
    assert ("truncated", len(chain)) in verify(chain[:kept], acknowledged=chain[-1].head)


@settings(max_examples=1500, deadline=None)
@given(chain=plain_chains(), data=st.data())
def test_inserting_a_copy_or_a_forged_entry_anywhere_is_detected(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    heads = [genesis(DEVICE), *(e.head for e in chain)]
    kind = data.draw(
        st.sampled_from(
            ["copy", "fork by the device key", "device key, wrong link", "stranger's key"]
        )
    )
    if kind == "copy":
        inserted = data.draw(st.sampled_from(chain))
    else:
        head = data.draw(st.sampled_from(heads))
        if kind == "fork by the device key":
            head = data.draw(st.sampled_from(heads[:-1]))  # after the true head is no fork
        elif kind == "device key, wrong link":
            head = Head(DEVICE, head.seq, data.draw(st.sampled_from([e.hash for e in chain])))
            if head in heads:
                return  # happened to be the true head
        inserted = append(
            head,
            type=data.draw(st.sampled_from(EntryType)),
            at=TIMES[2],
            driver_id="driver-3",
            payload=data.draw(payloads),
            private_key=STRANGER if kind == "stranger's key" else KEY,
        )
        if inserted in chain:
            return  # the device key re-made an entry it already made: the same bytes
    position = data.draw(st.integers(0, len(chain)))
    event(kind)
    for mode in SignatureCheck:
        assert detected([*chain[:position], inserted, *chain[position:]], chain, mode)


@settings(max_examples=2000, deadline=None)
@given(chain=plain_chains(min_size=2), data=st.data())
def test_swapping_any_two_entries_is_detected(
    chain: list[SignedEntry], data: st.DataObject
) -> None:
    first = data.draw(st.integers(0, len(chain) - 2))
    second = data.draw(st.integers(first + 1, len(chain) - 1))
    swapped = list(chain)
    swapped[first], swapped[second] = swapped[second], swapped[first]
    for mode in SignatureCheck:
        assert verify(swapped, acknowledged=chain[-1].head, mode=mode) == [
            ("reordered", chain[k].seq) for k in range(first, second)
        ]


@settings(max_examples=300, deadline=None)
@given(chain=chains())
def test_an_untouched_chain_of_any_entries_verifies_clean_from_its_stored_bytes(
    chain: list[SignedEntry],
) -> None:
    read = [journal.from_wire_bytes(journal.to_wire_bytes(e)) for e in chain]
    for mode in SignatureCheck:
        assert verify(read, acknowledged=chain[-1].head, mode=mode) == []


def test_findings_are_values_with_words_in_both_languages() -> None:
    chain = build(2)
    (finding,) = verify_chain(chain[1:], device_id=DEVICE, public_key=PUBLIC)
    assert isinstance(finding, Finding)
    assert finding.text.fr != finding.text.en
    assert finding.message() == finding.text.fr
