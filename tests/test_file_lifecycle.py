"""The ordering party's file lifecycle (seed 002): every rule of the table, the table
total, the properties a month of late, duplicated and shuffled messages relies on, and
the documentation carrying the same table as the code."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from itertools import groupby
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import Refused
from shared.file_lifecycle import (
    EVENT_LABELS,
    MESSAGES,
    NEW_FILE,
    NOTICES,
    OFFICE_ACTIONS,
    STATE_LABELS,
    TABLE,
    Event,
    LifecycleRefused,
    Move,
    Notice,
    Refusal,
    State,
    Transition,
    apply,
    is_message,
    markdown_notices,
    markdown_refusals,
    markdown_table,
    parse_event,
    parse_state,
    replay,
    rule,
    selectable_in_document,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "file-lifecycle.md"

CLOSING = [Event.PAYMENT_ADVICE, Event.ORDER_CANCELLED, Event.PROVIDER_CHANGED]
REOPENING = sorted(MESSAGES - set(CLOSING))
ON_A_DOCUMENT = [State.INTEGRATED, State.SENT, State.AWAITING_PAYMENT]
NOT_ON_A_DOCUMENT = [State.WAITING_FOR_ORDER, State.NOT_INTEGRATED]
STARTS: list[State | None] = [None, *State]


def refusal(state: State | None, event: Event) -> LifecycleRefused:
    with pytest.raises(LifecycleRefused) as caught:
        apply(state, event)
    assert caught.value.state == state and caught.value.event == event
    return caught.value


def invoiced_and_sent() -> State:
    return replay([Event.ORDER, Event.USED_IN_DOCUMENT, Event.DOCUMENT_SENT])


# --- opening a file and waiting for the order -------------------------------------------


def test_an_opening_request_opens_a_file_waiting_for_its_order() -> None:
    assert replay([Event.OPENING_REQUEST]) is State.WAITING_FOR_ORDER


def test_an_order_without_an_opening_request_arrives_not_integrated() -> None:
    assert replay([Event.ORDER]) is State.NOT_INTEGRATED


def test_the_order_after_the_opening_request_makes_the_file_ready_to_invoice() -> None:
    assert replay([Event.OPENING_REQUEST, Event.ORDER]) is State.NOT_INTEGRATED


@pytest.mark.parametrize(
    "event", [Event.FOLLOW_UP, Event.INVOICE_REJECTED, Event.INVOICE_VALIDATED]
)
def test_a_message_that_overtakes_the_order_leaves_the_file_waiting_for_it(event: Event) -> None:
    assert replay([event]) is State.WAITING_FOR_ORDER
    assert replay([event, Event.ORDER]) is State.NOT_INTEGRATED


def test_a_file_waiting_for_an_order_cannot_be_used_in_a_document() -> None:
    error = refusal(State.WAITING_FOR_ORDER, Event.USED_IN_DOCUMENT)
    assert error.text.fr == (
        "Ce dossier attend l'ordre de mission : il ne peut pas figurer sur une facture."
        " Enregistrez d'abord l'ordre du donneur d'ordre."
    )
    assert error.text.en == (
        "This file is waiting for the mission order: it cannot appear on an invoice."
        " Record the ordering party's order first."
    )
    assert not selectable_in_document(State.WAITING_FOR_ORDER)


@pytest.mark.parametrize("event", sorted(OFFICE_ACTIONS))
def test_the_office_cannot_act_on_a_file_that_does_not_exist(event: Event) -> None:
    assert refusal(None, event).text.en == (
        "This file does not exist yet: record the ordering party's mission order first."
    )


def test_an_empty_history_is_no_file() -> None:
    with pytest.raises(Refused):
        replay([])
    assert replay([], start=State.SENT) is State.SENT


# --- the office's documents ---------------------------------------------------------------


def test_using_a_file_in_an_invoice_integrates_it() -> None:
    assert apply(State.NOT_INTEGRATED, Event.USED_IN_DOCUMENT).state is State.INTEGRATED


def test_sending_the_invoice_or_voucher_marks_the_file_sent() -> None:
    assert invoiced_and_sent() is State.SENT


@pytest.mark.parametrize("state", [State.WAITING_FOR_ORDER, State.NOT_INTEGRATED, State.CANCELLED])
def test_nothing_to_send_on_a_file_no_document_holds(state: State) -> None:
    assert refusal(state, Event.DOCUMENT_SENT).text.fr == (
        "Ce dossier ne figure sur aucune facture en cours : il n'y a rien à envoyer."
    )


@pytest.mark.parametrize("state", [State.SENT, State.AWAITING_PAYMENT])
def test_sending_again_changes_nothing(state: State) -> None:
    again = apply(state, Event.DOCUMENT_SENT)
    assert again.state is state and not again.changed and again.warning is None


@pytest.mark.parametrize("state", [State.SENT, State.AWAITING_PAYMENT])
def test_a_new_document_on_a_sent_file_makes_it_integrated_again(state: State) -> None:
    """A file can hold several missions: the new document still has to be sent."""
    assert apply(state, Event.USED_IN_DOCUMENT).state is State.INTEGRATED


def test_a_second_document_on_an_integrated_file_keeps_it_integrated() -> None:
    assert apply(State.INTEGRATED, Event.USED_IN_DOCUMENT).state is State.INTEGRATED


@pytest.mark.parametrize("state", ON_A_DOCUMENT)
def test_a_credit_note_puts_the_file_back_to_not_integrated(state: State) -> None:
    assert apply(state, Event.CREDIT_NOTE_ISSUED).state is State.NOT_INTEGRATED


@pytest.mark.parametrize("state", [State.WAITING_FOR_ORDER, State.NOT_INTEGRATED, State.CANCELLED])
def test_a_credit_note_on_a_file_no_document_holds_is_refused(state: State) -> None:
    assert refusal(state, Event.CREDIT_NOTE_ISSUED).text.en == (
        "No current invoice holds this file: there is nothing for a credit note to cancel."
    )


@pytest.mark.parametrize("state", [s for s in State if s is not State.CANCELLED])
def test_a_late_opening_request_changes_nothing_on_an_opened_file(state: State) -> None:
    moved = apply(state, Event.OPENING_REQUEST)
    assert (moved.state, moved.warning) == (state, None)


# --- cancelled by hand ------------------------------------------------------------------


@pytest.mark.parametrize("state", NOT_ON_A_DOCUMENT)
def test_a_file_no_document_holds_can_be_cancelled_by_hand(state: State) -> None:
    assert apply(state, Event.CANCELLED_BY_HAND).state is State.CANCELLED


@pytest.mark.parametrize("state", ON_A_DOCUMENT)
def test_a_file_used_in_a_document_cannot_be_cancelled_by_hand(state: State) -> None:
    assert refusal(state, Event.CANCELLED_BY_HAND).text.fr == (
        "Ce dossier figure sur une facture : annulez-la d'abord par un avoir,"
        " puis annulez le dossier."
    )


def test_a_file_cancelled_by_hand_cannot_be_used_in_a_document() -> None:
    assert refusal(State.CANCELLED, Event.USED_IN_DOCUMENT).text.en.startswith(
        "This file was cancelled by hand: it cannot appear on an invoice."
    )
    assert not selectable_in_document(State.CANCELLED)


def test_cancelling_twice_says_it_is_already_cancelled() -> None:
    assert (
        refusal(State.CANCELLED, Event.CANCELLED_BY_HAND).text.fr == "Ce dossier est déjà annulé."
    )


@pytest.mark.parametrize("message", REOPENING)
def test_a_message_on_a_file_cancelled_by_hand_reopens_it_as_not_integrated(
    message: Event,
) -> None:
    moved = apply(State.CANCELLED, message, message_name="SD 12")
    assert moved.state is State.NOT_INTEGRATED
    assert moved.warning is not None
    assert moved.warning.fr == "Dossier annulé à la main, rouvert par le message : SD 12"


@pytest.mark.parametrize("message", CLOSING)
def test_a_closing_message_on_a_file_cancelled_by_hand_closes_it(message: Event) -> None:
    assert apply(State.CANCELLED, message).state is State.DONE


def test_the_seed_example_without_deleting_the_credit_note() -> None:
    """Seed 002 deletes the credit note to bring the file back; Towline deletes nothing:
    the cancelled file comes back with the ordering party's next message."""
    history = [Event.ORDER, Event.USED_IN_DOCUMENT]
    assert replay(history) is State.INTEGRATED
    history.append(Event.CREDIT_NOTE_ISSUED)
    assert replay(history) is State.NOT_INTEGRATED
    history.append(Event.CANCELLED_BY_HAND)
    assert replay(history) is State.CANCELLED
    assert not any("delete" in event for event in Event)
    history += [Event.FOLLOW_UP, Event.USED_IN_DOCUMENT]
    assert replay(history) is State.INTEGRATED


