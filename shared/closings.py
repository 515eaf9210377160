"""Daily, monthly and yearly closings (clôtures), per register and per tenant.

French law (CGI art. 286 I 3° bis) asks payment software for closings with period totals
and a perpetual grand total. A closing is the payload of a `closing` journal entry:

- totals of the period per payment method and per VAT rate, net of reversals;
- the perpetual grand total, carried from the previous closing of the same scope and
  level, and the digest of that closing: closings chain like the journal does;
- the journal position it closes (the last entry covered, per device chain) and the
  number of entries in the period.

A day is closed from journal entries; a month is the sum of its days and a year the sum
of its months (`roll_up`), so the figures an accountant reads on the monthly report are
exactly those of the daily reports already printed. `close` also works on a month or a
year straight from the entries; the tests check that both ways agree.

Periods are in the tenant's time zone and membership is by instant: an entry belongs to
the period whose [start, end) holds its `at`, where start and end are local midnights
(a day can last 23 or 25 hours). For the tenant scope, pass as `at` the moment the
server received the entry, so a tablet that syncs late never writes into a closed day.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared.canonical import digest
from shared.errors import Refused
from shared.journal import Head, SignedEntry
from shared.money import ZERO, parse_amount, parse_decimal, wire
from shared.payment_terms import Method

CLOSING = "closing"  # the journal entry type that holds a closing


class Level(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


_LOWER = {Level.MONTH: Level.DAY, Level.YEAR: Level.MONTH}
_WORDS = {
    Level.DAY: ("la journée du", "the day"),
    Level.MONTH: ("le mois", "the month"),
    Level.YEAR: ("l'année", "the year"),
}


class Entry(Protocol):
    """What a closing reads from a journal entry (the journal's envelope has these)."""

    @property
    def device_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Record:
    """A plain `Entry`, for callers and tests that do not hold journal entries."""

    device_id: str
    seq: int
    hash: str
    at: datetime
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)


