"""The drivers' cash registers as the server sees them, folded from the synced journal.

A register belongs to one driver on one tablet (a chain): the tablet folds the driver's
`register_opened`, `collection`, `reversal`, `bank_deposit` and `register_closed`
entries with `shared.register`, and so does the server, entry for entry, so both show
the same float, expected cash and variance. As on the tablet (docs/register.md), a
reversal that arrives while the register is closed goes to the next session.

A session is named by its chain and the seq of its `register_opened` entry. An entry the
core refuses (something a tampered tablet wrote: a second opening, money on a closed
register) is kept in the session's lines with the refusal, and changes no figure.

Collections for the desk's figures (`movements`) are read from the same entries, dated
by the tablet's `at` (its clock, corrected at each sync): the day the money was taken.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office.office_journal import PREFIX as SERVER_CHAIN
from server.people.tenant_time import day_bounds
from server.platform.tables import journal_entries
from shared.errors import Refused
from shared.i18n import Text
from shared.money import parse_amount, to_cents
from shared.register import (
    CLOSED,
    DEPOSIT,
    OPENED,
    Closed,
    Event,
    Opened,
    Register,
    Reversed,
    Status,
    event_from_entry,
)
from shared.register import apply as apply_event

COLLECTION, REVERSAL = "collection", "reversal"
TYPES = (OPENED, COLLECTION, REVERSAL, DEPOSIT, CLOSED)
Chain = tuple[str, str]  # (device id, driver id)


@dataclass(frozen=True, slots=True)
class Line:
    """One entry of a session, as the desk lists it."""

    seq: int
    at: str
    type: str
    mission_id: str | None
    method: str | None
    amount: Decimal | None  # the float, a collection, a reversal, a deposit, the count
    refused: Text | None = None  # why the register does not count it


@dataclass(frozen=True, slots=True)
class Session:
    device_id: str
    driver_id: str
    seq: int  # its `register_opened` entry
    opened_at: str
    register: Register
    lines: tuple[Line, ...]
    closed_seq: int | None = None
    closed_at: str | None = None

    @property
    def day(self) -> date:
        return date.fromisoformat(self.opened_at[:10])

    def local_day(self, zone: ZoneInfo | None) -> date:
        """The tenant's day it opened on (UTC's without a zone)."""
        return self.day if zone is None else _local_day(self.opened_at, zone)

    @property
    def status(self) -> Status:
        return self.register.status

    @property
    def variance_subject(self) -> str | None:
        """The subject of its `register_variance` anomaly (server.office.reconcile_rules)."""
        return None if self.closed_seq is None else f"{self.device_id}:{self.closed_seq}"


# --- the fold (pure) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """A register entry of one chain, as stored."""

    seq: int
    at: str
    type: str
    payload: Mapping[str, Any]


def _line(entry: Entry, refused: Text | None = None) -> Line:
    payload = entry.payload
    key = {OPENED: "float", CLOSED: "counted"}.get(entry.type, "amount")
    amount = payload.get(key)
    mission = payload.get("mission_id")
    method = payload.get("method")
    return Line(
        entry.seq,
        entry.at,
        entry.type,
        mission if isinstance(mission, str) else None,
        method if isinstance(method, str) else None,
        None if amount is None else parse_amount(amount),
        refused,
    )


class _Open:
    """The session being folded."""

    def __init__(self, entry: Entry, register: Register) -> None:
        self.entry, self.register = entry, register
        self.lines: list[Line] = []

    def apply(self, entry: Entry, event: Event) -> bool:
        """Count the entry, or keep it with the core's refusal; True if counted."""
        try:
            self.register = apply_event(self.register, event)
        except Refused as refused:
            self.lines.append(_line(entry, refused.text))
            return False
        self.lines.append(_line(entry))
        return True

    def session(self, chain: Chain, closing: Entry | None = None) -> Session:
        return Session(
            chain[0],
            chain[1],
            self.entry.seq,
            self.entry.at,
            self.register,
            tuple(sorted(self.lines, key=lambda line: line.seq)),
            closing.seq if closing else None,
            closing.at if closing else None,
        )


def _unreadable(error: Exception) -> Text:
    return Text(
        f"Écriture illisible pour la caisse : {error}.",
        f"Entry unreadable for the register: {error}.",
    )


