"""A year's public holidays kept on the tablet, per (country, subdivision, year).

Valuing a contract with time bands asks whether the day is a public holiday (its name
goes into the explanation). `shared.calendar.holiday_names` computes that with the
`holidays` library, whose import loads every country's module (about 60 ms, the largest
single import of a command). The tablet computes a year once: at the pull that brings a
contract (the years around today that the contract covers), or the first time a mission
of another year is valued. It keeps the French and English names in `holiday_years`
(store migration 7) and from then on reads them and gives them to the valuation as data
(`shared.valuation_plan.use_holiday_names`): the library's own names, so the valuation's
digest and explanation are the same (tests/test_field_holidays.py).

Each row records the library version that computed it; a sync computes again the rows an
older (or newer) version computed, so a tablet whose program was updated values with the
new library's names from its next sync on (until then, with the names it had).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import date

from shared import calendar
from shared.contract import Contract
from shared.i18n import Text

# The years filled when a contract arrives: around the tablet's today, where missions are.
YEARS_AROUND_TODAY = 1


def _key(country: str, subdivision: str | None, year: int) -> tuple[str, str, int]:
    return country, subdivision or "", year  # '' for none: a primary key holds no NULL


def _library_version() -> str:
    import holidays  # already imported when names were just computed

    return str(vars(holidays)["__version__"])  # not in the package's typed exports


def _encode(names: Mapping[date, Text]) -> str:
    return json.dumps(
        {day.isoformat(): [text.fr, text.en] for day, text in sorted(names.items())},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _decode(text: str) -> dict[date, Text]:
    return {date.fromisoformat(day): Text(fr, en) for day, (fr, en) in json.loads(text).items()}


def _store(db: sqlite3.Connection, key: tuple[str, str, int], names: Mapping[date, Text]) -> None:
    db.execute(
        "INSERT INTO holiday_years (country, subdivision, year, names, library)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (country, subdivision, year) DO UPDATE SET"
        " names = excluded.names, library = excluded.library",
        [*key, _encode(names), _library_version()],
    )


class HolidayTable:
    """`shared.calendar.HolidayNames` read from the tablet's database: a year not kept yet
    is computed with the library and kept (inside the caller's transaction when there is
    one; a read-only command keeps it on its own, or computes it again next time if the
    database is busy or cannot be written)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._years: dict[tuple[str, str, int], Mapping[date, Text]] = {}

    def __call__(self, country: str, subdivision: str | None, year: int) -> Mapping[date, Text]:
        key = _key(country, subdivision, year)
        found = self._years.get(key)
        if found is None:
            row = self.db.execute(
                "SELECT names FROM holiday_years WHERE country = ? AND subdivision = ?"
                " AND year = ?",
                key,
            ).fetchone()
            if row is not None:
                found = _decode(row[0])
            else:
                found = calendar.holiday_names(country, subdivision, year)
                try:
                    _store(self.db, key, found)
                except sqlite3.OperationalError:
                    if self.db.in_transaction:
                        raise
            self._years[key] = found
        return found


def fill(db: sqlite3.Connection, contract: Contract, today: date) -> None:
    """Compute and keep the years around `today` that `contract` is valid in (the pull's
    transaction: a contract has just arrived, and its schema imported the library)."""
    first = max(contract.valid_from.year, today.year - YEARS_AROUND_TODAY)
    last = today.year + YEARS_AROUND_TODAY
    if contract.valid_until is not None:
        last = min(last, contract.valid_until.year)
    country, subdivision = contract.holiday_country, contract.holiday_subdivision
    for year in range(first, last + 1):
        names = calendar.holiday_names(country, subdivision, year)
        _store(db, _key(country, subdivision, year), names)


def refresh(db: sqlite3.Connection) -> int:
    """Compute again the years another version of the library computed (a sync, inside a
    write transaction). Returns how many rows were computed again."""
    rows = db.execute("SELECT country, subdivision, year, library FROM holiday_years").fetchall()
    if not rows:
        return 0
    current = _library_version()
    stale = [(c, s, y) for c, s, y, library in rows if library != current]
    for country, subdivision, year in stale:
        names = calendar.holiday_names(country, subdivision or None, year)
        _store(db, (country, subdivision, year), names)
    return len(stale)
