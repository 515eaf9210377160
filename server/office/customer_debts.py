"""Money owed by beneficiaries (docs/customer-debts.md).

Every beneficiary invoice with something left to pay — billed later, collected short,
the part above a cap — is a receivable: its due date comes from the customer's payment
terms (`server.office.debt_terms`), its balance from the invoice, the field, the credit
notes and the office's payments (`server.office.invoice_balances`). Here:

- `ageing`: per customer, what is open at a date by how late it is: not due yet, 0–30,
  31–60, 61–90 and over 90 days past the due date; with the credit each customer holds
  (left on the office's payments, and held by invoices overpaid on site);
- `account`: one customer's invoices, payments, credit and reminders, and the history of
  it all, in order.

The buckets add up to the invoices' open amounts to the cent (a test checks it). Amounts
are the current state (every payment and credit note recorded so far), aged at `at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.office import customers, debt_terms, payment_uses, received_payments
from server.office.invoice_balances import InvoiceBalance, balances, tenant_zone
from server.platform.db import IN_CHUNK
from server.platform.errors import Unprocessable, not_found
from server.platform.tables import documents, office_payment_uses, payment_reminders
from server.platform.tables import office_payments as office_payments_table
from shared.money import from_cents, parse_amount, to_cents, wire

# (name, first day late, last day late) — "not_due" is before the due date.
BUCKETS: Sequence[tuple[str, int | None, int | None]] = (
    ("not_due", None, -1),
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("over_90", 91, None),
)
BUCKET_NAMES = tuple(name for name, _, _ in BUCKETS)


def bucket_of(days_late: int) -> str:
    """The bucket of an invoice `days_late` days past its due date (negative: not due)."""
    for name, first, last in BUCKETS:
        if (first is None or days_late >= first) and (last is None or days_late <= last):
            return name
    raise AssertionError(days_late)  # the buckets cover every integer


FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def check_day(at: date) -> date:
    """`at` if it is a day Towline's books can hold (2000–2099), else 422."""
    if not FIRST_DAY <= at <= LAST_DAY:
        raise Unprocessable(
            f"Date hors limites : {at.isoformat()} (de 2000-01-01 à 2099-12-31).",
            f"Date out of range: {at.isoformat()} (from 2000-01-01 to 2099-12-31).",
            code="date_out_of_range",
        )
    return at


def _money(cents: int) -> str:
    return wire(from_cents(cents))


def _end_of(conn: sa.Connection, tenant_id: str, at: date) -> datetime:
    """The instant the tenant's day `at` ends: invoices issued before it exist at `at`."""
    zone = tenant_zone(conn, tenant_id)
    return datetime.combine(at + timedelta(days=1), datetime.min.time(), zone)


def open_invoices(
    conn: sa.Connection, tenant_id: str, at: date, *, customer: str | None = None
) -> list[InvoiceBalance]:
    """The beneficiary invoices issued by the end of `at` that still owe something."""
    check_day(at)
    terms = debt_terms.current(conn, tenant_id)
    found = balances(
        conn, tenant_id, terms, customer=customer, issued_until=_end_of(conn, tenant_id, at)
    )
    return [b for b in found if b.open > 0]