def fold(chain: Chain, entries: Iterable[Entry], start: Register | None = None) -> list[Session]:
    """The sessions of one chain's register entries, in seq order. `start`: the register
    before the first entry (closed, when the fold starts after a closing)."""
    sessions: list[Session] = []
    current: _Open | None = None
    register = start or Register()
    held: list[tuple[Entry, Reversed]] = []  # reversals waiting for the next opening
    early: list[Line] = []  # refused before any session of this fold

    def aside(line: Line) -> None:
        """A refused entry while no session is open: shown on the last session."""
        if sessions:
            sessions[-1] = _with(sessions[-1], [line])
        else:
            early.append(line)

    for entry in entries:
        try:
            event = event_from_entry(entry.type, entry.payload)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            line = _line_safe(entry, _unreadable(error))
            if current is None:
                aside(line)
            else:
                current.lines.append(line)
            continue
        if event is None:
            continue
        if current is None:
            if isinstance(event, Reversed):
                held.append((entry, event))
            elif isinstance(event, Opened):
                try:
                    register = apply_event(register, event)
                except Refused as refused:  # a negative float
                    aside(_line(entry, refused.text))
                    continue
                current = _Open(entry, register)
                current.lines.extend([*early, _line(entry)])
                for waiting, reversal in held:
                    current.apply(waiting, reversal)
                early, held = [], []
            else:
                aside(_line(entry, _not_open(register)))
            continue
        if current.apply(entry, event) and isinstance(event, Closed):
            sessions.append(current.session(chain, entry))
            register, current = current.register, None
    if current is not None:
        sessions.append(current.session(chain))
    elif sessions and held:  # no opening yet to count them in
        sessions[-1] = _with(sessions[-1], [_line(e, _waiting()) for e, _ in held])
    return sessions


def _with(session: Session, lines: Sequence[Line]) -> Session:
    return replace(session, lines=tuple(sorted((*session.lines, *lines), key=_by_seq)))


def _by_seq(line: Line) -> int:
    return line.seq


def _line_safe(entry: Entry, refused: Text) -> Line:
    try:
        return _line(entry, refused)
    except (TypeError, ValueError, ArithmeticError):
        return Line(entry.seq, entry.at, entry.type, None, None, None, refused)


def _not_open(register: Register) -> Text:
    if register.status is Status.CLOSED:
        return Text(
            "Enregistré alors que la caisse était fermée : non compté.",
            "Recorded while the register was closed: not counted.",
        )
    return Text(
        "Enregistré avant l'ouverture de la caisse : non compté.",
        "Recorded before the register was opened: not counted.",
    )


def _waiting() -> Text:
    return Text(
        "Annulation reçue caisse fermée : comptée à la prochaine ouverture.",
        "Reversal received while the register was closed: counted at the next opening.",
    )


# --- reading the database -------------------------------------------------------------------

_TABLET = ~journal_entries.c.device_id.startswith(SERVER_CHAIN, autoescape=True)


def _moment(day: date, zone: ZoneInfo | None = None) -> str:
    """The `at` text a day starts at: `at` is ISO UTC ("2026-03-10T07:30:00.000Z"), so
    text order is time order. With a zone, the tenant's day ("2026-03-09T23:00:00" for
    Paris: a prefix of the first instant's text, so that instant is not before it)."""
    if zone is None:
        return day.isoformat()
    return day_bounds(day, zone)[0].replace(tzinfo=None).isoformat()


