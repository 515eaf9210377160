"""Where each beneficiary invoice stands, many at once (docs/customer-debts.md).

The same rule as `issued_documents.beneficiary_balance` for one invoice, read in a few
queries for a whole tenant: what the tablets collected on the mission (net of reversals),
the discounts granted on the spot, the "bill later" approvals, the credit notes on the
invoice and what the office's payments put on it; then

    open     = max(total − field paid − discounted − credited − paid in the office, 0)
    overpaid = max(−(the same), 0)

Nothing is stored: a payment, a credit note or a tablet's sync changes the answer at
once, everywhere. A test checks that both readings agree on every invoice.

An overpaid invoice (collected on site beyond what it bills, or billing less after a
credit note) holds the customer's **credit**: `overpaid`, less the collections the office
voided that no tablet has reversed yet (a void gives that money back: it is no credit)
and less what the office refunded of it (`office_payments.refund_overpayment`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import customers, numbering, payment_uses
from server.office.debt_terms import DebtTerms
from server.office.issued_documents import (
    BENEFICIARY,
    CREDIT_NOTE,
    INVOICE,
    MONEY_ENTRIES,
    TABLET_ENTRY,
)
from server.platform.db import in_chunks
from server.platform.tables import decisions, documents, entry_types, journal_entries, tenants
from shared.balance import Deferred, Discounted, fold
from shared.money import from_cents, parse_amount, to_cents, wire
from shared.payments import event_from_entry


def tenant_zone(conn: sa.Connection, tenant_id: str) -> ZoneInfo:
    """The tenant's time zone (Europe/Paris unless its settings say)."""
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    chosen = (settings or {}).get("timezone")
    return ZoneInfo(chosen if isinstance(chosen, str) and chosen else numbering.DEFAULT_TIMEZONE)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class InvoiceBalance:
    """One beneficiary invoice's money, in cents."""

    number: str
    mission_id: str
    customer: str  # the key (server.office.customers)
    name: str
    plate: str | None
    issued_on: date  # the tenant's local date of issue
    due_on: date
    total: int
    field_paid: int
    discounted: int
    deferred: int
    credited: int
    office_paid: int
    voided_pending: int = 0  # collections voided by the office, no reversal synced yet
    overpaid_refunded: int = 0  # what the office refunded of the overpayment

    @property
    def rest(self) -> int:
        return self.total - self.field_paid - self.discounted - self.credited - self.office_paid

    @property
    def open(self) -> int:
        return max(self.rest, 0)

    @property
    def overpaid(self) -> int:
        return max(-self.rest, 0)

    @property
    def credit(self) -> int:
        """The customer's credit the overpayment still holds: never the money a void gives
        back, never what was refunded already."""
        return max(self.overpaid - self.voided_pending - self.overpaid_refunded, 0)

    @property
    def status(self) -> str:
        if self.open == 0:
            return "paid"
        if self.field_paid + self.office_paid > 0:
            return "partly_paid"
        return "open"

    def days_late(self, at: date) -> int:
        """Days past the due date at `at` (negative: not due yet)."""
        return (at - self.due_on).days

    def to_wire(self) -> dict[str, Any]:
        def money(cents: int) -> str:
            return wire(from_cents(cents))

        return {
            "number": self.number,
            "mission_id": self.mission_id,
            "customer": self.customer,
            "customer_label": customers.label(self.customer),
            "name": self.name,
            "vehicle_plate": self.plate,
            "issued_on": self.issued_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "total": money(self.total),
            "paid": money(self.field_paid),
            "paid_in_office": money(self.office_paid),
            "discounted": money(self.discounted),
            "deferred": money(self.deferred),
            "credited": money(self.credited),
            "open": money(self.open),
            "overpaid": money(self.overpaid),
            "voided_pending": money(self.voided_pending),
            "overpaid_refunded": money(self.overpaid_refunded),
            "credit": money(self.credit),
            "status": self.status,
        }


def _credited(conn: sa.Connection, tenant_id: str, numbers: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in in_chunks(numbers):
        rows = conn.execute(
            sa.select(documents.c.corrects, sa.func.sum(documents.c.total_incl_cents))
            .where(
                documents.c.tenant_id == tenant_id,
                documents.c.kind == CREDIT_NOTE,
                documents.c.corrects.in_(chunk),
            )
            .group_by(documents.c.corrects)
        )
        out.update({str(number): int(total) for number, total in rows})
    return out


def field_events(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, list[Any]]:
    """{mission: its money events}: the tablets' entries, then the office's discounts and
    deferrals no tablet has recorded yet (as `issued_documents.field_money` reads them)."""
    events: dict[str, list[Any]] = defaultdict(list)
    recorded: dict[str, set[str]] = defaultdict(set)
    chunks = in_chunks(mission_ids)
    for chunk in chunks:
        rows = conn.execute(
            sa.select(
                journal_entries.c.mission_id,
                journal_entries.c.type,
                journal_entries.c.hash,
                journal_entries.c.body,
            ).where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.mission_id.in_(chunk),
                entry_types(*MONEY_ENTRIES),
                TABLET_ENTRY,
            )
        )
        for row in rows:
            try:
                payload = json.loads(row.body)["payload"]
                event = event_from_entry(row.type, row.hash, payload)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                continue  # an unreadable entry is the anomaly catalogue's business
            if event is not None and event.mission_id == row.mission_id:
                events[row.mission_id].append(event)
                recorded[row.mission_id].add(str(payload.get("approval_ref", "")))
    for chunk in chunks:
        for decided in conn.execute(
            sa.select(decisions.c.id, decisions.c.mission_id, decisions.c.type, decisions.c.data)
            .where(
                decisions.c.tenant_id == tenant_id,
                decisions.c.mission_id.in_(chunk),
                decisions.c.type.in_(("discount", "deferral")),
            )
            .order_by(decisions.c.id)
        ):
            ref = f"office:{decided.id}"
            if ref in recorded[decided.mission_id]:
                continue
            data = json.loads(decided.data) if isinstance(decided.data, str) else decided.data
            made = Discounted if decided.type == "discount" else Deferred
            events[decided.mission_id].append(
                made(ref, decided.mission_id, parse_amount(data["amount"]))
            )
    return events


