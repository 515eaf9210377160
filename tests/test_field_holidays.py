"""The tablet keeps each year's public holidays (fieldclient/holiday_table.py): a mission
valued from the kept names is valued exactly as the `holidays` library values it, the
years come with the contract's pull, a year never kept is computed and kept on first use,
and a sync computes again what another version of the library computed."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fieldclient import holiday_table, store
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from shared import calendar
from shared.contract_schema import load_contract
from shared.valuation import ValuationContext, value
from tests.conftest import EXAMPLES
from tests.field_support import Clock, offline_tablet

HOLIDAY_MISSIONS = ("a-bastille-day.json", "a-easter-monday.json")


def kept(tablet, country="FR", subdivision=""):
    return {
        (year, library): json.loads(names)
        for year, library, names in tablet.db.execute(
            "SELECT year, library, names FROM holiday_years WHERE country = ? AND subdivision = ?",
            [country, subdivision],
        )
    }


def test_the_pull_of_a_contract_keeps_the_years_around_today(tmp_path):
    tablet = offline_tablet(tmp_path / "t", Clock())
    today = tablet.today()
    years = {year for year, _ in kept(tablet)}
    # The years around today that the contracts are valid in (the examples start in 2026).
    assert years == set(range(max(2026, today.year - 1), today.year + 2))
    names = next(n for (y, _), n in kept(tablet).items() if y == 2026)
    library = calendar.holiday_names("FR", None, 2026)
    assert names == {d.isoformat(): [t.fr, t.en] for d, t in library.items()}
    assert names["2026-07-14"][0] == library[date(2026, 7, 14)].fr


@pytest.mark.parametrize("name", HOLIDAY_MISSIONS)
def test_a_holiday_mission_is_valued_from_the_table_as_the_library_values_it(
    tmp_path, monkeypatch, name
):
    document = json.loads((EXAMPLES / "missions" / name).read_text("utf-8"))
    tablet = offline_tablet(tmp_path / "t", Clock())
    mission = tablet.mission(document["id"])[0]
    terms = tablet.contract_for(mission)
    stored = tablet.db.execute(
        "SELECT document FROM contracts WHERE id = ? AND version = ?", [terms.id, terms.version]
    ).fetchone()[0]
    expected = value(mission, load_contract(json.loads(stored)))  # the library's names
    tablet.close()
    holiday = calendar.holiday_names("FR", None, 2026)[mission.times["call"].date()]

    # Another process: a year the tablet keeps is never asked of the library again.
    def asked(*args):
        raise AssertionError(f"the library was asked for {args}")

    monkeypatch.setattr(calendar, "holiday_names", asked)
    tablet = Tablet(Home(tmp_path / "t"), clock=Clock())
    found = value(mission, tablet.contract_for(mission), ValuationContext())
    assert found.digest == expected.digest
    explained = [s.to_wire() for s in found.explanation]
    assert explained == [s.to_wire() for s in expected.explanation]
    assert holiday.fr in json.dumps(explained, ensure_ascii=False)


def test_a_year_not_kept_is_computed_once_then_read(tmp_path, monkeypatch):
    tablet = offline_tablet(tmp_path / "t", Clock(), signed_in=None)
    table = holiday_table.HolidayTable(tablet.db)
    assert 2031 not in {year for year, _ in kept(tablet)}
    names = table("FR", None, 2031)
    assert names == calendar.holiday_names("FR", None, 2031)
    assert 2031 in {year for year, _ in kept(tablet)}
    monkeypatch.setattr(calendar, "holiday_names", lambda *a: pytest.fail(f"asked {a}"))
    assert holiday_table.HolidayTable(tablet.db)("FR", None, 2031) == names


def test_a_sync_computes_again_what_another_library_version_computed(tmp_path):
    tablet = offline_tablet(tmp_path / "t", Clock(), signed_in=None)
    with store.write(tablet.db):  # as an older program left it: a wrong name, its version
        tablet.db.execute(
            "UPDATE holiday_years SET names = '{}', library = '0.1' WHERE year = 2026"
        )
        assert holiday_table.refresh(tablet.db) == 1
    names = {y: n for (y, library), n in kept(tablet).items() if library != "0.1"}
    assert names[2026]["2026-07-14"] == [
        calendar.holiday_names("FR", None, 2026)[date(2026, 7, 14)].fr,
        calendar.holiday_names("FR", None, 2026)[date(2026, 7, 14)].en,
    ]
    with store.write(tablet.db):
        assert holiday_table.refresh(tablet.db) == 0  # nothing stale any more
