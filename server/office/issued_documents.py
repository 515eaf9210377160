"""Invoices and credit notes as issued (docs/invoicing.md): their kinds and recipients,
reading them as the API and the command line show them, their PDF and Factur-X files,
and where a beneficiary's invoice stands (what the field collected, derived, never stored)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from server.office import document_files, numbering, office_journal, payment_uses
from server.platform.errors import NotFound, Unprocessable, not_found
from server.platform.tables import decisions, documents, journal_entries
from shared.balance import Deferred, Discounted, fold
from shared.money import ZERO, from_cents, parse_amount, wire
from shared.payments import event_from_entry

INVOICE = numbering.INVOICE
CREDIT_NOTE = numbering.CREDIT_NOTE
KINDS = (INVOICE, CREDIT_NOTE)
ORDERING_PARTY = "ordering_party"
BENEFICIARY = "beneficiary"
RECIPIENTS = (ORDERING_PARTY, BENEFICIARY)
MONEY_ENTRIES = ("collection", "reversal", "discount", "deferral")
# What the field recorded on a mission, from the tablets' chains (not the server's own).
TABLET_ENTRY = sa.not_(journal_entries.c.device_id.like(office_journal.PREFIX + "%"))


# --- reading ------------------------------------------------------------------------


def document_row(conn: sa.Connection, tenant_id: str, number: str, *, lock: bool = False) -> Any:
    query = sa.select(documents).where(
        documents.c.tenant_id == tenant_id, documents.c.number == number
    )
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise not_found("Document", "Document", number)
    return row


def sha256_hex(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def to_wire(row: Any, files: document_files.Files | None = None) -> dict[str, Any]:
    """A document as the API and the command line show it (without the PDF bytes).
    `files`: its files once rendered (`files` "ready"), else None ("preparing")."""
    return {
        "number": row.number,
        "kind": row.kind,
        "series": row.series,
        "seq": int(row.seq),
        "mission_id": row.mission_id,
        "file_number": row.file_number,
        "recipient_kind": row.recipient_kind,
        "recipient": row.recipient,
        "seller": row.seller,
        "issued_at": row.issued_at.astimezone(UTC).isoformat(),
        "service_date": row.service_date.isoformat(),
        "currency": row.currency,
        "lines": row.lines,
        "by_rate": row.by_rate,
        "total": {
            "excl_vat": wire(from_cents(int(row.total_excl_cents))),
            "vat": wire(from_cents(int(row.total_vat_cents))),
            "incl_vat": wire(from_cents(int(row.total_incl_cents))),
        },
        "corrects": row.corrects,
        "reason": row.reason,
        "valuation_digest": row.valuation_digest,
        "journal_seq": int(row.journal_seq),
        "pdf_sha256": files.pdf_sha256 if files else None,
        "facturx_sha256": files.facturx_sha256 if files else None,
        "files": "ready" if files else "preparing",
        "created_by": row.created_by,
    }


def get_document(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    """One document; a beneficiary's invoice also carries its `balance`. Its `files` say
    whether its PDF is made yet: what shows it to a person calls `shown` instead."""
    row = document_row(conn, tenant_id, number)
    out = to_wire(row, document_files.files(conn, tenant_id, [number]).get(number))
    if row.kind == INVOICE:
        out["credited"] = wire(from_cents(credited_cents(conn, tenant_id, number)[2]))
        if row.recipient_kind == BENEFICIARY:
            out["balance"] = beneficiary_balance(conn, tenant_id, number)
    return out


def shown(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    """`get_document` for a person (API, desk, command line): 404 if unknown, 409
    `document_being_prepared` (with Retry-After) until its PDF is made."""
    document_row(conn, tenant_id, number)
    document_files.require_ready(conn, tenant_id, number)
    return get_document(conn, tenant_id, number)


def list_documents(
    conn: sa.Connection,
    tenant_id: str,
    *,
    mission_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    ready_only: bool = False,
) -> list[dict[str, Any]]:
    """The tenant's documents in the order they were issued; `ready_only`: those whose
    files are made (what a list shows a person: a document is shown once its PDF exists)."""
    query = sa.select(documents).where(documents.c.tenant_id == tenant_id)
    if ready_only:
        query = query.where(document_files.ready_clause())
    if mission_id is not None:
        query = query.where(documents.c.mission_id == mission_id)
    if kind is not None:
        query = query.where(documents.c.kind == kind)
    query = query.order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
    rows = conn.execute(query.limit(limit)).all()
    made = document_files.files(conn, tenant_id, [row.number for row in rows])
    return [to_wire(row, made.get(row.number)) for row in rows]


def document_file(
    conn: sa.Connection, tenant_id: str, number: str, *, facturx: bool = False
) -> bytes:
    """The document's PDF, or its Factur-X PDF (ordering parties' documents only); 409
    `document_being_prepared` until they are made."""
    document_row(conn, tenant_id, number)  # 404 first
    made = document_files.require_ready(conn, tenant_id, number)
    if not facturx:
        return made.pdf
    if made.facturx is None:
        raise NotFound(
            f"Le document {number} n'a pas de version Factur-X : seuls les documents des "
            "donneurs d'ordre en ont une.",
            f"Document {number} has no Factur-X version: only ordering parties' documents "
            "have one.",
            code="no_facturx",
        )
    return made.facturx


# --- what the beneficiary paid ------------------------------------------------------


def credited_cents(conn: sa.Connection, tenant_id: str, invoice_number: str) -> list[int]:
    """[excl, vat, incl] cents of every credit note on the invoice."""
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(documents.c.total_excl_cents), 0),
            sa.func.coalesce(sa.func.sum(documents.c.total_vat_cents), 0),
            sa.func.coalesce(sa.func.sum(documents.c.total_incl_cents), 0),
        ).where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == CREDIT_NOTE,
            documents.c.corrects == invoice_number,
        )
    ).one()
    return [int(row[0]), int(row[1]), int(row[2])]


def field_money(conn: sa.Connection, tenant_id: str, mission_id: str, due: Decimal) -> Any:
    """The mission's money (shared.balance): collections minus reversals, discounts and
    deferrals, from the tablets' stored journal entries, plus the discounts and deferrals
    the office decided that no tablet has recorded yet (or could not: a tablet that
    valued the mission lower sees nothing left to bill later). A decision recorded by a
    tablet cites it as `office:<decision id>` and is counted once."""
    rows = conn.execute(
        sa.select(journal_entries.c.type, journal_entries.c.hash, journal_entries.c.body).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            journal_entries.c.type.in_(MONEY_ENTRIES),
            TABLET_ENTRY,
        )
    )
    events: list[Any] = []
    recorded: set[str] = set()
    for row in rows:
        try:
            payload = json.loads(row.body)["payload"]
            event = event_from_entry(row.type, row.hash, payload)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # an unreadable entry is the anomaly catalogue's business, not money
        if event is not None and event.mission_id == mission_id:
            events.append(event)
            recorded.add(str(payload.get("approval_ref", "")))
    for decided in conn.execute(
        sa.select(decisions.c.id, decisions.c.type, decisions.c.data).where(
            decisions.c.tenant_id == tenant_id,
            decisions.c.mission_id == mission_id,
            decisions.c.type.in_(("discount", "deferral")),
        )
    ):
        ref = f"office:{decided.id}"
        if ref in recorded:
            continue
        data = json.loads(decided.data) if isinstance(decided.data, str) else decided.data
        made = Discounted if decided.type == "discount" else Deferred
        events.append(made(ref, mission_id, parse_amount(data["amount"])))
    return fold(mission_id, due, events)


def beneficiary_balance(conn: sa.Connection, tenant_id: str, invoice_number: str) -> dict[str, Any]:
    """Where a beneficiary's invoice stands, derived (never stored): `paid` is what the
    tablets collected on the mission net of reversals, `discounted` the discounts granted
    on the spot, `deferred` the "bill later" approvals (left to pay), `credited` the
    credit notes on this invoice, `paid_in_office` the payments received in the office
    (server.office.office_payments); `open` = total − paid − discounted − credited −
    paid_in_office (never below zero; `overpaid` beyond). Status: "paid" when nothing is
    open, "partly_paid" when something was paid, else "open"."""
    row = document_row(conn, tenant_id, invoice_number)
    if row.kind != INVOICE or row.recipient_kind != BENEFICIARY:
        raise Unprocessable(
            f"Le document {invoice_number} n'est pas une facture au bénéficiaire.",
            f"Document {invoice_number} is not a beneficiary's invoice.",
            code="not_a_beneficiary_invoice",
        )
    total = from_cents(int(row.total_incl_cents))
    money = field_money(conn, tenant_id, row.mission_id, total)
    credited = from_cents(credited_cents(conn, tenant_id, invoice_number)[2])
    in_office = from_cents(
        payment_uses.paid_in_office_cents(conn, tenant_id, [invoice_number]).get(invoice_number, 0)
    )
    rest = total - money.net_collected - money.discounted - credited - in_office
    open_ = max(rest, ZERO)
    if open_ == 0:
        status = "paid"
    elif money.net_collected + in_office > 0:
        status = "partly_paid"
    else:
        status = "open"
    return {
        "number": row.number,
        "total": wire(total),
        "paid": wire(money.net_collected),
        "discounted": wire(money.discounted),
        "deferred": wire(money.deferred),
        "credited": wire(credited),
        "paid_in_office": wire(in_office),
        "open": wire(open_),
        "overpaid": wire(max(-rest, ZERO)),
        "status": status,
    }
