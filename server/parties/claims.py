"""Claims: an invoice to an ordering party, followed until it is paid (seed 001,
docs/claims-and-payments.md).

Issuing an ordering party's invoice opens its claim (`to_create`); the office creates it,
checks the documents the party requires, submits it (the invoice is sent), and the party
validates or rejects it; payments matched by `server.parties.payments` pay it. Every status
and every move is in `MOVES`, one table: the office's actions, the party's messages and
the money's own moves (paid in full, cancelled by credit notes). Nothing is decided
outside it.

Money: `amount` is the invoice's total incl. VAT, `credited` the credit notes on it
(derived from `documents`, never stored here), `paid` the payments matched to it
(`claims.paid_cents`, the only money column that changes). What is still owed is
`open = amount − credited − paid`; a credit note issued after the payment can make that
negative: the company then owes the party `refund_due`. So, for every claim,
`amount = paid + credited + open − refund_due`, and `refund_due` is 0 unless a credit
note came after the money.

Every action goes to the file's log (`party_files.log`, source "claim"); the office's
acts that the file lifecycle knows (invoice sent, validated or rejected as entered by the
office) move the file through `party_files.record`. Every query is scoped by the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from server.office.invoicing import BENEFICIARY, CREDIT_NOTE, INVOICE, ORDERING_PARTY, timezone_of
from server.parties import files as party_files
from server.people.identity import audit
from server.platform import events
from server.platform.errors import Conflict, NotFound, Unprocessable, not_found
from server.platform.tables import (
    attachments,
    claim_requirements,
    claims,
    documents,
    ordering_parties,
    tenants,
)
from shared.file_lifecycle import Event, LifecycleRefused
from shared.i18n import Text
from shared.money import from_cents, wire

# --- the statuses and the one table of moves --------------------------------------------


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


def _refusal(number: str, status: Status, action: Action) -> ClaimRefused:
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


# --- required documents ------------------------------------------------------------------

INVOICE_PDF = "invoice_pdf"
DOCUMENT_LABELS: Mapping[str, Text] = MappingProxyType(
    {
        INVOICE_PDF: Text("la facture (PDF)", "the invoice (PDF)"),
        "vehicle_photo": Text("photo du véhicule", "vehicle photo"),
        "signature": Text("signature du client", "customer's signature"),
        "handover_report": Text("procès-verbal de remise signé", "signed handover report"),
        "plate_photo": Text("photo de la plaque", "number plate photo"),
        "damage_photo": Text("photo des dégâts", "damage photo"),
    }
)
DEFAULT_REQUIREMENTS: tuple[str, ...] = (INVOICE_PDF,)
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"  # attachments.kind is 32 characters at most
MAX_KINDS = 20


def document_label(kind: str) -> Text:
    return DOCUMENT_LABELS.get(kind, Text(kind, kind))


def requirements(conn: sa.Connection, tenant_id: str, party_id: str) -> dict[str, Any]:
    """The party's latest list of required documents: {version, kinds, set_at, set_by};
    version 0 (the invoice PDF only) when it never set one."""
    row = conn.execute(
        sa.select(claim_requirements)
        .where(
            claim_requirements.c.tenant_id == tenant_id,
            claim_requirements.c.party_id == party_id,
        )
        .order_by(claim_requirements.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return {
            "party_id": party_id,
            "version": 0,
            "kinds": list(DEFAULT_REQUIREMENTS),
            "set_at": None,
            "set_by": None,
        }
    return {
        "party_id": party_id,
        "version": int(row.version),
        "kinds": list(row.kinds),
        "set_at": row.set_at,
        "set_by": row.set_by,
    }


def require_party(conn: sa.Connection, tenant_id: str, party_id: str) -> str:
    name = conn.execute(
        sa.select(ordering_parties.c.name).where(
            ordering_parties.c.tenant_id == tenant_id, ordering_parties.c.id == party_id
        )
    ).scalar_one_or_none()
    if name is None:
        raise not_found("Donneur d'ordre", "Ordering party", party_id)
    return str(name)


def set_requirements(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    kinds: Sequence[str],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A new version of the party's required documents (the same list again adds no
    version). Claims are checked against the latest version when they are submitted."""
    import re

    require_party(conn, tenant_id, party_id)
    cleaned: list[str] = []
    bad = [k for k in kinds if not isinstance(k, str) or not re.match(KIND_PATTERN, k)]
    if bad or len(kinds) > MAX_KINDS:
        raise Unprocessable(
            "Types de pièces invalides : des noms en minuscules, chiffres et _ (32 caractères"
            f" au plus), {MAX_KINDS} au plus, par exemple vehicle_photo.",
            "Invalid document kinds: lower-case names, digits and _ (32 characters at most),"
            f" {MAX_KINDS} at most, e.g. vehicle_photo.",
            code="requirements_invalid",
        )
    for kind in kinds:
        if kind not in cleaned:
            cleaned.append(kind)
    current = requirements(conn, tenant_id, party_id)
    if current["version"] > 0 and current["kinds"] == cleaned:
        return current
    version = int(current["version"]) + 1
    conn.execute(
        sa.insert(claim_requirements).values(
            tenant_id=tenant_id,
            party_id=party_id,
            version=version,
            kinds=cleaned,
            set_at=now,
            set_by=actor[:64],
        )
    )
    audit(
        conn,
        tenant_id,
        actor,
        "claim_requirements.set",
        party_id,
        now,
        detail={"version": version, "kinds": cleaned},
    )
    return requirements(conn, tenant_id, party_id)


