"""The ordering party's file lifecycle: states, events and the one table between them.

A file (*dossier*) moves with the ordering party's messages (order, follow-up, invoice
rejected or validated, payment advice, cancellation, change of provider) and with the
office's own documents (invoice or warranty voucher issued, sent, credit note, cancelled
by hand). Seed 002 describes the same machine for insurance claim files driven by DARVA
messages. Every (state, event) pair is in `TABLE`, as a move or as a refusal; nothing is
decided outside it, so the server, the office pages and `docs/file-lifecycle.md` agree.

Messages from the ordering party are never refused: the world has already happened, so
a message always lands somewhere (possibly nowhere new, possibly with a warning). Only the
office's own actions can be refused. Recognising a duplicated message is the server's job
(by message id); applying the same message twice in a row gives the same state anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from shared.errors import Refused
from shared.i18n import Text


class State(StrEnum):
    WAITING_FOR_ORDER = "waiting_for_order"  # only an opening request with a file number
    NOT_INTEGRATED = "not_integrated"  # on no current document; may be invoiced
    INTEGRATED = "integrated"  # on an issued invoice or warranty voucher, not sent
    SENT = "sent"  # that document was sent to the ordering party
    AWAITING_PAYMENT = "awaiting_payment"  # the ordering party validated the invoice
    DONE = "done"  # paid, cancelled or given to another provider: final
    CANCELLED = "cancelled"  # cancelled by hand in the office; a message reopens it


class Event(StrEnum):
    # from the ordering party
    OPENING_REQUEST = "opening_request"
    ORDER = "order"
    FOLLOW_UP = "follow_up"
    INVOICE_REJECTED = "invoice_rejected"
    INVOICE_VALIDATED = "invoice_validated"
    PAYMENT_ADVICE = "payment_advice"
    ORDER_CANCELLED = "order_cancelled"
    PROVIDER_CHANGED = "provider_changed"
    # from the office
    USED_IN_DOCUMENT = "used_in_document"  # invoice or warranty voucher issued with it
    DOCUMENT_SENT = "document_sent"
    CREDIT_NOTE_ISSUED = "credit_note_issued"  # the document holding the file is cancelled
    CANCELLED_BY_HAND = "cancelled_by_hand"


MESSAGES: frozenset[Event] = frozenset(
    {
        Event.OPENING_REQUEST,
        Event.ORDER,
        Event.FOLLOW_UP,
        Event.INVOICE_REJECTED,
        Event.INVOICE_VALIDATED,
        Event.PAYMENT_ADVICE,
        Event.ORDER_CANCELLED,
        Event.PROVIDER_CHANGED,
    }
)
OFFICE_ACTIONS: frozenset[Event] = frozenset(set(Event) - MESSAGES)

STATE_LABELS: Mapping[State, Text] = MappingProxyType(
    {
        State.WAITING_FOR_ORDER: Text("En attente d'ordre", "Waiting for an order"),
        State.NOT_INTEGRATED: Text("Non intégré", "Not integrated"),
        State.INTEGRATED: Text("Intégré", "Integrated"),
        State.SENT: Text("Envoyé", "Sent"),
        State.AWAITING_PAYMENT: Text("En attente de paiement", "Awaiting payment"),
        State.DONE: Text("Terminé", "Done"),
        State.CANCELLED: Text("Annulé", "Cancelled"),
    }
)

EVENT_LABELS: Mapping[Event, Text] = MappingProxyType(
    {
        Event.OPENING_REQUEST: Text("Demande d'ouverture de dossier", "File opening request"),
        Event.ORDER: Text("Ordre de mission", "Mission order"),
        Event.FOLLOW_UP: Text("Suivi de dossier", "File follow-up"),
        Event.INVOICE_REJECTED: Text("Rejet de facture", "Invoice rejected"),
        Event.INVOICE_VALIDATED: Text("Validation de facture", "Invoice validated"),
        Event.PAYMENT_ADVICE: Text("Avis de paiement", "Payment advice"),
        Event.ORDER_CANCELLED: Text("Annulation de l'ordre de mission", "Order cancelled"),
        Event.PROVIDER_CHANGED: Text("Changement de prestataire", "Provider changed"),
        Event.USED_IN_DOCUMENT: Text(
            "Facture ou bon de garantie émis", "Invoice or warranty voucher issued"
        ),
        Event.DOCUMENT_SENT: Text(
            "Facture ou bon de garantie envoyé", "Invoice or warranty voucher sent"
        ),
        Event.CREDIT_NOTE_ISSUED: Text("Avoir émis", "Credit note issued"),
        Event.CANCELLED_BY_HAND: Text("Annulation manuelle", "Cancelled by hand"),
    }
)


class Notice(StrEnum):
    """Why a move comes with a warning the office must see."""

    CHANGED = "changed"  # the ordering party changed a file that is on a document
    REOPENED = "reopened"  # a message reopened a file cancelled by hand
    CLOSED_ON_DOCUMENT = "closed_on_document"  # cancelled or given away while invoiced
    IGNORED_AFTER_DONE = "ignored_after_done"  # a message that cannot reopen a done file


# `{message}` is the ordering party's own name for the message ("SD 37 Rejet de la
# facture"), or the event's label when the caller has none.
NOTICES: Mapping[Notice, Text] = MappingProxyType(
    {
        Notice.CHANGED: Text(
            "Des changements sont intervenus sur le dossier : {message}",
            "The file has changed: {message}",
        ),
        Notice.REOPENED: Text(
            "Dossier annulé à la main, rouvert par le message : {message}",
            "File cancelled by hand, reopened by the message: {message}",
        ),
        Notice.CLOSED_ON_DOCUMENT: Text(
            "Le donneur d'ordre a clos le dossier alors qu'une facture le porte : {message}."
            " Si elle ne sera pas payée, annulez-la par un avoir.",
            "The ordering party closed the file while an invoice holds it: {message}."
            " If it will not be paid, cancel it with a credit note.",
        ),
        Notice.IGNORED_AFTER_DONE: Text(
            "Message reçu sur un dossier terminé, sans effet : {message}",
            "Message received on a done file, no effect: {message}",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Move:
    """The file goes to `to` (possibly where it already is), with a warning or not."""

    to: State
    notice: Notice | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """The office action is refused, with what the clerk can do instead."""

    reason: Text


Rule = Move | Refusal


# --- refusals of the office's actions -------------------------------------------------

NO_FILE = Refusal(
    Text(
        "Ce dossier n'existe pas encore : enregistrez d'abord l'ordre de mission"
        " du donneur d'ordre.",
        "This file does not exist yet: record the ordering party's mission order first.",
    )
)
NO_ORDER = Refusal(
    Text(
        "Ce dossier attend l'ordre de mission : il ne peut pas figurer sur une facture."
        " Enregistrez d'abord l'ordre du donneur d'ordre.",
        "This file is waiting for the mission order: it cannot appear on an invoice."
        " Record the ordering party's order first.",
    )
)
NOTHING_TO_SEND = Refusal(
    Text(
        "Ce dossier ne figure sur aucune facture en cours : il n'y a rien à envoyer.",
        "No current invoice holds this file: there is nothing to send.",
    )
)
NOTHING_TO_CREDIT = Refusal(
    Text(
        "Ce dossier ne figure sur aucune facture en cours : il n'y a rien à annuler par un avoir.",
        "No current invoice holds this file: there is nothing for a credit note to cancel.",
    )
)
ON_A_DOCUMENT = Refusal(
    Text(
        "Ce dossier figure sur une facture : annulez-la d'abord par un avoir,"
        " puis annulez le dossier.",
        "An invoice holds this file: cancel it with a credit note first, then cancel the file.",
    )
)
DONE_NO_DOCUMENT = Refusal(
    Text(
        "Ce dossier est terminé (payé, annulé ou confié à un autre prestataire) :"
        " il ne peut plus figurer sur une facture.",
        "This file is done (paid, cancelled or given to another provider):"
        " it can no longer appear on an invoice.",
    )
)
DONE_NOTHING_TO_SEND = Refusal(
    Text(
        "Ce dossier est terminé (payé, annulé ou confié à un autre prestataire) :"
        " il n'y a plus rien à envoyer. Si la facture ne sera pas payée, annulez-la"
        " par un avoir.",
        "This file is done (paid, cancelled or given to another provider):"
        " there is nothing left to send. If the invoice will not be paid, cancel it"
        " with a credit note.",
    )
)
DONE_NOTHING_TO_CANCEL = Refusal(
    Text(
        "Ce dossier est déjà terminé par le donneur d'ordre : il n'y a rien à annuler.",
        "The ordering party already ended this file: there is nothing to cancel.",
    )
)
CANCELLED_NO_DOCUMENT = Refusal(
    Text(
        "Ce dossier a été annulé à la main : il ne peut pas figurer sur une facture."
        " Il rouvrira au prochain message du donneur d'ordre.",
        "This file was cancelled by hand: it cannot appear on an invoice."
        " It reopens with the ordering party's next message.",
    )
)
ALREADY_CANCELLED = Refusal(Text("Ce dossier est déjà annulé.", "This file is already cancelled."))


# --- the table ------------------------------------------------------------------------

# A file that does not exist yet: its first event. A message about an unknown file
# number opens it waiting for the order, except the order itself (seed 002: an order
# without an opening request arrives not integrated) and the messages that close it
# (a cancellation that overtakes the order still ends the file).
NEW_FILE: Mapping[Event, Rule] = MappingProxyType(
    {
        Event.OPENING_REQUEST: Move(State.WAITING_FOR_ORDER),
        Event.ORDER: Move(State.NOT_INTEGRATED),
        Event.FOLLOW_UP: Move(State.WAITING_FOR_ORDER),
        Event.INVOICE_REJECTED: Move(State.WAITING_FOR_ORDER),
        Event.INVOICE_VALIDATED: Move(State.WAITING_FOR_ORDER),
        Event.PAYMENT_ADVICE: Move(State.DONE),
        Event.ORDER_CANCELLED: Move(State.DONE),
        Event.PROVIDER_CHANGED: Move(State.DONE),
        Event.USED_IN_DOCUMENT: NO_FILE,
        Event.DOCUMENT_SENT: NO_FILE,
        Event.CREDIT_NOTE_ISSUED: NO_FILE,
        Event.CANCELLED_BY_HAND: NO_FILE,
    }
)

_CHANGED = Notice.CHANGED
_REOPENED = Notice.REOPENED
_CLOSED = Notice.CLOSED_ON_DOCUMENT
_IGNORED = Notice.IGNORED_AFTER_DONE

TABLE: Mapping[tuple[State, Event], Rule] = MappingProxyType(
    {
        # --- waiting for an order: only an opening request, nothing can be invoiced --
        (State.WAITING_FOR_ORDER, Event.OPENING_REQUEST): Move(State.WAITING_FOR_ORDER),
        (State.WAITING_FOR_ORDER, Event.ORDER): Move(State.NOT_INTEGRATED),
        (State.WAITING_FOR_ORDER, Event.FOLLOW_UP): Move(State.WAITING_FOR_ORDER),
        (State.WAITING_FOR_ORDER, Event.INVOICE_REJECTED): Move(State.WAITING_FOR_ORDER),
        (State.WAITING_FOR_ORDER, Event.INVOICE_VALIDATED): Move(State.WAITING_FOR_ORDER),
        (State.WAITING_FOR_ORDER, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.WAITING_FOR_ORDER, Event.ORDER_CANCELLED): Move(State.DONE),
        (State.WAITING_FOR_ORDER, Event.PROVIDER_CHANGED): Move(State.DONE),
        (State.WAITING_FOR_ORDER, Event.USED_IN_DOCUMENT): NO_ORDER,
        (State.WAITING_FOR_ORDER, Event.DOCUMENT_SENT): NOTHING_TO_SEND,
        (State.WAITING_FOR_ORDER, Event.CREDIT_NOTE_ISSUED): NOTHING_TO_CREDIT,
        (State.WAITING_FOR_ORDER, Event.CANCELLED_BY_HAND): Move(State.CANCELLED),
        # --- not integrated: ordered, on no current document ----------------------------
        (State.NOT_INTEGRATED, Event.OPENING_REQUEST): Move(State.NOT_INTEGRATED),
        (State.NOT_INTEGRATED, Event.ORDER): Move(State.NOT_INTEGRATED),
        (State.NOT_INTEGRATED, Event.FOLLOW_UP): Move(State.NOT_INTEGRATED),
        (State.NOT_INTEGRATED, Event.INVOICE_REJECTED): Move(State.NOT_INTEGRATED),
        (State.NOT_INTEGRATED, Event.INVOICE_VALIDATED): Move(State.NOT_INTEGRATED),
        (State.NOT_INTEGRATED, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.NOT_INTEGRATED, Event.ORDER_CANCELLED): Move(State.DONE),
        (State.NOT_INTEGRATED, Event.PROVIDER_CHANGED): Move(State.DONE),
        (State.NOT_INTEGRATED, Event.USED_IN_DOCUMENT): Move(State.INTEGRATED),
        (State.NOT_INTEGRATED, Event.DOCUMENT_SENT): NOTHING_TO_SEND,
        (State.NOT_INTEGRATED, Event.CREDIT_NOTE_ISSUED): NOTHING_TO_CREDIT,
        (State.NOT_INTEGRATED, Event.CANCELLED_BY_HAND): Move(State.CANCELLED),
        # --- integrated: on an issued document, not sent ---------------------------------
        (State.INTEGRATED, Event.OPENING_REQUEST): Move(State.INTEGRATED),
        (State.INTEGRATED, Event.ORDER): Move(State.INTEGRATED, _CHANGED),
        (State.INTEGRATED, Event.FOLLOW_UP): Move(State.INTEGRATED, _CHANGED),
        (State.INTEGRATED, Event.INVOICE_REJECTED): Move(State.INTEGRATED, _CHANGED),
        (State.INTEGRATED, Event.INVOICE_VALIDATED): Move(State.AWAITING_PAYMENT),
        (State.INTEGRATED, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.INTEGRATED, Event.ORDER_CANCELLED): Move(State.DONE, _CLOSED),
        (State.INTEGRATED, Event.PROVIDER_CHANGED): Move(State.DONE, _CLOSED),
        (State.INTEGRATED, Event.USED_IN_DOCUMENT): Move(State.INTEGRATED),
        (State.INTEGRATED, Event.DOCUMENT_SENT): Move(State.SENT),
        (State.INTEGRATED, Event.CREDIT_NOTE_ISSUED): Move(State.NOT_INTEGRATED),
        (State.INTEGRATED, Event.CANCELLED_BY_HAND): ON_A_DOCUMENT,
        # --- sent: a change from the ordering party means the document must go again ---
        (State.SENT, Event.OPENING_REQUEST): Move(State.SENT),
        (State.SENT, Event.ORDER): Move(State.INTEGRATED, _CHANGED),
        (State.SENT, Event.FOLLOW_UP): Move(State.INTEGRATED, _CHANGED),
        (State.SENT, Event.INVOICE_REJECTED): Move(State.INTEGRATED, _CHANGED),
        (State.SENT, Event.INVOICE_VALIDATED): Move(State.AWAITING_PAYMENT),
        (State.SENT, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.SENT, Event.ORDER_CANCELLED): Move(State.DONE, _CLOSED),
        (State.SENT, Event.PROVIDER_CHANGED): Move(State.DONE, _CLOSED),
        (State.SENT, Event.USED_IN_DOCUMENT): Move(State.INTEGRATED),
        (State.SENT, Event.DOCUMENT_SENT): Move(State.SENT),
        (State.SENT, Event.CREDIT_NOTE_ISSUED): Move(State.NOT_INTEGRATED),
        (State.SENT, Event.CANCELLED_BY_HAND): ON_A_DOCUMENT,
        # --- awaiting payment: validated; only a rejection takes the validation back -----
        (State.AWAITING_PAYMENT, Event.OPENING_REQUEST): Move(State.AWAITING_PAYMENT),
        (State.AWAITING_PAYMENT, Event.ORDER): Move(State.AWAITING_PAYMENT, _CHANGED),
        (State.AWAITING_PAYMENT, Event.FOLLOW_UP): Move(State.AWAITING_PAYMENT, _CHANGED),
        (State.AWAITING_PAYMENT, Event.INVOICE_REJECTED): Move(State.INTEGRATED, _CHANGED),
        (State.AWAITING_PAYMENT, Event.INVOICE_VALIDATED): Move(State.AWAITING_PAYMENT),
        (State.AWAITING_PAYMENT, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.AWAITING_PAYMENT, Event.ORDER_CANCELLED): Move(State.DONE, _CLOSED),
        (State.AWAITING_PAYMENT, Event.PROVIDER_CHANGED): Move(State.DONE, _CLOSED),
        (State.AWAITING_PAYMENT, Event.USED_IN_DOCUMENT): Move(State.INTEGRATED),
        (State.AWAITING_PAYMENT, Event.DOCUMENT_SENT): Move(State.AWAITING_PAYMENT),
        (State.AWAITING_PAYMENT, Event.CREDIT_NOTE_ISSUED): Move(State.NOT_INTEGRATED),
        (State.AWAITING_PAYMENT, Event.CANCELLED_BY_HAND): ON_A_DOCUMENT,
        # --- done: final; a late message changes nothing, a credit note is still allowed -
        (State.DONE, Event.OPENING_REQUEST): Move(State.DONE),
        (State.DONE, Event.ORDER): Move(State.DONE, _IGNORED),
        (State.DONE, Event.FOLLOW_UP): Move(State.DONE, _IGNORED),
        (State.DONE, Event.INVOICE_REJECTED): Move(State.DONE, _IGNORED),
        (State.DONE, Event.INVOICE_VALIDATED): Move(State.DONE),
        (State.DONE, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.DONE, Event.ORDER_CANCELLED): Move(State.DONE),
        (State.DONE, Event.PROVIDER_CHANGED): Move(State.DONE),
        (State.DONE, Event.USED_IN_DOCUMENT): DONE_NO_DOCUMENT,
        (State.DONE, Event.DOCUMENT_SENT): DONE_NOTHING_TO_SEND,
        (State.DONE, Event.CREDIT_NOTE_ISSUED): Move(State.DONE),
        (State.DONE, Event.CANCELLED_BY_HAND): DONE_NOTHING_TO_CANCEL,
        # --- cancelled by hand: any message reopens it, a closing one closes it --------
        (State.CANCELLED, Event.OPENING_REQUEST): Move(State.NOT_INTEGRATED, _REOPENED),
        (State.CANCELLED, Event.ORDER): Move(State.NOT_INTEGRATED, _REOPENED),
        (State.CANCELLED, Event.FOLLOW_UP): Move(State.NOT_INTEGRATED, _REOPENED),
        (State.CANCELLED, Event.INVOICE_REJECTED): Move(State.NOT_INTEGRATED, _REOPENED),
        (State.CANCELLED, Event.INVOICE_VALIDATED): Move(State.NOT_INTEGRATED, _REOPENED),
        (State.CANCELLED, Event.PAYMENT_ADVICE): Move(State.DONE),
        (State.CANCELLED, Event.ORDER_CANCELLED): Move(State.DONE),
        (State.CANCELLED, Event.PROVIDER_CHANGED): Move(State.DONE),
        (State.CANCELLED, Event.USED_IN_DOCUMENT): CANCELLED_NO_DOCUMENT,
        (State.CANCELLED, Event.DOCUMENT_SENT): NOTHING_TO_SEND,
        (State.CANCELLED, Event.CREDIT_NOTE_ISSUED): NOTHING_TO_CREDIT,
        (State.CANCELLED, Event.CANCELLED_BY_HAND): ALREADY_CANCELLED,
    }
)


def rule(state: State | None, event: Event) -> Rule:
    """The table's cell; `None` is a file that does not exist yet."""
    return NEW_FILE[event] if state is None else TABLE[(state, event)]


