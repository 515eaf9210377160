"""The tenant's closings (clôtures): every day, month and year, in the server journal.

CGI art. 286 asks for daily, monthly and yearly closings with period and perpetual
totals. A tenant closing (scope `tenant:<id>`, docs/archives.md) totals:

- every entry of every chain of the tenant (the tablets' and the server's own), dated by
  the moment the server **received** it (`journal_entries.received_at`: tablet clocks
  cannot be trusted, and a tablet that syncs late lands in the open day instead of a
  closed one) — collections and reversals per payment method and per VAT rate, and the
  head of every chain, as `shared.closings` does;
- the invoices and credit notes the server journal issued in the period
  (`invoice_issued` / `credit_note_issued` entries): `invoiced` and `credited`, per VAT
  rate, with their perpetual grand totals;
- from format 2 on (`"format": 2`), the payments the office received and refunded
  (`office_payment` entries of the server journal): `office_payments`, per method, with
  a perpetual grand total. A closing without `format` is of format 1, made before the
  office's payments were counted: it is recomputed as it was made, so it verifies as
  before (docs/archives.md).

Each closing is appended to the tenant's server journal as a `closing` entry, signed by
the server; nothing else is stored, so the journal is the only truth and running the
closings again closes nothing twice. Days are closed from the first day of activity to
yesterday (in the tenant's time zone), idle days included (a zero closing carrying the
heads forward); a month is rolled up from its days when its last day is closed, a year
from its months.

Why one module over 500 lines: one algorithm, closing a period and rolling it up into
the next, with the reading of what it closes; its parts only make sense together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from server.office import office_journal
from server.platform.tables import devices, journal_entries, tenants
from shared import closings, signing
from shared.closings import Closing, Level, Period, Record, VatTotal
from shared.errors import Refused
from shared.journal import EntryType
from shared.money import ZERO, parse_amount, parse_decimal, wire

DEFAULT_TIMEZONE = "Europe/Paris"
# A day is closed once it ended this long ago, so that a push under way at midnight
# (its entries received at 23:59:59, committed a moment later) is inside it.
GRACE = timedelta(minutes=5)
ISSUED = {
    EntryType.INVOICE_ISSUED.value: "invoiced",
    EntryType.CREDIT_NOTE_ISSUED.value: "credited",
}
OFFICE_PAYMENT = EntryType.OFFICE_PAYMENT.value
# Acts of an `office_payment` entry that move money (server.office.office_payments): in,
# per method; out, a refund. Applying a credit moves none: the money came in already.
RECEIVED_ACTS = ("received",)
REFUNDED_ACTS = ("refunded", "overpayment_refunded")
# The closing format: 1 (no `format` field) before the office's payments were counted, 2
# since. Read at call time, so that a test can make a closing of format 1.
FORMAT = 2
FORMATS = (1, 2)
# Entry types whose payload a tenant closing reads; the others only count.
_READ_PAYLOAD = ("collection", "reversal", OFFICE_PAYMENT, *ISSUED)
_UPPER = {Level.DAY: Level.MONTH, Level.MONTH: Level.YEAR}


def scope(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


# --- what a tenant closing adds to shared.closings: invoices and credit notes issued -------


@dataclass(frozen=True, slots=True)
class Amounts:
    excl_vat: Decimal = ZERO
    vat: Decimal = ZERO
    incl_vat: Decimal = ZERO

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(
            self.excl_vat + other.excl_vat, self.vat + other.vat, self.incl_vat + other.incl_vat
        )

    def __sub__(self, other: Amounts) -> Amounts:
        return Amounts(
            self.excl_vat - other.excl_vat, self.vat - other.vat, self.incl_vat - other.incl_vat
        )

    def payload(self) -> dict[str, str]:
        return {
            "excl_vat": wire(self.excl_vat),
            "vat": wire(self.vat),
            "incl_vat": wire(self.incl_vat),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Amounts:
        return cls(
            parse_amount(data["excl_vat"]),
            parse_amount(data["vat"]),
            parse_amount(data["incl_vat"]),
        )


@dataclass(frozen=True, slots=True)
class Issued:
    """Invoices (or credit notes) issued in a period, as their journal entries total them."""

    count: int = 0
    by_vat_rate: tuple[VatTotal, ...] = ()
    total: Amounts = field(default_factory=Amounts)
    grand_total: Amounts = field(default_factory=Amounts)  # perpetual

    def payload(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by_vat_rate": [
                {
                    "rate": str(v.rate),
                    "excl_vat": wire(v.excl_vat),
                    "vat": wire(v.vat),
                    "incl_vat": wire(v.incl_vat),
                }
                for v in self.by_vat_rate
            ],
            "total": self.total.payload(),
            "grand_total": self.grand_total.payload(),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Issued:
        return cls(
            count=int(data["count"]),
            by_vat_rate=tuple(_vat_total(v) for v in data["by_vat_rate"]),
            total=Amounts.from_payload(data["total"]),
            grand_total=Amounts.from_payload(data["grand_total"]),
        )


def _rate(value: object) -> Decimal:
    """One spelling per rate ("5.5" and "5.50" are one), as shared.closings spells it."""
    return Decimal(format(parse_decimal(value).normalize(), "f"))


def _vat_total(data: Mapping[str, Any]) -> VatTotal:
    return VatTotal(
        _rate(data["rate"]),
        parse_amount(data["excl_vat"]),
        parse_amount(data["vat"]),
        parse_amount(data["incl_vat"]),
    )


def _merge(rates: dict[Decimal, VatTotal], share: VatTotal) -> None:
    rates[share.rate] = rates[share.rate] + share if share.rate in rates else share


def _issued(documents: Sequence[closings.Entry], previous: Issued | None) -> Issued:
    """Totals of issuing entries, whose payload is `{"number", "kind", "by_rate": [{"rate",
    "excl_vat", "vat", "incl_vat"}], "total": {"excl_vat", "vat", "incl_vat"}, …}`: per
    rate and in total, as recorded (a credit note with the sign its entry gives)."""
    rates: dict[Decimal, VatTotal] = {}
    total = Amounts()
    for entry in documents:
        try:
            shares = [_vat_total(share) for share in entry.payload.get("by_rate") or ()]
            if "total" in entry.payload:
                amounts = Amounts.from_payload(entry.payload["total"])
            else:  # no grand total written: the sum of its rates
                amounts = Amounts(
                    sum((s.excl_vat for s in shares), ZERO),
                    sum((s.vat for s in shares), ZERO),
                    sum((s.incl_vat for s in shares), ZERO),
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"entry {entry.device_id} #{entry.seq} ({entry.type}): unreadable totals: {exc}"
            ) from None
        for share in shares:
            _merge(rates, share)
        total = total + amounts
    base = previous.grand_total if previous else Amounts()
    return Issued(len(documents), tuple(rates[r] for r in sorted(rates)), total, base + total)


def _issued_roll_up(lower: Sequence[Issued], previous: Issued | None, what: str) -> Issued:
    rates: dict[Decimal, VatTotal] = {}
    total = Amounts()
    for part in lower:
        for share in part.by_vat_rate:
            _merge(rates, share)
        total = total + part.total
    base = previous.grand_total if previous else lower[0].grand_total - lower[0].total
    grand = base + total
    if grand != lower[-1].grand_total:
        raise ValueError(
            f"the grand total {what} ({grand.incl_vat}) differs from its last closing's"
            f" ({lower[-1].grand_total.incl_vat}): the chains of closings disagree"
        )
    return Issued(sum(p.count for p in lower), tuple(rates[r] for r in sorted(rates)), total, grand)


# --- format 2: the payments the office received and refunded --------------------------------


@dataclass(frozen=True, slots=True)
class OfficePayments:
    """The `office_payment` entries of a period: received per method, refunded, net, and
    the perpetual net grand total. Amounts as their signed entries say them."""

    count: int = 0  # payments received
    by_method: tuple[tuple[str, Decimal], ...] = ()
    received: Decimal = ZERO
    refunded: Decimal = ZERO
    grand_total: Decimal = ZERO  # perpetual: previous grand total + total

    @property
    def total(self) -> Decimal:
        return self.received - self.refunded

    def payload(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by_method": {m: wire(a) for m, a in self.by_method},
            "received": wire(self.received),
            "refunded": wire(self.refunded),
            "total": wire(self.total),
            "grand_total": wire(self.grand_total),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> OfficePayments:
        read = cls(
            count=int(data["count"]),
            by_method=tuple(
                (str(m), parse_amount(a)) for m, a in sorted(data["by_method"].items())
            ),
            received=parse_amount(data["received"]),
            refunded=parse_amount(data["refunded"]),
            grand_total=parse_amount(data["grand_total"]),
        )
        if parse_amount(data["total"]) != read.total:
            raise ValueError("office_payments: total is not received − refunded")
        return read


def _office_payments(
    entries: Sequence[closings.Entry], previous: OfficePayments | None
) -> OfficePayments:
    methods: dict[str, Decimal] = {}
    count, refunded = 0, ZERO
    for entry in entries:
        act = entry.payload.get("act")
        try:
            if act in RECEIVED_ACTS:
                method = str(entry.payload["method"])
                methods[method] = methods.get(method, ZERO) + parse_amount(entry.payload["amount"])
                count += 1
            elif act in REFUNDED_ACTS:
                refunded += parse_amount(entry.payload["amount"])
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(
                f"entry {entry.device_id} #{entry.seq} ({entry.type}): unreadable amount: {exc}"
            ) from None
    received = sum(methods.values(), ZERO)
    base = previous.grand_total if previous else ZERO
    return OfficePayments(
        count, tuple(sorted(methods.items())), received, refunded, base + received - refunded
    )


def _office_roll_up(
    lower: Sequence[TenantClosing], previous: TenantClosing | None, what: str
) -> OfficePayments:
    """Σ of the lower closings' office payments; those of format 1 count as none (their
    period's payments were not counted, and the perpetual total starts after them)."""
    methods: dict[str, Decimal] = {}
    count, received, refunded = 0, ZERO, ZERO
    for part in (c.office for c in lower if c.office is not None):
        for method, amount in part.by_method:
            methods[method] = methods.get(method, ZERO) + amount
        count += part.count
        received += part.received
        refunded += part.refunded
    first = lower[0].office
    if previous is not None and previous.office is not None:
        base = previous.office.grand_total
    else:
        base = first.grand_total - first.total if first is not None else ZERO
    grand = base + received - refunded
    last = lower[-1].office
    if last is not None and grand != last.grand_total:
        raise ValueError(
            f"the grand total of the office's payments {what} ({grand}) differs from its last"
            f" closing's ({last.grand_total}): the chains of closings disagree"
        )
    return OfficePayments(count, tuple(sorted(methods.items())), received, refunded, grand)


