"""A claim's money as it moves: the invoice that opens the claim, the payments matched to it
(`apply_payment`, called by `server.parties.payments`) and the credit notes that reduce or
cancel it, the file getting its payment advice once its claims are settled. The invoicing
hook, `on_document_stored`, is subscribed in `server.reactions`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from server.office.invoicing import timezone_of
from server.office.issued_documents import BENEFICIARY, CREDIT_NOTE, INVOICE, ORDERING_PARTY
from server.parties import files as party_files
from server.parties.claim_reading import accounts_of, claim_row, credited_cents
from server.parties.claim_states import OPEN, Action, Status
from server.parties.claims import file_known, log, move
from server.platform import events
from server.platform.errors import NotFound
from server.platform.tables import claims, tenants
from shared.file_lifecycle import Event, LifecycleRefused
from shared.money import from_cents, wire

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
    if not file_known(conn, tenant_id, claim):
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
    claim = claim_row(conn, tenant_id, number, lock=True)
    money = accounts_of(claim, credited_cents(conn, tenant_id, [number]).get(number, 0))
    status = Status(claim.status)
    detail = {
        "reference": reference,
        "amount": wire(from_cents(cents)),
        "open_before": wire(from_cents(money.open)),
    }
    if status not in OPEN or money.open <= 0:
        log(
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
        log(
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
        log(
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
    target = move(conn, tenant_id, claim, Action.PAID_IN_FULL, now=now)
    log(
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
    log(
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
    if not file_known(conn, tenant_id, claim):
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
    claim = claim_row(conn, tenant_id, document.number)
    log(
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
        claim = claim_row(conn, tenant_id, note.corrects, lock=True)
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
        detail["to"] = move(conn, tenant_id, claim, action, now=now).value
    log(conn, tenant_id, claim, "claim_credited", actor=actor, now=now, detail=detail)
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
