"""The journal: every event that touches money or the gate, hash-chained and signed.

ARCHITECTURE.md "Journal entries": `entry = {device_id, seq, type, at, driver_id, payload,
prev_hash}`, `hash = sha256(canonical_json(entry))`, `sig = Ed25519(hash)`. The same code
builds entries on the tablet and checks them on the server. The API can only append: values
are frozen, and no function updates or deletes an entry. A mistake is corrected by a new entry
that points at the one it corrects (`reference`). docs/journal.md gives the exact bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared import signing
from shared.canonical import canonical_json, plain
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

GENESIS_PREFIX = b"towline:journal:genesis:"
MAX_ID_LENGTH = 128
MAX_SAFE_INT = 2**53 - 1  # I-JSON (RFC 7493): any verifier, in any language, reads it exactly

ENTRY_FIELDS = ("device_id", "seq", "type", "at", "driver_id", "payload", "prev_hash")
WIRE_FIELDS = (*ENTRY_FIELDS, "hash", "sig")

_HASH = re.compile(r"[0-9a-f]{64}")
_SIG = re.compile(r"[0-9a-f]{128}")
_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")

_ENTRY = Text("Entrée de journal", "Journal entry")


class EntryType(StrEnum):
    REGISTER_OPENED = "register_opened"
    REGISTER_CLOSED = "register_closed"
    COLLECTION = "collection"
    REVERSAL = "reversal"
    DISCOUNT = "discount"
    DEFERRAL = "deferral"
    DISPUTE = "dispute"
    VALUATION_RECORDED = "valuation_recorded"
    MISSION_STEP = "mission_step"
    BANK_DEPOSIT = "bank_deposit"
    CLOSING = "closing"
    OFFICE_DECISION_APPLIED = "office_decision_applied"
    DEPOSIT_SET = "deposit_set"  # a deposit set by hand in the office
    SITE_FACTS = "site_facts"  # what the driver found on site, beside what the order said
    BENEFICIARY_RECORDED = "beneficiary_recorded"  # who pays on site, as the driver captured
    # Refusals that protect money, counted from the journal so that no table wipes them
    APPROVAL_REFUSED = "approval_refused"  # a manager's code that fits nothing: counted
    PIN_REFUSED = "pin_refused"  # a wrong PIN on the tablet
    # The server's own journal (one chain per tenant, signed with the server's key)
    INVOICE_ISSUED = "invoice_issued"
    CREDIT_NOTE_ISSUED = "credit_note_issued"
    OFFICE_DECISION = "office_decision"  # a resolution: void, approval after the fact…
    OFFICE_PAYMENT = "office_payment"  # money received in the office, a credit applied, a refund
    DOCUMENT_RENDERED = "document_rendered"  # an issued document's PDF hashes, once rendered


class _FrozenMap(Mapping[str, Any]):
    """A read-only mapping, so a frozen entry's payload cannot be changed in place."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(canonical_json(self))

    def __repr__(self) -> str:
        return repr(self._data)


class _FrozenList(tuple[Any, ...]):
    """A read-only array that still equals the list it was made from."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return list(self) == other
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _FrozenMap({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return _FrozenList(_freeze(item) for item in value)
    return value


# --- validation: every problem of an envelope, with its path, in both languages -----------


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _json_problems(value: Any, path: str, problems: list[Problem]) -> None:
    """What stops `value` from being canonical, I-JSON-safe data (floats above all)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, float):
        problems.append(
            Problem(
                path,
                Text(
                    f"nombre à virgule flottante refusé ({value!r}) : écrivez-le en texte, "
                    'par exemple "12.50"',
                    f'binary float refused ({value!r}): write it as text, such as "12.50"',
                ),
            )
        )
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            problems.append(
                Problem(
                    path,
                    Text(
                        "entier trop grand (au plus 2^53 − 1) : écrivez-le en texte",
                        "integer too large (at most 2^53 − 1): write it as text",
                    ),
                )
            )
    elif isinstance(value, str):
        if not _is_utf8(value):
            problems.append(
                Problem(path, Text("texte non encodable en UTF-8", "text not encodable as UTF-8"))
            )
    elif isinstance(value, Decimal):
        if not value.is_finite():
            problems.append(Problem(path, Text("nombre non fini", "number is not finite")))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not _is_utf8(key):
                problems.append(
                    Problem(path, Text(f"clé invalide : {key!r}", f"invalid key: {key!r}"))
                )
            else:
                _json_problems(item, f"{path}.{key}", problems)
    elif isinstance(value, list | tuple):
        for number, item in enumerate(value):
            _json_problems(item, f"{path}[{number}]", problems)
    else:
        name = type(value).__name__
        problems.append(
            Problem(path, Text(f"type non accepté : {name}", f"type not accepted: {name}"))
        )