def _check_format(version: int, previous: TenantClosing | None) -> None:
    if version not in FORMATS:
        raise ValueError(f"unknown closing format {version}")
    if previous is not None and previous.version > version:
        raise ValueError(
            f"a closing of format {version} after one of format {previous.version}: the"
            " format never goes back"
        )


@dataclass(frozen=True, slots=True)
class TenantClosing:
    """A closing of the tenant scope: shared.closings' closing, plus what was invoiced and
    credited, and (format 2) the office's payments. `payload()` is what the `closing` entry
    of the server journal holds."""

    closing: Closing
    invoiced: Issued = field(default_factory=Issued)
    credited: Issued = field(default_factory=Issued)
    office: OfficePayments | None = None  # None: format 1, made before they were counted

    @property
    def period(self) -> Period:
        return self.closing.period

    @property
    def version(self) -> int:
        return 1 if self.office is None else 2

    def payload(self) -> dict[str, Any]:
        made = {
            **self.closing.payload(),
            "invoiced": self.invoiced.payload(),
            "credited": self.credited.payload(),
        }
        if self.office is not None:  # format 1 stays byte for byte what it was
            made["format"] = 2
            made["office_payments"] = self.office.payload()
        return made

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TenantClosing:
        version = payload.get("format", 1)
        if version not in FORMATS or isinstance(version, bool):
            raise ValueError(f"unknown closing format {version!r}")
        if version == 1 and "office_payments" in payload:
            raise ValueError("office_payments in a closing of format 1")
        return cls(
            closings.closing_from_payload(payload),
            Issued.from_payload(payload["invoiced"]),
            Issued.from_payload(payload["credited"]),
            OfficePayments.from_payload(payload["office_payments"]) if version == 2 else None,
        )