# --- the ordering party's answers ------------------------------------------------------


def test_a_follow_up_after_sending_puts_the_file_back_to_integrated_naming_the_message() -> None:
    moved = apply(invoiced_and_sent(), Event.FOLLOW_UP, message_name="SD 12 Suivi de dossier")
    assert moved.state is State.INTEGRATED
    assert moved.notice is Notice.CHANGED
    assert moved.warning is not None
    assert moved.warning.fr == (
        "Des changements sont intervenus sur le dossier : SD 12 Suivi de dossier"
    )
    assert moved.warning.en == "The file has changed: SD 12 Suivi de dossier"


def test_without_its_own_name_the_warning_names_the_event_in_each_language() -> None:
    moved = apply(State.SENT, Event.FOLLOW_UP)
    assert moved.warning is not None
    assert (
        moved.warning("fr") == "Des changements sont intervenus sur le dossier : Suivi de dossier"
    )
    assert moved.warning("en") == "The file has changed: File follow-up"


def test_an_amended_order_after_sending_counts_as_a_change() -> None:
    moved = apply(State.SENT, Event.ORDER)
    assert (moved.state, moved.notice) == (State.INTEGRATED, Notice.CHANGED)


def test_an_invoice_rejection_keeps_an_integrated_file_integrated() -> None:
    assert apply(State.INTEGRATED, Event.INVOICE_REJECTED).state is State.INTEGRATED


