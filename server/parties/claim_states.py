"""The claims' table of states: every status and every move is in `MOVES`, one table (the
office's actions, the ordering party's messages and the money's own moves: paid in full,
cancelled by credit notes); nothing is decided outside it. Also their labels, the office's
next actions, the table for people (`markdown_table`) and the refusal of a move."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from server.platform.errors import Conflict
from shared.i18n import Text


class Status(StrEnum):
    TO_CREATE = "to_create"  # the invoice is issued; the office has not taken it up yet
    CREATED = "created"  # the office created the claim
    DOCUMENTS_ATTACHED = "documents_attached"  # every required document is there
    TO_VALIDATE = "to_validate"  # submitted: the invoice was sent, the party must validate
    VALIDATED = "validated"  # the party validated it: awaiting payment
    PAID = "paid"  # payments (and credit notes) cover the whole amount: final
    REJECTED = "rejected"  # the party rejected it, with reasons: correct and resubmit
    CANCELLED = "cancelled"  # credit notes cancelled it before anything was paid: final


OPEN: frozenset[Status] = frozenset(set(Status) - {Status.PAID, Status.CANCELLED})


class Action(StrEnum):
    # the office's
    CREATE = "create"
    ATTACH_CHECK = "attach_check"
    SUBMIT = "submit"
    VALIDATE = "validate"  # the party validated by another channel (portal, phone)
    REJECT = "reject"  # likewise, a rejection, with reasons
    RESUBMIT = "resubmit"
    # the ordering party's messages (through `on_file_event`)
    PARTY_VALIDATED = "party_validated"
    PARTY_REJECTED = "party_rejected"
    # the money's
    PAID_IN_FULL = "paid_in_full"
    CREDITED_IN_FULL = "credited_in_full"


OFFICE_ACTIONS: tuple[Action, ...] = (
    Action.CREATE,
    Action.ATTACH_CHECK,
    Action.SUBMIT,
    Action.VALIDATE,
    Action.REJECT,
    Action.RESUBMIT,
)
MESSAGE_ACTIONS: tuple[Action, ...] = (Action.PARTY_VALIDATED, Action.PARTY_REJECTED)
MONEY_ACTIONS: tuple[Action, ...] = (Action.PAID_IN_FULL, Action.CREDITED_IN_FULL)
# Office actions that need every required document, and that send the invoice.
NEEDS_DOCUMENTS = frozenset({Action.ATTACH_CHECK, Action.SUBMIT, Action.RESUBMIT})
SENDS = frozenset({Action.SUBMIT, Action.RESUBMIT})

_S, _A = Status, Action
MOVES: Mapping[tuple[Status, Action], Status] = MappingProxyType(
    {
        # the office, step by step (seed 001: create, attach, transmit, confirm)
        (_S.TO_CREATE, _A.CREATE): _S.CREATED,
        (_S.CREATED, _A.ATTACH_CHECK): _S.DOCUMENTS_ATTACHED,
        (_S.CREATED, _A.SUBMIT): _S.TO_VALIDATE,  # checks the documents itself
        (_S.DOCUMENTS_ATTACHED, _A.SUBMIT): _S.TO_VALIDATE,
        (_S.TO_VALIDATE, _A.VALIDATE): _S.VALIDATED,
        (_S.TO_VALIDATE, _A.REJECT): _S.REJECTED,
        (_S.VALIDATED, _A.REJECT): _S.REJECTED,  # the party took its validation back
        (_S.REJECTED, _A.RESUBMIT): _S.TO_VALIDATE,
        # the party's messages land on any open claim (the world has already happened)
        **{(status, _A.PARTY_VALIDATED): _S.VALIDATED for status in OPEN},
        **{(status, _A.PARTY_REJECTED): _S.REJECTED for status in OPEN},
        # the money settles any open claim
        **{(status, _A.PAID_IN_FULL): _S.PAID for status in OPEN},
        **{(status, _A.CREDITED_IN_FULL): _S.CANCELLED for status in OPEN},
    }
)

STATUS_LABELS: Mapping[Status, Text] = MappingProxyType(
    {
        Status.TO_CREATE: Text("À créer", "To create"),
        Status.CREATED: Text("Créée", "Created"),
        Status.DOCUMENTS_ATTACHED: Text("Pièces jointes", "Documents attached"),
        Status.TO_VALIDATE: Text("À valider par le donneur d'ordre", "To validate by the party"),
        Status.VALIDATED: Text("Validée", "Validated"),
        Status.PAID: Text("Payée", "Paid"),
        Status.REJECTED: Text("Rejetée", "Rejected"),
        Status.CANCELLED: Text("Annulée par avoir", "Cancelled by credit note"),
    }
)

ACTION_LABELS: Mapping[Action, Text] = MappingProxyType(
    {
        Action.CREATE: Text("créer la demande", "create the claim"),
        Action.ATTACH_CHECK: Text("vérifier les pièces jointes", "check the documents"),
        Action.SUBMIT: Text("soumettre (envoyer la facture)", "submit (send the invoice)"),
        Action.VALIDATE: Text("enregistrer la validation", "record the validation"),
        Action.REJECT: Text("enregistrer le rejet", "record the rejection"),
        Action.RESUBMIT: Text("soumettre à nouveau", "resubmit"),
        Action.PARTY_VALIDATED: Text("validation du donneur d'ordre", "validated by the party"),
        Action.PARTY_REJECTED: Text("rejet du donneur d'ordre", "rejected by the party"),
        Action.PAID_IN_FULL: Text("payée en totalité", "paid in full"),
        Action.CREDITED_IN_FULL: Text("annulée par avoir", "cancelled by credit note"),
    }
)


def next_actions(status: Status) -> list[Action]:
    """The office's actions the table allows from `status`."""
    return [a for a in OFFICE_ACTIONS if (status, a) in MOVES]


def markdown_table() -> str:
    """The table for people (docs/claims-and-payments.md carries this exact text): one
    row per action, one column per status; `` `x` `` goes to x, `=` stays (a message
    on a final claim is logged and changes nothing), *refused* is refused."""
    head = ["action", *(f"`{s}`" for s in Status)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for action in Action:
        cells = []
        for status in Status:
            target = MOVES.get((status, action))
            if target is not None:
                cells.append(f"`{target}`")
            elif action in OFFICE_ACTIONS:
                cells.append("*refused*")
            else:
                cells.append("=")
        lines.append("| " + " | ".join([f"`{action}`", *cells]) + " |")
    return "\n".join(lines) + "\n"


class ClaimRefused(Conflict):
    code = "claim_action_refused"


def refusal(number: str, status: Status, action: Action) -> ClaimRefused:
    label = STATUS_LABELS[status]
    doing = ACTION_LABELS[action]
    possible = next_actions(status)
    fr_next = ", ".join(ACTION_LABELS[a].fr for a in possible) or "aucune"
    en_next = ", ".join(ACTION_LABELS[a].en for a in possible) or "none"
    return ClaimRefused(
        f"La demande {number} est « {label.fr} » : impossible de {doing.fr}. "
        f"Actions possibles : {fr_next}.",
        f"Claim {number} is '{label.en}': cannot {doing.en}. Possible actions: {en_next}.",
    )