# --- applying it ------------------------------------------------------------------------


class LifecycleRefused(Refused):
    """An office action the file's state does not allow; the file is left as it was."""

    def __init__(self, state: State | None, event: Event, reason: Text) -> None:
        super().__init__(reason.fr, reason.en)
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class Transition:
    """Where one event leaves a file, and what the office must be told about it."""

    before: State | None
    event: Event
    state: State
    notice: Notice | None
    warning: Text | None

    @property
    def changed(self) -> bool:
        return self.state != self.before


def _warning(notice: Notice, event: Event, message_name: str | None) -> Text:
    template = NOTICES[notice]
    label = EVENT_LABELS[event]
    return Text(
        template.fr.format(message=message_name or label.fr),
        template.en.format(message=message_name or label.en),
    )


def apply(state: State | None, event: Event, *, message_name: str | None = None) -> Transition:
    """Read the table for one event. `message_name` is the ordering party's own name for
    the message ("SD 37 Rejet de la facture"), shown in any warning; without it the
    warning names the event. Raises `LifecycleRefused` for an office action the state
    does not allow (never for a message)."""
    cell = rule(state, event)
    if isinstance(cell, Refusal):
        raise LifecycleRefused(state, event, cell.reason)
    warning = None if cell.notice is None else _warning(cell.notice, event, message_name)
    return Transition(state, event, cell.to, cell.notice, warning)