def close_period(
    records: Iterable[closings.Entry],
    *,
    tenant_id: str,
    period: Period,
    timezone: str,
    previous: TenantClosing | None,
    version: int | None = None,
) -> TenantClosing:
    """Close a period from entries dated by reception (pure: the verifier uses it too).

    `previous`: the closing of the period just before, same level (None for the first).
    `version`: the closing format (default `FORMAT`); the verifier gives the stored one.
    """
    version = FORMAT if version is None else version
    _check_format(version, previous)
    kept = list(records)
    closing = closings.close(
        kept,
        scope=scope(tenant_id),
        period=period,
        timezone=timezone,
        previous=previous.closing if previous else None,
    )
    start, end = closing.starts_at, closing.ends_at
    issuer = office_journal.chain_id(tenant_id)  # only the server issues documents
    documents: dict[str, list[closings.Entry]] = {name: [] for name in ISSUED.values()}
    paid: list[closings.Entry] = []
    for entry in kept:
        if entry.device_id != issuer or not start <= entry.at < end:
            continue
        what = ISSUED.get(entry.type)
        if what is not None:
            documents[what].append(entry)
        elif entry.type == OFFICE_PAYMENT:
            paid.append(entry)
    office = None
    if version >= 2:
        office = _office_payments(paid, previous.office if previous else None)
    return TenantClosing(
        closing,
        _issued(documents["invoiced"], previous.invoiced if previous else None),
        _issued(documents["credited"], previous.credited if previous else None),
        office,
    )