def record_of(signed: SignedEntry) -> Record:
    """A journal entry as closings read it (`at` parsed from its UTC timestamp)."""
    entry = signed.entry
    at = datetime.fromisoformat(entry.at.replace("Z", "+00:00"))
    return Record(entry.device_id, entry.seq, signed.hash, at, entry.type, entry.payload)


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar day, month or year, named by its first day."""

    level: Level
    first: date

    def __post_init__(self) -> None:
        if self.level is Level.MONTH and self.first.day != 1:
            raise ValueError("a month starts on its first day")
        if self.level is Level.YEAR and (self.first.month, self.first.day) != (1, 1):
            raise ValueError("a year starts on 1 January")

    @classmethod
    def containing(cls, level: Level, day: date) -> Period:
        if level is Level.DAY:
            return cls(level, day)
        if level is Level.MONTH:
            return cls(level, day.replace(day=1))
        return cls(level, date(day.year, 1, 1))

    @classmethod
    def parse(cls, key: str) -> Period:
        """ "2026-03-10", "2026-03" or "2026"."""
        parts = key.split("-")
        if len(parts) == 3:
            return cls(Level.DAY, date.fromisoformat(key))
        if len(parts) == 2 and len(parts[0]) == 4 and len(parts[1]) == 2:
            return cls(Level.MONTH, date(int(parts[0]), int(parts[1]), 1))
        if len(parts) == 1 and len(key) == 4 and key.isdigit():
            return cls(Level.YEAR, date(int(key), 1, 1))
        raise ValueError(f"{key!r} is not a period such as 2026-03-10, 2026-03 or 2026")

    @property
    def key(self) -> str:
        if self.level is Level.DAY:
            return self.first.isoformat()
        if self.level is Level.MONTH:
            return f"{self.first.year:04d}-{self.first.month:02d}"
        return f"{self.first.year:04d}"

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    def next(self) -> Period:
        if self.level is Level.DAY:
            return Period(self.level, self.first + timedelta(days=1))
        if self.level is Level.MONTH:
            days = _calendar.monthrange(self.first.year, self.first.month)[1]
            return Period(self.level, self.first + timedelta(days=days))
        return Period(self.level, date(self.first.year + 1, 1, 1))

    def parts(self) -> tuple[Period, ...]:
        """The days of a month, the months of a year."""
        lower = _LOWER.get(self.level)
        if lower is None:
            raise ValueError("a day has no smaller closing period")
        out: list[Period] = []
        part, end = Period(lower, self.first), self.next().first
        while part.first < end:
            out.append(part)
            part = part.next()
        return tuple(out)

    def starts_at(self, timezone: str) -> datetime:
        """The first instant of the period, in UTC: local midnight (or the first instant
        after it, where a clock change skips midnight)."""
        local = datetime.combine(self.first, time(0), tzinfo=ZoneInfo(timezone))
        return local.astimezone(UTC)

    def ends_at(self, timezone: str) -> datetime:
        return self.next().starts_at(timezone)

    def label(self, lang: str) -> str:
        fr, en = _WORDS[self.level]
        return f"{fr} {self.key}" if lang == "fr" else f"{en} {self.key}"


@dataclass(frozen=True, slots=True)
class VatTotal:
    rate: Decimal  # percent
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal

    def __add__(self, other: VatTotal) -> VatTotal:
        return VatTotal(
            self.rate,
            self.excl_vat + other.excl_vat,
            self.vat + other.vat,
            self.incl_vat + other.incl_vat,
        )

    def negated(self) -> VatTotal:
        return VatTotal(self.rate, -self.excl_vat, -self.vat, -self.incl_vat)


@dataclass(frozen=True, slots=True)
class Movement:
    """What one entry adds to a closing: signed (a reversal is negative)."""

    method: Method
    amount: Decimal
    vat: tuple[VatTotal, ...] = ()  # empty: the entry does not say; counted as unallocated


def movement(entry: Entry) -> Movement | None:
    """Collections add, reversals subtract; other entries move no money.

    A collection or reversal payload may carry `vat`, the VAT split of its amount in the
    format of `shared.vat.Totals.to_wire()["by_rate"]`; without it the amount is totalled
    under `unallocated`.
    """
    if entry.type not in ("collection", "reversal"):
        return None
    sign = 1 if entry.type == "collection" else -1
    payload = entry.payload
    amount = parse_amount(payload["amount"])
    shares = []
    for share in payload.get("vat") or ():
        shares.append(
            VatTotal(
                _rate(share["rate"]),
                parse_amount(share["excl_vat"]),
                parse_amount(share["vat"]),
                parse_amount(share["incl_vat"]),
            )
        )
    if shares and sum((s.incl_vat for s in shares), ZERO) != amount:
        raise ValueError(f"entry {entry.device_id}#{entry.seq}: its VAT split does not add up")
    if sign < 0:
        return Movement(Method(payload["method"]), -amount, tuple(s.negated() for s in shares))
    return Movement(Method(payload["method"]), amount, tuple(shares))


@dataclass(frozen=True, slots=True)
class Closing:
    """One closing; `payload()` is what the `closing` journal entry holds."""

    scope: str  # e.g. "register:<device id>" or "tenant:<tenant id>"
    period: Period
    timezone: str
    entry_count: int
    heads: tuple[Head, ...]  # sorted by device; carried from the previous closing if idle
    by_method: tuple[tuple[Method, Decimal], ...]
    by_vat_rate: tuple[VatTotal, ...]
    unallocated: Decimal  # net amounts whose entries gave no VAT split
    total: Decimal  # net of reversals
    absolute_total: Decimal  # collections + reversals, both counted positive
    grand_total: Decimal  # perpetual: previous grand total + total
    absolute_grand_total: Decimal
    previous: str | None  # digest of the previous closing of this scope and level

    @property
    def starts_at(self) -> datetime:
        return self.period.starts_at(self.timezone)

    @property
    def ends_at(self) -> datetime:
        return self.period.ends_at(self.timezone)

    @property
    def last_hash(self) -> str | None:
        """The hash of the last entry covered, for a register (one chain)."""
        return self.heads[0].hash if len(self.heads) == 1 else None

    @property
    def digest(self) -> str:
        return digest(self.payload())

    def payload(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "level": self.period.level.value,
            "period": self.period.key,
            "timezone": self.timezone,
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "entry_count": self.entry_count,
            "heads": [{"device_id": h.device_id, "seq": h.seq, "hash": h.hash} for h in self.heads],
            "by_method": {m.value: wire(a) for m, a in self.by_method},
            "by_vat_rate": [
                {
                    "rate": str(v.rate),
                    "excl_vat": wire(v.excl_vat),
                    "vat": wire(v.vat),
                    "incl_vat": wire(v.incl_vat),
                }
                for v in self.by_vat_rate
            ],
            "unallocated": wire(self.unallocated),
            "total": wire(self.total),
            "absolute_total": wire(self.absolute_total),
            "grand_total": wire(self.grand_total),
            "absolute_grand_total": wire(self.absolute_grand_total),
            "previous": self.previous,
        }


def closing_from_payload(payload: Mapping[str, Any]) -> Closing:
    """Read a closing back from its journal entry, to chain the next one to it."""
    period = Period.parse(str(payload["period"]))
    if period.level.value != payload["level"]:
        raise ValueError("the closing's level does not match its period")
    return Closing(
        scope=str(payload["scope"]),
        period=period,
        timezone=str(payload["timezone"]),
        entry_count=int(payload["entry_count"]),
        heads=tuple(
            Head(str(h["device_id"]), int(h["seq"]), str(h["hash"])) for h in payload["heads"]
        ),
        by_method=tuple(
            (Method(m), parse_amount(a)) for m, a in sorted(payload["by_method"].items())
        ),
        by_vat_rate=tuple(
            VatTotal(
                _rate(v["rate"]),
                parse_amount(v["excl_vat"]),
                parse_amount(v["vat"]),
                parse_amount(v["incl_vat"]),
            )
            for v in payload["by_vat_rate"]
        ),
        unallocated=parse_amount(payload["unallocated"]),
        total=parse_amount(payload["total"]),
        absolute_total=parse_amount(payload["absolute_total"]),
        grand_total=parse_amount(payload["grand_total"]),
        absolute_grand_total=parse_amount(payload["absolute_grand_total"]),
        previous=None if payload["previous"] is None else str(payload["previous"]),
    )


def close(
    entries: Iterable[Entry],
    *,
    scope: str,
    period: Period,
    timezone: str,
    previous: Closing | None,
    read: Callable[[Entry], Movement | None] = movement,
) -> Closing:
    """Close a period from the journal entries of its scope; entries after it are skipped.

    `previous`: the last closing of the same scope and level (None for the first ever);
    it must be the period just before, so that no day escapes the chain.
    """
    _check_previous(previous, scope, period, timezone)
    start, end = period.starts_at(timezone), period.ends_at(timezone)
    heads = {h.device_id: h for h in (previous.heads if previous else ())}
    closed_through = dict(heads)
    count = 0
    methods: dict[Method, Decimal] = {}
    rates: dict[Decimal, VatTotal] = {}
    unallocated = absolute = ZERO
    for entry in entries:
        at = _utc(entry.at)
        if at >= end:
            continue
        if at < start:
            if previous is None:
                raise ValueError(
                    f"entry {entry.device_id} #{entry.seq} is dated before the first closing"
                    f" of {scope}: start closing from the first day of activity"
                )
            done = closed_through.get(entry.device_id)
            if done is None or entry.seq > done.seq:
                raise Refused(
                    f"L'entrée {entry.device_id} n°{entry.seq} est datée d'une période déjà"
                    " clôturée : le journal doit être vérifié.",
                    f"Entry {entry.device_id} #{entry.seq} is dated in a period already"
                    " closed: the journal needs checking.",
                )
            continue
        count += 1
        head = heads.get(entry.device_id)
        if head is None or entry.seq > head.seq:
            heads[entry.device_id] = Head(entry.device_id, entry.seq, entry.hash)
        moved = read(entry)
        if moved is None:
            continue
        methods[moved.method] = methods.get(moved.method, ZERO) + moved.amount
        absolute += abs(moved.amount)
        if not moved.vat:
            unallocated += moved.amount
        for share in moved.vat:
            rates[share.rate] = rates[share.rate] + share if share.rate in rates else share
    total = sum(methods.values(), ZERO)
    return Closing(
        scope=scope,
        period=period,
        timezone=timezone,
        entry_count=count,
        heads=tuple(heads[d] for d in sorted(heads)),
        by_method=tuple(sorted(methods.items())),
        by_vat_rate=tuple(rates[r] for r in sorted(rates)),
        unallocated=unallocated,
        total=total,
        absolute_total=absolute,
        grand_total=(previous.grand_total if previous else ZERO) + total,
        absolute_grand_total=(previous.absolute_grand_total if previous else ZERO) + absolute,
        previous=previous.digest if previous else None,
    )


def roll_up(lower: Sequence[Closing], *, period: Period, previous: Closing | None) -> Closing:
    """A month from its daily closings, a year from its monthly ones.

    The lower closings must be every one of the period, chained, in order; only the very
    first closing of a scope may start after the period's first day.
    """
    if not lower:
        raise ValueError(f"no closing to roll up into {period.key}")
    first = lower[0]
    scope, timezone = first.scope, first.timezone
    _check_previous(previous, scope, period, timezone)
    parts = period.parts()
    periods = [c.period for c in lower]
    expected = list(parts[parts.index(first.period) :]) if first.period in parts else []
    if periods != expected or (first.period != parts[0] and first.previous is not None):
        raise ValueError(f"the closings given do not cover {period.key} day by day, in order")
    for before, after in pairwise(lower):
        if after.previous != before.digest or after.scope != scope or after.timezone != timezone:
            raise ValueError(f"the closings of {period.key} do not chain")

    methods: dict[Method, Decimal] = {}
    rates: dict[Decimal, VatTotal] = {}
    for closing in lower:
        for method, amount in closing.by_method:
            methods[method] = methods.get(method, ZERO) + amount
        for share in closing.by_vat_rate:
            rates[share.rate] = rates[share.rate] + share if share.rate in rates else share
    total = sum((c.total for c in lower), ZERO)
    absolute = sum((c.absolute_total for c in lower), ZERO)
    # Without a previous closing at this level, start from where the lower chain stood.
    base = previous.grand_total if previous else first.grand_total - first.total
    grand = base + total
    if grand != lower[-1].grand_total:
        raise ValueError(
            f"the grand total of {period.key} ({grand}) differs from its last closing's"
            f" ({lower[-1].grand_total}): the chains of closings disagree"
        )
    return Closing(
        scope=scope,
        period=period,
        timezone=timezone,
        entry_count=sum(c.entry_count for c in lower),
        heads=lower[-1].heads,
        by_method=tuple(sorted(methods.items())),
        by_vat_rate=tuple(rates[r] for r in sorted(rates)),
        unallocated=sum((c.unallocated for c in lower), ZERO),
        total=total,
        absolute_total=absolute,
        grand_total=grand,
        absolute_grand_total=(
            previous.absolute_grand_total
            if previous
            else first.absolute_grand_total - first.absolute_total
        )
        + absolute,
        previous=previous.digest if previous else None,
    )


def ensure_period_open(closings: Iterable[Closing], at: datetime) -> None:
    """Refuse recording at `at` if a closing of this scope already covers that moment.

    Anything before the end of the latest closing counts as closed, gaps included: the
    chain of closings has moved past it.
    """
    moment = _utc(at)
    latest = max(closings, key=lambda c: c.ends_at, default=None)
    if latest is not None and moment < latest.ends_at:
        raise Refused(
            f"Période clôturée : {latest.period.label('fr')} est close, rien ne peut plus y"
            " être enregistré. Vérifiez la date et l'heure de l'appareil.",
            f"Period closed: {latest.period.label('en')} is closed and nothing more can be"
            " recorded in it. Check the device's date and time.",
        )


def _check_previous(previous: Closing | None, scope: str, period: Period, timezone: str) -> None:
    if previous is None:
        return
    if previous.scope != scope or previous.timezone != timezone:
        raise ValueError("the previous closing belongs to another scope or time zone")
    if previous.period.level is not period.level or previous.period.next() != period:
        raise ValueError(
            f"the previous closing ({previous.period.key}) is not the period just before"
            f" {period.key}: close the periods in between first"
        )


def _rate(value: object) -> Decimal:
    """One spelling per rate ("5.5" and "5.50" are one rate), never an exponent."""
    return Decimal(format(parse_decimal(value).normalize(), "f"))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: the offset is required")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
