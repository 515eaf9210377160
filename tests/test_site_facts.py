"""The core of site facts (pure): the ordering party's rule per fact, a fact applied to a
mission, the replay of a mission's entries, the entry's payload, and invariants over
random missions (Hypothesis): facts equal to the order change nothing, a replay is
idempotent, a fact kept without a code never moves the price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contract_schema import load_contract
from shared.errors import InvalidDocument, Refused
from shared.mission import load_mission
from shared.site_fact_rules import Allow, FactRule
from shared.site_facts import (
    Fact,
    Record,
    fact_wire,
    on_site,
    record_from_payload,
    revalue,
    value_of,
)
from shared.site_facts_found import Found, Receipt, changes
from shared.valuation import value
from tests.builders import contract_doc
from tests.site_facts_support import RULES, contract_document, mission_document

D = Decimal


def _terms() -> Any:
    """Assistance T, priced for every class the random missions draw."""
    doc = contract_document()
    doc["price_lists"]["contracted"].update({"TOW.PL": "300.00", "REP": "95.00"})
    return load_contract(doc)


TERMS = _terms()
SHA = "ab" * 32


def order(**changes_: Any):
    doc = mission_document(1)
    doc.update(changes_)
    return load_mission(doc)


def replay(mission, *facts: Fact, approval: str | None = None):
    return on_site(mission, [Record(tuple(facts), approval)], TERMS)


# --- the ordering party's rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "order_km", "limit"),
    [
        (FactRule(Allow.TOLERANCE, D(10), D(5)), D(80), D(88)),  # +10 % beats +5 km
        (FactRule(Allow.TOLERANCE, D(10), D(5)), D(20), D(25)),  # +5 km beats +10 %
        (FactRule(Allow.TOLERANCE, D(0), D(5)), D(0), D(5)),  # an order silent on it: 0
    ],
)
def test_the_tolerance_is_the_larger_of_the_percent_and_the_absolute_margin(rule, order_km, limit):
    assert rule.limit(order_km) == limit


def test_a_contract_silent_on_site_facts_lets_the_driver_change_nothing_alone():
    silent = load_contract(contract_doc())
    assert silent.site_facts.rule("distance").allow is Allow.APPROVAL
    private = load_contract(contract_doc(ordering_party=None))
    assert private.site_facts.rule("distance").allow is Allow.FREE
    assert TERMS.site_facts.rule("distance") == FactRule(Allow.TOLERANCE, D(10), D(5))
    assert TERMS.site_facts.rule("accident").allow is Allow.APPROVAL  # the block's default


@pytest.mark.parametrize(
    ("block", "path"),
    [
        ({"services": {"allow": "tolerance", "percent": "10"}}, "site_facts.services.allow"),
        ({"distance": {"allow": "tolerance"}}, "site_facts.distance.allow"),
        ({"distance": {"allow": "free", "percent": "10"}}, "site_facts.distance.allow"),
        ({"distance": {"allow": "sometimes"}}, "site_facts.distance.allow"),
        ({"colour": {"allow": "free"}}, "site_facts.colour"),
        ({"distance": {"allow": "tolerance", "percent": 10.5}}, "site_facts.distance.percent"),
    ],
)
def test_a_bad_rules_block_is_refused_with_its_path(block, path):
    with pytest.raises(InvalidDocument) as refused:
        load_contract(contract_doc(site_facts=block))
    assert path in [p.path for p in refused.value.problems]


def test_a_private_contract_cannot_hold_a_driver_to_a_code():
    with pytest.raises(InvalidDocument) as refused:
        load_contract(
            contract_doc(ordering_party=None, site_facts={"default": {"allow": "approval"}})
        )
    assert [p.path for p in refused.value.problems] == ["site_facts.default.allow"]


# --- a fact applied ------------------------------------------------------------------------


def test_each_fact_changes_the_mission_it_names():
    m = order()
    km = replay(m, Fact("distance", "loaded", "40", "44")).mission
    assert km.distance_km["loaded"] == D(44) and km.distance_km["en_route"] == D(10)
    win = replay(m, Fact("services", None, ["TOW"], ["TOW", "WIN"]), approval="1:X").mission
    assert [s.code for s in win.services] == ["TOW", "WIN"]
    wait = replay(m, Fact("waiting", None, "0", "45"), approval="1:X").mission
    assert [(s.code, s.quantity) for s in wait.services] == [("TOW", D(1)), ("WAIT", D("0.75"))]
    stored = replay(m, Fact("storage", None, "0", "3")).mission
    assert [(s.code, s.quantity) for s in stored.services][-1] == ("STO", D(3))
    toll = replay(m, Fact("at_cost", "TOLL", [], ["12.40", "3.10"])).mission
    assert [(s.code, s.amount) for s in toll.services][1:] == [
        ("TOLL", D("12.40")),
        ("TOLL", D("3.10")),
    ]
    crash = replay(m, Fact("accident", None, False, True), approval="1:X").mission
    assert crash.facts["accident"] is True
    heavy = replay(
        m,
        Fact("weight", None, None, 1900),
        Fact("vehicle_class", None, "VL", "VLP"),
        approval="1:X",
    ).mission
    assert (heavy.vehicle.weight_kg, heavy.vehicle.vehicle_class) == (1900, "VLP")


def test_a_fact_beyond_the_rule_without_a_code_is_kept_but_not_applied():
    m = order()
    site = replay(m, Fact("distance", "loaded", "40", "70"), Fact("storage", None, "0", "2"))
    assert site.mission.distance_km["loaded"] == D(40)  # beyond +5 km: held
    assert value_of(site.mission, "storage", None, TERMS) == "2"  # free: applied
    assert [(j.fact.fact, j.applied) for j in site.judged] == [
        ("distance", False),
        ("storage", True),
    ]
    assert [j.fact.fact for j in site.held] == ["distance"]


def test_tolerance_is_measured_against_the_order_not_the_last_fact():
    m = order()
    site = on_site(
        m,
        [
            Record((Fact("distance", "loaded", "40", "45"),)),  # +5: within
            Record((Fact("distance", "loaded", "40", "50"),)),  # +10 over the order: beyond
        ],
        TERMS,
    )
    assert site.mission.distance_km["loaded"] == D(45)
    assert [j.verdict.within for j in site.judged] == [True, False]


def test_the_explanation_lists_the_last_word_on_each_fact_first():
    m = order()
    records = [
        Record((Fact("distance", "loaded", "40", "42"),)),
        Record((Fact("distance", "loaded", "40", "44"), Fact("storage", None, "0", "1"))),
    ]
    _, valuation = revalue(m, records, TERMS)
    steps = [(s.rule, s.params.get("found")) for s in valuation.explanation[:3]]
    assert steps == [("site_fact", "44"), ("site_fact", "1"), ("contract", None)]


# --- what the driver typed --------------------------------------------------------------------


def test_only_what_differs_becomes_a_fact_with_what_the_order_said():
    m = order()
    current = replay(m, Fact("distance", "loaded", "40", "44")).mission
    facts = changes(
        m,
        current,
        Found(distance_km={"loaded": D("44"), "en_route": D(12)}, accident=False),
        TERMS,
    )
    assert facts == [Fact("distance", "en_route", "10", "12")]


def test_items_at_cost_add_to_the_family_and_replace_it_when_it_is_removed():
    m = order(services=[{"code": "TOW"}, {"code": "TOLL", "amount": "9.00"}])
    receipt = Receipt(SHA, "image/jpeg")
    [added] = changes(m, m, Found(at_cost=(("TOLL", D("3.10"), receipt),)), TERMS)
    assert (added.order, added.found) == (["9.00"], ["9.00", "3.10"])
    [replaced] = changes(
        m, m, Found(remove_services=("TOLL",), at_cost=(("TOLL", D("9.40"), receipt),)), TERMS
    )
    assert replaced.found == ["9.40"]
    assert replaced.evidence == {
        "receipts": [{"amount": "9.40", "sha256": SHA, "content_type": "image/jpeg"}]
    }


def test_nothing_different_is_refused():
    with pytest.raises(Refused):
        changes(order(), order(), Found(distance_km={"loaded": D("40.00")}), TERMS)


# --- the payload ---------------------------------------------------------------------------


def test_the_payload_reads_back_as_the_facts_it_holds():
    facts = [
        Fact("distance", "loaded", "40", "44", {"odometer": {"start": "100", "end": "144"}}),
        Fact(
            "at_cost",
            "TOLL",
            [],
            ["3.10"],
            {"receipts": [{"amount": "3.10", "sha256": SHA, "content_type": "image/png"}]},
        ),
        Fact("weight", None, None, 2200),
        Fact("vehicle_class", None, "VL", "VLP"),
    ]
    payload = {
        "mission_id": "M-T-01",
        "contract": {"id": "ASSIST-T", "version": 1},
        "facts": [fact_wire(f) for f in facts],
        "approval_ref": "1:ABCDE12345",
        "total": "192.00",
    }
    record = record_from_payload(payload, "h")
    assert record == Record(tuple(facts), "1:ABCDE12345", "h")


@pytest.mark.parametrize(
    ("fact", "path"),
    [
        ({"fact": "distance", "order": "40", "found": "44"}, "facts.0.leg"),
        ({"fact": "distance", "leg": "loaded", "order": "40", "found": 44.5}, "facts.0.found"),
        ({"fact": "storage", "order": "0", "found": "1.5"}, "facts.0.found"),
        ({"fact": "colour", "order": "red", "found": "blue"}, "facts.0.fact"),
        ({"fact": "weight", "order": None, "found": True}, "facts.0.found"),
    ],
)
def test_an_unreadable_payload_is_refused_with_its_path(fact, path):
    payload = {"mission_id": "M", "contract": {"id": "C", "version": 1}, "facts": [fact]}
    with pytest.raises(InvalidDocument) as refused:
        record_from_payload(payload)
    assert path in [p.path for p in refused.value.problems]


# --- invariants ------------------------------------------------------------------------------

km = st.integers(0, 400).map(str)
families = st.lists(
    st.sampled_from(["TOW", "REP", "WIN", "ACC"]), min_size=1, max_size=3, unique=True
)


@st.composite
def missions(draw):
    services = [{"code": c} for c in draw(families)]
    if draw(st.booleans()):
        services.append({"code": "TOLL", "amount": draw(st.sampled_from(["3.10", "12.40"]))})
    if draw(st.booleans()):
        services.append({"code": "STO", "quantity": str(draw(st.integers(1, 9)))})
    if draw(st.booleans()):
        services.append({"code": "WAIT", "quantity": draw(st.sampled_from(["0.5", "1", "1.25"]))})
    vehicle = {"class": draw(st.sampled_from(["VL", "VLP", "PL"]))}
    if draw(st.booleans()):
        vehicle["weight_kg"] = draw(st.integers(800, 9000))
    return load_mission(
        {
            **mission_document(1),
            "vehicle": vehicle,
            "distance_km": {"en_route": draw(km), "loaded": draw(km)},
            "facts": {"accident": draw(st.booleans())},
            "services": services,
        }
    )


def rewritten(fact: str, wire: Any, variant: int) -> Any:
    """The same figure written another way: 40 → 40.0, lists reordered, amounts with zeros."""
    if wire is None or isinstance(wire, bool | int) or fact == "vehicle_class":
        return wire
    if fact == "services":
        return list(reversed(wire)) if variant else wire
    if fact == "at_cost":
        return [str(D(a).quantize(D("0.001"))) for a in wire] if variant else wire
    return str(D(wire).quantize(D("0.1"))) if variant else wire


FACT_KEYS = [
    ("distance", "en_route"),
    ("distance", "loaded"),
    ("services", None),
    ("waiting", None),
    ("storage", None),
    ("at_cost", "TOLL"),
    ("accident", None),
    ("weight", None),
    ("vehicle_class", None),
]


@settings(max_examples=150, deadline=None)
@given(
    m=missions(),
    chosen=st.lists(st.sampled_from(FACT_KEYS), min_size=1, unique=True),
    variant=st.integers(0, 1),
    approval=st.sampled_from([None, "1:ABCDE12345"]),
)
def test_facts_equal_to_the_order_change_nothing(m, chosen, variant, approval):
    facts = [
        Fact(
            name,
            key,
            value_of(m, name, key, TERMS),
            rewritten(name, value_of(m, name, key, TERMS), variant),
        )
        for name, key in chosen
    ]
    site, valuation = revalue(m, [Record(tuple(facts), approval)], TERMS)
    assert site.mission == m
    assert valuation.digest == value(m, TERMS).digest
    assert all(j.verdict.within for j in site.judged)  # unchanged is always allowed


@settings(max_examples=100, deadline=None)
@given(m=missions(), loaded=km, days=st.integers(0, 9), accident=st.booleans())
def test_replaying_an_entry_twice_is_replaying_it_once(m, loaded, days, accident):
    record = Record(
        (
            Fact("distance", "loaded", None, loaded),
            Fact("storage", None, None, str(days)),
            Fact("accident", None, None, accident),
        ),
        "1:ABCDE12345",
    )
    once = revalue(m, [record], TERMS)[1]
    twice = revalue(m, [record, record], TERMS)[1]
    assert once.digest == twice.digest


@settings(max_examples=100, deadline=None)
@given(m=missions(), extra=st.integers(6, 300), accident=st.booleans())
def test_facts_kept_without_a_code_never_move_the_price(m, extra, accident):
    loaded = value_of(m, "distance", "loaded", TERMS)
    beyond = Fact("distance", "loaded", loaded, str(int(D(loaded) * D("1.1")) + extra))
    crash = Fact("accident", None, None, accident)  # approval only: held unless unchanged
    site, valuation = revalue(m, [Record((beyond, crash))], TERMS)
    assert valuation.digest == value(m, TERMS).digest
    assert beyond in [j.fact for j in site.held]


def test_the_rules_used_by_the_day_are_the_documented_ones():
    assert RULES["distance"] == {"allow": "tolerance", "percent": "10", "absolute": "5"}