def roll_up_period(
    lower: Sequence[TenantClosing],
    *,
    period: Period,
    previous: TenantClosing | None,
    version: int | None = None,
) -> TenantClosing:
    """A month from its days, a year from its months (shared.closings.roll_up); `version`
    as `close_period`. A month of format 1 cannot sum days of format 2."""
    version = FORMAT if version is None else version
    _check_format(version, previous)
    if lower and max(c.version for c in lower) > version:
        raise ValueError(f"a closing of format {version} rolls up closings of a later format")
    closing = closings.roll_up(
        [c.closing for c in lower], period=period, previous=previous.closing if previous else None
    )
    return TenantClosing(
        closing,
        _issued_roll_up(
            [c.invoiced for c in lower],
            previous.invoiced if previous else None,
            f"invoiced of {period.key}",
        ),
        _issued_roll_up(
            [c.credited for c in lower],
            previous.credited if previous else None,
            f"credited of {period.key}",
        ),
        _office_roll_up(lower, previous, f"of {period.key}") if version >= 2 else None,
    )


# --- reading the database -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredClosing:
    """A `closing` entry of the server journal: where it is and what it says."""

    seq: int
    hash: str
    received_at: datetime
    payload: Mapping[str, Any]


def stored_closings(conn: sa.Connection, tenant_id: str) -> list[StoredClosing]:
    """The tenant-scope closings of the server journal, in journal order."""
    rows = conn.execute(
        sa.select(
            journal_entries.c.seq,
            journal_entries.c.hash,
            journal_entries.c.body,
            journal_entries.c.received_at,
        )
        .where(
            journal_entries.c.device_id == office_journal.chain_id(tenant_id),
            journal_entries.c.type == closings.CLOSING,
        )
        .order_by(journal_entries.c.seq)
    )
    found = []
    for row in rows:
        payload = json.loads(row.body)["payload"]
        if payload.get("scope") == scope(tenant_id):
            found.append(StoredClosing(int(row.seq), row.hash, row.received_at, payload))
    return found


def tenant_closings(conn: sa.Connection, tenant_id: str) -> list[TenantClosing]:
    """Every closing of the tenant, read back from its server journal, in journal order."""
    return [TenantClosing.from_payload(s.payload) for s in stored_closings(conn, tenant_id)]


