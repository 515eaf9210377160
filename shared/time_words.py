"""Days, weekdays and time zones in words, in French or English: what the tablet's texts
(the valuation's explanation, the roadside receipt) print, written the way the desk
writes them (server/people/tenant_time.py), so a person reads the same date everywhere.
Pure: the month names are spelt here, not taken from the process's locale."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_words(day: date, lang: str) -> str:
    """ "10/03/2026" in French, "10 Mar 2026" in English (never ISO, never 03/10)."""
    if lang == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def iso_words(text: str, lang: str) -> str:
    """A day written ISO, with or without a time after it ("2026-03-10",
    "2026-03-10 10:00"), in words: "10/03/2026 10:00", "10 Mar 2026 10:00"."""
    return day_words(date.fromisoformat(text[:10]), lang) + text[10:]


def zone_words(zone: ZoneInfo, lang: str) -> str:
    """How a text states its times: "heure de Paris (Europe/Paris)", "Paris time
    (Europe/Paris)" — the desk's words."""
    key = zone.key
    city = key.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} time ({key})" if lang == "en" else f"heure de {city} ({key})"
