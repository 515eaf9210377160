"""The collection gate, the mission's money state it reads, and the deposit."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.balance import (
    Collected,
    Deferred,
    Discounted,
    Event,
    MissionMoney,
    Reversed,
    fold,
)
from shared.deposit import (
    NO_DEPOSIT,
    DepositSource,
    deposit_set_payload,
    manual_deposit_from_payload,
    resolve_deposit,
)
from shared.errors import Refused
from shared.gate import PAYMENT_STEP, gate, step_payload
from shared.money import FloatRefused
from shared.payment_terms import DepositTerms, DepositWhen, Method, PayWhen
from shared.steps import Step

D = Decimal
AT_ORDER = DepositWhen.AT_ORDER
BEFORE_DEPARTURE = DepositWhen.BEFORE_DEPARTURE


def card(ref: str, amount: str, mission: str = "M1") -> Collected:
    return Collected(ref, mission, Method.CARD, D(amount))


def cash(ref: str, amount: str, mission: str = "M1") -> Collected:
    return Collected(ref, mission, Method.CASH, D(amount))


def money(due: str, *events: Event, deposit: DepositTerms | None = None) -> MissionMoney:
    resolved = resolve_deposit(deposit) if deposit else NO_DEPOSIT
    return fold("M1", D(due), events, resolved)


# -- the remaining amount ---------------------------------------------------------------


def test_remaining_is_due_minus_collected_plus_reversed_minus_discounts_and_deferrals() -> None:
    state = money(
        "200.00",
        card("e1", "50.00"),
        cash("e2", "30.00"),
        Reversed("e3", "M1", "e2"),
        Discounted("e4", "M1", D("20.00")),
        Deferred("e5", "M1", D("15.50")),
    )
    assert state.collected == D("80.00")
    assert state.reversed == D("30.00")
    assert state.net_collected == D("50.00")
    assert state.remaining == D("114.50")  # 200 − 80 + 30 − 20 − 15.50


def test_a_reversed_collection_is_owed_again() -> None:
    settled = money("38.40", card("e1", "38.40"))
    assert settled.remaining == D("0.00")
    assert settled.with_event(Reversed("e2", "M1", "e1")).remaining == D("38.40")


def test_a_collection_reversed_twice_is_taken_back_once_and_reported() -> None:
    state = money(
        "40.00", card("e1", "40.00"), Reversed("e2", "M1", "e1"), Reversed("e3", "M1", "e1")
    )
    assert state.remaining == D("40.00")
    assert [i.en for i in state.issues] == [
        "Collection e1 is reversed more than once (e3): it is taken off only once."
    ]


def test_a_reversal_of_an_unknown_collection_is_reported_and_not_counted() -> None:
    state = money("40.00", card("e1", "10.00"), Reversed("e2", "M1", "nope"))
    assert state.remaining == D("30.00")
    assert len(state.issues) == 1
    assert "nope" in state.issues[0].fr


def test_a_discount_granted_after_full_payment_shows_as_overpaid_not_negative() -> None:
    state = money("50.00", card("e1", "50.00"), Discounted("e2", "M1", D("5.00")))
    assert state.remaining == D("0.00")
    assert state.overpaid == D("5.00")
    assert state.balance == D("-5.00")


def test_the_same_entry_folded_twice_counts_once() -> None:
    state = money("50.00", card("e1", "20.00"), card("e1", "20.00"))
    assert state.collected == D("20.00")


def test_two_different_events_under_one_entry_reference_are_an_error() -> None:
    with pytest.raises(ValueError, match="share the entry reference"):
        money("50.00", card("e1", "20.00"), cash("e1", "20.00"))


def test_an_event_of_another_mission_is_an_error() -> None:
    with pytest.raises(ValueError, match="another mission"):
        money("50.00", card("e1", "20.00", mission="M2"))


def test_a_float_amount_due_is_refused() -> None:
    with pytest.raises(FloatRefused):
        MissionMoney("M1", 12.5)  # type: ignore[arg-type]


def test_a_negative_amount_due_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        MissionMoney("M1", D("-1.00"))


# -- which step each preference guards ----------------------------------------------------


@pytest.mark.parametrize(
    ("pays", "guarded"),
    [
        (PayWhen.AT_ORDER, Step.EN_ROUTE),
        (PayWhen.BEFORE_DEPARTURE, Step.DEPARTED),
        (PayWhen.AT_DELIVERY, Step.DELIVERED),
        (PayWhen.ON_INVOICE, None),
    ],
)
def test_each_payment_preference_guards_its_step(pays: PayWhen, guarded: Step | None) -> None:
    assert PAYMENT_STEP[pays] == guarded


def test_leaving_the_scene_is_refused_while_money_remains_and_the_driver_is_told_why() -> None:
    decision = gate(money("120.00", card("e1", "81.60")), PayWhen.BEFORE_DEPARTURE,
                    Step.ON_SITE, Step.DEPARTED)  # fmt: skip
    assert not decision.open
    assert decision.owed == D("38.40")
    assert decision.reason is not None
    assert decision.reason.fr == (
        "Impossible de quitter les lieux : le bénéficiaire doit encore payer."
        " Dû : 120,00\u00a0€ ; déjà encaissé : 81,60\u00a0€."
        " Montant restant à encaisser : 38,40\u00a0€."
        " Encaissez-le, ou demandez au gérant une remise ou un « facturer plus tard »."
    )
    assert decision.reason.en == (
        "You cannot leave the scene yet: the beneficiary still has to pay."
        " Due: €120.00; collected so far: €81.60. Remaining to collect: €38.40."
        " Collect it, or ask the manager for a discount or to bill it later."
    )


def test_the_refusal_mentions_reversals_and_approvals_that_changed_the_amount() -> None:
    state = money(
        "100.00",
        cash("e1", "30.00"),
        card("e2", "10.00"),
        Reversed("e3", "M1", "e2"),
        Discounted("e4", "M1", D("5.00")),
    )
    decision = gate(state, PayWhen.AT_DELIVERY, Step.DEPARTED, Step.DELIVERED)
    assert decision.reason is not None
    assert (
        "Dû : 100,00\u00a0€ ; déjà encaissé : 30,00\u00a0€ (après annulation de 10,00\u00a0€) ;"
        " remise accordée : 5,00\u00a0€." in decision.reason.fr
    )
    assert "Remaining to collect: €65.00." in decision.reason.en


def test_the_gate_opens_once_the_remaining_amount_is_collected() -> None:
    state = money("120.00", card("e1", "81.60"), cash("e2", "38.40"))
    assert gate(state, PayWhen.BEFORE_DEPARTURE, Step.ON_SITE, Step.DEPARTED).open


def test_paying_at_order_guards_setting_off() -> None:
    state = money("90.00")
    assert not gate(state, PayWhen.AT_ORDER, Step.ASSIGNED, Step.EN_ROUTE).open
    assert gate(state, PayWhen.BEFORE_DEPARTURE, Step.ASSIGNED, Step.EN_ROUTE).open


def test_paying_at_delivery_lets_the_truck_leave_the_scene_but_not_release_the_vehicle() -> None:
    state = money("90.00")
    assert gate(state, PayWhen.AT_DELIVERY, Step.ON_SITE, Step.DEPARTED).open
    assert not gate(state, PayWhen.AT_DELIVERY, Step.DEPARTED, Step.DELIVERED).open


def test_a_repair_that_closes_without_delivery_cannot_skip_the_delivery_gate() -> None:
    decision = gate(money("90.00"), PayWhen.AT_DELIVERY, Step.DEPARTED, Step.CLOSED)
    assert not decision.open
    assert decision.reason is not None
    assert decision.reason.en.startswith("You cannot close the mission yet:")


def test_paying_on_invoice_has_no_field_gate() -> None:
    state = money("90.00")
    for current, target in [
        (Step.ASSIGNED, Step.EN_ROUTE),
        (Step.ON_SITE, Step.DEPARTED),
        (Step.DEPARTED, Step.DELIVERED),
        (Step.DELIVERED, Step.CLOSED),
    ]:
        assert gate(state, PayWhen.ON_INVOICE, current, target).open


def test_a_mission_still_owed_money_cannot_be_closed_after_its_gate_was_passed() -> None:
    # Paid at order, then winching was added on site: closing waits for the difference.
    state = money("150.00", card("e1", "100.00"))
    assert gate(state, PayWhen.AT_ORDER, Step.ON_SITE, Step.DEPARTED).open
    decision = gate(state, PayWhen.AT_ORDER, Step.DELIVERED, Step.CLOSED)
    assert not decision.open
    assert decision.owed == D("50.00")


@pytest.mark.parametrize("pays", list(PayWhen))
@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Step.ASSIGNED, Step.CANCELLED),
        (Step.ON_SITE, Step.CANCELLED),
        (Step.EN_ROUTE, Step.GONE_ON_ARRIVAL),
        (Step.ON_SITE, Step.GONE_ON_ARRIVAL),
    ],
)
def test_cancelling_or_finding_nobody_is_never_gated(
    pays: PayWhen, current: Step, target: Step
) -> None:
    assert gate(money("90.00"), pays, current, target).open


def test_an_approved_discount_and_deferral_open_the_gate() -> None:
    state = money(
        "90.00",
        cash("e1", "40.00"),
        Discounted("e2", "M1", D("10.00")),
        Deferred("e3", "M1", D("40.00")),
    )
    assert state.remaining == D("0.00")
    assert gate(state, PayWhen.BEFORE_DEPARTURE, Step.ON_SITE, Step.DEPARTED).open


def test_nothing_due_opens_every_gate() -> None:
    for pays in PayWhen:
        assert gate(money("0.00"), pays, Step.ON_SITE, Step.DEPARTED).open


def test_a_step_payload_records_the_move_and_the_remaining_amount() -> None:
    payload = step_payload(
        money("90.00", card("e1", "90.00")), PayWhen.BEFORE_DEPARTURE, Step.ON_SITE, Step.DEPARTED
    )
    assert payload == {"mission_id": "M1", "from": "on_site", "to": "departed", "remaining": "0.00"}


def test_a_cancellation_payload_keeps_the_amount_left_owed_for_the_office() -> None:
    payload = step_payload(money("90.00"), PayWhen.AT_ORDER, Step.ASSIGNED, Step.CANCELLED)
    assert payload["remaining"] == "90.00"


def test_a_step_payload_is_refused_when_the_gate_is_closed() -> None:
    with pytest.raises(Refused) as caught:
        step_payload(money("12.00"), PayWhen.BEFORE_DEPARTURE, Step.ON_SITE, Step.DEPARTED)
    assert "Montant restant à encaisser : 12,00\u00a0€." in caught.value.text.fr


def test_an_illegal_move_is_refused_before_the_gate_is_even_asked() -> None:
    with pytest.raises(Refused) as caught:
        step_payload(money("0.00"), PayWhen.ON_INVOICE, Step.ASSIGNED, Step.DELIVERED)
    assert caught.value.text.en.startswith("Cannot move from “assigned”")


# -- the deposit --------------------------------------------------------------------------


def test_a_contract_deposit_at_order_guards_setting_off() -> None:
    state = money("200.00", deposit=DepositTerms(AT_ORDER, D("50.00")))
    decision = gate(state, PayWhen.AT_DELIVERY, Step.ASSIGNED, Step.EN_ROUTE)
    assert not decision.open
    assert decision.owed == D("50.00")
    assert decision.reason is not None
    assert decision.reason.fr == (
        "Impossible de prendre la route : un acompte de 50,00\u00a0€ est demandé (prévu par le"
        " contrat). Déjà encaissé : 0,00\u00a0€. Acompte restant à encaisser : 50,00\u00a0€."
        " Encaissez-le, ou demandez au gérant une remise ou un « facturer plus tard »."
    )


def test_the_deposit_counts_toward_the_total_and_the_rest_waits_for_its_own_step() -> None:
    state = money("200.00", cash("e1", "50.00"), deposit=DepositTerms(AT_ORDER, D("50.00")))
    assert gate(state, PayWhen.AT_DELIVERY, Step.ASSIGNED, Step.EN_ROUTE).open
    assert state.remaining == D("150.00")
    assert gate(state, PayWhen.AT_DELIVERY, Step.DEPARTED, Step.DELIVERED).owed == D("150.00")


def test_a_deposit_before_departure_guards_leaving_the_scene_when_the_rest_is_invoiced() -> None:
    state = money("200.00", card("e1", "20.00"), deposit=DepositTerms(BEFORE_DEPARTURE, D("80")))
    assert gate(state, PayWhen.ON_INVOICE, Step.ASSIGNED, Step.EN_ROUTE).open
    decision = gate(state, PayWhen.ON_INVOICE, Step.ON_SITE, Step.DEPARTED)
    assert decision.owed == D("60.00")
    assert gate(state, PayWhen.ON_INVOICE, Step.DELIVERED, Step.CLOSED).open


def test_the_full_payment_speaks_first_when_it_guards_the_same_step_as_the_deposit() -> None:
    state = money("200.00", deposit=DepositTerms(AT_ORDER, D("50.00")))
    assert gate(state, PayWhen.AT_ORDER, Step.ASSIGNED, Step.EN_ROUTE).owed == D("200.00")


def test_the_deposit_never_asks_more_than_the_beneficiary_owes() -> None:
    assert gate(
        money("30.00", deposit=DepositTerms(AT_ORDER, D("50.00"))),
        PayWhen.ON_INVOICE, Step.ASSIGNED, Step.EN_ROUTE,
    ).owed == D("30.00")  # fmt: skip
    nothing_owed = money("0.00", deposit=DepositTerms(AT_ORDER, D("50.00")))
    assert gate(nothing_owed, PayWhen.ON_INVOICE, Step.ASSIGNED, Step.EN_ROUTE).open


def test_an_exempt_contract_asks_no_deposit_even_with_an_amount_written() -> None:
    deposit = resolve_deposit(DepositTerms(DepositWhen.EXEMPT, D("50.00")))
    assert deposit.amount == D("0.00")
    assert not deposit.required
    assert deposit.explanation.en == "No deposit under the contract."


def test_the_contract_deposit_is_explained() -> None:
    deposit = resolve_deposit(DepositTerms(AT_ORDER, D("80")))
    assert deposit.source is DepositSource.CONTRACT
    assert deposit.explanation.fr == "Acompte prévu par le contrat : 80,00\u00a0€ à la commande."


def test_a_deposit_set_by_hand_in_the_office_overrides_the_computed_one() -> None:
    deposit = resolve_deposit(
        DepositTerms(AT_ORDER, D("80.00")), DepositTerms(BEFORE_DEPARTURE, D("30.00"))
    )
    assert (deposit.amount, deposit.when, deposit.source) == (
        D("30.00"),
        BEFORE_DEPARTURE,
        DepositSource.OFFICE,
    )
    assert deposit.explanation.en == (
        "Deposit set by hand in the office: €30.00 before leaving the scene"
        " (computed: €80.00 at order)."
    )


def test_the_office_can_waive_a_deposit_by_hand() -> None:
    deposit = resolve_deposit(DepositTerms(AT_ORDER, D("80.00")), DepositTerms(AT_ORDER, D("0")))
    assert not deposit.required
    assert deposit.source is DepositSource.OFFICE
    assert deposit.explanation.fr == (
        "Acompte supprimé à la main par le bureau (calculé : 80,00\u00a0€ à la commande)."
    )


def test_a_float_deposit_is_refused() -> None:
    with pytest.raises(FloatRefused):
        resolve_deposit(DepositTerms(AT_ORDER, 50.0))  # type: ignore[arg-type]


# -- properties ---------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2)
deposit_terms = st.builds(
    DepositTerms, st.sampled_from(DepositWhen), st.decimals(min_value=0, max_value=2000, places=2)
)


@given(deposit_terms, deposit_terms)
def test_a_hand_set_deposit_is_never_overwritten_by_any_recomputation(
    computed: DepositTerms, manual: DepositTerms
) -> None:
    deposit = resolve_deposit(computed, manual)
    assert deposit.source is DepositSource.OFFICE
    expected = D("0.00") if manual.when is DepositWhen.EXEMPT else manual.amount
    assert deposit.amount == expected


@st.composite
def histories(draw: st.DrawFn) -> tuple[Decimal, list[Event]]:
    """A due amount and events that never collect or grant more than remains."""
    due = draw(st.decimals(min_value=0, max_value=D("3000"), places=2))
    events: list[Event] = []
    left = due
    for n in range(draw(st.integers(min_value=0, max_value=8))):
        if left <= 0:
            break
        amount = draw(st.decimals(min_value=D("0.01"), max_value=left, places=2))
        kind = draw(st.sampled_from(["card", "cash", "discount", "deferral"]))
        ref = f"e{n}"
        if kind == "discount":
            events.append(Discounted(ref, "M1", amount))
        elif kind == "deferral":
            events.append(Deferred(ref, "M1", left))
            amount = left
        else:
            events.append(Collected(ref, "M1", Method(kind), amount))
        left -= amount
    return due, events


@given(histories(), st.sampled_from(PayWhen))
def test_the_gate_opens_exactly_when_nothing_remains(
    history: tuple[Decimal, list[Event]], pays: PayWhen
) -> None:
    due, events = history
    state = fold("M1", due, events)
    for current, target in [
        (Step.ASSIGNED, Step.EN_ROUTE),
        (Step.ON_SITE, Step.DEPARTED),
        (Step.DEPARTED, Step.DELIVERED),
        (Step.DELIVERED, Step.CLOSED),
    ]:
        decision = gate(state, pays, current, target)
        guarded = pays is not PayWhen.ON_INVOICE and (
            target is Step.CLOSED or target is PAYMENT_STEP[pays]
        )
        if guarded:
            assert decision.open == (state.remaining == 0)
            assert decision.owed == state.remaining
        else:
            assert decision.open


@given(histories(), st.randoms(use_true_random=False))
def test_folding_the_same_entries_in_any_order_or_twice_gives_the_same_state(
    history: tuple[Decimal, list[Event]], shuffler: random.Random
) -> None:
    due, events = history
    reversals = [
        Reversed(f"r{i}", "M1", e.ref) for i, e in enumerate(events) if isinstance(e, Collected)
    ][:2]
    everything: list[Event] = [*events, *reversals]
    shuffled = [*everything, *everything[:3]]
    shuffler.shuffle(shuffled)
    assert fold("M1", due, shuffled) == fold("M1", due, everything)


@given(histories())
def test_remaining_is_never_negative_and_matches_the_formula(
    history: tuple[Decimal, list[Event]],
) -> None:
    due, events = history
    state = fold("M1", due, events)
    assert state.remaining >= 0
    assert state.remaining == (
        due - state.collected + state.reversed - state.discounted - state.deferred
    )


@given(amounts, st.lists(amounts, max_size=4))
def test_the_deposit_outstanding_never_exceeds_the_remaining_amount(
    due: Decimal, collected: list[Decimal]
) -> None:
    events = [Collected(f"e{i}", "M1", Method.CARD, a) for i, a in enumerate(collected)]
    state = money(str(due), *events, deposit=DepositTerms(AT_ORDER, D("100.00")))
    assert 0 <= state.deposit_outstanding <= state.remaining


def test_a_deposit_set_by_hand_is_journaled_and_read_back_as_the_office_chose_it() -> None:
    payload = deposit_set_payload("M1", DepositTerms(BEFORE_DEPARTURE, D("45")))
    assert payload == {"mission_id": "M1", "when": "before_departure", "amount": "45.00"}
    manual = manual_deposit_from_payload(payload)
    deposit = resolve_deposit(DepositTerms(AT_ORDER, D("80.00")), manual)
    assert (deposit.amount, deposit.when) == (D("45.00"), BEFORE_DEPARTURE)


def test_a_deposit_waived_by_hand_is_journaled_as_exempt() -> None:
    payload = deposit_set_payload("M1", DepositTerms(AT_ORDER, D("0")))
    assert payload == {"mission_id": "M1", "when": "exempt", "amount": "0.00"}
