"""Times on the desk in the tenant's time zone, stated as such.

Templates call `local_when(moment)` ("10/03/2026 08:40"), `local_clock(moment)` ("08:40"),
`local_date(day or moment)` and `zone_note()` ("heure de Paris (Europe/Paris)") for a
column header or a page's subtitle. The zone is the signed-in user's tenant's
(server.people.tenant_time), read once per request. `when()` of server.desk.blueprint stays
in UTC for the pages that still say so; a page moves to local time by calling these and
saying so in its headers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g

from server.desk.blueprint import desk, t
from server.people.tenant_time import DEFAULT_ZONE, local, tenant_zone, zone_named
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
    """A moment in the tenant's time, day first in French."""
    moment = _moment(value)
    if moment is None:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M" if lang() == "en" else "%d/%m/%Y %H:%M")


def local_clock(value: datetime | str | None) -> str:
    """The hour and minute of a moment in the tenant's time ("08:40")."""
    moment = _moment(value)
    return "—" if moment is None else moment.strftime("%H:%M")


def local_date(value: date | datetime | str | None) -> str:
    """A day (or the tenant's day of a moment), day first in French."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        found = _moment(value)
        if found is None:
            return "—"
        value = found.date()
    return value.isoformat() if lang() == "en" else value.strftime("%d/%m/%Y")


def zone_note() -> str:
    """How a page states its times: "heure de Paris (Europe/Paris)"."""
    key = zone().key
    city = key.rsplit("/", 1)[-1].replace("_", " ")
    return t(f"heure de {city} ({key})", f"{city} time ({key})")


@desk.app_context_processor
def _time_helpers() -> dict[str, Any]:
    return {
        "local_when": local_when,
        "local_clock": local_clock,
        "local_date": local_date,
        "zone_note": zone_note,
    }
