"""The sales journal as a plain CSV, for accounting tools that do not read a FEC
(docs/accounting.md "Sales journal").

One line per document and VAT rate, in issue order: invoices positive, credit notes
negative, so a column's sum is the period's net. UTF-8, `;` between columns, a header
line, amounts with a decimal point (`-20.00`), dates `YYYY-MM-DD` (the tenant's day).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import sqlalchemy as sa

from server.office import customers
from server.office.invoice_balances import local_day, tenant_zone
from server.office.issued_documents import BENEFICIARY, CREDIT_NOTE
from server.office.ledger import day_bounds
from server.platform.tables import documents
from shared.money import from_cents, parse_amount, to_cents

HEADER = (
    "date",
    "number",
    "kind",
    "corrects",
    "recipient_kind",
    "recipient_id",
    "recipient_name",
    "mission_id",
    "file_number",
    "vat_rate",
    "excl_vat",
    "vat",
    "incl_vat",
)


def _money(cents: int) -> str:
    return f"{from_cents(cents):f}"


def build(conn: sa.Connection, tenant_id: str, start: date, end: date) -> bytes:
    """The CSV of the documents issued in [start, end] (the tenant's days)."""
    zone = tenant_zone(conn, tenant_id)
    first, after = day_bounds(conn, tenant_id, start, end)
    rows = conn.execute(
        sa.select(documents)
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.issued_at >= first,
            documents.c.issued_at < after,
        )
        .order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
    )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        sign = -1 if row.kind == CREDIT_NOTE else 1
        recipient = row.recipient
        if row.recipient_kind == BENEFICIARY:
            ident = customers.label(customers.customer_key(recipient, row.mission_id))
        else:
            ident = str(recipient.get("id") or "")
        for by_rate in row.by_rate:
            cells = [to_cents(parse_amount(by_rate[k])) for k in ("excl_vat", "vat", "incl_vat")]
            writer.writerow(
                [
                    local_day(row.issued_at, zone).isoformat(),
                    row.number,
                    row.kind,
                    row.corrects or "",
                    row.recipient_kind,
                    ident,
                    recipient.get("name") or "",
                    row.mission_id,
                    row.file_number or "",
                    str(by_rate["rate"]),
                    *(_money(sign * c) for c in cells),
                ]
            )
    return out.getvalue().encode("utf-8")


def file_name(tenant_id: str, start: date, end: date) -> str:
    return f"journal-ventes-{tenant_id}-{start.isoformat()}-{end.isoformat()}.csv"