def ageing(conn: sa.Connection, tenant_id: str, at: date) -> dict[str, Any]:
    """Per customer: open amounts by bucket at `at`, the number of open invoices, the
    oldest due date and the credit the customer holds; then the totals."""
    check_day(at)
    terms = debt_terms.current(conn, tenant_id)
    issued = balances(conn, tenant_id, terms, issued_until=_end_of(conn, tenant_id, at))
    rows = [b for b in issued if b.open > 0]
    credits: dict[str, int] = {}
    names: dict[str, str] = {}
    for b in issued:
        if b.credit > 0:  # an invoice overpaid on site: its excess is the customer's
            credits[b.customer] = credits.get(b.customer, 0) + b.credit
            names.setdefault(b.customer, b.name)
    for payment in received_payments.list_payments(
        conn, tenant_id, with_credit=True, limit=100_000
    ):
        cents = to_cents(parse_amount(payment["credit"]))
        credits[payment["customer"]] = credits.get(payment["customer"], 0) + cents
        names.setdefault(payment["customer"], payment["payer"])
    empty = {name: 0 for name in BUCKET_NAMES}
    per: dict[str, dict[str, Any]] = {}
    totals = dict(empty)
    for b in rows:
        bucket = bucket_of(b.days_late(at))
        entry = per.setdefault(
            b.customer,
            {"name": b.name, "buckets": dict(empty), "invoices": 0, "oldest_due": b.due_on},
        )
        entry["buckets"][bucket] += b.open
        entry["invoices"] += 1
        entry["oldest_due"] = min(entry["oldest_due"], b.due_on)
        totals[bucket] += b.open
    for key in credits:
        per.setdefault(
            key, {"name": names[key], "buckets": dict(empty), "invoices": 0, "oldest_due": None}
        )
    listed = []
    for key, data in sorted(per.items(), key=lambda item: (item[1]["oldest_due"] or at, item[0])):
        owed = sum(data["buckets"].values())
        listed.append(
            {
                "customer": key,
                "customer_label": customers.label(key),
                "name": data["name"],
                "invoices": data["invoices"],
                "oldest_due": data["oldest_due"].isoformat() if data["oldest_due"] else None,
                "buckets": {k: _money(v) for k, v in data["buckets"].items()},
                "total": _money(owed),
                "credit": _money(credits.get(key, 0)),
            }
        )
    return {
        "at": at.isoformat(),
        "customers": listed,
        "totals": {
            "invoices": len(rows),
            "buckets": {k: _money(v) for k, v in totals.items()},
            "total": _money(sum(totals.values())),
            "credit": _money(sum(credits.values())),
        },
    }


def _reminders(conn: sa.Connection, tenant_id: str, customer: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(
            payment_reminders.c.invoice_number,
            payment_reminders.c.level,
            payment_reminders.c.lang,
            payment_reminders.c.sent_on,
            payment_reminders.c.open_cents,
            payment_reminders.c.sent_at,
            payment_reminders.c.sent_by,
        )
        .where(payment_reminders.c.tenant_id == tenant_id, payment_reminders.c.customer == customer)
        .order_by(payment_reminders.c.sent_at, payment_reminders.c.invoice_number)
    )
    return [
        {
            "invoice": r.invoice_number,
            "level": int(r.level),
            "lang": r.lang,
            "sent_on": r.sent_on.isoformat(),
            "open": _money(int(r.open_cents)),
            "sent_at": r.sent_at,
            "sent_by": r.sent_by,
        }
        for r in rows
    ]


def _credit_notes(conn: sa.Connection, tenant_id: str, numbers: list[str]) -> list[Any]:
    if not numbers:
        return []
    out: list[Any] = []
    for i in range(0, len(numbers), IN_CHUNK):
        out += conn.execute(
            sa.select(
                documents.c.number,
                documents.c.corrects,
                documents.c.issued_at,
                documents.c.total_incl_cents,
                documents.c.reason,
            ).where(
                documents.c.tenant_id == tenant_id,
                documents.c.kind == "credit_note",
                documents.c.corrects.in_(numbers[i : i + IN_CHUNK]),
            )
        ).all()
    return out


def _uses_touching(
    conn: sa.Connection, tenant_id: str, customer: str, invoices: list[str]
) -> list[Any]:
    """The uses of the customer's payments, and any payment's uses on its invoices."""
    uses = office_payment_uses
    query = (
        sa.select(
            uses.c.payment_number,
            uses.c.line_no,
            uses.c.kind,
            uses.c.invoice_number,
            uses.c.amount_cents,
            uses.c.on_date,
            uses.c.reference,
            uses.c.journal_seq,
            office_payments_table.c.journal_seq.label("payment_seq"),
            office_payments_table.c.customer.label("payer_customer"),
        )
        .join(
            office_payments_table,
            sa.and_(
                office_payments_table.c.tenant_id == uses.c.tenant_id,
                office_payments_table.c.number == uses.c.payment_number,
            ),
        )
        .where(uses.c.tenant_id == tenant_id)
    )
    found: dict[tuple[str, int], Any] = {}
    mine = conn.execute(query.where(office_payments_table.c.customer == customer)).all()
    for row in mine:
        found[(row.payment_number, row.line_no)] = row
    for i in range(0, len(invoices), IN_CHUNK):
        chunk = invoices[i : i + IN_CHUNK]
        for row in conn.execute(query.where(uses.c.invoice_number.in_(chunk))):
            found[(row.payment_number, row.line_no)] = row
    return [found[k] for k in sorted(found)]