@pytest.mark.parametrize("state", [State.SENT, State.AWAITING_PAYMENT])
def test_an_invoice_rejection_brings_the_file_back_to_integrated_to_be_sent_again(
    state: State,
) -> None:
    moved = apply(state, Event.INVOICE_REJECTED, message_name="SD 37 Rejet de la facture")
    assert moved.state is State.INTEGRATED
    assert moved.warning is not None and "SD 37 Rejet de la facture" in moved.warning.fr
    assert apply(moved.state, Event.DOCUMENT_SENT).state is State.SENT


@pytest.mark.parametrize("state", [State.INTEGRATED, State.SENT])
def test_a_validated_invoice_awaits_payment(state: State) -> None:
    assert apply(state, Event.INVOICE_VALIDATED).state is State.AWAITING_PAYMENT


@pytest.mark.parametrize("message", [Event.ORDER, Event.FOLLOW_UP])
def test_a_change_after_validation_warns_but_keeps_awaiting_payment(message: Event) -> None:
    moved = apply(State.AWAITING_PAYMENT, message)
    assert (moved.state, moved.notice) == (State.AWAITING_PAYMENT, Notice.CHANGED)


@pytest.mark.parametrize("state", [State.WAITING_FOR_ORDER, State.NOT_INTEGRATED])
def test_a_validation_for_a_file_no_document_holds_changes_nothing(state: State) -> None:
    assert apply(state, Event.INVOICE_VALIDATED).state is state


@pytest.mark.parametrize("message", CLOSING)
@pytest.mark.parametrize("state", [s for s in State if s is not State.DONE])
def test_payment_cancellation_or_change_of_provider_ends_the_file(
    state: State, message: Event
) -> None:
    assert apply(state, message).state is State.DONE


@pytest.mark.parametrize("message", [Event.ORDER_CANCELLED, Event.PROVIDER_CHANGED])
@pytest.mark.parametrize("state", ON_A_DOCUMENT)
def test_a_file_closed_while_invoiced_warns_to_credit_the_invoice(
    state: State, message: Event
) -> None:
    moved = apply(state, message)
    assert moved.notice is Notice.CLOSED_ON_DOCUMENT
    assert moved.warning is not None and "avoir" in moved.warning.fr


def test_a_payment_advice_before_the_validation_still_ends_done() -> None:
    history = [Event.ORDER, Event.USED_IN_DOCUMENT, Event.DOCUMENT_SENT]
    assert replay([*history, Event.PAYMENT_ADVICE, Event.INVOICE_VALIDATED]) is State.DONE
    assert replay([*history, Event.INVOICE_VALIDATED, Event.PAYMENT_ADVICE]) is State.DONE


def test_a_cancellation_that_overtakes_the_order_ends_the_file() -> None:
    assert replay([Event.ORDER_CANCELLED, Event.ORDER]) is State.DONE


# --- done is final ------------------------------------------------------------------------


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_no_message_reopens_a_done_file(message: Event) -> None:
    assert apply(State.DONE, message).state is State.DONE


@pytest.mark.parametrize("message", [Event.ORDER, Event.FOLLOW_UP, Event.INVOICE_REJECTED])
def test_a_message_that_would_have_moved_a_done_file_is_shown_to_the_office(
    message: Event,
) -> None:
    moved = apply(State.DONE, message, message_name="SD 12")
    assert moved.warning is not None
    assert moved.warning.fr == "Message reçu sur un dossier terminé, sans effet : SD 12"


