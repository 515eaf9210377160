"""Payments received in the office, as they are read: one payment with where its money
went and the credit left, or a list of them (docs/customer-debts.md). Recording,
applying and refunding are `server.office.office_payments`."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from server.office import customers
from server.platform.db import IN_CHUNK
from server.platform.errors import not_found
from server.platform.tables import office_payment_uses, office_payments
from shared.money import from_cents, parse_amount, wire

NUMBER = re.compile(r"^R\d{4}-\d{6}$")


def payment_row(conn: sa.Connection, tenant_id: str, number: str) -> Any:
    row = conn.execute(
        sa.select(office_payments).where(
            office_payments.c.tenant_id == tenant_id, office_payments.c.number == number
        )
    ).first()
    if row is None or not NUMBER.match(number):
        raise not_found("Règlement", "Payment", number)
    return row


def _uses_of(conn: sa.Connection, tenant_id: str, numbers: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {n: [] for n in numbers}
    for i in range(0, len(numbers), IN_CHUNK):
        rows = conn.execute(
            sa.select(office_payment_uses)
            .where(
                office_payment_uses.c.tenant_id == tenant_id,
                office_payment_uses.c.payment_number.in_(numbers[i : i + IN_CHUNK]),
            )
            .order_by(office_payment_uses.c.payment_number, office_payment_uses.c.line_no)
        )
        for use in rows:
            out[use.payment_number].append(use)
    return out


def _wire(row: Any, uses: list[Any]) -> dict[str, Any]:
    used = sum(int(u.amount_cents) for u in uses)
    return {
        "number": row.number,
        "received_on": row.received_on.isoformat(),
        "method": row.method,
        "amount": wire(from_cents(int(row.amount_cents))),
        "reference": row.reference,
        "customer": row.customer,
        "customer_label": customers.label(row.customer),
        "payer": row.payer,
        "note": row.note,
        "recorded_at": row.recorded_at,
        "recorded_by": row.recorded_by,
        "journal_seq": int(row.journal_seq),
        "uses": [
            {
                "line_no": int(u.line_no),
                "kind": u.kind,
                "invoice": u.invoice_number,
                "amount": wire(from_cents(int(u.amount_cents))),
                "on": u.on_date.isoformat(),
                "reference": u.reference,
                "at": u.at,
                "by": u.by,
                "journal_seq": int(u.journal_seq),
            }
            for u in uses
        ],
        "credit": wire(from_cents(int(row.amount_cents) - used)),
    }


def get_payment(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    row = payment_row(conn, tenant_id, number)
    return _wire(row, _uses_of(conn, tenant_id, [number])[number])


def list_payments(
    conn: sa.Connection,
    tenant_id: str,
    *,
    customer: str | None = None,
    invoice: str | None = None,
    with_credit: bool = False,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The tenant's payments received in the office, latest first."""
    query = sa.select(office_payments).where(office_payments.c.tenant_id == tenant_id)
    if customer is not None:
        query = query.where(office_payments.c.customer == customer)
    if invoice is not None:
        query = query.where(
            office_payments.c.number.in_(
                sa.select(office_payment_uses.c.payment_number).where(
                    office_payment_uses.c.tenant_id == tenant_id,
                    office_payment_uses.c.invoice_number == invoice,
                )
            )
        )
    rows = conn.execute(
        query.order_by(office_payments.c.recorded_at.desc(), office_payments.c.number.desc()).limit(
            limit
        )
    ).all()
    uses = _uses_of(conn, tenant_id, [r.number for r in rows])
    out = [_wire(r, uses[r.number]) for r in rows]
    return [p for p in out if parse_amount(p["credit"]) > 0] if with_credit else out
