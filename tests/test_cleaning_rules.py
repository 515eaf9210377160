"""Cleaning rules: an ordering party's recurring mistakes are corrected before valuation,
each correction logged with the rule and the rule set's version that made it (seed 000,
"Erreur du donneur d'ordre / Solution 2"). Malformed rule sets are refused with every
problem named by its path; what must hold whatever the rules are is checked with
Hypothesis."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.canonical import digest
from shared.cleaning import Correction, clean, replay
from shared.cleaning_paths import ABSENT, MISSION_FIELDS, delete, put, same, split
from shared.cleaning_proposal import propose_rule
from shared.cleaning_schema import (
    ACTIONS as ACTION_NAMES,
)
from shared.cleaning_schema import (
    COMBINATORS,
    OPERATORS,
    load_ruleset,
    nested_quantifier,
    ruleset_digest,
)
from shared.contract_schema import load_contract
from shared.errors import InvalidDocument, Refused
from shared.mission import load_mission
from shared.valuation import value
from tests.conftest import example

# An order from Assistance A as it arrives: the mission document, plus what the ordering
# party adds (beneficiary, coverage, what the file already consumed of its cap).
BASE_ORDER: dict[str, Any] = {
    "id": "M-A-0101",
    "file_number": "A-2026-0101",
    "file_sequence": 1,
    "ordering_party": "ASSIST-A",
    "customer": None,
    "vehicle": {"plate": "GH-482-KL", "class": "VL"},
    "times": {"call": "2026-03-10T10:00:00+01:00"},
    "distance_km": {"en_route": "12", "loaded": "80"},
    "facts": {"accident": False},
    "services": [{"code": "TOW"}],
    "beneficiary": {"name": "Claire Martin", "phone": "+33 6 12 34 56 78"},
    "coverage": {"km_covered": "50", "deductible": "50.00"},
    "file_consumed": "0.00",
}


def order(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE_ORDER)
    doc.update(copy.deepcopy(changes))
    return doc


def vehicle(**fields: Any) -> dict[str, Any]:
    return {key: v for key, v in fields.items() if v is not None}


def rule(rule_id: str, when: Any, *then: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": rule_id,
        "description": {"fr": f"règle {rule_id}", "en": f"rule {rule_id}"},
        "then": list(then),
    }
    if when is not None:
        doc["when"] = when
    return doc


def ruleset_doc(*rules: dict[str, Any], version: int = 1, party: str = "ASSIST-A") -> dict:
    return {"party": party, "version": version, "rules": list(rules)}


def rules(*rules_: dict[str, Any], version: int = 1, party: str = "ASSIST-A"):
    return load_ruleset(ruleset_doc(*rules_, version=version, party=party))


def mission_of(cleaned_order: dict[str, Any]):
    """The mission part of an order, as the valuation reads it."""
    return load_mission({k: v for k, v in cleaned_order.items() if k in MISSION_FIELDS})


# The seed's recurring mistakes -----------------------------------------------------

MILES = rule(
    "km-miles",
    {"path": "file_number", "matches": "^UK-"},
    {"multiply": {"path": "distance_km.*", "factor": "1.609344"}},
)


def test_mileage_sent_in_miles_is_converted_to_km_on_every_leg_before_valuation():
    received = order(file_number="UK-2026-0007", distance_km={"en_route": "12", "loaded": "80"})
    cleaned = clean(received, rules(MILES, version=3))
    assert cleaned.order["distance_km"] == {"en_route": "19", "loaded": "129"}
    valuation = value(mission_of(cleaned.order), load_contract(example("contracts", "assist-a")))
    km = [line for line in valuation.lines if line.kind == "distance"]
    assert [(line.quantity, line.amount) for line in km] == [(Decimal(79), Decimal("118.50"))]


def test_miles_keep_the_scale_they_were_sent_with_and_other_parties_files_are_untouched():
    ruleset = rules(MILES)
    assert clean(order(file_number="UK-1", distance_km={"loaded": "125.0"}), ruleset).order[
        "distance_km"
    ] == {"loaded": "201.2"}
    assert clean(order(file_number="UK-1", distance_km={"loaded": 125}), ruleset).order[
        "distance_km"
    ] == {"loaded": 201}
    untouched = clean(order(), ruleset)
    assert untouched.order == BASE_ORDER
    assert untouched.corrections == ()


def test_a_service_code_the_party_spells_its_own_way_is_mapped_wherever_it_appears():
    ruleset = rules(
        rule(
            "codes",
            None,
            {"map": {"path": "services.*.code", "table": {"REMORQ": "TOW", "DSP": "REP"}}},
        )
    )
    cleaned = clean(order(services=[{"code": "REMORQ"}, {"code": "DSP"}, {"code": "WIN"}]), ruleset)
    assert cleaned.order["services"] == [{"code": "TOW"}, {"code": "REP"}, {"code": "WIN"}]
    assert [(c.path, c.before, c.after) for c in cleaned.corrections] == [
        ("services.0.code", "REMORQ", "TOW"),
        ("services.1.code", "DSP", "REP"),
    ]
    assert mission_of(cleaned.order).services[0].code == "TOW"


WEIGHT_BANDS = [
    rule(
        "class-from-weight-vl",
        {
            "all": [
                {"path": "vehicle.class", "missing": True},
                {"path": "vehicle.weight_kg", "less_than": "1801"},
            ]
        },
        {"set": {"path": "vehicle.class", "to": "VL"}},
    ),
    rule(
        "class-from-weight-vlp",
        {
            "all": [
                {"path": "vehicle.class", "missing": True},
                {"path": "vehicle.weight_kg", "less_than": "3501"},
            ]
        },
        {"set": {"path": "vehicle.class", "to": "VLP"}},
    ),
    rule(
        "class-from-weight-pl",
        {
            "all": [
                {"path": "vehicle.class", "missing": True},
                {"path": "vehicle.weight_kg", "greater_than": "3500"},
            ]
        },
        {"set": {"path": "vehicle.class", "to": "PL"}},
    ),
]


@pytest.mark.parametrize(
    ("sent", "expected", "rule_id"),
    [
        (vehicle(plate="GH-482-KL", weight_kg=1500), "VL", "class-from-weight-vl"),
        (vehicle(plate="GH-482-KL", weight_kg=1500, **{"class": ""}), "VL", "class-from-weight-vl"),
        (
            vehicle(plate="GH-482-KL", weight_kg=2600, **{"class": None}),
            "VLP",
            "class-from-weight-vlp",
        ),
        (vehicle(plate="GH-482-KL", weight_kg=19000), "PL", "class-from-weight-pl"),
    ],
)
def test_a_missing_vehicle_class_is_deduced_from_the_weight_once(sent, expected, rule_id):
    cleaned = clean(order(vehicle=sent), rules(*WEIGHT_BANDS))
    assert cleaned.order["vehicle"]["class"] == expected
    # The later bands see the class the first band set, and leave it alone.
    assert [c.rule for c in cleaned.corrections] == [rule_id]


def test_a_class_the_party_did_send_is_kept():
    cleaned = clean(
        order(vehicle={"plate": "GH-482-KL", "class": "VU", "weight_kg": 2600}),
        rules(*WEIGHT_BANDS),
    )
    assert cleaned.corrections == ()


def test_a_missing_vehicle_class_is_deduced_from_the_plate_prefix_of_a_motorbike_platform():
    ruleset = rules(
        rule(
            "moto-platform",
            {"path": "vehicle.plate", "matches": "^MC +"},
            {"set": {"path": "vehicle.class", "to": "MOTO"}},
            {"replace": {"path": "vehicle.plate", "pattern": "^MC +", "with": ""}},
        ),
        party="ASSIST-B",
    )
    cleaned = clean(order(ordering_party="ASSIST-B", vehicle={"plate": "MC  EF-123-GH"}), ruleset)
    assert cleaned.order["vehicle"] == {"plate": "EF-123-GH", "class": "MOTO"}
    assert [(c.path, c.before, c.after) for c in cleaned.corrections] == [
        ("vehicle.class", ABSENT, "MOTO"),
        ("vehicle.plate", "MC  EF-123-GH", "EF-123-GH"),
    ]


def test_a_deductible_sent_as_a_percentage_is_kept_aside_and_replaced_by_the_fixed_amount():
    ruleset = rules(
        rule(
            "deductible-percent",
            {"path": "coverage.deductible", "matches": r"^\d+([.,]\d+)? ?%$"},
            {"copy": {"from": "coverage.deductible", "to": "coverage.deductible_as_sent"}},
            {"set": {"path": "coverage.deductible", "to": "50.00"}},
        ),
        version=2,
    )
    cleaned = clean(order(coverage={"km_covered": "50", "deductible": "10 %"}), ruleset)
    assert cleaned.order["coverage"] == {
        "km_covered": "50",
        "deductible": "50.00",
        "deductible_as_sent": "10 %",
    }
    assert [c.to_wire() for c in cleaned.corrections] == [
        {
            "rule": "deductible-percent",
            "version": 2,
            "path": "coverage.deductible_as_sent",
            "after": "10 %",
        },
        {
            "rule": "deductible-percent",
            "version": 2,
            "path": "coverage.deductible",
            "before": "10 %",
            "after": "50.00",
        },
    ]
    assert clean(order(), ruleset).corrections == ()  # an amount is left alone


def test_a_deductible_sent_as_a_fraction_is_turned_into_a_percentage():
    ruleset = rules(
        rule(
            "deductible-fraction",
            {"path": "coverage.deductible_percent", "less_than": "1"},
            {"multiply": {"path": "coverage.deductible_percent", "factor": "100", "places": 0}},
        )
    )
    cleaned = clean(order(coverage={"deductible_percent": "0.1"}), ruleset)
    assert cleaned.order["coverage"] == {"deductible_percent": "10"}
    assert clean(cleaned.order, ruleset).corrections == ()  # 10 is not below 1: once only


def test_km_sent_as_zero_are_removed_so_the_drivers_reading_counts():
    ruleset = rules(
        rule(
            "km-zero",
            {"path": "distance_km.loaded", "in": ["0", 0, "0.0"]},
            {"remove": {"path": "distance_km.loaded"}},
        )
    )
    cleaned = clean(order(distance_km={"en_route": "12", "loaded": 0}), ruleset)
    assert cleaned.order["distance_km"] == {"en_route": "12"}
    assert cleaned.corrections == (Correction("km-zero", 1, "distance_km.loaded", 0, ABSENT),)
    assert clean(order(distance_km={"loaded": "00"}), ruleset).corrections == ()  # exact match


def test_missing_coverage_gets_the_partys_standard_coverage():
    ruleset = rules(
        rule(
            "standard-coverage",
            {"path": "coverage", "missing": True},
            {"set": {"path": "coverage", "to": {"km_covered": "50", "deductible": "0.00"}}},
        )
    )
    received = order()
    del received["coverage"]
    assert clean(received, ruleset).order["coverage"] == {"km_covered": "50", "deductible": "0.00"}
    assert clean(order(coverage={}), ruleset).order["coverage"]["km_covered"] == "50"
    assert clean(order(), ruleset).corrections == ()


def test_a_forgotten_service_is_added_once_and_a_service_never_covered_is_removed():
    ruleset = rules(
        rule(
            "winching-on-accident",
            {
                "all": [
                    {"path": "facts.accident", "equals": True},
                    {"path": "facts.winching", "equals": True},
                ]
            },
            {"add_service": {"code": "WIN", "quantity": "1"}},
        ),
        rule(
            "no-diagnosis",
            {"path": "services.*.code", "equals": "DIAG"},
            {"remove_service": {"code": "DIAG"}},
        ),
    )
    received = order(
        facts={"accident": True, "winching": True},
        services=[{"code": "DIAG"}, {"code": "TOW"}, {"code": "DIAG", "quantity": "2"}],
    )
    cleaned = clean(received, ruleset)
    assert cleaned.order["services"] == [{"code": "TOW"}, {"code": "WIN", "quantity": "1"}]
    # Indices are those of the list as it stood: the last removal first, so the log reads
    # against the order as sent.
    assert [(c.rule, c.path, c.before, c.after) for c in cleaned.corrections] == [
        ("winching-on-accident", "services.3", ABSENT, {"code": "WIN", "quantity": "1"}),
        ("no-diagnosis", "services.2", {"code": "DIAG", "quantity": "2"}, ABSENT),
        ("no-diagnosis", "services.0", {"code": "DIAG"}, ABSENT),
    ]
    assert clean(cleaned.order, ruleset).corrections == ()  # WIN is not added twice


# The log ---------------------------------------------------------------------------


def test_every_correction_names_its_rule_the_rule_sets_version_and_digest():
    doc = ruleset_doc(MILES, version=7)
    cleaned = clean(order(file_number="UK-9", distance_km={"loaded": "10"}), load_ruleset(doc))
    assert cleaned.to_wire() == {
        "party": "ASSIST-A",
        "version": 7,
        "digest": digest(doc),
        "corrections": [
            {
                "rule": "km-miles",
                "version": 7,
                "path": "distance_km.loaded",
                "before": "10",
                "after": "16",
            }
        ],
    }


def test_a_rule_sees_what_earlier_rules_corrected_and_not_what_later_ones_will():
    ruleset = rules(
        rule(
            "a", {"path": "customer", "equals": "B"}, {"set": {"path": "facts.seen_b", "to": True}}
        ),
        rule("b", None, {"set": {"path": "customer", "to": "B"}}),
        rule(
            "c", {"path": "customer", "equals": "B"}, {"set": {"path": "facts.after_b", "to": True}}
        ),
    )
    cleaned = clean(order(customer="A"), ruleset)
    assert cleaned.order["facts"] == {"accident": False, "after_b": True}
    assert [c.rule for c in cleaned.corrections] == ["b", "c"]


def test_a_rules_condition_is_read_once_before_its_corrections():
    ruleset = rules(
        rule(
            "swap",
            {"path": "vehicle.class", "equals": "VL"},
            {"set": {"path": "vehicle.class", "to": "VLP"}},
            {"set": {"path": "facts.reclassed", "to": True}},
        )
    )
    cleaned = clean(order(), ruleset)
    assert cleaned.order["vehicle"]["class"] == "VLP"
    assert cleaned.order["facts"]["reclassed"] is True


def test_a_correction_that_changes_nothing_logs_nothing():
    ruleset = rules(
        rule("same", None, {"set": {"path": "vehicle.class", "to": "VL"}}),
        rule("no-match", None, {"map": {"path": "services.*.code", "table": {"REMORQ": "TOW"}}}),
        rule("nothing-to-remove", None, {"remove": {"path": "places"}}),
        rule("nothing-to-copy", None, {"copy": {"from": "places.from", "to": "places.to"}}),
        rule("not-a-number", None, {"multiply": {"path": "vehicle.plate", "factor": "2"}}),
    )
    cleaned = clean(order(), ruleset)
    assert cleaned.corrections == ()
    assert cleaned.order == BASE_ORDER


def test_the_log_replays_onto_the_order_as_received_and_refuses_another_order():
    received = order(file_number="UK-3", services=[{"code": "REMORQ"}])
    ruleset = rules(
        MILES,
        rule("codes", None, {"map": {"path": "services.*.code", "table": {"REMORQ": "TOW"}}}),
    )
    cleaned = clean(received, ruleset)
    stored = [c.to_wire() for c in cleaned.corrections]
    assert replay(received, [Correction.from_wire(w) for w in stored]) == cleaned.order
    with pytest.raises(Refused) as info:
        replay(order(file_number="UK-3"), cleaned.corrections)
    assert "services.0.code" in info.value.message("en")


def test_the_order_as_received_is_never_modified():
    received = order(file_number="UK-3", vehicle={"plate": "MC AB"})
    kept = copy.deepcopy(received)
    ruleset = rules(MILES, rule("x", None, {"set": {"path": "vehicle.class", "to": "MOTO"}}))
    cleaned = clean(received, ruleset)
    cleaned.order["vehicle"]["plate"] = "changed"
    assert received == kept
    assert clean(received, ruleset).order["vehicle"] == {"plate": "MC AB", "class": "MOTO"}


# Conditions, one operator at a time ------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"path": "distance_km.loaded", "equals": "80"}, True),
        ({"path": "distance_km.loaded", "equals": 80}, False),  # text is not a number
        ({"path": "facts.accident", "equals": False}, True),
        ({"path": "facts.accident", "equals": 0}, False),  # false is not 0
        ({"path": "customer", "equals": None}, True),
        ({"path": "vehicle", "equals": {"class": "VL", "plate": "GH-482-KL"}}, True),
        ({"path": "places", "not_equals": "x"}, True),  # not there: not equal
        ({"path": "vehicle.class", "in": ["VL", "VLP"]}, True),
        ({"path": "vehicle.class", "in": ["PL"]}, False),
        ({"path": "customer", "missing": True}, True),  # null
        ({"path": "places", "missing": True}, True),  # not there
        ({"path": "vehicle.weight_kg", "present": False}, True),
        ({"path": "services", "present": True}, True),
        ({"path": "vehicle.plate", "matches": "^[A-Z]{2}-\\d{3}-[A-Z]{2}$"}, True),
        ({"path": "vehicle.plate", "matches": "482"}, True),  # searched, not anchored
        ({"path": "distance_km.loaded", "greater_than": "79.99"}, True),
        ({"path": "distance_km.loaded", "less_than": 80}, False),
        ({"path": "vehicle.plate", "less_than": "100"}, False),  # not a number
        ({"path": "distance_km.*", "less_than": "20"}, True),  # some leg is below 20
        ({"path": "services.*.code", "equals": "WIN"}, False),
        (
            {
                "all": [
                    {"path": "vehicle.class", "equals": "VL"},
                    {"path": "customer", "present": True},
                ]
            },
            False,
        ),
        (
            {
                "any": [
                    {"path": "vehicle.class", "equals": "PL"},
                    {"path": "customer", "missing": True},
                ]
            },
            True,
        ),
        ({"not": {"path": "vehicle.class", "equals": "VL"}}, False),
    ],
)
def test_conditions(condition, holds):
    ruleset = rules(rule("r", condition, {"set": {"path": "facts.hit", "to": True}}))
    assert ("hit" in clean(order(), ruleset).order["facts"]) is holds


def test_a_wildcard_over_no_item_never_holds():
    ruleset = rules(
        rule(
            "r",
            {"path": "services.*.code", "missing": True},
            {"set": {"path": "facts.hit", "to": True}},
        )
    )
    assert "hit" not in clean(order(services=[]), ruleset).order["facts"]
    assert "hit" in clean(order(services=[{"quantity": "1"}]), ruleset).order["facts"]


@pytest.mark.parametrize(
    ("sent", "factor", "places", "expected"),
    [
        ("10.05", "0.5", None, "5.03"),  # 5.025, half up
        ("10.04", "0.5", None, "5.02"),
        (25, "1.5", None, 38),  # an integer stays an integer
        (25, "1.5", 2, "37.50"),
        ("7", "1.609344", 1, "11.3"),
        (" 12 ", "2", None, "24"),
    ],
)
def test_multiply_rounds_half_up_to_the_values_scale(sent, factor, places, expected):
    body: dict[str, Any] = {"path": "distance_km.loaded", "factor": factor}
    if places is not None:
        body["places"] = places
    cleaned = clean(order(distance_km={"loaded": sent}), rules(rule("m", None, {"multiply": body})))
    assert same(cleaned.order["distance_km"]["loaded"], expected)


@pytest.mark.parametrize("sent", [12.5, True, "douze", None, "NaN", "1e999999"])
def test_multiply_leaves_what_is_not_a_decimal_to_the_order_validation(sent):
    ruleset = rules(rule("m", None, {"multiply": {"path": "distance_km.loaded", "factor": "2"}}))
    assert clean(order(distance_km={"loaded": sent}), ruleset).corrections == ()


def test_replace_can_cite_the_patterns_groups():
    ruleset = rules(
        rule(
            "plate-dashes",
            None,
            {
                "replace": {
                    "path": "vehicle.plate",
                    "pattern": "^([A-Z]{2}) ?(\\d{3}) ?([A-Z]{2})$",
                    "with": "\\1-\\2-\\g<3>",
                }
            },
        )
    )
    assert (
        clean(order(vehicle={"plate": "GH 482 KL"}), ruleset).order["vehicle"]["plate"]
        == "GH-482-KL"
    )


# Refused rule sets -----------------------------------------------------------------


def problems_of(doc: Any) -> dict[str, Any]:
    with pytest.raises(InvalidDocument) as info:
        load_ruleset(doc)
    return {p.path: p.text for p in info.value.problems}


def one_rule(when: Any = None, *then: dict[str, Any]) -> dict[str, Any]:
    return ruleset_doc(rule("r", when, *(then or ({"set": {"path": "customer", "to": "X"}},))))


@pytest.mark.parametrize(
    ("doc", "path", "words"),
    [
        (one_rule({"path": "vehicle.class", "contains": "V"}), "rules.0.when.contains", "contains"),
        (one_rule(None, {"explode": {"path": "customer"}}), "rules.0.then.0.explode", "explode"),
        (one_rule({"path": "colour", "equals": "red"}), "rules.0.when.path", "colour"),
        (
            one_rule({"path": "vehicle..class", "equals": "VL"}),
            "rules.0.when.path",
            "vehicle.class",
        ),
        (
            one_rule(None, {"set": {"path": "id", "to": "M-2"}}),
            "rules.0.then.0.set.path",
            "identifies",
        ),
        (one_rule(None, {"set": {"path": "customer"}}), "rules.0.then.0.set.to", "required"),
        (
            one_rule(None, {"set": {"path": "customer", "to": 1.5}}),
            "rules.0.then.0.set.to",
            "float",
        ),
        (
            one_rule(None, {"multiply": {"path": "distance_km.*", "factor": 1.609344}}),
            "rules.0.then.0.multiply.factor",
            "float",
        ),
        (
            one_rule(None, {"multiply": {"path": "distance_km.*", "factor": "-1"}}),
            "rules.0.then.0.multiply.factor",
            "positive",
        ),
        (
            one_rule(None, {"multiply": {"path": "distance_km.*", "factor": "2", "places": 9}}),
            "rules.0.then.0.multiply.places",
            "0 to 6",
        ),
        (
            one_rule({"path": "vehicle.plate", "matches": "(\\d+)+$"}),
            "rules.0.when.matches",
            "nested quantifier",
        ),
        (
            one_rule({"path": "vehicle.plate", "matches": "(["}),
            "rules.0.when.matches",
            "invalid regular expression",
        ),
        (one_rule({"path": "vehicle.plate", "matches": "a" * 201}), "rules.0.when.matches", "200"),
        (
            one_rule(None, {"replace": {"path": "vehicle.plate", "pattern": "(a)", "with": "\\2"}}),
            "rules.0.then.0.replace.with",
            "groups",
        ),
        (
            one_rule(None, {"replace": {"path": "vehicle.plate", "pattern": "a", "with": "\\n"}}),
            "rules.0.then.0.replace.with",
            "groups",
        ),
        (
            one_rule({"path": "customer", "equals": "A", "missing": True}),
            "rules.0.when",
            "exactly one operator",
        ),
        (one_rule({"all": [], "path": "customer"}), "rules.0.when.path", "stands alone"),
        (one_rule({"any": []}), "rules.0.when.any", "1 to 50"),
        (
            one_rule({"not": {"path": "customer", "missing": "yes"}}),
            "rules.0.when.not.missing",
            "true or false",
        ),
        (
            one_rule({"all": [{"path": "customer", "in": []}]}),
            "rules.0.when.all.0.in",
            "length 1 to 200",
        ),
        (
            one_rule(None, {"copy": {"from": "distance_km.*", "to": "facts.km"}}),
            "rules.0.then.0.copy.from",
            "no *",
        ),
        (
            one_rule(None, {"add_service": {"code": "tow"}}),
            "rules.0.then.0.add_service.code",
            "service code",
        ),
        (
            one_rule(
                None, {"set": {"path": "customer", "to": "X"}, "remove": {"path": "customer"}}
            ),
            "rules.0.then.0",
            "single key",
        ),
        (ruleset_doc(rule("r", None)), "rules.0.then", "length 1 to 20"),
        (
            ruleset_doc(
                rule("r", None, {"remove": {"path": "places"}}),
                rule("r", None, {"remove": {"path": "places"}}),
            ),
            "rules.1.id",
            "duplicate",
        ),
        ({**ruleset_doc(), "version": 0}, "version", "at least 1"),
        ({**ruleset_doc(), "version": "3"}, "version", "integer"),
        ({**ruleset_doc(), "label": "x"}, "label", "unknown field"),
        ({"version": 1, "rules": []}, "party", "required"),
    ],
)
def test_a_malformed_rule_set_is_refused_with_the_path_of_each_problem(doc, path, words):
    found = problems_of(doc)
    assert set(found) == {path}
    assert words in found[path].en
    assert found[path].fr and found[path].fr != found[path].en


def test_every_problem_of_a_rule_set_is_reported_at_once():
    doc = ruleset_doc(
        rule(
            "ok",
            {"path": "vehicle.class", "missing": True},
            {"set": {"path": "vehicle.class", "to": "VL"}},
        ),
        rule(
            "bad",
            {"all": [{"path": "colour", "equals": 1}, {"not": {"path": "x.y", "equals": 1}}]},
            {"multiply": {"path": "id", "factor": "2"}},
            {"map": {"path": "services.*.code", "table": {"A": 1.5}}},
        ),
    )
    assert set(problems_of(doc)) == {
        "rules.1.when.all.0.path",
        "rules.1.when.all.1.not.path",
        "rules.1.then.0.multiply.path",
        "rules.1.then.1.map.table.A",
    }


def test_conditions_nested_too_deep_are_refused():
    condition: dict[str, Any] = {"path": "customer", "missing": True}
    for _ in range(8):
        condition = {"not": condition}
    assert "rules.0.when" + ".not" * 7 + ".not" in problems_of(one_rule(condition))


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [
        ("(a+)+", True),
        ("(a*)*b", True),
        ("(\\d+x)*", True),
        ("((a+)b)+", True),
        ("(a{1,3}){2,}", True),
        ("(?:\\s+)+", True),
        ("^MC +", False),
        ("(ab)+", False),
        ("[+*]+", False),  # inside a class, + and * are characters
        ("(\\+)+", False),
        ("^(\\d{2})-(\\d{3})$", False),
    ],
)
def test_nested_quantifiers_are_spotted(pattern, nested):
    assert nested_quantifier(pattern) is nested


# The digest ------------------------------------------------------------------------


def test_the_digest_names_the_exact_rule_set_whatever_the_key_order():
    doc = ruleset_doc(MILES, version=3)
    shuffled = {"rules": list(reversed(list(doc["rules"]))), "version": 3, "party": "ASSIST-A"}
    assert load_ruleset(shuffled).digest == load_ruleset(doc).digest == ruleset_digest(doc)
    assert len(ruleset_digest(doc)) == 64
    assert load_ruleset(ruleset_doc(MILES, version=4)).digest != ruleset_digest(doc)


# A rule from a fix made by hand ----------------------------------------------------


def test_a_fix_by_hand_becomes_a_rule_that_makes_the_same_fix_on_the_next_order():
    received = order(
        id="M-B-0042",
        ordering_party="ASSIST-B",
        file_number="B-2026-0042",
        vehicle={"plate": "GH-482-KL", "class": None, "weight_kg": 1500},
        services=[{"code": "REMORQ"}],
    )
    fixed = copy.deepcopy(received)
    fixed["vehicle"]["class"] = "VL"
    fixed["services"][0]["code"] = "TOW"
    proposal = propose_rule(received, fixed, rule_id="b-vl-remorq")
    assert proposal.left_out == ()
    assert proposal.rule["when"] == {
        "all": [
            {"path": "ordering_party", "equals": "ASSIST-B"},
            {"path": "vehicle.class", "equals": None},
            {"path": "services.*.code", "equals": "REMORQ"},
        ]
    }
    assert proposal.rule["then"] == [
        {"set": {"path": "vehicle.class", "to": "VL"}},
        {"map": {"path": "services.*.code", "table": {"REMORQ": "TOW"}}},
    ]
    assert "B-2026-0042" in proposal.rule["description"]["fr"]
    ruleset = rules(proposal.rule, party="ASSIST-B")
    assert clean(received, ruleset).order == fixed
    # The next order with the same mistake is fixed; another party's is not.
    next_order = order(
        id="M-B-0050",
        ordering_party="ASSIST-B",
        vehicle={"plate": "AB-123-CD", "class": None},
        services=[{"code": "REMORQ"}, {"code": "WIN"}],
    )
    assert clean(next_order, ruleset).order["services"] == [{"code": "TOW"}, {"code": "WIN"}]
    assert clean({**next_order, "ordering_party": "ASSIST-A"}, ruleset).corrections == ()


def test_a_fix_that_adds_and_removes_services_proposes_add_service_and_remove_service():
    received = order(services=[{"code": "DIAG"}, {"code": "TOW"}])
    fixed = order(services=[{"code": "TOW"}, {"code": "KM", "quantity": "12"}])
    proposal = propose_rule(received, fixed, rule_id="diag-km")
    assert proposal.rule["then"] == [
        {"remove_service": {"code": "DIAG"}},
        {"add_service": {"code": "KM", "quantity": "12"}},
    ]
    assert clean(received, rules(proposal.rule)).order == fixed


def test_what_a_rule_cannot_make_is_left_out_of_the_proposal_and_said():
    received = order()
    fixed = order(id="M-OTHER", customer="GARAGE-DUPONT")
    proposal = propose_rule(received, fixed, rule_id="customer")
    assert proposal.left_out == ("id",)
    assert proposal.rule["then"] == [{"set": {"path": "customer", "to": "GARAGE-DUPONT"}}]
    with pytest.raises(Refused):
        propose_rule(received, order(id="M-OTHER"), rule_id="nothing")
    with pytest.raises(Refused):
        propose_rule(received, fixed, rule_id="not an id")


# What must hold whatever the rules -------------------------------------------------

NUMBERS = st.one_of(
    st.integers(0, 400),
    st.builds(lambda n, p: str(Decimal(n).scaleb(-p)), st.integers(0, 99999), st.integers(0, 3)),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "VL", "PL", "MOTO", "0", "TOW", "REMORQ", "10 %", "UK-1", "MC AB"]),
    NUMBERS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "class", "code"]), inner, max_size=3)
    ),
    max_leaves=6,
)
CODES = st.sampled_from(["TOW", "REP", "KM", "WIN", "REMORQ", "DSP"])
SERVICES = st.lists(
    st.fixed_dictionaries({"code": CODES}, optional={"quantity": NUMBERS}), max_size=4
)
ORDERS = st.fixed_dictionaries(
    {"id": st.just("M-1")},
    optional={
        "file_number": st.sampled_from(["UK-1", "A-1", ""]),
        "ordering_party": st.sampled_from(["ASSIST-A", "ASSIST-B"]) | st.none(),
        "customer": st.none() | st.just("GARAGE"),
        "vehicle": st.fixed_dictionaries(
            {},
            optional={
                "plate": st.sampled_from(["MC AB-123-CD", "GH-482-KL", ""]),
                "class": st.sampled_from(["VL", "PL", ""]) | st.none(),
                "weight_kg": st.integers(500, 20000),
            },
        )
        | st.none()
        | st.just("VL"),
        "distance_km": st.dictionaries(
            st.sampled_from(["en_route", "loaded", "return"]), NUMBERS, max_size=3
        ),
        "facts": st.dictionaries(st.sampled_from(["accident", "winching"]), SCALARS, max_size=2),
        "services": SERVICES | st.none(),
        "coverage": st.fixed_dictionaries(
            {}, optional={"km_covered": NUMBERS, "deductible": st.sampled_from(["50.00", "10 %"])}
        ),
    },
)
WRITABLE = [
    "vehicle",
    "vehicle.class",
    "vehicle.plate",
    "vehicle.weight_kg",
    "distance_km.loaded",
    "distance_km.*",
    "facts.accident",
    "facts.*",
    "services",
    "services.*",
    "services.0",
    "services.*.code",
    "services.1.quantity",
    "coverage",
    "coverage.deductible",
    "file_number",
    "customer",
    "places.from.city",
]
PLAIN_PATHS = [p for p in WRITABLE if "*" not in p]
READABLE = [*WRITABLE, "id", "ordering_party"]


def _leaf(path: str, op: str, operand: Any) -> dict[str, Any]:
    return {"path": path, op: operand}


def leaves(paths: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    path = st.sampled_from(paths)
    return st.one_of(
        st.builds(_leaf, path, st.sampled_from(["equals", "not_equals"]), VALUES),
        st.builds(_leaf, path, st.just("in"), st.lists(VALUES, min_size=1, max_size=3)),
        st.builds(_leaf, path, st.sampled_from(["missing", "present"]), st.booleans()),
        st.builds(
            _leaf, path, st.just("matches"), st.sampled_from(["^UK-", "VL", "^MC +", "%$", "\\d"])
        ),
        st.builds(_leaf, path, st.sampled_from(["less_than", "greater_than"]), NUMBERS.map(str)),
    )


def conditions(paths: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves(paths),
        lambda inner: (
            st.builds(lambda c: {"not": c}, inner)
            | st.builds(
                lambda k, cs: {k: cs},
                st.sampled_from(["all", "any"]),
                st.lists(inner, min_size=1, max_size=3),
            )
        ),
        max_leaves=4,
    )


OMIT = object()


def _body(kind: str, **body: Any) -> dict[str, Any]:
    return {kind: {k.rstrip("_"): v for k, v in body.items() if v is not OMIT}}


ACTIONS = st.one_of(
    st.builds(lambda p, v: _body("set", path=p, to=v), st.sampled_from(WRITABLE), VALUES),
    st.builds(
        lambda a, b: _body("copy", from_=a, to=b),
        st.sampled_from([*PLAIN_PATHS, "id"]),
        st.sampled_from(PLAIN_PATHS),
    ),
    st.builds(lambda p: _body("remove", path=p), st.sampled_from(WRITABLE)),
    st.builds(
        lambda p, f, n: _body("multiply", path=p, factor=f, places=n),
        st.sampled_from(WRITABLE),
        st.sampled_from(["1.609344", "0.5", "100", "2", "1"]),
        st.just(OMIT) | st.integers(0, 3),
    ),
    st.builds(
        lambda p, pw: _body("replace", path=p, pattern=pw[0], with_=pw[1]),
        st.sampled_from(WRITABLE),
        st.sampled_from([("^MC +", ""), ("(\\d+) ?%", "\\1"), (" ", "-"), ("L", "LP")]),
    ),
    st.builds(
        lambda p, t: _body("map", path=p, table=t),
        st.sampled_from(WRITABLE),
        st.dictionaries(
            st.sampled_from(["REMORQ", "TOW", "VL", "", "0"]), VALUES, min_size=1, max_size=3
        ),
    ),
    st.builds(
        lambda c, q: _body("add_service", code=c, quantity=q), CODES, st.just(OMIT) | NUMBERS
    ),
    st.builds(lambda c: _body("remove_service", code=c), CODES),
)


def _ruleset(items: list[tuple[Any, list[dict[str, Any]]]]) -> dict[str, Any]:
    return ruleset_doc(*(rule(f"r{i}", when, *then) for i, (when, then) in enumerate(items)))


RULESETS = st.lists(
    st.tuples(st.none() | conditions(READABLE), st.lists(ACTIONS, min_size=1, max_size=3)),
    max_size=5,
).map(_ruleset)

PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(received=ORDERS, doc=RULESETS)
def test_whatever_the_rules_the_input_is_untouched_and_the_log_replays(received, doc):
    kept_order, kept_doc = copy.deepcopy(received), copy.deepcopy(doc)
    ruleset = load_ruleset(doc)
    cleaned = clean(received, ruleset)
    assert received == kept_order and doc == kept_doc
    # Every logged correction changed something, and the log replays, from the wire too.
    assert all(not same(c.before, c.after) for c in cleaned.corrections)
    wire = [c.to_wire() for c in cleaned.corrections]
    assert same(replay(received, [Correction.from_wire(w) for w in wire]), cleaned.order)
    # Same input, same output: nothing depends on anything but the order and the rules.
    again = clean(received, ruleset)
    assert same(again.order, cleaned.order) and again.corrections == cleaned.corrections


# Set-only rules whose conditions read none of the fields they write: idempotent.
SET_PATHS = [
    "vehicle.class",
    "vehicle.plate",
    "distance_km.loaded",
    "services.*.quantity",
    "places",
    "beneficiary.name",
]
READ_ONLY_PATHS = [
    "file_number",
    "ordering_party",
    "facts.accident",
    "coverage.deductible",
    "customer",
]
SET_ONLY = st.lists(
    st.tuples(
        st.none() | conditions(READ_ONLY_PATHS),
        st.lists(
            st.builds(lambda p, v: _body("set", path=p, to=v), st.sampled_from(SET_PATHS), VALUES),
            min_size=1,
            max_size=2,
        ),
    ),
    max_size=5,
)


@PROPERTIES
@given(received=ORDERS, items=SET_ONLY)
def test_set_only_rules_reading_other_fields_are_idempotent(received, items):
    ruleset = load_ruleset(_ruleset(items))
    once = clean(received, ruleset)
    twice = clean(once.order, ruleset)
    assert same(twice.order, once.order)
    written = [a["set"]["path"] for _, then in items for a in then]
    if len(written) == len(set(written)):  # one writer per field: nothing even logged
        assert twice.corrections == ()


@PROPERTIES
@given(
    received=ORDERS,
    edits=st.lists(
        st.tuples(st.sampled_from(PLAIN_PATHS), st.none() | VALUES.map(lambda v: ("set", v))),
        min_size=1,
        max_size=4,
    ),
)
def test_a_rule_proposed_from_any_fix_by_hand_makes_that_fix(received, edits):
    fixed = copy.deepcopy(received)
    for path, edit in edits:
        if edit is None:
            delete(fixed, split(path))
        else:
            put(fixed, split(path), copy.deepcopy(edit[1]))
    assume(not same(fixed, received))
    proposal = propose_rule(received, fixed, rule_id="fix")
    assert proposal.left_out == ()
    assert same(clean(received, rules(proposal.rule)).order, fixed)


# The reference page ----------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "cleaning-rules.md"


def test_every_operator_and_correction_is_documented():
    text = DOC.read_text("utf-8")
    undocumented = [
        name for name in (*OPERATORS, *COMBINATORS, *ACTION_NAMES) if f'"{name}"' not in text
    ]
    assert undocumented == []


def test_the_documented_examples_are_valid():
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)
    ruleset = load_ruleset(json.loads(blocks[0]))
    assert [r.id for r in ruleset.rules] == ["km-miles", "service-codes"]
    proposal = json.loads(blocks[2])
    assert load_ruleset(ruleset_doc(proposal, party="ASSIST-B")).rules[0].id == "b-vl-remorq"