def _local_day(at: str, zone: ZoneInfo) -> date:
    """The tenant's day of an entry's `at` (ISO UTC)."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class _Bounds:
    after: int  # fold the entries after this seq (a closing, or 0)
    through: int | None  # … up to this opening, if any: reversals held before it reach it


def _chains(
    conn: sa.Connection,
    tenant_id: str,
    *,
    driver_id: str | None,
    device_id: str | None,
    since: date | None,
    until: date | None,
) -> dict[Chain, _Bounds]:
    """Per chain: where the sessions opened from `since` to `until` (inclusive) lie. The
    fold starts after the last closing before `since` (held reversals then reach the next
    session, as on the tablet) and ends with the first opening after `until` (the
    reversals held before it are that session's, not the last one's of the window)."""
    e = journal_entries.c
    closed_before = sa.and_(e.type == CLOSED, e.at < _moment(since)) if since else sa.false()
    opened_after = (
        sa.and_(e.type == OPENED, e.at >= _moment(until + timedelta(days=1)))
        if until
        else sa.false()
    )
    query = sa.select(
        e.device_id,
        e.driver_id,
        sa.func.max(sa.case((closed_before, e.seq))),
        sa.func.min(sa.case((opened_after, e.seq))),
    ).where(
        e.tenant_id == tenant_id, e.type.in_((OPENED, CLOSED)), e.driver_id.is_not(None), _TABLET
    )
    if driver_id is not None:
        query = query.where(e.driver_id == driver_id)
    if device_id is not None:
        query = query.where(e.device_id == device_id)
    rows = conn.execute(query.group_by(e.device_id, e.driver_id))
    return {
        (r[0], r[1]): _Bounds(int(r[2] or 0), None if r[3] is None else int(r[3])) for r in rows
    }


def _entries(
    conn: sa.Connection, tenant_id: str, chains: Mapping[Chain, _Bounds]
) -> Iterator[tuple[Chain, list[Entry]]]:
    """Each chain's register entries within its bounds, in seq order."""
    e = journal_entries.c
    ranges = []
    for (device, driver), bounds in chains.items():
        within = [e.device_id == device, e.driver_id == driver, e.seq > bounds.after]
        if bounds.through is not None:
            within.append(e.seq <= bounds.through)
        ranges.append(sa.and_(*within))
    if not ranges:
        return
    by_chain: dict[Chain, list[Entry]] = {chain: [] for chain in chains}
    rows = conn.execute(
        sa.select(e.device_id, e.driver_id, e.seq, e.at, e.type, e.body)
        .where(e.tenant_id == tenant_id, e.type.in_(TYPES), sa.or_(*ranges))
        .order_by(e.device_id, e.driver_id, e.seq)
    )
    for row in rows:
        payload = json.loads(row.body).get("payload") or {}
        by_chain[(row.device_id, row.driver_id)].append(
            Entry(int(row.seq), str(row.at), str(row.type), payload)
        )
    yield from sorted(by_chain.items())