def _present_kinds(conn: sa.Connection, tenant_id: str, claim: Any) -> set[str]:
    """The document kinds this claim has: its invoice's PDF, and every complete
    attachment of its mission."""
    present = {
        str(kind)
        for kind in conn.execute(
            sa.select(attachments.c.kind)
            .where(
                attachments.c.tenant_id == tenant_id,
                attachments.c.mission_id == claim.mission_id,
                attachments.c.completed_at.is_not(None),
            )
            .distinct()
        ).scalars()
    }
    size = conn.execute(
        sa.select(sa.func.length(documents.c.pdf)).where(
            documents.c.tenant_id == tenant_id, documents.c.number == claim.invoice_number
        )
    ).scalar_one_or_none()
    if size:
        present.add(INVOICE_PDF)
    return present


def documents_state(conn: sa.Connection, tenant_id: str, claim: Any) -> dict[str, Any]:
    """What the party requires for this claim, and which are there."""
    required = requirements(conn, tenant_id, claim.party_id)
    present = _present_kinds(conn, tenant_id, claim)
    items = [
        {
            "kind": kind,
            "label": {"fr": document_label(kind).fr, "en": document_label(kind).en},
            "present": kind in present,
        }
        for kind in required["kinds"]
    ]
    return {
        "version": required["version"],
        "documents": items,
        "missing": [i["kind"] for i in items if not i["present"]],
    }


def _missing_refusal(number: str, missing: Sequence[str]) -> Conflict:
    fr = ", ".join(document_label(k).fr for k in missing)
    en = ", ".join(document_label(k).en for k in missing)
    return Conflict(
        f"Pièces manquantes pour la demande {number} : {fr}. Les photos et signatures"
        " arrivent avec la synchronisation de la tablette.",
        f"Documents missing for claim {number}: {en}. Photos and signatures arrive with"
        " the tablet's sync.",
        code="documents_missing",
    )


# --- reading -----------------------------------------------------------------------------


def credited_cents(conn: sa.Connection, tenant_id: str, numbers: Iterable[str]) -> dict[str, int]:
    """{invoice number: cents credited incl. VAT} for the given invoices."""
    wanted = list(numbers)
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(documents.c.corrects, sa.func.sum(documents.c.total_incl_cents))
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == CREDIT_NOTE,
            documents.c.corrects.in_(wanted),
        )
        .group_by(documents.c.corrects)
    )
    return {str(r[0]): int(r[1] or 0) for r in rows}


@dataclass(frozen=True, slots=True)
class Accounts:
    """A claim's money, in cents: amount = paid + credited + open − refund_due."""

    amount: int
    paid: int
    credited: int

    @property
    def balance(self) -> int:
        return self.amount - self.credited - self.paid

    @property
    def open(self) -> int:
        return max(self.balance, 0)

    @property
    def refund_due(self) -> int:
        return max(-self.balance, 0)


