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

This module writes: the log, the status, the office's actions (`act`) and the ordering
party's messages (`on_file_event`). The rest is in its siblings: `claim_states` (the
statuses, the actions, `MOVES`), `claim_documents` (the documents a party requires),
`claim_reading` (listing and reading claims, their money) and `claim_money` (the invoice
that opens a claim, payments and credit notes, the invoicing hook).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.parties import files as party_files
from server.parties.claim_documents import documents_state, missing_refusal
from server.parties.claim_reading import claim_row, get_claim
from server.parties.claim_states import (
    MOVES,
    NEEDS_DOCUMENTS,
    OFFICE_ACTIONS,
    OPEN,
    Action,
    Status,
    refusal,
)
from server.people.identity import audit
from server.platform.errors import NotFound, Unprocessable
from server.platform.tables import claims
from shared.file_lifecycle import Event

# --- writing: the log, the file, the status ------------------------------------------------


def log(
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


def file_known(conn: sa.Connection, tenant_id: str, claim: Any) -> bool:
    return bool(claim.file_number) and (
        party_files.state_of(conn, tenant_id, claim.party_id, claim.file_number) is not None
    )


def move(
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
    claim = claim_row(conn, tenant_id, number, lock=True)
    status = Status(claim.status)
    if (status, chosen) not in MOVES:
        raise refusal(number, status, chosen)
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
            raise missing_refusal(number, state["missing"])
        detail["requirements_version"] = state["version"]
        detail["documents"] = [d["kind"] for d in state["documents"]]
    file_event = {
        Action.SUBMIT: Event.DOCUMENT_SENT,
        Action.RESUBMIT: Event.DOCUMENT_SENT,
        Action.VALIDATE: Event.INVOICE_VALIDATED,
        Action.REJECT: Event.INVOICE_REJECTED,
    }.get(chosen)
    if file_event is not None and file_known(conn, tenant_id, claim):
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
    target = move(conn, tenant_id, claim, chosen, now=now, values=values)
    detail["to"] = target.value
    log(conn, tenant_id, claim, f"claim_{chosen.value}", actor=actor, now=now, detail=detail)
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
            log(
                conn,
                tenant_id,
                claim,
                "claim_message_ignored",
                actor=actor,
                now=now,
                detail={**detail, "event": event.value},
            )
        else:
            target = move(conn, tenant_id, claim, action, now=now, values=values)
            detail["to"] = target.value
            log(
                conn, tenant_id, claim, f"claim_{action.value}", actor=actor, now=now, detail=detail
            )
        touched.append(get_claim(conn, tenant_id, claim.invoice_number))
    return touched
