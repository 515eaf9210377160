"""The days of card payments and of the terminal's settlement files, in the tenant's time
zone (docs/anomalies.md "Card-terminal settlement files"): what `server.office.reconcile`
reads to match card collections against the files, and to find those no file covers.

A card payment belongs to the settlement file of its **local** day: a payment at 00:26 in
Paris belongs to that day's file, not to the previous UTC day's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office.closing import DEFAULT_TIMEZONE, tenant_timezone
from server.office.reconcile_facts import card_key
from server.office.reconcile_rules import CardPayment, Item, normalise_ref
from server.platform.tables import card_settlement_lines, card_settlements
from shared.errors import TowlineError

Periods = list[tuple[str, str]]  # (first day, last day), ISO dates
IN_CHUNK = 1000  # values per IN list


def settlement_lines(
    conn: sa.Connection, tenant_id: str, keys: Collection[str] | None = None
) -> dict[tuple[str, int], int]:
    """Imported terminal settlement lines, counted by (reference, cents): every one, or
    those of the card `keys` (`reconcile_facts.card_key`), found by their index (and
    among lines stored without a key, by computing theirs)."""
    lines: dict[tuple[str, int], int] = {}
    query = sa.select(
        card_settlement_lines.c.terminal_ref, card_settlement_lines.c.amount_cents
    ).where(card_settlement_lines.c.tenant_id == tenant_id)
    if keys is None:
        rows = list(conn.execute(query))
    else:
        wanted = set(keys)
        ordered = sorted(wanted)
        rows = []
        for start in range(0, len(ordered), IN_CHUNK):
            chunk = ordered[start : start + IN_CHUNK]
            rows.extend(conn.execute(query.where(card_settlement_lines.c.ref.in_(chunk))))
        unread = conn.execute(query.where(card_settlement_lines.c.ref.is_(None)))
        rows.extend(r for r in unread if card_key(r[0], int(r[1])) in wanted)
    for ref, amount in rows:
        key = (normalise_ref(ref), int(amount))
        lines[key] = lines.get(key, 0) + 1
    return lines


def settlement_periods(conn: sa.Connection, tenant_id: str) -> Periods:
    """The days the imported files cover (a card payment outside them is not checked)."""
    return [
        (str(a), str(b))
        for a, b in conn.execute(
            sa.select(card_settlements.c.period_from, card_settlements.c.period_to).where(
                card_settlements.c.tenant_id == tenant_id
            )
        )
    ]


def tenant_zone(conn: sa.Connection, tenant_id: str) -> ZoneInfo:
    """The tenant's time zone: the days of card payments and settlement files are its."""
    try:
        return ZoneInfo(tenant_timezone(conn, tenant_id, DEFAULT_TIMEZONE))
    except TowlineError:  # an unknown zone: the default's days, rather than no check at all
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_day(at: str, zone: ZoneInfo) -> date:
    """The local day an entry claims (its `at` is UTC, `…Z`)."""
    return datetime.fromisoformat(at).astimezone(zone).date()


def covered_days(periods: Sequence[tuple[str, str]]) -> frozenset[str]:
    """Every day the files cover (ISO dates), for a lookup per card payment instead of a
    scan of every file's period."""
    days: set[str] = set()
    for start, end in periods:
        day, last = date.fromisoformat(start), date.fromisoformat(end)
        while day <= last:
            days.add(day.isoformat())
            day += timedelta(days=1)
    return frozenset(days)


def covered(at: str, days: Collection[str], zone: ZoneInfo) -> bool:
    return local_day(at, zone).isoformat() in days


def card_payment(item: Item, zone: ZoneInfo, now: datetime) -> CardPayment:
    """The card collection with its claimed local day, and since when a file is due for it:
    the end of that day or its receipt (`now` if being received), whichever is earlier."""
    day = local_day(item.at, zone)
    day_ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    received = item.received_at or now
    return CardPayment(item, day.isoformat(), min(day_ends, received))