def accounts_of(row: Any, credited: int) -> Accounts:
    return Accounts(int(row.amount_cents), int(row.paid_cents), credited)


def _claim_row(conn: sa.Connection, tenant_id: str, number: str, *, lock: bool = False) -> Any:
    query = sa.select(claims).where(
        claims.c.tenant_id == tenant_id, claims.c.invoice_number == number
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found("Demande de remboursement", "Claim", number)
    return row


def to_wire(row: Any, credited: int, party_name: str | None = None) -> dict[str, Any]:
    status = Status(row.status)
    money = accounts_of(row, credited)
    label = STATUS_LABELS[status]
    return {
        "invoice_number": row.invoice_number,
        "party_id": row.party_id,
        "party_name": party_name,
        "file_number": row.file_number,
        "mission_id": row.mission_id,
        "status": status.value,
        "status_label": {"fr": label.fr, "en": label.en},
        "amount": wire(from_cents(money.amount)),
        "paid": wire(from_cents(money.paid)),
        "credited": wire(from_cents(money.credited)),
        "open": wire(from_cents(money.open)),
        "refund_due": wire(from_cents(money.refund_due)),
        "rejection": row.rejection,
        "issued_on": row.issued_on.isoformat(),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "next_actions": [a.value for a in next_actions(status)],
    }


def _party_names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    rows = conn.execute(
        sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
            ordering_parties.c.tenant_id == tenant_id
        )
    )
    return {str(r.id): str(r.name) for r in rows}


