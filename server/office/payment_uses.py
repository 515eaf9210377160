"""What the office's payments paid: the reads every balance needs (docs/customer-debts.md).

A payment received in the office (`office_payments`) is used on invoices (when received,
or later when its credit is applied) and refunds (`office_payment_uses`). These reads
touch only those two tables, so the invoice reading (`server.office.issued_documents`)
and the payments module (`server.office.office_payments`) can both use them; and, for
an invoice overpaid on site, what the office refunded of it or applied to another of the
customer's invoices: an `office_payment` entry of the server journal (act
`overpayment_refunded` or `overpayment_applied`), the only record of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlalchemy as sa

from server.office import office_journal
from server.platform.db import in_chunks
from server.platform.tables import journal_entries, office_payment_uses, office_payments
from shared.journal import EntryType
from shared.money import parse_amount, to_cents

INVOICE_USE = "invoice"
REFUND_USE = "refund"
OVERPAYMENT_REFUNDED = "overpayment_refunded"  # the act of an overpaid invoice's refund
OVERPAYMENT_APPLIED = "overpayment_applied"  # its credit put on another invoice


def paid_in_office_cents(
    conn: sa.Connection, tenant_id: str, invoice_numbers: Iterable[str]
) -> dict[str, int]:
    """{invoice number: cents the office put on it} (absent: nothing): its payments'
    uses, and the credit of invoices overpaid on site applied to it."""
    out: dict[str, int] = {}
    wanted = set(invoice_numbers)
    for chunk in in_chunks(wanted):
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
    if wanted:
        for applied in overpayment_acts(conn, tenant_id, None, OVERPAYMENT_APPLIED):
            target = str(applied.get("to"))
            if target in wanted:
                out[target] = out.get(target, 0) + to_cents(parse_amount(applied.get("amount")))
    return out


def used_cents(
    conn: sa.Connection, tenant_id: str, payment_numbers: Iterable[str]
) -> dict[str, int]:
    """{payment number: cents used on invoices and refunds} (absent: nothing yet)."""
    out: dict[str, int] = {}
    for chunk in in_chunks(payment_numbers):
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
    for chunk in in_chunks(invoice_numbers):
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


def overpayment_acts(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str] | None, *acts: str
) -> list[dict[str, object]]:
    """The server journal's `office_payment` entries of these acts (of these missions'
    invoices: the invoice the credit came from), in journal order, each payload with its
    `journal_seq`."""
    query = (
        sa.select(journal_entries.c.seq, journal_entries.c.body)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == office_journal.chain_id(tenant_id),
            journal_entries.c.type == EntryType.OFFICE_PAYMENT.value,
            # Only the bodies naming one of the acts are parsed (the payload checks it).
            sa.or_(*(journal_entries.c.body.contains(f'"{act}"') for act in acts)),
        )
        .order_by(journal_entries.c.seq)
    )
    chunks = [None] if mission_ids is None else in_chunks(mission_ids)
    out: list[dict[str, object]] = []
    for chunk in chunks:
        rows = conn.execute(
            query if chunk is None else query.where(journal_entries.c.mission_id.in_(chunk))
        )
        for row in rows:
            payload = json.loads(row.body).get("payload") or {}
            if isinstance(payload, dict) and payload.get("act") in acts:
                out.append({**payload, "journal_seq": int(row.seq)})
    out.sort(key=lambda p: int(str(p["journal_seq"])))
    return out


def overpayment_refunds(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str] | None = None
) -> list[dict[str, object]]:
    """The `overpayment_refunded` acts of the server journal (of these missions' invoices),
    in journal order, each payload with its `journal_seq`."""
    return overpayment_acts(conn, tenant_id, mission_ids, OVERPAYMENT_REFUNDED)


def overpayment_refunded_cents(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, int]:
    """{invoice number: cents of its overpayment the office refunded or applied to another
    invoice} (absent: nothing): what its credit no longer holds."""
    out: dict[str, int] = {}
    for act in overpayment_acts(
        conn, tenant_id, mission_ids, OVERPAYMENT_REFUNDED, OVERPAYMENT_APPLIED
    ):
        number = str(act.get("invoice"))
        out[number] = out.get(number, 0) + to_cents(parse_amount(act.get("amount")))
    return out
