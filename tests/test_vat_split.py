"""A collection's VAT split: cent-exact shares per rate, carried from the valuation to
the collection, copied by its reversal, and totalled per rate by the closings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared.balance import fold
from shared.closings import Period, Record, close
from shared.payment_terms import Method
from shared.payments import collection_payload, event_from_entry, reversal_payload
from shared.valuation import value
from shared.vat import totals, vat_split
from tests import builders

D = Decimal


def test_a_single_rate_payment_splits_like_the_beneficiarys_invoice(contracts, mission):
    v = value(mission("a-saturday-accident-winching"), contracts("assist-a"))
    assert vat_split(D("164.00"), v.beneficiary) == [
        {"rate": "20", "excl_vat": "136.67", "vat": "27.33", "incl_vat": "164.00"}
    ]


@given(
    st.integers(1, 10**7),
    st.dictionaries(
        st.sampled_from([D("0"), D("5.5"), D("10"), D("20")]),
        st.integers(1, 10**6).map(lambda c: D(c) / 100),
        min_size=1,
    ),
    st.booleans(),
)
def test_shares_add_up_to_the_amount_and_each_share_balances(amount_cents, by_rate, incl_basis):
    amount = D(amount_cents) / 100
    shares = vat_split(amount, totals(by_rate, incl_basis))
    assert sum(D(s["incl_vat"]) for s in shares) == amount
    for s in shares:
        assert D(s["excl_vat"]) + D(s["vat"]) == D(s["incl_vat"])


def test_collection_and_its_reversal_reach_the_closing_per_vat_rate():
    c = builders.contract(at_cost=["TOLL"], vat_rates={"TOLL": "0"}, ordering_party=None)
    v = value(
        builders.mission(
            ordering_party=None, services=[{"code": "TOW"}, {"code": "TOLL", "amount": "30.00"}]
        ),
        c,
    )
    assert v.beneficiary_due == D("150.00")  # 100.00 + 20 % VAT, and 30.00 of toll at 0 %
    money = fold("M-1", v.beneficiary_due, [])
    paid = collection_payload(
        money,
        Method.CARD,
        "150.00",
        {"terminal_ref": "A1B2C3"},
        company_methods=list(Method),
        contract_methods=list(Method),
        vat_basis=v.beneficiary,
    )
    assert paid["vat"] == [
        {"rate": "0", "excl_vat": "30.00", "vat": "0.00", "incl_vat": "30.00"},
        {"rate": "20", "excl_vat": "100.00", "vat": "20.00", "incl_vat": "120.00"},
    ]
    collected = event_from_entry("collection", "h1", paid)
    money = fold("M-1", v.beneficiary_due, [collected])
    back = reversal_payload(money, {"device_id": "T1", "seq": 1, "hash": "h1"}, "wrong method")
    assert back["vat"] == paid["vat"]

    at = datetime(2026, 3, 10, 9, tzinfo=UTC)
    entries = [Record("T1", 1, "h1", at, "collection", paid)]
    day = close(
        entries,
        scope="T1",
        period=Period.parse("2026-03-10"),
        timezone="Europe/Paris",
        previous=None,
    )
    rates = {v.rate: v.incl_vat for v in day.by_vat_rate}
    assert rates == {D("0"): D("30.00"), D("20"): D("120.00")}
    assert day.unallocated == D("0.00")
