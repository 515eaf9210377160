"""Class against weight: a class that contradicts the weight is never silent, and under a
regulated tariff the weight decides, refusing a vehicle outside every class in words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.contract_schema import load_contract
from shared.errors import InvalidDocument, ValuationRefused
from shared.explain import explain
from shared.mission import Vehicle
from shared.valuation import value
from shared.vehicle_class import conflict
from tests.builders import contract, contract_doc, mission

D = Decimal
BANDS = [{"code": "VL", "max_weight_kg": 1800}, {"code": "VLP", "max_weight_kg": 3500}]
PRICES = {"l": {"TOW.VL": "100.00", "TOW.VLP": "150.00", "TOW.VU": "130.00"}}


def tariff(*, regulated: bool):
    return contract(
        vehicle_classes=BANDS, price_lists=PRICES, price_list="l", weight_decides=regulated
    )


def test_a_2_2_t_car_under_a_regulated_tariff_is_priced_by_its_weight_and_says_so():
    """The issue's report: priced as a car under 1.8 t, with no word."""
    v = value(mission(vehicle={"class": "VL", "weight_kg": 2200}), tariff(regulated=True))
    assert v.lines[0].code == "TOW.VLP.P"
    assert v.total.excl == D("150.00")
    assert explain(v, "fr")[1] == (
        "Tarif réglementé : le poids décide. Véhicule de 2200 kg : classe VLP"
        " (classe indiquée : VL)."
    )


def test_without_a_regulated_tariff_the_class_given_is_applied_and_the_conflict_said():
    v = value(mission(vehicle={"class": "VL", "weight_kg": 2200}), tariff(regulated=False))
    assert v.lines[0].code == "TOW.VL.P"
    [step] = [s for s in v.explanation if s.rule == "vehicle_class_weight_conflict"]
    assert step.params == {"class": "VL", "weight_kg": 2200, "by_weight": "VLP"}
    assert (
        "ATTENTION : classe VL indiquée, mais un véhicule de 2200 kg relève de la classe VLP"
        in (" ".join(explain(v, "fr")))
    )


def test_the_conflict_leaves_the_digest_alone_it_is_wording():
    with_weight = value(
        mission(vehicle={"class": "VL", "weight_kg": 2200}), tariff(regulated=False)
    )
    without = value(mission(vehicle={"class": "VL"}), tariff(regulated=False))
    assert with_weight.digest == without.digest


def test_a_vehicle_outside_every_class_of_a_regulated_tariff_is_refused_with_its_weight():
    with pytest.raises(ValuationRefused) as refused:
        value(mission(vehicle={"class": "VLP", "weight_kg": 3800}), tariff(regulated=True))
    assert refused.value.message("fr") == (
        "Véhicule de 3800 kg : le tarif réglementé de la convention TEST v1 ne couvre que les"
        " véhicules de 3500 kg au plus. Ce véhicule ne peut pas être valorisé avec ce tarif :"
        " appelez le bureau."
    )
    assert "configuration" not in refused.value.message("en")
    assert "3800 kg" in refused.value.message("en") and "3500 kg" in refused.value.message("en")


def test_a_weight_alone_outside_every_class_names_the_limit():
    with pytest.raises(ValuationRefused, match="jusqu'à 3500 kg"):
        value(mission(vehicle={"weight_kg": 4000}), tariff(regulated=False))


@pytest.mark.parametrize(
    ("vehicle", "found"),
    [
        (Vehicle(None, "VL", 1500), None),  # agrees
        (Vehicle(None, "VL", 1800), None),  # the band's limit is in the band
        (Vehicle(None, "VLP", 1500), "VL"),  # declared heavier than weighed
        (Vehicle(None, "VL", 1801), "VLP"),
        (Vehicle(None, "VU", 2500), None),  # a van is not a weight band: nothing to compare
        (Vehicle(None, "VL", None), None),
        (Vehicle(None, None, 2500), None),
        (Vehicle(None, "VLP", 9000), "heavier"),
    ],
)
def test_which_class_contradicts_which_weight(vehicle, found):
    result = conflict(vehicle, tariff(regulated=False))
    if found is None:
        assert result is None
    else:
        assert result is not None and (result.by_weight or "heavier") == found


def test_a_regulated_tariff_needs_weight_bands():
    with pytest.raises(InvalidDocument) as refused:
        load_contract(contract_doc(weight_decides=True))
    assert [p.path for p in refused.value.problems] == ["weight_decides"]