def replay(events: Iterable[Event], *, start: State | None = None) -> State:
    """The state a recorded history leads to, from `start` (no file by default).

    A recorded history holds only accepted events, so a refusal here means the history
    is not one the table allows, and it is raised as it is."""
    state = start
    for event in events:
        state = apply(state, event).state
    if state is None:
        raise Refused(
            "Aucun message ni document pour ce dossier : il n'existe pas encore.",
            "No message and no document for this file: it does not exist yet.",
        )
    return state


def is_message(event: Event) -> bool:
    return event in MESSAGES


def selectable_in_document(state: State) -> bool:
    """Whether the office may put this file on an invoice or warranty voucher now."""
    return isinstance(TABLE[(state, Event.USED_IN_DOCUMENT)], Move)


def parse_state(value: object) -> State:
    try:
        return State(str(value))
    except ValueError:
        raise Refused(
            f"État de dossier inconnu : « {value} ».",
            f"Unknown file state: “{value}”.",
        ) from None


def parse_event(value: object) -> Event:
    try:
        return Event(str(value))
    except ValueError:
        raise Refused(
            f"Événement de dossier inconnu : « {value} ».",
            f"Unknown file event: “{value}”.",
        ) from None


# --- the table for people (docs/file-lifecycle.md carries this exact text) ---------------