def voids_pending(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, list[str]]:
    """{mission: hashes of the collections the office voided} (`void_collection`
    decisions); whether a tablet reversed each yet is the fold's to say."""
    found: dict[str, list[str]] = defaultdict(list)
    for chunk in in_chunks(mission_ids):
        for decided in conn.execute(
            sa.select(decisions.c.mission_id, decisions.c.data).where(
                decisions.c.tenant_id == tenant_id,
                decisions.c.mission_id.in_(chunk),
                decisions.c.type == "void_collection",
            )
        ):
            data = json.loads(decided.data) if isinstance(decided.data, str) else decided.data
            ref = (data or {}).get("collection", {}).get("hash")
            if isinstance(ref, str):
                found[decided.mission_id].append(ref)
    return found


def _voided_pending(money: Any, refs: Iterable[str]) -> int:
    total = 0
    for ref in set(refs):
        collected = money.collection(ref)
        if collected is not None and not money.is_reversed(ref):
            total += to_cents(collected.amount)
    return total


def balances(
    conn: sa.Connection,
    tenant_id: str,
    terms: DebtTerms,
    *,
    numbers: Iterable[str] | None = None,
    customer: str | None = None,
    issued_until: datetime | None = None,
) -> list[InvoiceBalance]:
    """The tenant's beneficiary invoices (these numbers, this customer's, those issued
    before `issued_until`), in issue order, each with its balance and due date."""
    zone = tenant_zone(conn, tenant_id)
    query = sa.select(
        documents.c.number,
        documents.c.mission_id,
        documents.c.recipient,
        documents.c.issued_at,
        documents.c.total_incl_cents,
    ).where(
        documents.c.tenant_id == tenant_id,
        documents.c.kind == INVOICE,
        documents.c.recipient_kind == BENEFICIARY,
    )
    if issued_until is not None:
        query = query.where(documents.c.issued_at < issued_until)
    query = query.order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
    rows: list[Any] = []
    if numbers is None:
        rows = list(conn.execute(query))
    else:
        for chunk in in_chunks(numbers):
            rows += conn.execute(query.where(documents.c.number.in_(chunk))).all()
        rows.sort(key=lambda r: (r.issued_at, r.number))
    recipients: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        recipient = row.recipient if isinstance(row.recipient, Mapping) else {}
        recipients[row.number] = recipient
    if customer is not None:
        rows = [
            r
            for r in rows
            if customers.customer_key(recipients[r.number], r.mission_id) == customer
        ]
    invoice_numbers = [r.number for r in rows]
    credited = _credited(conn, tenant_id, invoice_numbers)
    in_office = payment_uses.paid_in_office_cents(conn, tenant_id, invoice_numbers)
    events = field_events(conn, tenant_id, [r.mission_id for r in rows])
    voided = voids_pending(conn, tenant_id, [r.mission_id for r in rows])
    refunded = payment_uses.overpayment_refunded_cents(
        conn, tenant_id, [r.mission_id for r in rows]
    )
    out = []
    for row in rows:
        recipient = recipients[row.number]
        total = int(row.total_incl_cents)
        money = fold(row.mission_id, from_cents(total), events.get(row.mission_id, ()))
        key = customers.customer_key(recipient, row.mission_id)
        issued_on = local_day(row.issued_at, zone)
        out.append(
            InvoiceBalance(
                number=row.number,
                mission_id=row.mission_id,
                customer=key,
                name=str(recipient.get("name") or customers.label(key)),
                plate=recipient.get("vehicle_plate"),
                issued_on=issued_on,
                due_on=terms.due_on(key, issued_on),
                total=total,
                field_paid=to_cents(money.net_collected),
                discounted=to_cents(money.discounted),
                deferred=to_cents(money.deferred),
                credited=credited.get(row.number, 0),
                office_paid=in_office.get(row.number, 0),
                voided_pending=_voided_pending(money, voided.get(row.mission_id, ())),
                overpaid_refunded=refunded.get(row.number, 0),
            )
        )
    return out
