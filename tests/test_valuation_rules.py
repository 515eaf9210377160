"""Every pricing rule of DOMAIN.md, expressed as contract data and checked to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.errors import ValuationRefused
from shared.valuation import ValuationContext, value
from tests.builders import contract, mission

D = Decimal


@pytest.mark.parametrize("rate", ["0", "2.1", "5.5", "10", "20"])
@pytest.mark.parametrize("price", ["119.99", "100.00", "0.01", "87.33", "1234.57"])
def test_vat_included_price_comes_out_exactly_as_stated(rate, price):
    c = contract(
        prices_include_vat=True, vat_rate=rate, price_lists={"l": {"TOW": price}}, price_list="l"
    )
    v = value(mission(), c)
    assert v.total.incl == D(price)
    assert v.ordering_party.excl + v.ordering_party.vat == D(price)
    expected_excl = (D(price) / (1 + D(rate) / 100)).quantize(D("0.01"))
    assert abs(v.total.excl - expected_excl) <= D("0.01")


def test_vat_is_computed_on_the_payers_total_not_line_by_line():
    # Three lines of 0.05 excl.: line by line the VAT would be 3 x 0.01 = 0.03;
    # on the total 0.15 it is 0.03 too, but 0.10 + 0.05 shows the rule: 0.15 x 20 % = 0.03.
    c = contract(price_lists={"l": {"TOW": "0.05", "WIN": "0.05", "ACC": "0.05"}}, price_list="l")
    v = value(mission(services=[{"code": "TOW"}, {"code": "WIN"}, {"code": "ACC"}]), c)
    assert v.total.vat == D("0.03")
    c = contract(price_lists={"l": {"TOW": "0.02", "WIN": "0.02"}}, price_list="l")
    v = value(mission(services=[{"code": "TOW"}, {"code": "WIN"}]), c)
    assert v.total.vat == D("0.01")  # 0.04 x 20 % = 0.008 → 0.01; per line it would be 0.00


def test_price_by_weight_band_when_the_class_is_not_given():
    c = contract(
        vehicle_classes=[
            {"code": "VL", "max_weight_kg": 1800},
            {"code": "VLP", "max_weight_kg": 3500},
        ],
        price_lists={"l": {"TOW.VL": "100.00", "TOW.VLP": "150.00"}},
        price_list="l",
    )
    heavy = value(mission(vehicle={"weight_kg": 2600}), c)
    light = value(mission(vehicle={"weight_kg": 1800}), c)
    assert (heavy.total.excl, light.total.excl) == (D("150.00"), D("100.00"))
    assert heavy.lines[0].code == "TOW.VLP.P"
    with pytest.raises(ValuationRefused, match="4000 kg"):
        value(mission(vehicle={"weight_kg": 4000}), c)


def test_extra_km_in_tiers_beyond_the_included_km():
    c = contract(
        distance={
            "legs": ["en_route", "loaded"],
            "included_km": "20",
            "tiers": [{"up_to_km": "100", "price": "2.00"}, {"up_to_km": None, "price": "1.00"}],
        }
    )
    v = value(mission(distance_km={"en_route": "30", "loaded": "120", "return": "99"}), c)
    km = [
        (line.quantity, line.unit_price, line.amount) for line in v.lines if line.kind == "distance"
    ]
    assert km == [(D("80"), D("2.00"), D("160.00")), (D("50"), D("1.00"), D("50.00"))]
    assert v.total.excl == D("310.00")


def test_extra_km_paid_by_ordering_party_when_contract_says_so_else_by_beneficiary():
    dist = {"legs": ["loaded"], "included_km": "0", "tiers": [{"up_to_km": None, "price": "1.00"}]}
    paid = value(mission(), contract(distance=dist))
    left = value(
        mission(), contract(distance=dist, coverage=[{"code": "KM", "payer": "beneficiary"}])
    )
    assert (paid.ordering_party.excl, paid.beneficiary.excl) == (D("110.00"), D("0.00"))
    assert (left.ordering_party.excl, left.beneficiary.excl) == (D("100.00"), D("10.00"))


BANDS = [
    {
        "id": "night",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "from": "20:00",
        "to": "07:00",
        "percent": "25",
        "applies_to": ["TOW"],
    },
    {"id": "holiday", "public_holidays": True, "percent": "50", "applies_to": ["TOW"]},
]


def test_surcharges_stack_when_the_contract_says_so():
    c = contract(time_bands={"combine": "stack", "bands": BANDS})
    v = value(mission(times={"call": "2026-05-14T21:00:00+02:00"}), c)  # Ascension, at night
    assert [(line.band, line.amount) for line in v.lines if line.kind == "surcharge"] == [
        ("night", D("25.00")),
        ("holiday", D("50.00")),
    ]


def test_only_the_highest_surcharge_applies_by_default():
    c = contract(time_bands={"bands": BANDS})
    v = value(mission(times={"call": "2026-05-14T21:00:00+02:00"}), c)
    assert [(line.band, line.amount) for line in v.lines if line.kind == "surcharge"] == [
        ("holiday", D("50.00"))
    ]


def test_arrival_time_decides_the_band_when_the_contract_says_so():
    c = contract(time_bands={"decided_by": "arrival", "bands": BANDS})
    called_by_day = {"call": "2026-03-10T19:30:00+01:00", "arrival": "2026-03-10T20:15:00+01:00"}
    v = value(mission(times=called_by_day), c)
    assert v.total.excl == D("125.00")
    with pytest.raises(ValuationRefused, match="arrivée"):
        value(mission(times={"call": "2026-03-10T19:30:00+01:00"}), c)


def test_band_uses_the_contracts_time_zone_not_the_offset_sent():
    c = contract(time_bands={"bands": BANDS})
    # 19:30 UTC is 20:30 in Paris (winter): night.
    assert value(mission(times={"call": "2026-03-10T19:30:00Z"}), c).total.excl == D("125.00")


def test_alsace_moselle_has_good_friday_as_a_holiday():
    bands = [BANDS[1]]
    good_friday = {"call": "2026-04-03T10:00:00+02:00"}
    paris = contract(time_bands={"bands": bands})
    metz = contract(time_bands={"bands": bands}, holidays={"country": "FR", "subdivision": "57"})
    assert value(mission(times=good_friday), paris).total.excl == D("100.00")
    assert value(mission(times=good_friday), metz).total.excl == D("150.00")


def test_supplement_only_under_its_condition():
    c = contract(supplements=[{"code": "ACC", "when": {"accident": True}}])
    assert value(mission(facts={"accident": True}), c).total.excl == D("140.00")
    assert value(mission(facts={"accident": False}), c).total.excl == D("100.00")
    assert value(mission(), c).total.excl == D("100.00")


def test_supplement_condition_on_vehicle_class_list():
    c = contract(
        supplements=[{"code": "ACC", "when": {"vehicle_class": ["VLP", "PL"]}}],
        price_lists={"l": {"TOW": "100.00", "ACC": "40.00"}},
        price_list="l",
    )
    assert value(mission(), c).total.excl == D("100.00")
    assert value(mission(vehicle={"class": "PL"}), c).total.excl == D("140.00")


def test_excluded_service_is_the_beneficiarys():
    c = contract(coverage=[{"code": "WIN", "payer": "beneficiary"}])
    v = value(mission(services=[{"code": "TOW"}, {"code": "WIN"}]), c)
    assert (v.ordering_party.excl, v.beneficiary.excl) == (D("100.00"), D("80.00"))


def test_toll_at_cost_with_its_own_vat_rate():
    c = contract(at_cost=["TOLL"], vat_rates={"TOLL": "0"})
    v = value(mission(services=[{"code": "TOW"}, {"code": "TOLL", "amount": "12.40"}]), c)
    assert v.total.incl == D("132.40")
    assert [(r.rate, r.vat) for r in v.total.by_rate] == [
        (D("0"), D("0.00")),
        (D("20"), D("20.00")),
    ]
    with pytest.raises(ValuationRefused, match="justificatif"):
        value(mission(services=[{"code": "TOLL"}]), c)
    with pytest.raises(ValuationRefused, match="prix de convention"):
        value(mission(services=[{"code": "TOW", "amount": "1.00"}]), c)


def test_deductible_excluding_vat():
    c = contract(deductible={"amount": "30.00", "includes_vat": False})
    v = value(mission(), c)
    assert (v.ordering_party.excl, v.beneficiary.excl) == (D("70.00"), D("30.00"))


def test_deductible_larger_than_the_covered_amount_leaves_nothing_to_the_ordering_party():
    c = contract(deductible={"amount": "500.00", "includes_vat": True})
    v = value(mission(), c)
    assert (v.ordering_party.incl, v.beneficiary.incl) == (D("0.00"), D("120.00"))


def test_mission_cap_excluding_vat():
    c = contract(caps={"mission": {"amount": "90.00", "includes_vat": False}})
    v = value(mission(), c)
    assert (v.ordering_party.excl, v.ordering_party.incl) == (D("90.00"), D("108.00"))
    assert v.beneficiary.incl == D("12.00")


def test_file_cap_already_used_up_leaves_everything_to_the_beneficiary():
    c = contract(caps={"file": {"amount": "300.00", "includes_vat": True}})
    v = value(mission(), c, ValuationContext(D("300.00")))
    assert (v.ordering_party.incl, v.beneficiary.incl) == (D("0.00"), D("120.00"))
    assert v.file_cap is not None and v.file_cap.consumed_by_mission == D("0.00")


def test_public_and_contracted_price_lists_and_a_customer_discount_on_a_family():
    c = contract(
        ordering_party=None,
        price_lists={"public": {"TOW": "150.00"}, "contracted": {"TOW": "130.00"}},
        price_list="public",
        customers={
            "GARAGE": {"price_list": "contracted", "discounts": [{"code": "TOW", "percent": "10"}]},
            "FLEET": {"discounts": [{"code": "TOW.VL", "percent": "5"}]},
        },
    )
    walk_in = value(mission(ordering_party=None), c)
    garage = value(mission(ordering_party=None, customer="GARAGE"), c)
    fleet = value(mission(ordering_party=None, customer="FLEET"), c)
    assert walk_in.beneficiary.excl == D("150.00")
    assert garage.beneficiary.excl == D("117.00")  # 130.00 - 10 %
    assert fleet.beneficiary.excl == D("142.50")  # public list, 5 % on light-vehicle tows


def test_follow_up_mission_of_the_same_file_has_its_own_price():
    c = contract(price_lists={"l": {"TOW": "100.00", "TOW.VL.S": "70.00"}}, price_list="l")
    first = value(mission(file_sequence=1), c)
    again = value(mission(file_sequence=2), c)
    assert (first.total.excl, again.total.excl) == (D("100.00"), D("70.00"))
    assert (first.lines[0].code, again.lines[0].code) == ("TOW.VL.P", "TOW.VL.S")


def test_missing_price_is_named_as_a_configuration_error():
    c = contract(price_lists={"l": {"TOW.VLP": "100.00"}}, price_list="l")
    with pytest.raises(ValuationRefused, match=r"TOW\.VL\.P.*paramétrage"):
        value(mission(), c)


def test_mission_of_another_ordering_party_is_refused():
    with pytest.raises(ValuationRefused, match="OTHER"):
        value(mission(ordering_party="OTHER"), contract())


def test_contract_version_not_valid_at_the_mission_date_is_refused():
    c = contract(valid_from="2026-04-01")
    with pytest.raises(ValuationRefused, match="pas valable le 10/03/2026") as info:
        value(mission(), c)
    assert "not valid on 2026-03-10" in info.value.message("en")


def test_validity_is_judged_on_the_local_date_of_the_call():
    c = contract(valid_until="2026-03-10")
    # 23:30 UTC on the 10th is already the 11th in Paris.
    with pytest.raises(ValuationRefused):
        value(mission(times={"call": "2026-03-10T23:30:00Z"}), c)
    assert value(mission(times={"call": "2026-03-10T22:30:00Z"}), c).total.excl == D("100.00")


def test_every_step_is_explained_in_french_and_english():
    from shared.explain import RULES, explain

    c = contract(
        distance={
            "legs": ["loaded"],
            "included_km": "0",
            "tiers": [{"up_to_km": None, "price": "1.00"}],
        },
        time_bands={"bands": BANDS},
        supplements=[{"code": "ACC", "when": {"accident": True}}],
        coverage=[{"code": "WIN", "payer": "beneficiary"}],
        deductible={"amount": "10.00", "includes_vat": True},
        caps={"mission": {"amount": "150.00", "includes_vat": True}},
    )
    v = value(
        mission(
            facts={"accident": True},
            services=[{"code": "TOW"}, {"code": "WIN"}],
            times={"call": "2026-03-10T22:00:00+01:00"},
        ),
        c,
    )
    rules = {s.rule for s in v.explanation}
    assert (
        {
            "contract",
            "distance",
            "supplement",
            "surcharge",
            "coverage",
            "deductible",
            "mission_cap",
            "time_band",
        }
        <= rules
        <= RULES
    )
    fr, en = explain(v, "fr"), explain(v, "en")
    assert len(fr) == len(en) == len(v.explanation)
    assert any("Franchise 10,00\u00a0€ TTC" in s for s in fr)
    assert any("Deductible €10.00 incl. VAT" in s for s in en)


def test_a_mission_is_valued_with_the_version_valid_on_its_date():
    from shared.contract import version_on

    v1 = contract(version=1, valid_from="2026-01-01", valid_until="2026-06-30")
    v2 = contract(
        version=2, valid_from="2026-07-01", price_lists={"l": {"TOW": "110.00"}}, price_list="l"
    )
    v3 = contract(
        version=3, valid_from="2026-07-01", price_lists={"l": {"TOW": "115.00"}}, price_list="l"
    )
    versions = [v3, v1, v2]
    from datetime import date

    assert version_on(versions, "TEST", date(2026, 3, 10)).version == 1
    assert version_on(versions, "TEST", date(2026, 7, 1)).version == 3  # the newer one wins
    old = mission(times={"call": "2026-03-10T10:00:00+01:00"})
    assert value(old, version_on(versions, "TEST", date(2026, 3, 10))).total.excl == D("100.00")
    with pytest.raises(ValuationRefused, match="2025"):
        version_on(versions, "TEST", date(2025, 12, 31))
