"""Contract documents: the examples validate; bad documents are refused with every
problem named by its path, and nothing is half-loaded."""

from __future__ import annotations

import pytest

from shared.contract import Payer
from shared.contract_schema import load_contract
from shared.errors import InvalidDocument
from tests.builders import contract_doc
from tests.conftest import EXAMPLES, example


@pytest.mark.parametrize("name", sorted(p.stem for p in (EXAMPLES / "contracts").glob("*.json")))
def test_every_shipped_example_contract_validates(name):
    c = load_contract(example("contracts", name))
    assert c.id == name.upper()
    assert len(c.source_digest) == 64


def paths(doc):
    with pytest.raises(InvalidDocument) as info:
        load_contract(doc)
    return {p.path: p for p in info.value.problems}


def test_unknown_field_is_refused_with_its_path():
    found = paths(contract_doc(colour="red", caps={"mission": None, "per_day": None}))
    assert set(found) == {"colour", "caps.per_day"}
    assert found["colour"].text.fr == "champ inconnu"
    assert found["colour"].text.en == "unknown field"


def test_float_amounts_are_refused_everywhere():
    found = paths(contract_doc(vat_rate=20.0, price_lists={"l": {"TOW": 100.5}}, price_list="l"))
    assert set(found) == {"vat_rate", "price_lists.l.TOW"}
    assert "guillemets" in found["vat_rate"].text.fr


@pytest.mark.parametrize("rate", ["1E+999999", "1e12", "0.0000000000000000000000001"])
def test_numbers_out_of_range_are_refused_not_valued(rate):
    # Once a bug: "1E+999999" validated, then valuation died of decimal.Overflow.
    found = paths(contract_doc(vat_rate=rate))
    assert set(found) == {"vat_rate"}
    assert found["vat_rate"].text.fr.startswith("nombre hors limites")
    assert load_contract(contract_doc(vat_rate="999999999999.5")).id  # just below the bound


def test_amounts_with_more_than_two_decimals_are_refused():
    assert set(paths(contract_doc(price_lists={"l": {"TOW": "1.005"}}, price_list="l"))) == {
        "price_lists.l.TOW"
    }


def test_codes_must_exist_in_the_catalogue():
    found = paths(
        contract_doc(
            price_lists={"l": {"TOW.XX": "1.00"}},
            price_list="l",
            coverage=[{"code": "FOO", "payer": "beneficiary"}],
        )
    )
    assert set(found) == {"price_lists.l.TOW.XX", "coverage.0.code"}


def test_a_private_contract_cannot_make_an_ordering_party_pay():
    found = paths(
        contract_doc(
            ordering_party=None,
            coverage=[{"code": "TOW", "payer": "ordering_party"}],
            caps={"mission": {"amount": "100.00", "includes_vat": True}},
        )
    )
    assert set(found) == {"coverage.0.payer", "caps"}


def test_distance_tiers_must_ascend_and_end_unlimited():
    doc = contract_doc(
        distance={
            "legs": ["loaded"],
            "included_km": "50",
            "tiers": [{"up_to_km": "40", "price": "1.00"}],
        }
    )
    assert set(paths(doc)) == {"distance.tiers"}


def test_validity_window_time_zone_and_holiday_calendar_are_checked():
    found = paths(
        contract_doc(
            valid_until="2025-01-01",
            timezone="Mars/Olympus",
            holidays={"country": "FR", "subdivision": "XX"},
        )
    )
    assert set(found) == {"valid_until", "timezone", "holidays"}


def test_coverage_rules_keep_their_order():
    c = load_contract(
        contract_doc(
            coverage=[
                {"code": "WIN", "payer": "ordering_party", "when": {"accident": True}},
                {"code": "WIN", "payer": "beneficiary"},
            ]
        )
    )
    assert [r.payer for r in c.coverage] == [Payer.ORDERING_PARTY, Payer.BENEFICIARY]


def test_not_a_json_object_is_refused():
    with pytest.raises(InvalidDocument):
        load_contract(["not", "an", "object"])


def test_catalogue_can_be_replaced_and_codes_are_generated_from_its_segments():
    catalogue = {
        "segments": [
            {"name": "family", "values": {"TOW": {"fr": "Remorquage", "en": "Tow"}}},
            {"name": "class", "values": {"A": {"fr": "A", "en": "A"}, "B": {"fr": "B", "en": "B"}}},
            {
                "name": "variant",
                "values": {"P": {"fr": "1re", "en": "1st"}, "S": {"fr": "suite", "en": "next"}},
            },
        ]
    }
    c = load_contract(
        contract_doc(catalogue=catalogue, price_lists={"l": {"TOW": "1.00"}}, price_list="l")
    )
    assert [code for code, _ in c.catalogue.generate()] == [
        "TOW.A.P",
        "TOW.A.S",
        "TOW.B.P",
        "TOW.B.S",
    ]
    assert c.catalogue.label("TOW.B.S").en == "Tow — B — next"


def test_json_nested_too_deeply_is_a_problem_not_a_crash():
    from shared.i18n import Text
    from shared.schema_tools import parse_json

    with pytest.raises(InvalidDocument) as info:
        parse_json("[" * 100_000 + "]" * 100_000, Text("Convention", "Contract"))
    assert info.value.problems[0].text.en == "JSON nested too deeply"