def _cell(state: State | None, event: Event) -> str:
    cell = rule(state, event)
    if isinstance(cell, Refusal):
        return "*refused*"
    target = "=" if cell.to == state else f"`{cell.to}`"
    return target if cell.notice is None else f"{target} ⚠ {cell.notice}"


def markdown_table() -> str:
    """The whole table, one row per event and one column per state (first: no file yet).

    `=` stays where it is, `⚠ x` adds the warning `x`, *refused* is refused."""
    columns: list[State | None] = [None, *State]
    head = ["event", "(no file yet)", *(f"`{s}`<br>{STATE_LABELS[s].fr}" for s in State)]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for event in Event:
        cells = [f"`{event}`", *(_cell(state, event) for state in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_refusals() -> str:
    """Every refusal's French and English text, with the cells that give it."""
    where: dict[Text, list[str]] = {}
    for state in [None, *State]:
        for event in Event:
            cell = rule(state, event)
            if isinstance(cell, Refusal):
                name = "(no file yet)" if state is None else f"`{state}`"
                where.setdefault(cell.reason, []).append(f"{name} × `{event}`")
    lines = ["| where | French | English |", "|---|---|---|"]
    for reason, cells in where.items():
        lines.append(f"| {'<br>'.join(cells)} | {reason.fr} | {reason.en} |")
    return "\n".join(lines) + "\n"


def markdown_notices() -> str:
    lines = ["| warning | French | English |", "|---|---|---|"]
    for notice in Notice:
        text = NOTICES[notice]
        lines.append(f"| `{notice}` | {text.fr} | {text.en} |")
    return "\n".join(lines) + "\n"
