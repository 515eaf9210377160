"""Times on the desk in the tenant's time zone, stated as such.

Templates call `local_when(moment)` ("10/03/2026 08:40", "10 Mar 2026 08:40" in English),
`local_clock(moment)` ("08:40"), `local_date(day or moment)` and `zone_note()` ("heure de
Paris (Europe/Paris)"), which the page's frame (base.html) states once on every page of a
signed-in user. The zone is the signed-in user's tenant's (server.people.tenant_time), read
once per request. No page shows an ISO instant: `when()` of server.desk.blueprint (UTC) is
no longer called by any template (tests/test_desk_local_times.py scans the pages).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g

from server.desk.blueprint import desk
from server.people.tenant_time import (
    DEFAULT_ZONE,
    day_words,
    local,
    tenant_zone,
    zone_named,
    zone_words,
)
from server.platform.web import lang, reader


def zone() -> ZoneInfo:
    """The signed-in user's tenant's zone (the default before signing in)."""
    found: ZoneInfo | None = g.get("desk_zone")
    if found is None:
        user = g.get("desk_user")
        if user is None:
            return zone_named(DEFAULT_ZONE)
        with reader().connect() as conn:
            found = tenant_zone(conn, user.tenant_id)
        g.desk_zone = found
    return found


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:  # the database's instants are UTC
        value = value.replace(tzinfo=UTC)
    return local(value, zone())


def local_when(value: datetime | str | None) -> str:
    """A moment in the tenant's time: its day as `day_words` writes it, then the hour."""
    moment = _moment(value)
    if moment is None:
        return "—"
    return f"{day_words(moment.date(), lang())} {moment:%H:%M}"


def local_clock(value: datetime | str | None) -> str:
    """The hour and minute of a moment in the tenant's time ("08:40")."""
    moment = _moment(value)
    return "—" if moment is None else moment.strftime("%H:%M")


def local_date(value: date | datetime | str | None) -> str:
    """A day (or the tenant's day of a moment), day first in French."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:  # a moment's text ("2026-03-10T23:30:00.000Z") names its local day
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        found = _moment(value)
        if found is None:
            return "—"
        value = found.date()
    return day_words(value, lang())


def zone_note() -> str:
    """How a page states its times: "heure de Paris (Europe/Paris)"."""
    return zone_words(zone(), lang())


@desk.app_context_processor
def _time_helpers() -> dict[str, Any]:
    return {
        "local_when": local_when,
        "local_clock": local_clock,
        "local_date": local_date,
        "zone_note": zone_note,
    }