@pytest.mark.parametrize("message", [Event.INVOICE_VALIDATED, *CLOSING])
def test_an_expected_late_message_on_a_done_file_is_silent(message: Event) -> None:
    assert apply(State.DONE, message).warning is None


def test_a_credit_note_on_a_done_file_is_allowed_and_leaves_it_done() -> None:
    moved = apply(State.DONE, Event.CREDIT_NOTE_ISSUED)
    assert moved.state is State.DONE and not moved.changed


@pytest.mark.parametrize(
    "action", [Event.USED_IN_DOCUMENT, Event.DOCUMENT_SENT, Event.CANCELLED_BY_HAND]
)
def test_the_office_cannot_invoice_send_or_cancel_a_done_file(action: Event) -> None:
    assert refusal(State.DONE, action).text.fr.startswith("Ce dossier est")


# --- the table as a whole ----------------------------------------------------------------


def test_the_table_is_total_over_states_and_events() -> None:
    assert set(TABLE) == {(state, event) for state in State for event in Event}
    assert len(TABLE) == len(State) * len(Event)
    assert set(NEW_FILE) == set(Event)
    assert all(isinstance(cell, Move | Refusal) for cell in [*TABLE.values(), *NEW_FILE.values()])


def test_messages_and_office_actions_split_the_events() -> None:
    assert set(Event) == MESSAGES | OFFICE_ACTIONS and not MESSAGES & OFFICE_ACTIONS
    assert is_message(Event.PAYMENT_ADVICE) and not is_message(Event.CREDIT_NOTE_ISSUED)


@pytest.mark.parametrize("message", sorted(MESSAGES))
@pytest.mark.parametrize("state", STARTS)
def test_a_message_from_the_ordering_party_is_never_refused(
    state: State | None, message: Event
) -> None:
    assert isinstance(rule(state, message), Move)


@pytest.mark.parametrize("message", sorted(MESSAGES))
@pytest.mark.parametrize("state", STARTS)
def test_the_same_message_twice_in_a_row_lands_where_once_does(
    state: State | None, message: Event
) -> None:
    once = apply(state, message).state
    assert apply(once, message).state is once


def test_only_office_actions_carry_refusals_and_only_messages_carry_warnings() -> None:
    for state in STARTS:
        for event in Event:
            cell = rule(state, event)
            if isinstance(cell, Refusal):
                assert event in OFFICE_ACTIONS
            elif cell.notice is not None:
                assert event in MESSAGES


def expected_notice(state: State | None, event: Event) -> Notice | None:
    """The warnings, as the rules say them in words (docs/file-lifecycle.md, rules 6-9)."""
    changes = {Event.ORDER, Event.FOLLOW_UP, Event.INVOICE_REJECTED}
    if event not in MESSAGES:
        return None
    if state is State.CANCELLED:
        return None if event in CLOSING else Notice.REOPENED
    if state is State.DONE:
        return Notice.IGNORED_AFTER_DONE if event in changes else None
    if state in ON_A_DOCUMENT and event in changes:
        return Notice.CHANGED
    if state in ON_A_DOCUMENT and event in {Event.ORDER_CANCELLED, Event.PROVIDER_CHANGED}:
        return Notice.CLOSED_ON_DOCUMENT
    return None


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("state", STARTS)
def test_a_warning_comes_exactly_where_the_rules_say(state: State | None, event: Event) -> None:
    cell = rule(state, event)
    notice = cell.notice if isinstance(cell, Move) else None
    assert notice == expected_notice(state, event)


def test_every_refusal_says_something_in_both_languages() -> None:
    reasons = {
        cell.reason for cell in [*TABLE.values(), *NEW_FILE.values()] if isinstance(cell, Refusal)
    }
    assert len(reasons) == 10
    for reason in reasons:
        assert reason.fr and reason.en and reason.fr != reason.en


def test_only_an_ordered_file_on_no_closed_path_is_selectable_in_a_document() -> None:
    selectable = {state for state in State if selectable_in_document(state)}
    assert selectable == {State.NOT_INTEGRATED, *ON_A_DOCUMENT}


def test_every_state_and_event_has_a_label_in_both_languages() -> None:
    assert set(STATE_LABELS) == set(State) and set(EVENT_LABELS) == set(Event)
    assert set(NOTICES) == set(Notice)
    assert [STATE_LABELS[s].fr for s in State] == [
        "En attente d'ordre",
        "Non intégré",
        "Intégré",
        "Envoyé",
        "En attente de paiement",
        "Terminé",
        "Annulé",
    ]


