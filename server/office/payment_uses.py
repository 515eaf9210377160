"""What the office's payments paid: the reads every balance needs (docs/customer-debts.md).

A payment received in the office (`office_payments`) is used on invoices (when received,
or later when its credit is applied) and refunds (`office_payment_uses`). These reads
touch only those two tables, so the invoice reading (`server.office.issued_documents`)
and the payments module (`server.office.office_payments`) can both use them; and, for
an invoice overpaid on site, what the office refunded of it: an `office_payment` entry
of the server journal (act `overpayment_refunded`), the only record of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlalchemy as sa

from server.office import office_journal
from server.platform.tables import journal_entries, office_payment_uses, office_payments
from shared.journal import EntryType
from shared.money import parse_amount, to_cents

INVOICE_USE = "invoice"
REFUND_USE = "refund"
OVERPAYMENT_REFUNDED = "overpayment_refunded"  # the act of an overpaid invoice's refund
CHUNK = 500  # numbers per IN (…): well under every database's limit


def _chunks(values: Iterable[str]) -> list[list[str]]:
    items = sorted(set(values))
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def paid_in_office_cents(
    conn: sa.Connection, tenant_id: str, invoice_numbers: Iterable[str]
) -> dict[str, int]:
    """{invoice number: cents the office's payments put on it} (absent: nothing)."""
    out: dict[str, int] = {}
    for chunk in _chunks(invoice_numbers):
        rows = conn.execute(
            sa.select(
                office_payment_uses.c.invoice_number,
                sa.func.sum(office_payment_uses.c.amount_cents),
            )
            .where(
                office_payment_uses.c.tenant_id == tenant_id,
                office_payment_uses.c.kind == INVOICE_USE,
                office_payment_uses.c.invoice_number.in_(chunk),
            )
            .group_by(office_payment_uses.c.invoice_number)
        )
        out.update({str(number): int(total) for number, total in rows})
    return out


def used_cents(
    conn: sa.Connection, tenant_id: str, payment_numbers: Iterable[str]
) -> dict[str, int]:
    """{payment number: cents used on invoices and refunds} (absent: nothing yet)."""
    out: dict[str, int] = {}
    for chunk in _chunks(payment_numbers):
        rows = conn.execute(
            sa.select(
                office_payment_uses.c.payment_number,
                sa.func.sum(office_payment_uses.c.amount_cents),
            )
            .where(
                office_payment_uses.c.tenant_id == tenant_id,
                office_payment_uses.c.payment_number.in_(chunk),
            )
            .group_by(office_payment_uses.c.payment_number)
        )
        out.update({str(number): int(total) for number, total in rows})
    return out


def credit_cents(
    conn: sa.Connection, tenant_id: str, customer: str | None = None
) -> dict[str, int]:
    """{payment number: credit left} of every payment (of one customer) that still holds
    some: its amount minus what was used on invoices and refunded."""
    query = sa.select(office_payments.c.number, office_payments.c.amount_cents).where(
        office_payments.c.tenant_id == tenant_id
    )
    if customer is not None:
        query = query.where(office_payments.c.customer == customer)
    amounts = {str(r.number): int(r.amount_cents) for r in conn.execute(query)}
    used = used_cents(conn, tenant_id, amounts)
    left = {number: amount - used.get(number, 0) for number, amount in amounts.items()}
    return {number: cents for number, cents in sorted(left.items()) if cents > 0}


def cash_paid_cents(
    conn: sa.Connection, tenant_id: str, invoice_numbers: Iterable[str]
) -> dict[str, int]:
    """{invoice number: cents the office's cash payments put on it} (the legal limit on
    cash is per debt: server.office.cash_limits)."""
    out: dict[str, int] = {}
    uses, payments = office_payment_uses.c, office_payments.c
    for chunk in _chunks(invoice_numbers):
        rows = conn.execute(
            sa.select(uses.invoice_number, sa.func.sum(uses.amount_cents))
            .select_from(
                office_payment_uses.join(
                    office_payments,
                    sa.and_(
                        payments.tenant_id == uses.tenant_id,
                        payments.number == uses.payment_number,
                    ),
                )
            )
            .where(
                uses.tenant_id == tenant_id,
                uses.kind == INVOICE_USE,
                uses.invoice_number.in_(chunk),
                payments.method == "cash",
            )
            .group_by(uses.invoice_number)
        )
        out.update({str(number): int(total) for number, total in rows})
    return out


def overpayment_refunds(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str] | None = None
) -> list[dict[str, object]]:
    """The `overpayment_refunded` acts of the server journal (of these missions' invoices),
    in journal order, each payload with its `journal_seq`."""
    query = (
        sa.select(journal_entries.c.seq, journal_entries.c.body)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == office_journal.chain_id(tenant_id),
            journal_entries.c.type == EntryType.OFFICE_PAYMENT.value,
        )
        .order_by(journal_entries.c.seq)
    )
    chunks = [None] if mission_ids is None else _chunks(mission_ids)
    out: list[dict[str, object]] = []
    for chunk in chunks:
        rows = conn.execute(
            query if chunk is None else query.where(journal_entries.c.mission_id.in_(chunk))
        )
        for row in rows:
            payload = json.loads(row.body).get("payload") or {}
            if isinstance(payload, dict) and payload.get("act") == OVERPAYMENT_REFUNDED:
                out.append({**payload, "journal_seq": int(row.seq)})
    out.sort(key=lambda p: int(str(p["journal_seq"])))
    return out


def overpayment_refunded_cents(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, int]:
    """{invoice number: cents the office refunded of its overpayment} (absent: nothing)."""
    out: dict[str, int] = {}
    for refund in overpayment_refunds(conn, tenant_id, mission_ids):
        number = str(refund.get("invoice"))
        out[number] = out.get(number, 0) + to_cents(parse_amount(refund.get("amount")))
    return out
