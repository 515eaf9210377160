"""The driver's cash register: float, collections, reversals, deposits, closing count."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import Refused
from shared.payment_terms import Method
from shared.register import (
    Closed,
    Collected,
    Deposited,
    Event,
    Opened,
    Register,
    Reversed,
    Status,
    apply,
    closed_payload,
    deposit_payload,
    event_from_entry,
    opened_payload,
    replay,
)

D = Decimal
OPEN = Opened(D("50.00"))


def test_a_register_opens_with_its_float_as_the_expected_cash() -> None:
    register = replay([OPEN])
    assert register.status is Status.OPEN
    assert register.expected_cash == D("50.00")


def test_cash_collections_and_reversals_change_the_expected_cash() -> None:
    register = replay(
        [OPEN, Collected(Method.CASH, D("120.00")), Reversed(Method.CASH, D("20.00"))]
    )
    assert register.expected_cash == D("150.00")
    assert register.net_by(Method.CASH) == D("100.00")


def test_card_and_cheque_collections_are_tracked_but_leave_the_drawer_alone() -> None:
    register = replay(
        [OPEN, Collected(Method.CARD, D("89.90")), Collected(Method.CHEQUE, D("40.00"))]
    )
    assert register.expected_cash == D("50.00")
    assert register.net_by_method == {Method.CARD: D("89.90"), Method.CHEQUE: D("40.00")}


def test_a_bank_deposit_takes_cash_out_of_the_drawer() -> None:
    register = replay([OPEN, Collected(Method.CASH, D("200.00")), Deposited(D("180.00"))])
    assert register.expected_cash == D("70.00")


def test_a_deposit_above_the_cash_held_is_refused() -> None:
    register = replay([OPEN, Collected(Method.CARD, D("500.00"))])
    with pytest.raises(Refused) as caught:
        apply(register, Deposited(D("50.01")))
    assert "50,00" in caught.value.message("fr")
    assert "holds only €50.00" in caught.value.message("en")


def test_closing_with_the_counted_cash_gives_the_variance() -> None:
    register = replay([OPEN, Collected(Method.CASH, D("100.00")), Closed(D("145.50"))])
    assert register.status is Status.CLOSED
    assert register.counted == D("145.50")
    assert register.variance == D("-4.50")


def test_an_open_register_has_no_variance_yet() -> None:
    assert replay([OPEN]).variance is None


def test_nothing_can_be_recorded_on_a_closed_register() -> None:
    closed = replay([OPEN, Closed(D("50.00"))])
    for event in (
        Collected(Method.CASH, D("1.00")),
        Reversed(Method.CARD, D("1.00")),
        Deposited(D("1.00")),
        Closed(D("0.00")),
    ):
        with pytest.raises(Refused, match="fermée"):
            apply(closed, event)


def test_nothing_can_be_recorded_before_the_register_is_opened() -> None:
    with pytest.raises(Refused, match="pas ouverte"):
        apply(Register(), Collected(Method.CARD, D("10.00")))


def test_opening_an_open_register_again_is_refused() -> None:
    with pytest.raises(Refused, match="déjà ouverte"):
        replay([OPEN, Opened(D("0.00"))])


def test_a_closed_register_reopens_as_a_new_session_with_its_new_float() -> None:
    register = replay(
        [OPEN, Collected(Method.CASH, D("10.00")), Closed(D("60.00")), Opened(D("60.00"))]
    )
    assert register.session == 2
    assert register.expected_cash == D("60.00")
    assert register.collected == ()


def test_a_negative_float_is_refused() -> None:
    with pytest.raises(Refused, match="négatif"):
        replay([Opened(D("-1.00"))])


@pytest.mark.parametrize("amount", [D("0.00"), D("-5.00")])
def test_collections_and_deposits_must_be_positive(amount: Decimal) -> None:
    register = replay([OPEN])
    for event in (Collected(Method.CASH, amount), Deposited(amount)):
        with pytest.raises(Refused):
            apply(register, event)


def test_a_float_amount_is_refused_outright() -> None:
    with pytest.raises(TypeError):
        replay([Opened(50.0)])  # type: ignore[arg-type]


def test_register_events_round_trip_through_journal_payloads() -> None:
    entries: list[tuple[str, dict[str, str]]] = [
        ("register_opened", opened_payload(D("50.00"))),
        ("collection", {"method": "cash", "amount": "30.00", "tendered": "50.00"}),
        ("collection", {"method": "card", "amount": "70.00", "terminal_ref": "X"}),
        ("mission_step", {"mission_id": "M-1", "step": "delivered"}),
        ("reversal", {"method": "cash", "amount": "30.00", "collection_ref": "c1"}),
        ("bank_deposit", deposit_payload(D("20.00"), "SLIP-7")),
    ]
    read = [event_from_entry(kind, payload) for kind, payload in entries]
    register = replay(e for e in read if e is not None)
    assert read[3] is None
    assert register.expected_cash == D("30.00")
    closing = closed_payload(register, D("29.00"))
    assert closing == {
        "counted": "29.00",
        "expected": "30.00",
        "variance": "-1.00",
        "by_method": {"card": "70.00", "cash": "0.00"},
    }
    assert event_from_entry("register_closed", closing) == Closed(D("29.00"))


# Property: expected cash = float + cash collections − cash reversals − deposits.

amounts = st.integers(min_value=1, max_value=10**7).map(lambda c: Decimal(c) / 100)
events = st.one_of(
    st.builds(Collected, st.sampled_from(Method), amounts),
    st.builds(Reversed, st.sampled_from(Method), amounts),
    st.builds(Deposited, amounts),
)


@given(amounts | st.just(D("0.00")), st.lists(events, max_size=40))
def test_expected_cash_is_float_plus_cash_in_minus_cash_reversed_minus_deposits(
    float_amount: Decimal, stream: list[Event]
) -> None:
    register = replay([Opened(float_amount)])
    applied: list[Event] = []
    for event in stream:
        try:
            register = apply(register, event)
        except Refused:
            assert isinstance(event, Deposited)  # only a deposit above the cash held
            continue
        applied.append(event)
    cash_in = sum(
        (e.amount for e in applied if isinstance(e, Collected) and e.method is Method.CASH), D(0)
    )
    cash_back = sum(
        (e.amount for e in applied if isinstance(e, Reversed) and e.method is Method.CASH), D(0)
    )
    deposits = sum((e.amount for e in applied if isinstance(e, Deposited)), D(0))
    assert register.expected_cash == float_amount + cash_in - cash_back - deposits
    for method in Method:
        collected = sum(
            (e.amount for e in applied if isinstance(e, Collected) and e.method is method), D(0)
        )
        reversed_ = sum(
            (e.amount for e in applied if isinstance(e, Reversed) and e.method is method), D(0)
        )
        assert register.net_by(method) == collected - reversed_
    counted = max(register.expected_cash, D("0.00"))
    assert apply(register, Closed(counted)).variance == counted - register.expected_cash
