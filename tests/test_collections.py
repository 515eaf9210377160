"""Collections with a real method and its evidence; reversals, discounts, deferrals and
disputes; and the payloads they write to the journal."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.balance import Collected, Event, MissionMoney, Reversed, fold
from shared.errors import Refused
from shared.gate import gate
from shared.money import FloatRefused
from shared.payment_terms import Method, PayWhen
from shared.payments import (
    DEFAULT_CASH_LIMIT,
    allowed_methods,
    collection_payload,
    deferral_payload,
    discount_payload,
    dispute_payload,
    event_from_entry,
    reversal_payload,
)
from shared.steps import Step

D = Decimal
EVERY = frozenset(Method)
CARD_REF = {"terminal_ref": "A1B2C3"}


def owed(due: str, *events: Event) -> MissionMoney:
    return fold("M1", D(due), events)


def collect(
    money: MissionMoney,
    method: str,
    amount: object,
    evidence: Mapping[str, object] | None = None,
    *,
    company: frozenset[Method] = EVERY,
    contract: frozenset[Method] = EVERY,
    cash_limit: Decimal | None = DEFAULT_CASH_LIMIT,
) -> dict[str, str]:
    return collection_payload(
        money,
        method,
        amount,
        evidence or {},
        company_methods=company,
        contract_methods=contract,
        cash_limit=cash_limit,
    )


def refused(*args: object, **kwargs: object) -> Refused:
    with pytest.raises(Refused) as caught:
        collect(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value


def record(money: MissionMoney, ref: str, kind: str, payload: Mapping[str, object]) -> MissionMoney:
    event = event_from_entry(kind, ref, payload)
    assert event is not None
    return money.with_event(event)


# -- which methods ------------------------------------------------------------------------


def test_the_methods_allowed_are_those_both_the_company_and_the_contract_accept() -> None:
    company = {Method.CASH, Method.CARD, Method.CHEQUE}
    contract = {Method.CARD, Method.CHEQUE, Method.TRANSFER}
    assert allowed_methods(company, contract) == {Method.CARD, Method.CHEQUE}


def test_a_method_the_contract_does_not_accept_is_refused_with_the_accepted_ones() -> None:
    error = refused(
        owed("50.00"),
        "cash",
        "50.00",
        {"tendered": "50.00"},
        contract=frozenset({Method.CARD, Method.CHEQUE}),
    )
    assert error.text.fr == (
        "Le règlement par espèces n'est pas accepté pour cette mission."
        " Modes acceptés : carte bancaire, chèque."
    )
    assert error.text.en == (
        "Payment by cash is not accepted for this mission. Accepted methods: card, cheque."
    )


def test_a_method_the_company_does_not_accept_is_refused() -> None:
    error = refused(owed("50.00"), "card", "50.00", CARD_REF, company=frozenset({Method.CASH}))
    assert "Accepted methods: cash." in error.text.en


def test_no_method_in_common_sends_the_driver_to_the_office() -> None:
    error = refused(
        owed("50.00"),
        "card",
        "50.00",
        CARD_REF,
        company=frozenset({Method.CASH}),
        contract=frozenset({Method.CARD}),
    )
    assert error.text.en.endswith("have none in common. Call the office.")


def test_an_unknown_method_is_refused() -> None:
    error = refused(owed("50.00"), "bitcoin", "50.00")
    assert error.text.en.startswith("Unknown payment method: “bitcoin”.")


# -- evidence -----------------------------------------------------------------------------


def test_a_card_collection_records_the_terminal_authorisation_reference() -> None:
    payload = collect(owed("38.40"), "card", "38.40", {"terminal_ref": " A1B2C3 "})
    assert payload == {
        "mission_id": "M1",
        "method": "card",
        "amount": "38.40",
        "terminal_ref": "A1B2C3",
    }


def test_card_collection_without_terminal_reference_is_refused() -> None:
    error = refused(owed("38.40"), "card", "38.40", {})
    assert error.text.fr == (
        "Indiquez la référence d'autorisation du terminal de paiement (sur le ticket)."
    )
    assert error.text.en == "Enter the card terminal's authorisation reference (on the receipt)."


def test_card_collection_with_a_blank_terminal_reference_is_refused() -> None:
    refused(owed("38.40"), "card", "38.40", {"terminal_ref": "   "})


@pytest.mark.parametrize("reference", ["🚗€", "---", "#/"])
def test_a_reference_without_letters_or_digits_is_refused(reference: str) -> None:
    # It could never be matched against the terminal's settlement file.
    error = refused(owed("38.40"), "card", "38.40", {"terminal_ref": reference})
    assert error.text.en.endswith(f"must contain letters or digits: “{reference}”.")


def test_a_cheque_collection_records_its_number_and_bank() -> None:
    payload = collect(
        owed("120.00"), "cheque", "120.00", {"cheque_number": "012 3456", "bank": "Crédit Mutuel"}
    )
    assert payload["cheque_number"] == "0123456"
    assert payload["bank"] == "Crédit Mutuel"


def test_a_cheque_without_its_bank_is_refused() -> None:
    error = refused(owed("120.00"), "cheque", "120.00", {"cheque_number": "0123456"})
    assert error.text.en == "Enter the cheque's bank."


def test_a_cheque_number_with_letters_is_refused() -> None:
    error = refused(owed("120.00"), "cheque", "120.00", {"cheque_number": "12AB", "bank": "LCL"})
    assert error.text.en == "The cheque number must contain digits only: “12AB”."


@pytest.mark.parametrize("method", ["transfer", "payment_link"])
def test_a_transfer_or_payment_link_needs_its_reference(method: str) -> None:
    refused(owed("80.00"), method, "80.00", {})
    payload = collect(owed("80.00"), method, "80.00", {"reference": "VIR-2026-0042"})
    assert payload["reference"] == "VIR-2026-0042"


def test_evidence_that_belongs_to_another_method_is_refused() -> None:
    error = refused(owed("80.00"), "card", "80.00", {"terminal_ref": "X1", "bank": "LCL"})
    assert error.text.en == "Unexpected information for a payment by card: bank."


def test_a_reference_with_control_characters_is_refused() -> None:
    error = refused(owed("80.00"), "transfer", "80.00", {"reference": "VIR\x00042"})
    assert "cannot be read" in error.text.en


def test_a_reference_longer_than_64_characters_is_refused() -> None:
    error = refused(owed("80.00"), "transfer", "80.00", {"reference": "R" * 65})
    assert error.text.en == "Too long for the transfer reference (65 characters, 64 at most)."


# -- cash ---------------------------------------------------------------------------------


def test_cash_records_the_amount_tendered_and_the_change_given() -> None:
    payload = collect(owed("38.40"), "cash", "38.40", {"tendered": "50.00"})
    assert payload == {
        "mission_id": "M1",
        "method": "cash",
        "amount": "38.40",
        "tendered": "50.00",
        "change": "11.60",
    }


def test_cash_without_the_amount_tendered_is_refused() -> None:
    error = refused(owed("38.40"), "cash", "38.40")
    assert error.text.en == "Enter the amount the customer handed over, to work out the change."


def test_cash_tendered_below_the_amount_collected_is_refused() -> None:
    error = refused(owed("38.40"), "cash", "38.40", {"tendered": "20.00"})
    assert error.text.en == (
        "The customer handed over €20.00, less than the amount collected (€38.40)."
    )


def test_cash_above_the_remaining_amount_is_refused_change_comes_from_the_tendered_amount() -> None:
    error = refused(owed("38.40"), "cash", "50.00", {"tendered": "50.00"})
    assert error.text.fr == (
        "Le montant (50,00\u00a0€) dépasse le reste à encaisser (38,40\u00a0€)."
        " Encaissez au plus 38,40\u00a0€."
        " Pour rendre la monnaie, saisissez à part le montant remis par le client."
    )


def test_cash_beyond_the_legal_limit_for_the_mission_is_refused() -> None:
    money = owed("1500.00", Collected("e1", "M1", Method.CASH, D("800.00")))
    error = refused(money, "cash", "300.00", {"tendered": "300.00"})
    assert error.text.fr == (
        "Paiement en espèces limité par la loi à 1\u202f000,00\u00a0€ pour cette mission"
        " (déjà encaissé en espèces : 800,00\u00a0€). Encaissez au plus 200,00\u00a0€ en espèces"
        " et le reste par un autre moyen."
    )
    payload = collect(money, "cash", "200.00", {"tendered": "200.00"})
    assert payload["amount"] == "200.00"


def test_cash_exactly_at_the_legal_limit_is_accepted() -> None:
    payload = collect(owed("1000.00"), "cash", "1000.00", {"tendered": "1000.00"})
    assert payload["change"] == "0.00"


def test_reversed_cash_no_longer_counts_toward_the_limit() -> None:
    money = owed(
        "1000.00",
        Collected("e1", "M1", Method.CASH, D("900.00")),
        Reversed("e2", "M1", "e1"),
    )
    assert collect(money, "cash", "1000.00", {"tendered": "1000.00"})["amount"] == "1000.00"


def test_the_cash_limit_is_configurable_and_can_be_lifted() -> None:
    refused(owed("600.00"), "cash", "600.00", {"tendered": "600.00"}, cash_limit=D("500.00"))
    payload = collect(owed("3000.00"), "cash", "3000.00", {"tendered": "3000"}, cash_limit=None)
    assert payload["amount"] == "3000.00"


def test_the_legal_cash_limit_is_a_thousand_euros_by_default() -> None:
    assert D("1000.00") == DEFAULT_CASH_LIMIT


# -- amounts ------------------------------------------------------------------------------


def test_a_card_collection_above_the_remaining_amount_is_refused() -> None:
    money = owed("120.00", Collected("e1", "M1", Method.CASH, D("81.60")))
    error = refused(money, "card", "40.00", CARD_REF)
    assert error.text.en == (
        "The amount (€40.00) is more than what remains to collect (€38.40). Collect €38.40 at most."
    )


def test_a_float_amount_is_refused_as_a_bug() -> None:
    with pytest.raises(FloatRefused):
        collect(owed("38.40"), "card", 38.4, CARD_REF)


def test_a_float_tendered_amount_is_refused_as_a_bug() -> None:
    with pytest.raises(FloatRefused):
        collect(owed("38.40"), "cash", "38.40", {"tendered": 50.0})


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00"])
def test_a_zero_or_negative_amount_is_refused(amount: str) -> None:
    error = refused(owed("38.40"), "card", amount, CARD_REF)
    assert error.text.en == "The amount collected must be more than zero."


@pytest.mark.parametrize("amount", ["12,50", "12.505", "abc", None])
def test_an_unreadable_amount_is_refused(amount: object) -> None:
    error = refused(owed("38.40"), "card", amount, CARD_REF)
    assert error.text.en.startswith("The amount collected cannot be read")


def test_part_cash_part_card_settles_the_mission_and_opens_the_gate() -> None:
    money = owed("120.00")
    money = record(money, "e1", "collection", collect(money, "cash", "50.00", {"tendered": "50"}))
    assert not gate(money, PayWhen.BEFORE_DEPARTURE, Step.ON_SITE, Step.DEPARTED).open
    money = record(money, "e2", "collection", collect(money, "card", "70.00", CARD_REF))
    assert money.net_collected_by(Method.CASH) == D("50.00")
    assert money.net_collected_by(Method.CARD) == D("70.00")
    assert money.remaining == D("0.00")
    assert gate(money, PayWhen.BEFORE_DEPARTURE, Step.ON_SITE, Step.DEPARTED).open


# -- nothing due, nothing collected -------------------------------------------------------


def test_a_collection_where_the_beneficiary_owes_nothing_is_refused_with_dispute_advice() -> None:
    error = refused(owed("0.00"), "card", "10.00", CARD_REF)
    assert error.text.fr == (
        "Rien à encaisser : le bénéficiaire ne doit rien pour cette mission. Si le prix vous"
        " semble faux, n'enregistrez pas d'encaissement : signalez un litige, le bureau le verra."
    )
    assert error.text.en == (
        "Nothing to collect: the beneficiary owes nothing for this mission. If you think the"
        " price is wrong, do not record a collection: raise a dispute and the office will see it."
    )


def test_a_collection_once_everything_is_settled_is_refused_and_says_what_was_paid() -> None:
    error = refused(owed("50.00", Collected("e1", "M1", Method.CARD, D("50.00"))), "cash", "5")
    assert error.text.en == (
        "Nothing to collect: everything due is settled. Due: €50.00; collected so far: €50.00."
        " If you think the price is wrong, do not record a collection: raise a dispute and the"
        " office will see it."
    )


def test_nothing_due_is_said_before_anything_else_is_checked() -> None:
    error = refused(owed("0.00"), "bitcoin", 12.5)
    assert error.text.en.startswith("Nothing to collect")


# -- reversals ----------------------------------------------------------------------------


REF = {"device_id": "tablet-3", "seq": 7, "hash": "h-abc"}


def test_a_reversal_names_the_collection_it_voids_and_why() -> None:
    money = owed("50.00", Collected("h-abc", "M1", Method.CASH, D("50.00")))
    payload = reversal_payload(money, REF, "Mode de règlement choisi au hasard")
    assert payload == {
        "mission_id": "M1",
        "reverses": {"device_id": "tablet-3", "seq": 7, "hash": "h-abc"},
        "method": "cash",
        "amount": "50.00",
        "reason": "Mode de règlement choisi au hasard",
    }
    assert record(money, "h-def", "reversal", payload).remaining == D("50.00")


def test_reversing_an_unknown_collection_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        reversal_payload(owed("50.00"), {**REF, "hash": "h-zzz"}, "erreur")
    assert caught.value.text.en == "No collection “h-zzz” on mission M1."


def test_reversing_a_collection_twice_is_refused() -> None:
    money = owed(
        "50.00", Collected("h-abc", "M1", Method.CASH, D("50.00")), Reversed("r1", "M1", "h-abc")
    )
    with pytest.raises(Refused) as caught:
        reversal_payload(money, REF, "erreur")
    assert caught.value.text.en == "Collection “h-abc” is already reversed."


def test_a_reversal_without_a_reason_is_refused() -> None:
    money = owed("50.00", Collected("h-abc", "M1", Method.CASH, D("50.00")))
    with pytest.raises(Refused) as caught:
        reversal_payload(money, REF, "  ")
    assert caught.value.text.en == "Enter the reason for the reversal."


def test_a_reversal_that_does_not_name_an_entry_hash_is_a_programming_error() -> None:
    money = owed("50.00", Collected("h-abc", "M1", Method.CASH, D("50.00")))
    with pytest.raises(ValueError, match="entry hash"):
        reversal_payload(money, {"seq": 7}, "erreur")


# -- disputes -----------------------------------------------------------------------------


def test_a_dispute_carries_the_drivers_reason_and_the_amount_shown() -> None:
    payload = dispute_payload(owed("0.00"), "  Le treuillage n'est pas compté  ")
    assert payload == {
        "mission_id": "M1",
        "reason": "Le treuillage n'est pas compté",
        "due": "0.00",
    }


def test_a_dispute_without_a_reason_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        dispute_payload(owed("0.00"), "")
    assert caught.value.text.fr == "Indiquez ce qui vous semble faux dans le prix."


def test_a_dispute_moves_no_money() -> None:
    assert event_from_entry("dispute", "e9", {"mission_id": "M1", "reason": "x"}) is None


# -- discounts and deferrals --------------------------------------------------------------


def test_an_approved_discount_lowers_the_remaining_amount() -> None:
    money = owed("38.40")
    payload = discount_payload(money, "8.40", "APPROVAL-7")
    assert payload == {"mission_id": "M1", "amount": "8.40", "approval_ref": "APPROVAL-7"}
    assert record(money, "e1", "discount", payload).remaining == D("30.00")


def test_a_discount_without_approval_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        discount_payload(owed("38.40"), "8.40", "")
    assert caught.value.text.en == "Enter the manager's approval reference."


def test_a_discount_above_the_remaining_amount_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        discount_payload(owed("38.40"), "40.00", "APPROVAL-7")
    assert caught.value.text.en == "The discount (€40.00) is more than what remains (€38.40)."


def test_a_discount_on_a_settled_mission_is_refused() -> None:
    with pytest.raises(Refused):
        discount_payload(owed("0.00"), "1.00", "APPROVAL-7")


def test_bill_later_covers_the_whole_remaining_amount_and_opens_the_gate() -> None:
    money = owed("120.00", Collected("e1", "M1", Method.CARD, D("20.00")))
    payload = deferral_payload(money, "100.00", "APPROVAL-8")
    assert payload == {"mission_id": "M1", "amount": "100.00", "approval_ref": "APPROVAL-8"}
    money = record(money, "e2", "deferral", payload)
    assert money.remaining == D("0.00")
    assert gate(money, PayWhen.AT_DELIVERY, Step.DEPARTED, Step.DELIVERED).open


def test_bill_later_for_part_of_the_remaining_amount_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        deferral_payload(owed("120.00"), "100.00", "APPROVAL-8")
    assert caught.value.text.en == (
        "“Bill later” covers the whole remaining amount, €120.00, not €100.00."
        " Ask the manager to approve €120.00."
    )


def test_bill_later_with_nothing_remaining_is_refused() -> None:
    with pytest.raises(Refused):
        deferral_payload(owed("0.00"), "0.00", "APPROVAL-8")


def test_entries_that_move_no_money_are_not_events() -> None:
    assert event_from_entry("mission_step", "e1", {"mission_id": "M1"}) is None
    assert event_from_entry("valuation_recorded", "e2", {}) is None


# -- properties ---------------------------------------------------------------------------

methods = st.sampled_from([m.value for m in Method])
cents = st.decimals(min_value=D("-10"), max_value=D("1500"), places=2)
EVIDENCE = {
    "cash": {},
    "card": {"terminal_ref": "T1"},
    "cheque": {"cheque_number": "1234567", "bank": "LCL"},
    "transfer": {"reference": "VIR1"},
    "payment_link": {"reference": "PL1"},
}


@given(
    st.decimals(min_value=0, max_value=D("3000"), places=2),
    st.lists(st.tuples(methods, cents, cents), max_size=12),
)
def test_accepted_collections_never_exceed_what_is_due_and_remaining_never_goes_negative(
    due: Decimal, attempts: list[tuple[str, Decimal, Decimal]]
) -> None:
    money = fold("M1", due, [])
    for n, (method, amount, extra) in enumerate(attempts):
        evidence: dict[str, object] = dict(EVIDENCE[method])
        if method == "cash":
            evidence["tendered"] = str(amount + abs(extra))
        try:
            payload = collect(money, method, str(amount), evidence)
        except Refused:
            continue
        money = record(money, f"e{n}", "collection", payload)
        assert money.net_collected <= due
        assert money.remaining >= 0
        assert money.net_collected_by(Method.CASH) <= DEFAULT_CASH_LIMIT
        if method == "cash":
            assert D(payload["change"]) == D(payload["tendered"]) - D(payload["amount"]) >= 0
    assert money.net_collected + money.remaining == due


@given(st.decimals(min_value=D("0.01"), max_value=D("999.99"), places=2))
def test_a_payload_read_back_gives_the_same_amount_to_the_cent(amount: Decimal) -> None:
    money = owed("1000.00")
    payload = collect(money, "card", str(amount), CARD_REF)
    event = event_from_entry("collection", "e1", payload)
    assert event == Collected("e1", "M1", Method.CARD, amount)