def _id_problem(value: object, optional: bool) -> Text | None:
    if value is None and optional:
        return None
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_ID_LENGTH
        or not _is_utf8(value)
        or not value.isprintable()
    ):
        return Text(
            f"identifiant attendu : texte imprimable de 1 à {MAX_ID_LENGTH} caractères",
            f"identifier expected: printable text of 1 to {MAX_ID_LENGTH} characters",
        )
    return None


def _seq_problem(value: object) -> Text | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SAFE_INT:
        return Text(
            "numéro d'ordre attendu : entier à partir de 1",
            "sequence number expected: an integer from 1",
        )
    return None


def _type_problem(value: object) -> Text | None:
    if isinstance(value, str) and value in EntryType._value2member_map_:
        return None
    known = ", ".join(EntryType)
    return Text(
        f"type d'entrée inconnu : {value!r} ; types connus : {known}",
        f"unknown entry type: {value!r}; known types: {known}",
    )


def _at_problem(value: object) -> Text | None:
    if isinstance(value, str) and _AT.fullmatch(value):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
    return Text(
        f"horodatage UTC attendu, par exemple 2026-11-24T09:30:00.000Z ; reçu : {value!r}",
        f"UTC timestamp expected, such as 2026-11-24T09:30:00.000Z; got: {value!r}",
    )


def _hex_problem(value: object, pattern: re.Pattern[str], size: int) -> Text | None:
    if isinstance(value, str) and pattern.fullmatch(value):
        return None
    return Text(
        f"{size} chiffres hexadécimaux en minuscules attendus",
        f"{size} lowercase hexadecimal digits expected",
    )


def _field_problems(name: str, value: object) -> list[Problem]:
    if name == "payload":
        if not isinstance(value, Mapping):
            return [Problem(name, Text("un objet JSON est attendu", "a JSON object is expected"))]
        problems: list[Problem] = []
        _json_problems(value, name, problems)
        return problems
    match name:
        case "device_id" | "driver_id":
            text = _id_problem(value, optional=name == "driver_id")
        case "seq":
            text = _seq_problem(value)
        case "type":
            text = _type_problem(value)
        case "at":
            text = _at_problem(value)
        case "sig":
            text = _hex_problem(value, _SIG, 128)
        case _:  # prev_hash, hash
            text = _hex_problem(value, _HASH, 64)
    return [] if text is None else [Problem(name, text)]


# --- the envelope -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """The unsigned envelope: what the hash covers. Refuses anything not canonical-safe."""

    device_id: str
    seq: int
    type: EntryType
    at: str  # ISO-8601 UTC as passed in, e.g. "2026-11-24T09:30:00.000Z"
    driver_id: str | None  # None only for entries no driver makes (the server's journal)
    payload: Mapping[str, Any]  # JSON-ready, read-only; decimals become their text
    prev_hash: str  # hex hash of the previous entry, or the device's genesis
    # The canonical JSON the hash covers, worked out once (a push hashes each entry, then
    # stores these very bytes): not a field of the entry, only a copy of what it says.
    _canonical: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = [p for name in ENTRY_FIELDS for p in _field_problems(name, getattr(self, name))]
        if problems:
            raise InvalidDocument(_ENTRY, problems)
        object.__setattr__(self, "type", EntryType(self.type))
        object.__setattr__(self, "payload", _freeze(plain(self.payload)))

    def canonical(self) -> bytes:
        """The entry's canonical JSON: the bytes its hash covers and the server stores."""
        found = self._canonical
        if found is None:
            found = canonical_json(self.as_dict())
            object.__setattr__(self, "_canonical", found)
        return found

    def as_dict(self) -> dict[str, Any]:
        """The hashed document, as plain JSON-ready data."""
        return {
            "device_id": self.device_id,
            "seq": self.seq,
            "type": str(self.type),
            "at": self.at,
            "driver_id": self.driver_id,
            "payload": plain(self.payload),
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True, slots=True)
class Head:
    """Where a device's chain ends: the next entry gets `seq + 1` and `prev_hash = hash`."""

    device_id: str
    seq: int  # 0 for an empty chain
    hash: str


@dataclass(frozen=True, slots=True)
class SignedEntry:
    """An entry with its hash and Ed25519 signature as stored and sent (both lowercase hex).

    Not checked on construction: a stored entry may have been tampered with, and the
    verifier (shared.chain_verifier) must be able to load it to say so.
    """

    entry: Entry
    hash: str
    sig: str

    @property
    def seq(self) -> int:
        return self.entry.seq

    @property
    def head(self) -> Head:
        return Head(self.entry.device_id, self.entry.seq, self.hash)


def genesis_hash(device_id: str) -> str:
    """What a device's first entry chains to: sha256("towline:journal:genesis:" + device_id)."""
    return hashlib.sha256(GENESIS_PREFIX + device_id.encode("utf-8")).hexdigest()


def genesis(device_id: str) -> Head:
    """The head of a device's empty chain; pass it to `append` for the first entry."""
    return Head(device_id, 0, genesis_hash(device_id))


