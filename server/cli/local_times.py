"""Times a command prints for a person: on the tenant's clock, with the zone named
("10/03/2026 08:40 (heure de Paris (Europe/Paris))"), as the desk and the PDFs write them
(server.people.tenant_time). `--json` keeps the stored instants (ISO, UTC)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.people.tenant_time import local, tenant_zone, when_words, zone_words


def zone_of(engine: sa.Engine, tenant_id: str) -> ZoneInfo:
    """The tenant's zone (Europe/Paris for an unknown tenant or zone)."""
    with engine.connect() as conn:
        return tenant_zone(conn, tenant_id)


def when(moment: datetime | str, zone: ZoneInfo, lang: str) -> str:
    """A moment on the tenant's clock, without the zone (a list states it once)."""
    found = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when_words(found, zone, lang)


def clock(moment: datetime, zone: ZoneInfo, lang: str) -> str:
    """The hour of a moment on the tenant's clock, with the zone: "08:40 (heure de …)"."""
    return f"{local(moment, zone):%H:%M} ({zone_words(zone, lang)})"


def zone_line(zone: ZoneInfo, lang: str) -> str:
    """The line a list of times ends with: "Heures : heure de Paris (Europe/Paris)"."""
    return f"{'Heures :' if lang == 'fr' else 'Times:'} {zone_words(zone, lang)}"
