"""The prepared valuation gives, byte for byte, what the plain one gives (Hypothesis).

`shared.valuation.value` works out what depends on the contract alone once per contract
(`shared.valuation_plan`) and finds caps in closed form (`shared.split`);
tests/valuation_reference.py is the same rules computed plainly, every time. On random
contracts and missions (customers and discounts, weights, follow-ups, arrival-decided
bands, several VAT rates, either price basis, deductibles and caps) both give the same
wire form, explanation included, and the same digest, or refuse with the same message.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contract_schema import load_contract
from shared.errors import ValuationRefused
from shared.mission import load_mission
from shared.split import Covered, largest_within
from shared.valuation import ValuationContext, _minute, value
from shared.valuation_plan import plan_of
from shared.vat import combine, totals
from tests import valuation_reference as reference
from tests.builders import contract, mission
from tests.test_valuation_properties import documents, rates

percents = st.sampled_from(["0", "5", "10", "12.5", "33"])


@st.composite
def richer(draw):
    """`documents()`, with what it leaves out: customers, weights, follow-ups, bands
    decided by the arrival, vehicle classes by weight."""
    doc, mission_doc, consumed = draw(documents())
    doc["vehicle_classes"] = [
        {"code": "VL", "max_weight_kg": 1800},
        {"code": "VLP", "max_weight_kg": 3500},
        {"code": "PL", "max_weight_kg": None},
    ]
    doc["weight_decides"] = draw(st.booleans())
    families = ["TOW", "WIN", "ACC", "WAIT", "STO", "TOW.VL", "TOW.VLP.S"]
    doc["customers"] = {
        "GARAGE": {
            "price_list": None,
            "discounts": [
                {"code": code, "percent": draw(percents)}
                for code in draw(st.lists(st.sampled_from(families), max_size=3, unique=True))
            ],
        }
    }
    doc["price_lists"]["l"]["TOW.VLP"] = draw(st.sampled_from(["150.00", "175.50"]))
    if draw(st.booleans()):
        doc["time_bands"]["decided_by"] = "arrival"
    mission_doc["customer"] = draw(st.sampled_from([None, "GARAGE", "SOMEONE-ELSE"]))
    mission_doc["file_sequence"] = draw(st.integers(1, 3))
    vehicle = {"plate": "AA-001-AA", "class": draw(st.sampled_from([None, "VL", "VLP", "PL"]))}
    weight = draw(st.none() | st.integers(500, 9000))
    if weight is not None or vehicle["class"] is None:
        vehicle["weight_kg"] = weight if weight is not None else 1500
    mission_doc["vehicle"] = vehicle
    if draw(st.booleans()):
        call = mission_doc["times"]["call"]
        mission_doc["times"] = {"call": call, "arrival": draw(st.sampled_from([call, ARRIVAL]))}
    return doc, mission_doc, consumed


ARRIVAL = "2026-05-01T06:30:00+02:00"  # a public holiday, before dawn


def outcome(valuer, mission_doc, doc, consumed):
    try:
        v = valuer(load_mission(mission_doc), load_contract(doc), ValuationContext(consumed))
    except ValuationRefused as refused:
        return ("refused", refused.message("fr"), refused.message("en"))
    return ("valued", v.to_wire(), v.digest)


@settings(max_examples=500, deadline=None)
@given(richer())
def test_the_prepared_valuation_is_the_plain_one(case):
    doc, mission_doc, consumed = case
    assert outcome(value, mission_doc, doc, consumed) == outcome(
        reference.value, mission_doc, doc, consumed
    )


@settings(max_examples=300, deadline=None)
@given(documents())
def test_a_contract_valued_twice_gives_the_same_bytes(case):
    """The second valuation reads the plan the first one filled."""
    doc, mission_doc, consumed = case
    terms, job = load_contract(doc), load_mission(mission_doc)
    first = value(job, terms, ValuationContext(consumed))
    again = value(job, terms, ValuationContext(consumed))
    assert again.to_wire() == first.to_wire()
    assert first.to_wire() == reference.value(job, terms, ValuationContext(consumed)).to_wire()


# Amounts as any code may write them: whole units, tenths, cents, thousandths.
written = st.tuples(st.integers(0, 99_999), st.integers(0, 3)).map(
    lambda t: Decimal(t[0]).scaleb(-t[1])
)


amounts = st.integers(0, 60_000).map(lambda c: Decimal(c) / 100)


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.tuples(amounts, rates.map(Decimal)), min_size=1, max_size=4),
    st.booleans(),
    st.booleans(),
    st.integers(0, 250_000).map(lambda c: Decimal(c) / 100),
)
def test_the_cap_in_closed_form_is_the_largest_coverage_within_it(lines, incl, capped_incl, cap):
    """Against the plain search: the largest X whose total stays within the cap."""
    covered = Covered([a for a, _ in lines], [r for _, r in lines], incl)
    upper = covered.full
    assert largest_within(covered, upper, cap, capped_incl) == reference.largest_within(
        covered, upper, cap, capped_incl
    )
    found = largest_within(covered, upper, cap, capped_incl)
    assert covered.measure(found, capped_incl) <= cap or found == 0
    if found < upper:
        assert covered.measure(found + 1, capped_incl) > cap


# Rates as contracts write them, and a few the integer measure leaves to Decimal.
any_rates = st.sampled_from(["0", "2.1", "5.5", "10", "20", "19.6", "7.125", "150"]).map(Decimal)
any_amounts = written | st.integers(-500, 0).map(lambda c: Decimal(c) / 100)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.tuples(any_amounts, any_rates), min_size=0, max_size=4),
    st.booleans(),
    st.booleans(),
    st.data(),
)
def test_the_integer_measure_is_the_decimal_one(lines, incl, capped_incl, data):
    """To the digit: whole cents and rates of two decimals on integers, the rest as before."""
    covered = Covered([a for a, _ in lines], [r for _, r in lines], incl)
    full = int(sum(covered.amounts, Decimal(0)) / Decimal("0.01"))
    assert covered.full == full
    x = data.draw(st.integers(0, max(full, 0)))
    ours, plain = covered.measure(x, capped_incl), reference.measure(covered, x, capped_incl)
    assert (ours, str(ours)) == (plain, str(plain))


@settings(max_examples=1000, deadline=None)
@given(
    st.dictionaries(rates.map(Decimal), written, min_size=0, max_size=3),
    st.dictionaries(rates.map(Decimal), written, min_size=0, max_size=3),
    st.booleans(),
)
def test_totals_with_one_rate_are_the_plain_totals(ours, theirs, incl):
    """The shortcuts for one rate and two payers write the same digits (2.00, not 2)."""
    a, b = totals(ours, incl), totals(theirs, incl)
    assert (a, b) == (reference.totals(ours, incl), reference.totals(theirs, incl))
    assert a.canonical() == reference.totals(ours, incl).canonical()
    both, plain = combine((a, b)), reference.combine((a, b))
    assert both == plain and both.canonical() == plain.canonical()


def test_a_plan_belongs_to_one_contract_object():
    """Two equal contracts loaded apart have their own plans; a plan is kept per object."""
    first, second = contract(), contract()
    assert plan_of(first) is plan_of(first)
    assert plan_of(first) is not plan_of(second)
    assert value(mission(), first).digest == value(mission(), second).digest


def test_an_unknown_service_is_still_refused_by_name():
    with pytest.raises(ValuationRefused, match="Prestation inconnue : XYZ"):
        value(mission(services=[{"code": "XYZ"}]), contract())


@settings(max_examples=500, deadline=None)
@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-9, minutes=-30))])))
def test_the_local_minute_is_written_as_strftime_writes_it(at):
    assert _minute(at) == at.strftime("%Y-%m-%d %H:%M")