def list_claims(
    conn: sa.Connection,
    tenant_id: str,
    *,
    party_id: str | None = None,
    status: str | None = None,
    file_number: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The tenant's claims, oldest invoice first."""
    query = sa.select(claims).where(claims.c.tenant_id == tenant_id)
    if party_id is not None:
        query = query.where(claims.c.party_id == party_id)
    if status is not None:
        query = query.where(claims.c.status == status)
    if file_number is not None:
        query = query.where(claims.c.file_number == file_number)
    rows = conn.execute(
        query.order_by(claims.c.issued_on, claims.c.invoice_number).limit(limit)
    ).all()
    credited = credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    names = _party_names(conn, tenant_id)
    return [to_wire(r, credited.get(r.invoice_number, 0), names.get(r.party_id)) for r in rows]


def get_claim(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    """One claim with its documents (required, present, missing) and its log."""
    row = _claim_row(conn, tenant_id, number)
    credited = credited_cents(conn, tenant_id, [number]).get(number, 0)
    out = to_wire(row, credited, _party_names(conn, tenant_id).get(row.party_id))
    out.update(documents_state(conn, tenant_id, row))
    log = (
        party_files.history(conn, tenant_id, row.party_id, row.file_number)
        if row.file_number
        else []
    )
    out["log"] = [
        entry
        for entry in log
        if entry["source"] not in ("claim", "payment")
        or (entry["detail"] or {}).get("invoice_number") in (None, number)
    ]
    return out


def all_accounts(conn: sa.Connection, tenant_id: str) -> dict[str, Accounts]:
    """Every claim's money, by invoice number (for totals and checks)."""
    rows = conn.execute(sa.select(claims).where(claims.c.tenant_id == tenant_id)).all()
    credited = credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    return {r.invoice_number: accounts_of(r, credited.get(r.invoice_number, 0)) for r in rows}


# --- writing: the log, the file, the status ------------------------------------------------


def _log(
    conn: sa.Connection,
    tenant_id: str,
    claim: Any,
    event: str,
    *,
    actor: str,
    now: datetime,
    source: str = "claim",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """An entry of the claim's file log (the audit log when the claim has no file)."""
    entry = {"invoice_number": claim.invoice_number, **(detail or {})}
    if claim.file_number:
        party_files.log(
            conn,
            tenant_id,
            claim.party_id,
            claim.file_number,
            event,
            source=source,
            actor=actor[:64],
            now=now,
            detail=entry,
        )
    else:
        audit(conn, tenant_id, actor, f"claim.{event}", claim.invoice_number, now, detail=entry)


def _file_known(conn: sa.Connection, tenant_id: str, claim: Any) -> bool:
    return bool(claim.file_number) and (
        party_files.state_of(conn, tenant_id, claim.party_id, claim.file_number) is not None
    )


def _move(
    conn: sa.Connection,
    tenant_id: str,
    claim: Any,
    action: Action,
    *,
    now: datetime,
    values: Mapping[str, Any] | None = None,
) -> Status:
    """Set the claim's status as the table says (the caller checked the cell)."""
    target = MOVES[(Status(claim.status), action)]
    conn.execute(
        sa.update(claims)
        .where(claims.c.tenant_id == tenant_id, claims.c.invoice_number == claim.invoice_number)
        .values(status=target.value, updated_at=now, **dict(values or {}))
    )
    return target


def _clean_reasons(reasons: Sequence[str] | str | None) -> list[str]:
    if isinstance(reasons, str):
        reasons = [reasons]
    cleaned = [" ".join(r.split())[:500] for r in reasons or () if isinstance(r, str)]
    return [r for r in cleaned if r][:20]


def act(
    conn: sa.Connection,
    tenant_id: str,
    number: str,
    action: Action | str,
    *,
    actor: str,
    now: datetime,
    reasons: Sequence[str] | str | None = None,
) -> dict[str, Any]:
    """One of the office's actions on the claim, as the table allows; refused (409,
    nothing written) when the status does not allow it, when a required document is
    missing (the refusal names each), or when the file refuses the invoice to be sent.
    `reject` needs reasons. Logged on the file."""
    try:
        chosen = Action(action)
    except ValueError:
        chosen = None
    if chosen not in OFFICE_ACTIONS:
        raise NotFound(
            f"Action inconnue sur une demande : « {action} ».",
            f"Unknown claim action: '{action}'.",
            code="unknown_action",
        )
    assert chosen is not None
    claim = _claim_row(conn, tenant_id, number, lock=True)
    status = Status(claim.status)
    if (status, chosen) not in MOVES:
        raise _refusal(number, status, chosen)
    detail: dict[str, Any] = {"from": status.value}
    values: dict[str, Any] = {}
    if chosen is Action.REJECT:
        cleaned = _clean_reasons(reasons)
        if not cleaned:
            raise Unprocessable(
                "Indiquez le ou les motifs du rejet.",
                "Give the rejection's reason(s).",
                code="reasons_missing",
            )
        values["rejection"] = {"reasons": cleaned, "by": "office", "at": now.isoformat()}
        detail["reasons"] = cleaned
    if chosen in NEEDS_DOCUMENTS:
        state = documents_state(conn, tenant_id, claim)
        if state["missing"]:
            raise _missing_refusal(number, state["missing"])
        detail["requirements_version"] = state["version"]
        detail["documents"] = [d["kind"] for d in state["documents"]]
    file_event = {
        Action.SUBMIT: Event.DOCUMENT_SENT,
        Action.RESUBMIT: Event.DOCUMENT_SENT,
        Action.VALIDATE: Event.INVOICE_VALIDATED,
        Action.REJECT: Event.INVOICE_REJECTED,
    }.get(chosen)
    if file_event is not None and _file_known(conn, tenant_id, claim):
        # Raises the lifecycle's refusal (a file done, waiting for its order…) before
        # anything is written: the claim is not sent either.
        name = {
            Event.INVOICE_VALIDATED: f"Validation de la facture {number} saisie au bureau",
            Event.INVOICE_REJECTED: f"Rejet de la facture {number} saisi au bureau",
        }.get(file_event)
        party_files.record(
            conn,
            tenant_id,
            claim.party_id,
            claim.file_number,
            file_event,
            source="claim" if file_event is Event.DOCUMENT_SENT else "office",
            actor=actor[:64],
            now=now,
            message_name=name,
            detail={
                "invoice_number": number,
                **{k: detail[k] for k in ("reasons",) if k in detail},
            },
        )
    target = _move(conn, tenant_id, claim, chosen, now=now, values=values)
    detail["to"] = target.value
    _log(conn, tenant_id, claim, f"claim_{chosen.value}", actor=actor, now=now, detail=detail)
    return get_claim(conn, tenant_id, number)


# --- the ordering party's messages -------------------------------------------------------


def on_file_event(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    event: Event,
    *,
    actor: str,
    now: datetime,
    invoice_number: str | None = None,
    reasons: Sequence[str] | str | None = None,
    message_name: str | None = None,
) -> list[dict[str, Any]]:
    """What the messages code calls after `party_files.record` accepted a message (not
    a duplicate): `invoice_validated` validates and `invoice_rejected` rejects (with the
    party's reasons) the claim named by `invoice_number`, or every open claim of the file
    without one. Never refused: a message on a paid or cancelled claim is logged and
    changes nothing. Other events leave claims alone. Returns the claims it touched."""
    action = {
        Event.INVOICE_VALIDATED: Action.PARTY_VALIDATED,
        Event.INVOICE_REJECTED: Action.PARTY_REJECTED,
    }.get(event)
    if action is None:
        return []
    query = sa.select(claims).where(
        claims.c.tenant_id == tenant_id,
        claims.c.party_id == party_id,
        claims.c.file_number == file_number,
    )
    if invoice_number is not None:
        query = query.where(claims.c.invoice_number == invoice_number)
    touched = []
    for claim in conn.execute(query.order_by(claims.c.invoice_number).with_for_update()).all():
        status = Status(claim.status)
        if invoice_number is None and status not in OPEN:
            continue
        detail: dict[str, Any] = {"from": status.value, "message_name": message_name}
        values: dict[str, Any] = {}
        if action is Action.PARTY_REJECTED:
            cleaned = _clean_reasons(reasons)
            detail["reasons"] = cleaned
            values["rejection"] = {
                "reasons": cleaned,
                "by": "party",
                "at": now.isoformat(),
                "message_name": message_name,
            }
        if (status, action) not in MOVES:
            detail["to"] = status.value
            _log(
                conn,
                tenant_id,
                claim,
                "claim_message_ignored",
                actor=actor,
                now=now,
                detail={**detail, "event": event.value},
            )
        else:
            target = _move(conn, tenant_id, claim, action, now=now, values=values)
            detail["to"] = target.value
            _log(
                conn, tenant_id, claim, f"claim_{action.value}", actor=actor, now=now, detail=detail
            )
        touched.append(get_claim(conn, tenant_id, claim.invoice_number))
    return touched


# --- money: payments and credit notes ------------------------------------------------------


def open_claims_on_file(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> list[str]:
    return list(
        conn.execute(
            sa.select(claims.c.invoice_number).where(
                claims.c.tenant_id == tenant_id,
                claims.c.party_id == party_id,
                claims.c.file_number == file_number,
                claims.c.status.in_([s.value for s in OPEN]),
            )
        ).scalars()
    )


def _settle_file(
    conn: sa.Connection,
    tenant_id: str,
    claim: Any,
    *,
    source: str,
    message_id: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any],
) -> None:
    """The file's `payment_advice` once its last open claim is settled (a file holding
    two invoices is done when both are)."""
    if not _file_known(conn, tenant_id, claim):
        return
    if open_claims_on_file(conn, tenant_id, claim.party_id, claim.file_number):
        return
    party_files.record(
        conn,
        tenant_id,
        claim.party_id,
        claim.file_number,
        Event.PAYMENT_ADVICE,
        source=source,
        actor=actor[:64],
        now=now,
        message_id=message_id,
        message_name=f"Facture {claim.invoice_number} réglée",
        detail={"invoice_number": claim.invoice_number, **detail},
    )


def apply_payment(
    conn: sa.Connection,
    tenant_id: str,
    number: str,
    cents: int,
    *,
    reference: str,
    actor: str,
    now: datetime,
) -> tuple[str, int]:
    """Match a payment of `cents` to the claim (locked): returns (outcome, cents applied).

    - nothing left to pay (paid, cancelled, or credited and paid) → `already_paid`, 0;
    - exactly what is left → `matched`: paid grows, the claim is paid, and the file gets
      its payment advice (message id `reference`, so a replay changes nothing) once no
      other claim of the file is open;
    - less → `amount_differs`, applied (a partial payment, the claim stays open);
    - more → `amount_differs`, not applied (the office decides: another invoice, a
      refund), so a claim is never paid beyond what it is owed.
    """
    claim = _claim_row(conn, tenant_id, number, lock=True)
    money = accounts_of(claim, credited_cents(conn, tenant_id, [number]).get(number, 0))
    status = Status(claim.status)
    detail = {
        "reference": reference,
        "amount": wire(from_cents(cents)),
        "open_before": wire(from_cents(money.open)),
    }
    if status not in OPEN or money.open <= 0:
        _log(
            conn,
            tenant_id,
            claim,
            "payment_already_paid",
            source="payment",
            actor=actor,
            now=now,
            detail=detail,
        )
        return "already_paid", 0
    if cents > money.open:
        _log(
            conn,
            tenant_id,
            claim,
            "payment_over_amount",
            source="payment",
            actor=actor,
            now=now,
            detail=detail,
        )
        return "amount_differs", 0
    paid = money.paid + cents
    conn.execute(
        sa.update(claims)
        .where(claims.c.tenant_id == tenant_id, claims.c.invoice_number == number)
        .values(paid_cents=paid, updated_at=now)
    )
    if cents < money.open:
        _log(
            conn,
            tenant_id,
            claim,
            "payment_partial",
            source="payment",
            actor=actor,
            now=now,
            detail={**detail, "paid": wire(from_cents(paid))},
        )
        return "amount_differs", cents
    target = _move(conn, tenant_id, claim, Action.PAID_IN_FULL, now=now)
    _log(
        conn,
        tenant_id,
        claim,
        "payment_matched",
        source="payment",
        actor=actor,
        now=now,
        detail={**detail, "paid": wire(from_cents(paid)), "from": status.value, "to": target.value},
    )
    _settle_file(
        conn,
        tenant_id,
        claim,
        source="payment",
        message_id=reference,
        actor=actor,
        now=now,
        detail=detail,
    )
    return "matched", cents


# --- the invoicing hook ---------------------------------------------------------------------


def _issue_date(conn: sa.Connection, tenant_id: str, issued_at: datetime) -> date:
    from zoneinfo import ZoneInfo

    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    return issued_at.astimezone(ZoneInfo(timezone_of(settings or {}))).date()


def _file_refused(
    conn: sa.Connection,
    tenant_id: str,
    claim: Any,
    document: Any,
    refusal: LifecycleRefused,
    *,
    actor: str,
    now: datetime,
) -> None:
    """The document is issued (immutable) but the file refuses it: say so on the log."""
    _log(
        conn,
        tenant_id,
        claim,
        "document_refused_by_file",
        source="office",
        actor=actor,
        now=now,
        detail={
            "document": document.number,
            "event": refusal.event.value,
            "state": None if refusal.state is None else refusal.state.value,
            "warning": {"fr": refusal.text.fr, "en": refusal.text.en},
        },
    )


def _record_document(
    conn: sa.Connection,
    tenant_id: str,
    claim: Any,
    document: Any,
    event: Event,
    *,
    actor: str,
    now: datetime,
) -> None:
    if not _file_known(conn, tenant_id, claim):
        return  # a file Towline never heard of has no lifecycle (party_files)
    try:
        party_files.record(
            conn,
            tenant_id,
            claim.party_id,
            claim.file_number,
            event,
            source="office",
            actor=actor[:64],
            now=now,
            detail={"document": document.number, "invoice_number": claim.invoice_number},
        )
    except LifecycleRefused as refusal:
        _file_refused(conn, tenant_id, claim, document, refusal, actor=actor, now=now)


def on_document_stored(conn: sa.Connection, event: events.DocumentStored) -> None:
    """Subscribed to `DocumentStored` (server.reactions): see `on_document`."""
    on_document(conn, event.tenant_id, event.document, actor=event.actor, now=event.now)


def on_document(
    conn: sa.Connection, tenant_id: str, document: Any, *, actor: str, now: datetime
) -> None:
    """What follows once `server.office.invoicing` stored a document (a `documents` row), in
    the issuing transaction.

    - an invoice to an ordering party opens its claim (`to_create`) and puts the party's
      file on a document (`used_in_document`);
    - a credit note on such an invoice reduces the claim (the credited amount is derived
      from the credit notes); one that leaves nothing to pay settles it: cancelled when
      the whole invoice is credited, paid when payments cover the rest. A credit note
      that cancels the whole invoice takes the file off the document
      (`credit_note_issued`); a partial one leaves the invoice, and the file, where
      they are.

    The document is already issued and never changes, so a file that refuses it (waiting
    for its order, done, cancelled by hand) does not refuse the invoicing: the refusal
    goes to the file's log as a warning for the office."""
    if document.kind == INVOICE and document.recipient_kind == ORDERING_PARTY:
        _open_claim(conn, tenant_id, document, actor=actor, now=now)
    elif document.kind == CREDIT_NOTE and document.recipient_kind != BENEFICIARY:
        _credit_claim(conn, tenant_id, document, actor=actor, now=now)


def _open_claim(
    conn: sa.Connection, tenant_id: str, document: Any, *, actor: str, now: datetime
) -> None:
    party_id = (document.recipient or {}).get("id")
    if not party_id:
        return
    exists = conn.execute(
        sa.select(claims.c.invoice_number).where(
            claims.c.tenant_id == tenant_id, claims.c.invoice_number == document.number
        )
    ).first()
    if exists is not None:
        return
    conn.execute(
        sa.insert(claims).values(
            tenant_id=tenant_id,
            invoice_number=document.number,
            party_id=str(party_id)[:64],
            file_number=document.file_number,
            mission_id=document.mission_id,
            amount_cents=int(document.total_incl_cents),
            paid_cents=0,
            status=Status.TO_CREATE.value,
            rejection=None,
            issued_on=_issue_date(conn, tenant_id, document.issued_at),
            created_at=now,
            updated_at=now,
        )
    )
    claim = _claim_row(conn, tenant_id, document.number)
    _log(
        conn,
        tenant_id,
        claim,
        "claim_opened",
        actor=actor,
        now=now,
        detail={
            "amount": wire(from_cents(int(document.total_incl_cents))),
            "to": Status.TO_CREATE.value,
        },
    )
    _record_document(conn, tenant_id, claim, document, Event.USED_IN_DOCUMENT, actor=actor, now=now)


def _credit_claim(
    conn: sa.Connection, tenant_id: str, note: Any, *, actor: str, now: datetime
) -> None:
    if not note.corrects:
        return
    try:
        claim = _claim_row(conn, tenant_id, note.corrects, lock=True)
    except NotFound:
        return  # a beneficiary's invoice, or one issued before claims existed
    money = accounts_of(
        claim, credited_cents(conn, tenant_id, [claim.invoice_number]).get(claim.invoice_number, 0)
    )
    status = Status(claim.status)
    detail: dict[str, Any] = {
        "credit_note": note.number,
        "credited": wire(from_cents(int(note.total_incl_cents))),
        "credited_total": wire(from_cents(money.credited)),
        "open": wire(from_cents(money.open)),
        "refund_due": wire(from_cents(money.refund_due)),
        "from": status.value,
        "to": status.value,
    }
    settled = status in OPEN and money.open == 0
    if settled:
        # The whole invoice cancelled: the claim is cancelled (any payment is a refund
        # due); credit notes that only cover what is left after payments settle it paid.
        whole = money.credited >= money.amount
        action = Action.CREDITED_IN_FULL if whole else Action.PAID_IN_FULL
        detail["to"] = _move(conn, tenant_id, claim, action, now=now).value
    _log(conn, tenant_id, claim, "claim_credited", actor=actor, now=now, detail=detail)
    if money.credited >= money.amount:
        _record_document(
            conn, tenant_id, claim, note, Event.CREDIT_NOTE_ISSUED, actor=actor, now=now
        )
    elif settled:
        _settle_file(
            conn,
            tenant_id,
            claim,
            source="office",
            message_id=f"credit:{note.number}",
            actor=actor,
            now=now,
            detail={"credit_note": note.number},
        )