def test_states_and_events_from_the_wire() -> None:
    assert parse_state("awaiting_payment") is State.AWAITING_PAYMENT
    assert parse_event("payment_advice") is Event.PAYMENT_ADVICE
    with pytest.raises(Refused) as caught:
        parse_event("invoice_deleted")
    assert caught.value.text.fr == "Événement de dossier inconnu : « invoice_deleted »."
    with pytest.raises(Refused):
        parse_state("closed")


def test_a_transition_says_whether_the_file_moved() -> None:
    assert apply(State.SENT, Event.INVOICE_VALIDATED) == Transition(
        State.SENT, Event.INVOICE_VALIDATED, State.AWAITING_PAYMENT, None, None
    )
    assert apply(None, Event.ORDER).changed
    assert not apply(State.SENT, Event.OPENING_REQUEST).changed


# --- properties over whole histories --------------------------------------------------------

events = st.sampled_from(list(Event))
starts = st.sampled_from(STARTS)
histories = st.lists(events, max_size=30)


def lenient(start: State | None, history: list[Event]) -> State | None:
    """What the office sees after trying every event: refused actions leave the file as is."""
    state = start
    for event in history:
        with suppress(LifecycleRefused):
            state = apply(state, event).state
    return state


@settings(max_examples=300)
@given(starts, histories, st.sampled_from(CLOSING), histories)
def test_after_a_closing_message_the_file_is_done_whatever_comes_before_or_after(
    start: State | None, before: list[Event], closing: Event, after: list[Event]
) -> None:
    assert lenient(start, [*before, closing, *after]) is State.DONE


@settings(max_examples=300)
@given(starts, st.lists(st.sampled_from(sorted(MESSAGES)), max_size=30))
def test_any_run_of_messages_is_accepted_and_stays_in_the_state_set(
    start: State | None, history: list[Event]
) -> None:
    if start is None and not history:
        return
    assert replay(history, start=start) in set(State)


@settings(max_examples=300)
@given(starts, st.lists(st.tuples(events, st.integers(1, 3)), max_size=20))
def test_repeating_an_event_right_away_never_changes_where_the_file_ends(
    start: State | None, runs: list[tuple[Event, int]]
) -> None:
    """Retries of a message or a double click land where one does."""
    repeated = [event for event, times in runs for _ in range(times)]
    once = [event for event, _ in groupby(repeated)]
    assert lenient(start, repeated) == lenient(start, once)


@settings(max_examples=300)
@given(histories)
def test_the_state_tells_whether_a_current_document_holds_the_file(history: list[Event]) -> None:
    """Followed independently: a document is issued, and a credit note cancels it."""
    state: State | None = None
    held = False
    for event in history:
        try:
            state = apply(state, event).state
        except LifecycleRefused:
            continue
        if event is Event.USED_IN_DOCUMENT:
            held = True
        elif event is Event.CREDIT_NOTE_ISSUED:
            held = False
        if state is not State.DONE:
            assert held == (state in ON_A_DOCUMENT), (history, state)


@settings(max_examples=300)
@given(
    st.sampled_from([State.SENT, State.AWAITING_PAYMENT]),
    st.sampled_from(sorted(MESSAGES)),
    st.text(max_size=40),
)
def test_a_message_that_takes_a_sent_file_back_names_itself_in_both_languages(
    state: State, message: Event, name: str
) -> None:
    """Names with braces or quotes are shown as they are, never read as a template."""
    moved = apply(state, message, message_name=name or None)
    if moved.state is State.INTEGRATED:
        assert moved.warning is not None
        assert moved.warning.fr.endswith(name or EVENT_LABELS[message].fr)
        assert moved.warning.en.endswith(name or EVENT_LABELS[message].en)


# --- the documentation carries the code's table ---------------------------------------------


def generated_block(name: str) -> str:
    match = re.search(
        rf"<!-- generated:{name} -->\n(.*?)<!-- /generated:{name} -->", DOC.read_text("utf-8"), re.S
    )
    assert match, f"docs/file-lifecycle.md has no generated:{name} block"
    return match.group(1)


@pytest.mark.parametrize(
    ("name", "render"),
    [("table", markdown_table), ("warnings", markdown_notices), ("refusals", markdown_refusals)],
)
def test_the_doc_shows_the_table_the_code_applies(name: str, render: Callable[[], str]) -> None:
    assert generated_block(name) == render(), (
        f"docs/file-lifecycle.md is out of date: paste the output of `{render.__name__}()`"
    )


def test_the_doc_names_every_state_in_french_and_every_event() -> None:
    text = DOC.read_text("utf-8")
    for state in State:
        assert STATE_LABELS[state].fr in text and f"`{state}`" in text
    for event in Event:
        assert f"`{event}`" in text
