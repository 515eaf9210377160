"""Manager approvals that work offline: a short code read out over the phone.

A discount or a "bill later" deferral needs the manager's approval. When the tablet has
no network, the server issues a 10-character code, the manager reads it out over the phone
and the driver types it; the tablet checks it alone, with the secret the server
provisioned for that device. docs/approvals.md explains the design and the odds an attacker has.

The code is Crockford base32 (no I, L, O, U), shown as two groups of five, 50 bits:

    5 bits  key version (mod 32)      which device secret made it
    6 bits  issue minute (mod 64)     the verifier rebuilds the full minute from its clock
    39 bits HMAC-SHA256 tag           over tenant, device, mission, kind, cents, minute, key

Pure: the time (`now`), the secret, the used codes and the failed-attempt counters are
passed in; what to record comes back (an `Approval`, or the new `Attempts` on a refusal).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from shared.canonical import canonical_json
from shared.errors import Refused
from shared.i18n import Text
from shared.money import FloatRefused, cents, format_amount, to_cents

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 10
VERSION_BITS = 5
SLOT_BITS = 6
TAG_BITS = CODE_LENGTH * 5 - VERSION_BITS - SLOT_BITS  # 39
SLOT = timedelta(minutes=1)
SLOT_WRAP = 1 << SLOT_BITS  # the minute is known modulo 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PURPOSE = "towline.approval/1"

# What people type by mistake, read as Crockford base32 does.
_READ_AS = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = " -._"
_DIAGNOSE_WRAPS = 24  # an authentic code up to a day old (or ahead) is called expired (or early)


class Kind(StrEnum):
    DISCOUNT = "discount"
    DEFERRAL = "deferral"
    SITE_FACTS = "site_facts"  # facts found on site beyond what the driver may change alone


KIND_LABELS: Mapping[Kind, Text] = MappingProxyType(
    {
        Kind.DISCOUNT: Text("une remise", "a discount"),
        Kind.DEFERRAL: Text("« facturer plus tard »", "“bill later”"),
        Kind.SITE_FACTS: Text("des constats sur place", "site facts"),
    }
)


class Reason(StrEnum):
    """Why a code was refused; what the tablet can honestly tell apart."""

    MALFORMED = "malformed"  # not 10 characters of the alphabet: a typo, never counted
    LOCKED = "locked"  # too many wrong codes: sync or have the office unlock
    UNKNOWN_KEY = "unknown_key"  # made with a key version this tablet does not hold
    WRONG_CODE = "wrong_code"  # fits nothing the tablet knows (includes other missions it lacks)
    OTHER_MISSION = "other_mission"  # authentic for another mission this tablet knows
    OTHER_KIND = "other_kind"
    OTHER_AMOUNT = "other_amount"  # authentic for another amount the caller suggested
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # issued later than the tablet's clock allows: clock late
    RETIRED_KEY = "retired_key"  # issued with a key after that key was retired
    REUSED = "reused"


# Refusals that mean "this is not an authentic code for this request": they count towards
# the attempt limit. The others are authentic codes, which guessing cannot produce.
COUNTED = frozenset(
    {
        Reason.UNKNOWN_KEY,
        Reason.WRONG_CODE,
        Reason.OTHER_MISSION,
        Reason.OTHER_KIND,
        Reason.OTHER_AMOUNT,
    }
)


@dataclass(frozen=True, slots=True)
class Policy:
    """Shared by the office and the tablet: both must use the same `ttl`.

    A tablet accepts a code from `skew` before its issue minute until `ttl + skew` after,
    so a tablet clock up to `skew` off either way still works.
    """

    ttl: timedelta = timedelta(minutes=30)
    skew: timedelta = timedelta(minutes=10)
    max_failures_per_mission: int = 5
    max_failures_per_device: int = 20

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0) or self.skew < timedelta(0):
            raise ValueError("ttl must be positive and skew not negative")
        if self.ttl % SLOT or self.skew % SLOT:
            raise ValueError("ttl and skew must be whole minutes")
        # The window of acceptable issue minutes must fit in one wrap of the 6-bit minute.
        if (self.ttl + 2 * self.skew) // SLOT + 1 > SLOT_WRAP:
            raise ValueError("ttl + 2 × skew must stay under 64 minutes")
        if self.max_failures_per_mission < 1 or self.max_failures_per_device < 1:
            raise ValueError("attempt limits must be at least 1")


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """One version of a device's approval secret, provisioned by the server.

    `retired_at`: set when the server rotates to a newer version. Codes made with a
    retired key are still accepted if issued before that moment, so at most `ttl + skew`
    after it; a code claiming a later issue minute is refused.
    """

    version: int
    secret: bytes = field(repr=False)
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError("key versions start at 1")
        if len(self.secret) < 32:
            raise ValueError("an approval secret needs at least 32 bytes")
        if self.retired_at is not None:
            _aware(self.retired_at)


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys a tablet holds: the current one and recently retired ones."""

    keys: tuple[DeviceKey, ...]

    def __post_init__(self) -> None:
        slots = [k.version % (1 << VERSION_BITS) for k in self.keys]
        if len(set(slots)) != len(slots):
            raise ValueError("two keys in one keyring share a version modulo 32")

    def find(self, version_slot: int) -> DeviceKey | None:
        for key in self.keys:
            if key.version % (1 << VERSION_BITS) == version_slot:
                return key
        return None


