"""Words, not codes, in the tablet's texts (issue 14): the valuation's explanation names
the distance's legs and writes its days in words in both languages, and the roadside
receipt names the zone of the time it was written, without changing what was signed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.explain import explain_step
from shared.mission import LEG_WORDS, LEGS
from shared.receipt import as_text, build, receipt_block
from shared.valuation import Step


def test_every_leg_has_words_in_both_languages_and_none_is_its_code():
    assert set(LEG_WORDS) == set(LEGS)
    for leg, words in LEG_WORDS.items():
        assert words.fr and words.en and leg not in (words.fr, words.en)


def test_the_distance_names_its_legs_in_words():
    step = Step(
        "distance",
        {
            "legs": ["en_route", "loaded", "return"],
            "counted_km": "82.5",
            "included_km": "20",
            "extra_km": "62.5",
        },
    )
    assert explain_step(step, "fr") == (
        "Distance comptée (aller, en charge, retour) : 82,5 km, dont 20 inclus ; 62,5 km en sus."
    )
    assert explain_step(step, "en") == (
        "Counted distance (to the scene, loaded with the vehicle, return trip): 82.5 km,"
        " 20 included; 62.5 extra km."
    )


def test_the_deciding_time_and_the_contracts_day_are_words_not_iso():
    band = Step(
        "time_band",
        {
            "weekday": 1,
            "local_time": "2026-03-10 10:00",
            "bands": ["NIGHT"],
            "instant": "call",
            "combine": "highest",
        },
    )
    assert explain_step(band, "fr") == (
        "Heure décisive (appel) : mardi 10/03/2026 10:00 → tranches : NIGHT (la plus forte seule)."
    )
    assert explain_step(band, "en") == (
        "Deciding time (call): Tuesday 10 Mar 2026 10:00 → bands: NIGHT (highest only)."
    )
    contract = Step("contract", {"id": "ASSIST-A", "version": 2, "date": "2026-12-01"})
    assert explain_step(contract, "en") == "Contract ASSIST-A version 2, valid on 1 Dec 2026."
    assert explain_step(contract, "fr") == "Convention ASSIST-A version 2, valable le 01/12/2026."


def test_the_receipt_names_the_zone_of_its_time_and_signs_nothing_new():
    block = receipt_block(7, Decimal("0"), None)
    made = build(
        device_id="dev_x",
        at=datetime(2026, 3, 10, 23, 30, tzinfo=UTC),
        collection={"mission_id": "M", "method": "cash", "amount": "30.00", "receipt": block},
        valuation={"total": {"incl_vat": "30.00"}, "payers": {"beneficiary": {"incl_vat": "30"}}},
        mission={"times": {"call": "2026-03-10T22:00:00+00:00"}},
        seller=None,
        timezone="Pacific/Noumea",
    )
    # Nouméa is UTC+11: the 10 March 23:30 UTC collection is written on 11 March, 10:30.
    assert "Établi le  11/03/2026 10:30, heure de Noumea (Pacific/Noumea)\n" in as_text(made, "fr")
    english = as_text(made, "en")
    assert "Written on  11 Mar 2026 10:30, Noumea time (Pacific/Noumea)\n" in english
    assert "Date of service  11 Mar 2026\n" in english
    # The signed block and the numbering are as before: the words are only rendered.
    assert block == {"number": 7, "settled_before": "0"}
    assert made.ident == "dev_x-000007"
    assert made.to_json()["written_at"] == "2026-03-11T10:30:00+11:00"
