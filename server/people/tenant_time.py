"""A tenant's time: its time zone (`settings.timezone`, Europe/Paris unless it says
otherwise), its calendar day at an instant, and the instants a local day starts and ends.

Instants are stored in UTC (server.platform.tables.UTCDateTime); people read them in
their company's time. One helper for every area above `people` (the desk, the API, the
office's books), so that a page, a PDF and an export name the same day for the same
instant, and write it in the same words (`day_words`, `when_words`, `zone_words`). An
unknown zone in the settings falls back to the default rather than failing a page: the
settings' own check (server.office.closing.tenant_timezone) refuses it where a closing
depends on it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from server.platform.tables import tenants

# One way to write a day and a zone, the tablet's and the desk's (re-exported here).
from shared.time_words import day_words as day_words
from shared.time_words import zone_words as zone_words

DEFAULT_ZONE = "Europe/Paris"


def zone_named(name: object) -> ZoneInfo:
    """The zone of that name, or the default for a missing or unknown one."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(DEFAULT_ZONE)


def tenant_zone(conn: sa.Connection, tenant_id: str) -> ZoneInfo:
    """The tenant's time zone (Europe/Paris unless its settings say otherwise)."""
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    return zone_named((settings or {}).get("timezone"))


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """An aware instant as the tenant's wall clock shows it."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no instant: pass an aware one")
    return moment.astimezone(zone)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The tenant's calendar day at that instant."""
    return local(moment, zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants the tenant's day starts and the next one starts, in UTC: a day of 23
    or 25 hours when the clocks change. (In UTC because Python subtracts and compares two
    datetimes of the same zone by their wall clocks.)"""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def parse_local(text: str, zone: ZoneInfo) -> datetime:
    """A wall-clock time typed in the tenant's zone ("2026-03-10T09:40", as an HTML
    datetime-local field sends it), as an aware instant. ValueError when unreadable."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


def when_words(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """An aware instant on the tenant's wall clock: "11/03/2026 00:30", "11 Mar 2026 00:30"."""
    shown = local(moment, zone)
    return f"{day_words(shown.date(), language)} {shown:%H:%M}"
