"""Invariants of the valuation, over random contracts and missions (Hypothesis).

- the payers' shares add up exactly to each line and to each total;
- an ordering party never pays more than a cap, to the cent, incl. VAT or excl. as stated;
- for each payer, excl. VAT + VAT = incl. VAT, rate by rate;
- the digest depends only on the inputs (same documents, any key order → same digest).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.money import ZERO
from shared.valuation import ValuationContext, value
from tests.builders import contract_doc, mission_doc

cents = st.integers(min_value=0, max_value=300_000).map(lambda c: f"{Decimal(c) / 100:.2f}")
rates = st.sampled_from(["0", "2.1", "5.5", "10", "20"])
limits = st.none() | st.fixed_dictionaries({"amount": cents, "includes_vat": st.booleans()})


@st.composite
def documents(draw):
    private = draw(st.integers(0, 4)) == 0  # one contract in five is for private customers
    families = ["TOW", "WIN", "ACC", "WAIT", "STO"]
    prices = {f: draw(cents) for f in families}
    coverage = [
        {
            "code": f,
            "payer": draw(st.sampled_from(["ordering_party", "beneficiary"])),
            "when": draw(st.sampled_from([{}, {"accident": True}, {"accident": False}])),
        }
        for f in draw(st.lists(st.sampled_from(families), max_size=3))
    ]
    doc = contract_doc(
        prices_include_vat=draw(st.booleans()),
        vat_rate=draw(rates),
        vat_rates={"STO": draw(rates)},
        price_lists={"l": prices},
        price_list="l",
        at_cost=["TOLL"],
        distance={
            "legs": ["loaded"],
            "included_km": str(draw(st.integers(0, 60))),
            "tiers": [
                {"up_to_km": "100", "price": draw(cents.filter(lambda p: len(p) < 6))},
                {"up_to_km": None, "price": "0.99"},
            ],
        },
        time_bands={
            "combine": draw(st.sampled_from(["highest", "stack"])),
            "bands": [
                {
                    "id": "night",
                    "from": "19:00",
                    "to": "07:00",
                    "percent": draw(rates),
                    "applies_to": ["TOW", "WIN"],
                },
                {"id": "weekend", "days": ["sat", "sun"], "percent": "50", "applies_to": ["*"]},
                {"id": "holiday", "public_holidays": True, "percent": "100", "applies_to": ["TOW"]},
            ],
        },
        supplements=[{"code": "ACC", "when": {"accident": True}}],
    )
    if private:
        doc["ordering_party"] = None
    else:
        doc["coverage"] = coverage
        doc["deductible"] = draw(limits)
        doc["caps"] = {"mission": draw(limits), "file": draw(limits)}
    services = draw(st.lists(st.sampled_from(families), min_size=1, max_size=5, unique=True))
    mission = mission_doc(
        ordering_party=None if private else "TEST",
        times={
            "call": draw(
                st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))
            ).isoformat()
        },
        distance_km={"loaded": str(draw(st.integers(0, 400)))},
        facts={"accident": draw(st.booleans())},
        services=[{"code": s, "quantity": str(draw(st.integers(1, 3)))} for s in services]
        + ([{"code": "TOLL", "amount": draw(cents)}] if draw(st.booleans()) else []),
    )
    consumed = draw(cents)
    return doc, mission, Decimal(consumed)


def within(limit, totals):
    if limit is None:
        return True
    paid = totals.incl if limit["includes_vat"] else totals.excl
    return paid <= Decimal(limit["amount"])


@settings(max_examples=400, deadline=None)
@given(documents())
def test_shares_add_up_caps_hold_and_vat_balances(case):
    doc, mission_document, consumed = case
    v = value(load_mission(mission_document), load_contract(doc), ValuationContext(consumed))

    for line in v.lines:
        assert line.ordering_party + line.beneficiary == line.amount
        assert line.ordering_party >= 0 and line.beneficiary >= 0
    assert sum((line.amount for line in v.lines), ZERO) == (
        sum((r.excl for r in v.total.by_rate), ZERO)
        if not v.prices_include_vat
        else sum((r.incl for r in v.total.by_rate), ZERO)
    )
    for field in ("excl", "vat", "incl"):
        assert getattr(v.ordering_party, field) + getattr(v.beneficiary, field) == getattr(
            v.total, field
        )
    for totals in (v.ordering_party, v.beneficiary, v.total):
        assert totals.excl + totals.vat == totals.incl
        for row in totals.by_rate:
            assert row.excl + row.vat == row.incl

    if doc["ordering_party"] is None:
        assert v.ordering_party.incl == ZERO
        return
    caps = doc["caps"]
    assert within(caps["mission"], v.ordering_party)
    if caps["file"] is not None:
        already = consumed
        left = max(Decimal(caps["file"]["amount"]) - already, ZERO)
        assert within(
            {"amount": str(left), "includes_vat": caps["file"]["includes_vat"]}, v.ordering_party
        )


@settings(max_examples=150, deadline=None)
@given(documents())
def test_digest_depends_only_on_the_inputs(case):
    doc, mission_document, consumed = case
    first = value(load_mission(mission_document), load_contract(doc), ValuationContext(consumed))

    # The same documents, keys in reverse order, parsed again from JSON text.
    def shuffled(d):
        return json.loads(json.dumps(dict(reversed(list(d.items())))))

    again = value(
        load_mission(shuffled(mission_document)),
        load_contract(shuffled(doc)),
        ValuationContext(consumed),
    )
    assert again.digest == first.digest
    assert again.to_wire() == first.to_wire()


@settings(max_examples=100, deadline=None)
@given(documents(), st.integers(1, 10_000))
def test_digest_changes_when_an_input_changes(case, extra_cents):
    doc, mission_document, consumed = case
    base = value(load_mission(mission_document), load_contract(doc), ValuationContext(consumed))
    mission_document = dict(mission_document)
    mission_document["services"] = [
        *mission_document["services"],
        {"code": "TOLL", "amount": f"{Decimal(extra_cents) / 100:.2f}"},
    ]
    changed = value(load_mission(mission_document), load_contract(doc), ValuationContext(consumed))
    assert changed.digest != base.digest


def _kinds(value, found):
    found.add(type(value).__name__)
    if isinstance(value, dict):
        for item in value.values():
            _kinds(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _kinds(item, found)
    return found


@settings(max_examples=100, deadline=None)
@given(documents())
def test_the_digest_is_the_canonical_digest_of_plain_money_facts(case):
    """value() hashes its money facts without the canonical type walk; this checks that
    they are plain JSON values only (no float, no Decimal) and hash the same either way."""
    from shared.canonical import digest
    from shared.valuation import _money_facts

    doc, mission_document, consumed = case
    v = value(load_mission(mission_document), load_contract(doc), ValuationContext(consumed))
    facts = _money_facts(v)
    assert _kinds(facts, set()) <= {"dict", "list", "str", "int", "bool", "NoneType"}
    assert _kinds(v.to_wire(), set()) <= {"dict", "list", "str", "int", "bool", "NoneType"}
    assert v.digest == digest(facts)