def records(
    conn: sa.Connection,
    tenant_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Record]:
    """The tenant's entries of every chain received in [start, end), as closings read
    them: `at` is the reception time. Payloads are parsed only where a closing reads them."""
    query = sa.select(
        journal_entries.c.device_id,
        journal_entries.c.seq,
        journal_entries.c.hash,
        journal_entries.c.type,
        journal_entries.c.body,
        journal_entries.c.received_at,
    ).where(journal_entries.c.tenant_id == tenant_id)
    if start is not None:
        query = query.where(journal_entries.c.received_at >= start)
    if end is not None:
        query = query.where(journal_entries.c.received_at < end)
    query = query.order_by(
        journal_entries.c.received_at, journal_entries.c.device_id, journal_entries.c.seq
    )
    return [_record(row) for row in conn.execute(query)]


def _record(row: Any) -> Record:
    payload = json.loads(row.body)["payload"] if row.type in _READ_PAYLOAD else {}
    return Record(row.device_id, int(row.seq), row.hash, row.received_at, row.type, payload)


def tenant_timezone(conn: sa.Connection, tenant_id: str, default: str = DEFAULT_TIMEZONE) -> str:
    """The tenant's time zone (`settings.timezone`), else `default`; refused if unknown."""
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    if settings is None:
        raise Refused(f"Société inconnue : {tenant_id}.", f"Unknown tenant: {tenant_id}.")
    name = str(settings.get("timezone") or default)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(
            f"Fuseau horaire inconnu pour {tenant_id} : {name!r}.",
            f"Unknown time zone for {tenant_id}: {name!r}.",
        ) from None
    return name


# --- closing ------------------------------------------------------------------------------


@dataclass
class _State:
    """The closings of each level so far (read back, then appended), in order."""

    by_level: dict[Level, list[TenantClosing]]

    def last(self, level: Level) -> TenantClosing | None:
        made = self.by_level[level]
        return made[-1] if made else None


def last_closable_day(now: datetime, timezone: str) -> date:
    """The last day whose end is at least GRACE before `now`: usually yesterday."""
    return (now - GRACE).astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def run_closings(
    conn: sa.Connection,
    tenant_id: str,
    *,
    key: signing.PrivateKey,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
    until: date | None = None,
) -> list[TenantClosing]:
    """Close every complete period not closed yet, up to yesterday (or `until`), appending
    each closing to the server journal in the caller's transaction; returns them in order.

    `timezone` is the default when the tenant's settings name none. Two runs for one
    tenant queue on the tenant's row, and the second finds nothing left to close.
    Raises Refused if an entry was received into a day already closed (the journal
    needs checking) or the tenant's time zone changed since its first closing.
    """
    conn.execute(  # the tenant's row lock: closers and server-journal writers queue
        sa.update(tenants)
        .where(tenants.c.id == tenant_id)
        .values(journal_seq=tenants.c.journal_seq)
    )
    zone = tenant_timezone(conn, tenant_id, timezone)
    state = _State({level: [] for level in Level})
    for stored in tenant_closings(conn, tenant_id):
        state.by_level[stored.period.level].append(stored)
    first = state.by_level[Level.DAY][0] if state.by_level[Level.DAY] else None
    if first is not None and first.closing.timezone != zone:
        raise Refused(
            f"Le fuseau horaire de {tenant_id} est {zone}, mais ses clôtures sont tenues en "
            f"{first.closing.timezone} : il ne peut pas changer en cours de route.",
            f"The time zone of {tenant_id} is {zone} but its closings are kept in "
            f"{first.closing.timezone}: it cannot change along the way.",
        )
    last_day = last_closable_day(now, zone)
    if until is not None:
        last_day = min(last_day, until)
    made: list[TenantClosing] = []

    def append(closing: TenantClosing) -> None:
        office_journal.append(
            conn,
            tenant_id,
            EntryType.CLOSING,
            closing.payload(),
            key=key,
            actor="system",
            now=now,
        )
        state.by_level[closing.period.level].append(closing)
        made.append(closing)

    _close_upper(state, append)  # months and years whose days were all closed already
    previous = state.last(Level.DAY)
    start = previous.period.next() if previous else _first_activity(conn, tenant_id, zone)
    if start is None:
        return made  # no activity yet
    day = start
    if day.first > last_day:
        return made
    end = Period(Level.DAY, last_day).ends_at(zone)
    pending = _late(conn, tenant_id, previous, day.starts_at(zone))
    pending += records(conn, tenant_id, start=day.starts_at(zone), end=end)
    position = 0
    while day.first <= last_day:
        day_end = day.ends_at(zone)
        upto = position
        while upto < len(pending) and pending[upto].at < day_end:
            upto += 1
        closing = close_period(
            pending[position:upto],
            tenant_id=tenant_id,
            period=day,
            timezone=zone,
            previous=state.last(Level.DAY),
        )
        append(closing)
        position = upto
        _close_upper(state, append)
        day = day.next()
    return made