@dataclass(frozen=True, slots=True)
class Request:
    """What the driver asks approval for; the code is bound to every field."""

    tenant: str
    device: str
    mission: str
    kind: Kind
    amount: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))
        for name in ("tenant", "device", "mission"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"an approval request needs its {name}")
        _amount_cents(self.amount)


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """What the office shows the manager to read out."""

    code: str  # 10 characters, no separator
    key_version: int
    issued_at: datetime  # the issue minute
    expires_at: datetime

    @property
    def spoken(self) -> str:
        """Two groups of five, easier to read out: "37K3H-EHHP4"."""
        return display(self.code)


@dataclass(frozen=True, slots=True)
class Approval:
    """An accepted code. Record `ref` in the used codes, and cite it in the journal."""

    ref: str
    request: Request
    key_version: int
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Attempts:
    """Wrong codes typed since the last sync, per mission; a limit locks further tries.

    Cleared only by the office (a sync that carries an unlock), never by a success: a
    genuine small approval must not buy an attacker a fresh set of guesses.
    """

    failures: tuple[tuple[str, int], ...] = ()

    def count(self, mission: str) -> int:
        return dict(self.failures).get(mission, 0)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.failures)

    def failed(self, mission: str) -> Attempts:
        counts = dict(self.failures)
        counts[mission] = counts.get(mission, 0) + 1
        return Attempts(tuple(sorted(counts.items())))

    def locked(self, mission: str, policy: Policy = DEFAULT_POLICY) -> bool:
        return (
            self.count(mission) >= policy.max_failures_per_mission
            or self.total >= policy.max_failures_per_device
        )

    def cleared(self, mission: str | None = None) -> Attempts:
        """After the office unlocks one mission, or the whole device (mission None)."""
        if mission is None:
            return Attempts()
        return Attempts(tuple((m, n) for m, n in self.failures if m != mission))


class ApprovalRefused(Refused):
    """A refused code, with why and the attempt counters the caller must store."""

    code = "approval_refused"

    def __init__(self, reason: Reason, attempts: Attempts, fr: str, en: str) -> None:
        super().__init__(fr, en)
        self.reason = reason
        self.attempts = attempts


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalise(text: str) -> str | None:
    """The code as typed, read leniently (case, spaces, dashes, O/I/L); None if malformed."""
    out = []
    for char in text.upper():
        if char in _SEPARATORS:
            continue
        char = _READ_AS.get(char, char)
        if char not in ALPHABET:
            return None
        out.append(char)
    return "".join(out) if len(out) == CODE_LENGTH else None