def account(conn: sa.Connection, tenant_id: str, customer: str, at: date) -> dict[str, Any]:
    """One customer's account at `at`: every invoice with its balance and due date, the
    payments received in the office (with what each paid and the credit left), the
    reminders sent, the totals, and the history in order. 404 for a customer with no
    invoice and no payment."""
    check_day(at)
    terms = debt_terms.current(conn, tenant_id)
    invoices = balances(conn, tenant_id, terms, customer=customer)
    payments = received_payments.list_payments(conn, tenant_id, customer=customer, limit=100_000)
    if not invoices and not payments:
        raise not_found("Client", "Customer", customer)
    reminders = _reminders(conn, tenant_id, customer)
    notes = _credit_notes(conn, tenant_id, [b.number for b in invoices])
    zone = tenant_zone(conn, tenant_id)
    history: list[dict[str, Any]] = []
    for b in invoices:
        history.append(
            {
                "on": b.issued_on.isoformat(),
                "event": "invoice",
                "ref": b.number,
                "amount": _money(b.total),
            }
        )
        if b.field_paid:
            history.append(
                {
                    "on": b.issued_on.isoformat(),
                    "event": "paid_on_site",
                    "ref": b.number,
                    "amount": _money(b.field_paid),
                }
            )
    for note in notes:
        history.append(
            {
                "on": note.issued_at.astimezone(zone).date().isoformat(),
                "event": "credit_note",
                "ref": note.number,
                "invoice": note.corrects,
                "amount": _money(int(note.total_incl_cents)),
                "reason": note.reason,
            }
        )
    for p in payments:
        history.append(
            {
                "on": p["received_on"],
                "event": "payment",
                "ref": p["number"],
                "amount": p["amount"],
                "method": p["method"],
                "reference": p["reference"],
            }
        )
    for use in _uses_touching(conn, tenant_id, customer, [b.number for b in invoices]):
        if use.journal_seq == use.payment_seq and use.payer_customer == customer:
            continue  # part of the customer's payment as received: shown with it
        event = "credit_applied" if use.kind == payment_uses.INVOICE_USE else "refund"
        history.append(
            {
                "on": use.on_date.isoformat(),
                "event": event,
                "ref": use.payment_number,
                "invoice": use.invoice_number,
                "amount": _money(int(use.amount_cents)),
                "reference": use.reference,
            }
        )
    for act in payment_uses.overpayment_acts(
        conn,
        tenant_id,
        sorted({b.mission_id for b in invoices}),
        payment_uses.OVERPAYMENT_REFUNDED,
        payment_uses.OVERPAYMENT_APPLIED,
    ):
        if act.get("customer") != customer:
            continue
        applied = act["act"] == payment_uses.OVERPAYMENT_APPLIED
        history.append(
            {
                "on": str(act["on"]),
                "event": str(act["act"]),
                "ref": str(act["invoice"]),
                # Applied: the invoice it paid; refunded: the invoice it came from.
                "invoice": str(act["to"] if applied else act["invoice"]),
                "amount": str(act["amount"]),
                "reference": act.get("reference"),
            }
        )
    for r in reminders:
        history.append(
            {
                "on": r["sent_on"],
                "event": "reminder",
                "ref": r["invoice"],
                "level": r["level"],
                "amount": r["open"],
            }
        )
    order = {"invoice": 0, "paid_on_site": 1, "credit_note": 2, "payment": 3}
    history.sort(key=lambda h: (h["on"], order.get(h["event"], 4), h["ref"]))
    open_ = sum(b.open for b in invoices if b.issued_on <= at)
    # Left on the office's payments, and held by invoices overpaid on site (a void's
    # money and refunds already out of it: InvoiceBalance.credit).
    credit = sum(to_cents(parse_amount(p["credit"])) for p in payments)
    credit += sum(b.credit for b in invoices)
    name = invoices[0].name if invoices else payments[0]["payer"]
    return {
        "customer": customer,
        "customer_label": customers.label(customer),
        "name": name,
        "at": at.isoformat(),
        "terms": {
            "payment_days": terms.days_for(customer),
            "letter_lang": terms.lang_for(customer),
            "version": terms.version,
        },
        "invoices": [
            {**b.to_wire(), "days_late": b.days_late(at), "bucket": bucket_of(b.days_late(at))}
            for b in invoices
        ],
        "payments": payments,
        "reminders": reminders,
        "history": history,
        "totals": {
            "billed": _money(sum(b.total for b in invoices)),
            "credited": _money(sum(b.credited for b in invoices)),
            "paid": _money(sum(b.field_paid + b.office_paid for b in invoices)),
            "open": _money(open_),
            "credit": _money(credit),
        },
    }