def close_tenant(
    conn: sa.Connection,
    tenant_id: str,
    *,
    key: signing.PrivateKey,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
    until: date | None = None,
) -> list[Closing]:
    """`run_closings`, giving the closings as shared.closings values."""
    made = run_closings(conn, tenant_id, key=key, now=now, timezone=timezone, until=until)
    return [c.closing for c in made]


def _close_upper(state: _State, append: Callable[[TenantClosing], None]) -> None:
    """Roll up every month whose last day is closed, and every year whose December is."""
    for lower_level, level in _UPPER.items():
        while True:
            lower = state.by_level[lower_level]
            if not lower:
                break
            previous = state.last(level)
            if previous is not None:
                period = previous.period.next()
            else:
                period = Period.containing(level, lower[0].period.first)
            if lower[-1].period.last < period.last:
                break
            parts = [c for c in lower if period.first <= c.period.first <= period.last]
            append(roll_up_period(parts, period=period, previous=previous))


def _first_activity(conn: sa.Connection, tenant_id: str, zone: str) -> Period | None:
    first = conn.execute(
        sa.select(sa.func.min(journal_entries.c.received_at)).where(
            journal_entries.c.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if first is None:
        return None
    if not isinstance(first, datetime):  # SQLite's aggregate comes back as text
        first = datetime.fromisoformat(str(first))
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return Period(Level.DAY, first.astimezone(ZoneInfo(zone)).date())


def _late(
    conn: sa.Connection, tenant_id: str, previous: TenantClosing | None, start: datetime
) -> list[Record]:
    """Entries received before `start` that the last closing did not cover: given to the
    next closing, which refuses them (something was written into a closed day). One
    primary-key range per chain: only what follows the closed heads is looked at."""
    if previous is None:
        return []
    closed = {h.device_id: h.seq for h in previous.closing.heads}
    enrolled = conn.execute(sa.select(devices.c.id).where(devices.c.tenant_id == tenant_id))
    chains = {*closed, office_journal.chain_id(tenant_id), *(row[0] for row in enrolled)}
    found: list[Record] = []
    for chain in sorted(chains):
        query = sa.select(
            journal_entries.c.device_id,
            journal_entries.c.seq,
            journal_entries.c.hash,
            journal_entries.c.type,
            journal_entries.c.body,
            journal_entries.c.received_at,
        ).where(
            journal_entries.c.device_id == chain,
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.seq > closed.get(chain, 0),
            journal_entries.c.received_at < start,
        )
        found.extend(_record(row) for row in conn.execute(query))
    return found


# --- every tenant, for a nightly job -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantRun:
    tenant_id: str
    closings: tuple[TenantClosing, ...] = ()
    refused: Refused | None = None


def close_every_tenant(
    engine: sa.Engine,
    *,
    key: signing.PrivateKey,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[TenantRun]:
    """The nightly job: each tenant closed in its own transaction; a tenant whose closing
    is refused (an entry in a closed day) is reported and does not stop the others."""
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id))]
    done = []
    for tenant_id in ids:
        try:
            with engine.begin() as conn:
                made = run_closings(conn, tenant_id, key=key, now=now, timezone=timezone)
        except Refused as refused:
            done.append(TenantRun(tenant_id, refused=refused))
        else:
            done.append(TenantRun(tenant_id, tuple(made)))
    return done
