"""The acceptance examples of issue 2, one test each, on the shipped example files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.valuation import ValuationContext, value

D = Decimal


def payers(v):  # (ordering party incl., beneficiary incl.)
    return v.ordering_party.incl, v.beneficiary.incl


def test_assist_a_tuesday_30km_breakdown_is_144_all_paid_by_ordering_party(contracts, mission):
    v = value(mission("a-tuesday-30km"), contracts("assist-a"))
    assert v.total.incl == D("144.00")
    assert payers(v) == (D("144.00"), D("0.00"))


def test_assist_a_tuesday_80km_extra_km_paid_by_ordering_party(contracts, mission):
    v = value(mission("a-tuesday-80km"), contracts("assist-a"))
    assert (v.total.excl, v.total.incl) == (D("165.00"), D("198.00"))
    assert payers(v) == (D("198.00"), D("0.00"))
    km = [line for line in v.lines if line.kind == "distance"]
    assert [(line.quantity, line.amount) for line in km] == [(D("30"), D("45.00"))]


def test_assist_a_saturday_accident_winching_capped_at_250_incl_vat(contracts, mission):
    v = value(mission("a-saturday-accident-winching"), contracts("assist-a"))
    assert (v.total.excl, v.total.vat, v.total.incl) == (D("345.00"), D("69.00"), D("414.00"))
    op, ben = v.ordering_party, v.beneficiary
    assert (op.incl, op.excl, op.vat) == (D("250.00"), D("208.33"), D("41.67"))
    assert (ben.incl, ben.excl, ben.vat) == (D("164.00"), D("136.67"), D("27.33"))
    assert "mission_cap" in [step.rule for step in v.explanation]


def test_assist_a_winching_without_accident_is_the_beneficiarys(contracts, mission):
    v = value(mission("a-tuesday-winching-breakdown"), contracts("assist-a"))
    assert payers(v) == (D("144.00"), D("96.00"))
    winching = next(line for line in v.lines if line.code.startswith("WIN"))
    assert (winching.ordering_party, winching.beneficiary) == (D("0.00"), D("80.00"))


@pytest.mark.parametrize(
    ("call", "total", "band"),
    [
        ("2026-03-10T19:30:00+01:00", "216.00", "night"),  # Tuesday evening
        ("2026-07-14T10:00:00+02:00", "216.00", "holiday"),  # Bastille Day
        ("2026-04-06T10:00:00+02:00", "216.00", "holiday"),  # Easter Monday (moving)
        ("2026-03-10T18:00:00+01:00", "216.00", "night"),  # night starts at 18:00 sharp
        ("2026-03-11T08:00:00+01:00", "144.00", None),  # and ends at 08:00 sharp
        ("2026-03-14T20:00:00+01:00", "216.00", "weekend"),  # Saturday night: one +50 %, not two
    ],
)
def test_assist_a_time_bands_add_50_percent_to_the_tow_highest_only(
    contracts, mission, call, total, band
):
    v = value(mission("a-tuesday-30km", times={"call": call}), contracts("assist-a"))
    assert v.total.incl == D(total)
    surcharges = [line.band for line in v.lines if line.kind == "surcharge"]
    assert surcharges == ([band] if band else [])


def test_assist_a_shipped_time_examples_match(contracts, mission):
    for name in ("a-tuesday-evening", "a-bastille-day", "a-easter-monday"):
        assert value(mission(name), contracts("assist-a")).total.incl == D("216.00"), name


def test_assist_b_80km_deductible_and_extra_km_for_the_beneficiary(contracts, mission):
    v = value(mission("b-tuesday-80km"), contracts("assist-b"), ValuationContext(D("0.00")))
    assert payers(v) == (D("94.00"), D("104.00"))
    assert v.file_cap is not None
    assert v.file_cap.consumed_by_mission == D("94.00")


def test_assist_b_file_cap_leaves_40_after_260_consumed(contracts, mission):
    v = value(
        mission("b-tuesday-30km-file-consumed"),
        contracts("assist-b"),
        ValuationContext(D("260.00")),
    )
    assert payers(v) == (D("40.00"), D("104.00"))
    assert [s.rule for s in v.explanation if s.rule.endswith(("cap", "deductible"))] == [
        "deductible",
        "file_cap",
    ]


def test_private_customer_owes_180(contracts, mission):
    v = value(mission("private-tow"), contracts("private"))
    assert payers(v) == (D("0.00"), D("180.00"))
    assert v.beneficiary_due == D("180.00")
