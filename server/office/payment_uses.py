"""What the office's payments paid: the reads every balance needs (docs/customer-debts.md).

A payment received in the office (`office_payments`) is used on invoices (when received,
or later when its credit is applied) and refunds (`office_payment_uses`). These reads
touch only those two tables, so the invoice reading (`server.office.issued_documents`)
and the payments module (`server.office.office_payments`) can both use them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from server.platform.tables import office_payment_uses, office_payments

INVOICE_USE = "invoice"
REFUND_USE = "refund"
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