def entry_hash(entry: Entry) -> str:
    """sha256 of the entry's canonical JSON, lowercase hex."""
    return hashlib.sha256(entry.canonical()).hexdigest()


def append(
    head: Head,
    *,
    type: EntryType,
    at: str,
    driver_id: str | None,
    payload: Mapping[str, Any],
    private_key: signing.PrivateKey,
) -> SignedEntry:
    """The next entry after `head`, chained and signed. The only way the API makes entries.

    The caller stores it and keeps `result.head` for the next call; storing it together
    with the rows it justifies is the caller's transaction (ARCHITECTURE rule 6).
    """
    entry = Entry(
        device_id=head.device_id,
        seq=head.seq + 1,
        type=type,
        at=at,
        driver_id=driver_id,
        payload=payload,
        prev_hash=head.hash,
    )
    hashed = entry_hash(entry)
    sig = signing.sign(private_key, bytes.fromhex(hashed))
    return SignedEntry(entry, hashed, sig.hex())


def reference(signed: SignedEntry) -> dict[str, Any]:
    """How a correcting entry points at the entry it corrects, e.g. a reversal's payload
    `{"reverses": reference(collection), ...}`: device, seq and hash, so it cannot be
    re-pointed at another entry without the hash showing it."""
    return {"device_id": signed.entry.device_id, "seq": signed.entry.seq, "hash": signed.hash}


def utc_timestamp(moment: datetime) -> str:
    """The `at` text for an aware datetime: UTC, milliseconds, "Z" (the caller reads the clock)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("utc_timestamp needs an aware datetime; naive times are ambiguous")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


# --- wire form: a flat JSON object, the envelope plus "hash" and "sig" ---------------------


def to_wire(signed: SignedEntry) -> dict[str, Any]:
    """Plain JSON-ready data: the seven envelope fields plus `hash` and `sig` (lowercase hex)."""
    return {**signed.entry.as_dict(), "hash": signed.hash, "sig": signed.sig}


def from_wire(data: object) -> SignedEntry:
    """Read a wire dict, refusing unknown or missing fields and wrong types, all listed at once.

    Shape only: whether the hash and signature are right is the verifier's job, so that a
    tampered entry is reported as such rather than being unreadable.
    """
    if not isinstance(data, Mapping):
        problem = Problem("", Text("un objet JSON est attendu", "a JSON object is expected"))
        raise InvalidDocument(_ENTRY, [problem])
    problems: list[Problem] = []
    for name in sorted(str(key) for key in data if key not in WIRE_FIELDS):
        problems.append(Problem(name, Text("champ inconnu", "unknown field")))
    for name in WIRE_FIELDS:
        if name not in data:
            problems.append(Problem(name, Text("champ manquant", "missing field")))
        else:
            problems.extend(_field_problems(name, data[name]))
    if problems:
        raise InvalidDocument(_ENTRY, problems)
    return SignedEntry(_checked_entry(data), data["hash"], data["sig"])


def _checked_entry(data: Mapping[str, Any]) -> Entry:
    """The Entry of wire data whose every field `from_wire` has just checked: built without
    checking them again. Its canonical JSON is written straight from that data when it is
    plain JSON (the case of a push): with floats, non-finite numbers, non-text keys, lone
    surrogates and oversized integers refused, `json.dumps` with sorted keys writes the
    same bytes as `canonical_json` (tests/test_journal.py holds them equal)."""
    entry = object.__new__(Entry)
    put = object.__setattr__
    for name in ("device_id", "seq", "at", "driver_id", "prev_hash"):
        put(entry, name, data[name])
    put(entry, "type", EntryType(data["type"]))
    payload = data["payload"]
    try:
        text = json.dumps(
            {name: data[name] for name in ENTRY_FIELDS},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
    except (TypeError, ValueError):  # decimals or other Python values: the general way
        put(entry, "_canonical", None)
        payload = plain(payload)
    else:  # plain JSON already: `plain` would give back the same values
        put(entry, "_canonical", text.encode("utf-8"))
    put(entry, "payload", _freeze(payload))
    return entry


def to_wire_bytes(signed: SignedEntry) -> bytes:
    """The stored and sent bytes: the canonical JSON of `to_wire`."""
    return canonical_json(to_wire(signed))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def from_wire_bytes(raw: bytes) -> SignedEntry:
    """Read stored or received bytes; refuses bad UTF-8, bad JSON and non-canonical bytes,
    so two different byte strings never read as the same entry."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        problem = Problem("", Text(f"JSON illisible : {exc}", f"unreadable JSON: {exc}"))
        raise InvalidDocument(_ENTRY, [problem]) from exc
    signed = from_wire(data)
    if to_wire_bytes(signed) != raw:
        problem = Problem(
            "",
            Text(
                "JSON non canonique : ces octets ne sont pas ceux de l'entrée enregistrée",
                "JSON not canonical: these bytes are not those of the recorded entry",
            ),
        )
        raise InvalidDocument(_ENTRY, [problem])
    return signed
