"""Public holidays and local time: which time band a mission falls in.

Holidays come from the maintained `holidays` library (French holidays including the
moving ones: Easter Monday, Ascension, Whit Monday). Its tables are computed, not read
from disk, so the tablet and the server agree as long as they run the same pinned
version. Results are cached per (country, subdivision, year): pure and deterministic.
The library is imported on the first holiday asked for, not with this module: local time
is needed far more often (every command of the tablet) than a holiday. The tablet keeps
each year's names once computed (fieldclient/holiday_table.py) and gives them to the
valuation as data (`shared.valuation_plan.use_holiday_names`), so a command that values a
mission does not import the library (about 60 ms) again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from shared.i18n import Text

# (country, subdivision, year) → each public holiday of that year with its name.
HolidayNames = Callable[[str, str | None, int], Mapping[date, Text]]


@lru_cache(maxsize=256)
def holiday_names(country: str, subdivision: str | None, year: int) -> dict[date, Text]:
    """Every public holiday of a year, with its name in French and English."""
    import holidays

    french = holidays.country_holidays(country, subdiv=subdivision, years=year, language="fr")
    english = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    return {day: Text(str(name), str(english.get(day, name))) for day, name in french.items()}


def holiday(country: str, subdivision: str | None, day: date) -> Text | None:
    return holiday_names(country, subdivision, day.year).get(day)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(instant: datetime, timezone: str) -> datetime:
    """The instant as wall-clock time in the contract's time zone."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: the offset is required")
    return instant.astimezone(zone(timezone))