def issue_code(
    key: DeviceKey,
    request: Request,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> IssuedCode:
    """The code the manager reads out. Office side: `now` is the server's clock."""
    _aware(now)
    if key.retired_at is not None and now >= key.retired_at:
        raise ValueError(f"key version {key.version} is retired; issue with the current key")
    cents_ = _amount_cents(request.amount)
    slot = _slot(now)
    value = (
        (key.version % (1 << VERSION_BITS)) << (SLOT_BITS + TAG_BITS)
        | (slot % SLOT_WRAP) << TAG_BITS
        | _tag(key, request, cents_, slot)
    )
    issued_at = EPOCH + slot * SLOT
    return IssuedCode(_encode(value), key.version, issued_at, issued_at + policy.ttl)


def check_code(
    keys: Keyring,
    code: str,
    request: Request,
    now: datetime,
    used: Set[str],
    attempts: Attempts,
    policy: Policy = DEFAULT_POLICY,
    *,
    other_missions: Iterable[str] = (),
    other_amounts: Iterable[Decimal] = (),
) -> Approval:
    """Check a code on the tablet, offline. `now` is the tablet's best clock.

    Returns the approval (record its `ref` in `used`); raises `ApprovalRefused` with the
    reason and the attempt counters to store. `other_missions` (the tablet's other
    missions) and `other_amounts` (e.g. the remaining amount) only sharpen the message:
    a code is never accepted for anything but `request`.
    """
    _aware(now)
    cents_ = _amount_cents(request.amount)
    normal = normalise(code)
    if normal is None:
        raise _refuse(Reason.MALFORMED, request, attempts, policy)
    if attempts.locked(request.mission, policy):
        raise _refuse(Reason.LOCKED, request, attempts, policy)

    value = _decode(normal)
    version_slot = value >> (SLOT_BITS + TAG_BITS)
    slot_low = (value >> TAG_BITS) % SLOT_WRAP
    tag = value % (1 << TAG_BITS)
    key = keys.find(version_slot)
    if key is None:
        raise _refuse(Reason.UNKNOWN_KEY, request, attempts, policy)

    now_slot = _slot(now)
    latest = now_slot + policy.skew // SLOT
    slot = latest - (latest - slot_low) % SLOT_WRAP  # the newest minute with those low bits

    if not hmac.compare_digest(_tag_bytes(key, request, cents_, slot), _tag_bytes_of(tag)):
        reason = _diagnose(key, request, cents_, slot, tag, other_missions, other_amounts)
        raise _refuse(reason, request, attempts, policy)

    issued_at = EPOCH + slot * SLOT
    ref = f"{key.version}:{normal}"
    if now > issued_at + policy.ttl + policy.skew:
        raise _refuse(Reason.EXPIRED, request, attempts, policy)
    if key.retired_at is not None and issued_at >= key.retired_at:
        raise _refuse(Reason.RETIRED_KEY, request, attempts, policy)
    if ref in used:
        raise _refuse(Reason.REUSED, request, attempts, policy)
    return Approval(ref, request, key.version, issued_at, issued_at + policy.ttl)


def _diagnose(
    key: DeviceKey,
    request: Request,
    cents_: int,
    slot: int,
    tag: int,
    other_missions: Iterable[str],
    other_amounts: Iterable[Decimal],
) -> Reason:
    """Say more than "wrong code" when the code is authentic for something close by."""

    def fits(req: Request, amount_cents: int, at_slot: int) -> bool:
        return _tag(key, req, amount_cents, at_slot) == tag

    for k in range(1, _DIAGNOSE_WRAPS + 1):
        if fits(request, cents_, slot - k * SLOT_WRAP):
            return Reason.EXPIRED
        if fits(request, cents_, slot + k * SLOT_WRAP):
            return Reason.NOT_YET_VALID
    for other_kind in Kind:
        if other_kind is not request.kind and fits(replace(request, kind=other_kind), cents_, slot):
            return Reason.OTHER_KIND
    for amount in other_amounts:
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            continue
        other = to_cents(amount)
        if other != cents_ and fits(request, other, slot):
            return Reason.OTHER_AMOUNT
    for mission in other_missions:
        if mission != request.mission and fits(replace(request, mission=mission), cents_, slot):
            return Reason.OTHER_MISSION
    return Reason.WRONG_CODE


def _refuse(
    reason: Reason, request: Request, attempts: Attempts, policy: Policy
) -> ApprovalRefused:
    after = attempts.failed(request.mission) if reason in COUNTED else attempts
    fr, en = _MESSAGES[reason]
    what = KIND_LABELS[request.kind]
    amount_fr, amount_en = format_amount(request.amount, "fr"), format_amount(request.amount, "en")
    fr = fr.format(kind=what.fr, amount=amount_fr, mission=request.mission)
    en = en.format(kind=what.en, amount=amount_en, mission=request.mission)
    if reason in COUNTED:
        left = policy.max_failures_per_mission - after.count(request.mission)
        left = min(left, policy.max_failures_per_device - after.total)
        if left > 0:
            fr += f" Essais restants : {left}."
            en += f" Tries left: {left}."
        else:
            fr += " Trop d'essais : synchronisez la tablette ou faites-la débloquer par le bureau."
            en += " Too many tries: sync the tablet or have the office unlock it."
    return ApprovalRefused(reason, after, fr, en)


_MESSAGES: Mapping[Reason, tuple[str, str]] = MappingProxyType(
    {
        Reason.MALFORMED: (
            "Un code d'accord a 10 caractères (chiffres et lettres sauf I, L, O, U)."
            " Vérifiez la saisie.",
            "An approval code has 10 characters (digits and letters except I, L, O, U)."
            " Check what you typed.",
        ),
        Reason.LOCKED: (
            "Trop de codes faux pour la mission {mission} : la saisie est bloquée."
            " Synchronisez la tablette ou appelez le bureau pour la débloquer.",
            "Too many wrong codes for mission {mission}: code entry is locked."
            " Sync the tablet or call the office to unlock it.",
        ),
        Reason.UNKNOWN_KEY: (
            "Ce code a été fait avec une clé que la tablette n'a pas. Synchronisez la"
            " tablette, ou demandez un nouveau code au gérant.",
            "This code was made with a key this tablet does not have. Sync the tablet,"
            " or ask the manager for a new code.",
        ),
        Reason.WRONG_CODE: (
            "Code faux pour {kind} de {amount} sur la mission {mission}. Vérifiez le code,"
            " la mission et le montant avec le gérant.",
            "Wrong code for {kind} of {amount} on mission {mission}. Check the code,"
            " the mission and the amount with the manager.",
        ),
        Reason.OTHER_MISSION: (
            "Ce code a été donné pour une autre mission que la {mission}."
            " Demandez au gérant un code pour cette mission.",
            "This code was given for a mission other than {mission}."
            " Ask the manager for a code for this mission.",
        ),
        Reason.OTHER_KIND: (
            "Ce code n'autorise pas {kind} : il a été donné pour un autre type d'accord."
            " Demandez au gérant le bon code.",
            "This code does not approve {kind}: it was given for another kind of approval."
            " Ask the manager for the right code.",
        ),
        Reason.OTHER_AMOUNT: (
            "Ce code a été donné pour un autre montant que {amount}."
            " Demandez au gérant un code pour {amount}.",
            "This code was given for an amount other than {amount}."
            " Ask the manager for a code for {amount}.",
        ),
        Reason.EXPIRED: (
            "Ce code a expiré. Demandez un nouveau code au gérant.",
            "This code has expired. Ask the manager for a new code.",
        ),
        Reason.NOT_YET_VALID: (
            "Ce code n'est pas encore valable d'après l'heure de la tablette, qui semble en"
            " retard. Vérifiez l'heure de la tablette.",
            "This code is not valid yet by the tablet's clock, which seems late."
            " Check the tablet's time.",
        ),
        Reason.RETIRED_KEY: (
            "Ce code a été fait avec une ancienne clé, retirée depuis. Synchronisez la"
            " tablette et demandez un nouveau code.",
            "This code was made with an old key, retired since. Sync the tablet and ask"
            " for a new code.",
        ),
        Reason.REUSED: (
            "Ce code a déjà servi : un code d'accord ne sert qu'une fois."
            " Demandez un nouveau code au gérant.",
            "This code has already been used: an approval code works once."
            " Ask the manager for a new code.",
        ),
    }
)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: the offset is required")


def _amount_cents(amount: Decimal) -> int:
    if isinstance(amount, float):
        raise FloatRefused(amount)
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount != cents(amount):
        raise ValueError(f"{amount!r} is not an amount in cents")
    if amount <= 0:
        raise Refused(
            "Le montant d'un accord doit être positif.", "An approval's amount must be positive."
        )
    return to_cents(amount)


def _slot(moment: datetime) -> int:
    return (moment - EPOCH) // SLOT


def _message(key: DeviceKey, request: Request, cents_: int, slot: int) -> bytes:
    return canonical_json(
        {
            "purpose": PURPOSE,
            "key": key.version,
            "tenant": request.tenant,
            "device": request.device,
            "mission": request.mission,
            "kind": Kind(request.kind).value,
            "amount_cents": cents_,
            "minute": slot,
        }
    )


def _tag(key: DeviceKey, request: Request, cents_: int, slot: int) -> int:
    mac = hmac.new(key.secret, _message(key, request, cents_, slot), hashlib.sha256).digest()
    return int.from_bytes(mac, "big") >> (256 - TAG_BITS)


def _tag_bytes(key: DeviceKey, request: Request, cents_: int, slot: int) -> bytes:
    return _tag_bytes_of(_tag(key, request, cents_, slot))


def _tag_bytes_of(tag: int) -> bytes:
    return tag.to_bytes(5, "big")


def _encode(value: int) -> str:
    chars = []
    for _ in range(CODE_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _decode(code: str) -> int:
    value = 0
    for char in code:
        value = value << 5 | ALPHABET.index(char)
    return value