def _opened_before(
    conn: sa.Connection, tenant_id: str, chains: Mapping[Chain, _Bounds]
) -> dict[Chain, int]:
    """How many sessions each chain opened before its fold starts (`Register.session`)."""
    e = journal_entries.c
    ranges = [
        sa.and_(e.device_id == device, e.driver_id == driver, e.seq < bounds.after)
        for (device, driver), bounds in chains.items()
        if bounds.after
    ]
    if not ranges:
        return {}
    rows = conn.execute(
        sa.select(e.device_id, e.driver_id, sa.func.count())
        .where(e.tenant_id == tenant_id, e.type == OPENED, sa.or_(*ranges))
        .group_by(e.device_id, e.driver_id)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def _folded(conn: sa.Connection, tenant_id: str, chains: Mapping[Chain, _Bounds]) -> list[Session]:
    counted = _opened_before(conn, tenant_id, chains)
    found: list[Session] = []
    for chain, entries in _entries(conn, tenant_id, chains):
        # A fold that starts after a closing starts from that closed register.
        after = chains[chain].after
        start = Register(Status.CLOSED, counted.get(chain, 0)) if after else None
        found.extend(fold(chain, entries, start))
    return found


def sessions(
    conn: sa.Connection,
    tenant_id: str,
    *,
    since: date,
    until: date,
    driver_id: str | None = None,
    device_id: str | None = None,
    open_before: bool = False,
    zone: ZoneInfo | None = None,
) -> list[Session]:
    """The register sessions opened from `since` to `until` (the tenant's days in `zone`,
    else UTC days of the tablet's `at`), newest first; with `open_before`, also those
    opened earlier still open."""
    margin = timedelta(days=0 if zone is None else 1)  # a local day spans two UTC days
    chains = _chains(
        conn,
        tenant_id,
        driver_id=driver_id,
        device_id=device_id,
        since=since - margin,
        until=until + margin,
    )
    found = [
        s
        for s in _folded(conn, tenant_id, chains)
        if since <= s.local_day(zone) <= until
        or (open_before and s.status is Status.OPEN and s.local_day(zone) < since)
    ]
    return sorted(found, key=lambda s: (s.opened_at, s.device_id, s.seq), reverse=True)


def open_sessions(conn: sa.Connection, tenant_id: str) -> list[Session]:
    """Registers opened and not closed yet (as far as the tablets have synced), oldest first."""
    e = journal_entries.c
    last_opened = sa.func.max(sa.case((e.type == OPENED, e.seq)))
    last_closed = sa.func.coalesce(sa.func.max(sa.case((e.type == CLOSED, e.seq))), 0)
    rows = conn.execute(
        sa.select(e.device_id, e.driver_id, last_closed)
        .where(
            e.tenant_id == tenant_id,
            e.type.in_((OPENED, CLOSED)),
            e.driver_id.is_not(None),
            _TABLET,
        )
        .group_by(e.device_id, e.driver_id)
        .having(last_opened > last_closed)
    )
    chains = {(r[0], r[1]): _Bounds(int(r[2]), None) for r in rows}
    found = [s for s in _folded(conn, tenant_id, chains) if s.status is Status.OPEN]
    return sorted(found, key=lambda s: (s.opened_at, s.device_id))


def session(conn: sa.Connection, tenant_id: str, device_id: str, seq: int) -> Session | None:
    """The session opened by entry `seq` of `device_id`, if it is one of the tenant's."""
    e = journal_entries.c
    opening = conn.execute(
        sa.select(e.driver_id).where(
            e.tenant_id == tenant_id,
            e.device_id == device_id,
            e.seq == seq,
            e.type == OPENED,
            e.driver_id.is_not(None),
            _TABLET,
        )
    ).first()
    if opening is None:
        return None
    driver = opening.driver_id
    mine = (e.tenant_id == tenant_id, e.device_id == device_id, e.driver_id == driver)
    after = conn.execute(
        sa.select(sa.func.max(e.seq)).where(*mine, e.type == CLOSED, e.seq < seq)
    ).scalar_one_or_none()
    following = conn.execute(
        sa.select(sa.func.min(e.seq)).where(*mine, e.type == OPENED, e.seq > seq)
    ).scalar_one_or_none()
    bounds = _Bounds(int(after or 0), None if following is None else int(following))
    chains = {(device_id, driver): bounds}
    return next((s for s in _folded(conn, tenant_id, chains) if s.seq == seq), None)


# --- collections, for the desk's figures ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Movement:
    """A collection (positive) or a reversal (negative), in cents."""

    day: date
    driver_id: str | None
    method: str
    cents: int


def movements(
    conn: sa.Connection,
    tenant_id: str,
    *,
    since: date,
    until: date,
    zone: ZoneInfo | None = None,
) -> list[Movement]:
    """The tablets' collections and reversals from `since` to `until` (inclusive), by the
    tablet's `at`: the tenant's days in `zone`, else UTC days."""
    e = journal_entries.c
    rows = conn.execute(
        sa.select(e.at, e.type, e.driver_id, e.body)
        .where(
            e.tenant_id == tenant_id,
            e.type.in_((COLLECTION, REVERSAL)),
            e.at >= _moment(since, zone),
            e.at < _moment(until + timedelta(days=1), zone),
            _TABLET,
        )
        .order_by(e.at)
    )
    found = []
    for row in rows:
        payload = json.loads(row.body).get("payload") or {}
        try:
            amount = to_cents(parse_amount(payload["amount"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # a tampered entry: its register page shows it, its anomaly names it
        found.append(
            Movement(
                date.fromisoformat(str(row.at)[:10])
                if zone is None
                else _local_day(str(row.at), zone),
                row.driver_id,
                str(payload.get("method")),
                -amount if row.type == REVERSAL else amount,
            )
        )
    return found


def net_by(moves: Iterable[Movement], key: str) -> dict[Any, int]:
    """Net cents per `day`, `method` or `driver_id`."""
    totals: dict[Any, int] = {}
    for move in moves:
        name = getattr(move, key)
        totals[name] = totals.get(name, 0) + move.cents
    return totals
