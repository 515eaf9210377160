"""The accounting entries of a period, as the accountant books them (docs/accounting.md).

Towline keeps invoices, credit notes and payments; the accountant wants double-entry
bookkeeping. `entries` turns a tenant's records of a period into balanced entries, with
the tenant's chart of accounts (`server.office.accounts`):

- an invoice (journal sales): debit the receivable (the customer or ordering party) incl.
  VAT; credit revenue excl. VAT and VAT, per rate. A credit note: the other way round;
- a collection on the spot (journal cash for cash, else bank): debit the method's
  account, credit the receivable (the mission's beneficiary); a void: the other way round;
- a payment received in the office (cash or bank): debit the method's account, credit the
  receivable per invoice paid and the customer credit account for the rest;
- a credit applied later (misc): debit customer credit, credit the receivable;
- a credit refunded (bank): debit customer credit, credit the bank;
- an invoice overpaid on site: its excess stays on the receivable (the collection
  credited it all). Refunded (bank): debit the receivable, credit the bank; applied to
  another invoice of the customer (misc): debit the receivable for the overpaid invoice,
  credit it for the invoice paid — one customer's account, so its balance is unchanged
  and the entry says which invoice settled which;
- an ordering party's payment matched to a claim (bank): debit the bank, credit the
  receivable (the party).

Dates: invoices and credit notes by their issue day; the tablets' collections and voids
by the day the server received them (as the closings date them, docs/archives.md);
office payments by the day received (their validation day: the day recorded); ordering
parties' payments by the day paid (validation: the day imported). Days are the tenant's.
A void counts once however many reversals name its collection, and only when the
collection is there (as `shared.balance` folds them). Lines of zero are left out. Only
money applied to a claim is booked from a payment file: a line for an invoice already
paid, or above what is owed, is the office's to resolve first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.office import customers, payment_uses
from server.office.accounts import Chart
from server.office.invoice_balances import local_day, tenant_zone
from server.office.issued_documents import BENEFICIARY, CREDIT_NOTE, TABLET_ENTRY
from server.platform.db import IN_CHUNK
from server.platform.tables import (
    documents,
    journal_entries,
    missions,
    office_payment_uses,
    office_payments,
    ordering_parties,
    payment_imports,
    payment_lines,
)
from shared.money import parse_amount, to_cents

OTHER_CUSTOMERS = "DIVERS"
METHOD_WORDS = {
    "cash": "espèces",
    "card": "carte",
    "cheque": "chèque",
    "transfer": "virement",
    "payment_link": "lien de paiement",
}


def method_label(method: str) -> str:
    """The payment method in the entries' labels (always French: the books' language)."""
    return METHOD_WORDS.get(method, method)


@dataclass(frozen=True, slots=True)
class Line:
    account: str
    account_label: str
    aux: str  # "" when the account has no auxiliary
    aux_label: str
    debit: int  # cents
    credit: int


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str  # invoice | credit_note | collection | reversal | office_payment | …
    journal: str  # the role: sales, cash, bank, misc
    day: date  # EcritureDate
    piece: str  # PieceRef
    piece_day: date
    label: str
    valid_day: date
    lines: tuple[Line, ...]

    @property
    def debit(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def credit(self) -> int:
        return sum(line.credit for line in self.lines)


def _lines(*items: Line) -> tuple[Line, ...]:
    return tuple(line for line in items if line.debit or line.credit)


def day_bounds(conn: sa.Connection, tenant_id: str, start: date, end: date) -> tuple[Any, Any]:
    zone = tenant_zone(conn, tenant_id)
    first = datetime.combine(start, datetime.min.time(), zone)
    after = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    return first, after


class _Aux:
    """Auxiliary accounts: an ordering party by its id, a beneficiary by its key."""

    def __init__(self, conn: sa.Connection, tenant_id: str) -> None:
        self.parties = {
            str(r.id): str(r.name)
            for r in conn.execute(
                sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
                    ordering_parties.c.tenant_id == tenant_id
                )
            )
        }

    def party(self, party_id: str | None) -> tuple[str, str]:
        if not party_id:
            return OTHER_CUSTOMERS, "Clients divers"
        return party_id, self.parties.get(party_id, party_id)

    @staticmethod
    def customer(key: str, name: str | None = None) -> tuple[str, str]:
        """A beneficiary's auxiliary account: one number, one label, wherever it shows
        (`name` is ignored: a payer's or an invoice's name could differ)."""
        del name
        return customers.label(key), customers.default_name(key)

    def of_document(
        self, kind: str, recipient: Mapping[str, Any], mission_id: str
    ) -> tuple[str, str]:
        if kind == BENEFICIARY:
            return self.customer(
                customers.customer_key(recipient, mission_id), recipient.get("name")
            )
        return self.party(recipient.get("id"))


def _sales(
    conn: sa.Connection, tenant_id: str, chart: Chart, bounds: tuple[Any, Any], aux: _Aux
) -> list[Entry]:
    zone = tenant_zone(conn, tenant_id)
    rows = conn.execute(
        sa.select(documents)
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.issued_at >= bounds[0],
            documents.c.issued_at < bounds[1],
        )
        .order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
    )
    out = []
    for row in rows:
        day = local_day(row.issued_at, zone)
        aux_num, aux_name = aux.of_document(row.recipient_kind, row.recipient, row.mission_id)
        credit_note = row.kind == CREDIT_NOTE
        title = "Avoir" if credit_note else "Facture"
        label = f"{title} {row.number} {aux_name}"
        total = int(row.total_incl_cents)
        lines = [
            Line(
                chart.receivable,
                chart.label(chart.receivable),
                aux_num,
                aux_name,
                0 if credit_note else total,
                total if credit_note else 0,
            )
        ]
        for by_rate in row.by_rate:
            rate = str(by_rate["rate"])
            excl = to_cents(parse_amount(by_rate["excl_vat"]))
            vat = to_cents(parse_amount(by_rate["vat"]))
            vat_account = chart.vat_account(rate)
            for account, label_, cents in (
                (chart.revenue, chart.label(chart.revenue), excl),
                (vat_account, chart.label(vat_account, rate), vat),
            ):
                lines.append(
                    Line(
                        account,
                        label_,
                        "",
                        "",
                        cents if credit_note else 0,
                        0 if credit_note else cents,
                    )
                )
        out.append(
            Entry(
                kind=row.kind,
                journal="sales",
                day=day,
                piece=row.number,
                piece_day=day,
                label=label,
                valid_day=day,
                lines=_lines(*lines),
            )
        )
    return out


def _mission_customers(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, str]:
    ids = sorted(set(mission_ids))
    out = {}
    for i in range(0, len(ids), IN_CHUNK):
        for row in conn.execute(
            sa.select(missions.c.id, missions.c.document).where(
                missions.c.tenant_id == tenant_id,
                missions.c.id.in_(ids[i : i + IN_CHUNK]),
            )
        ):
            out[row.id] = customers.mission_customer_key(json.loads(row.document), row.id)
    return out


def _field(
    conn: sa.Connection, tenant_id: str, chart: Chart, bounds: tuple[Any, Any]
) -> list[Entry]:
    """Collections and voids received in the period, the voids that name a collection
    the server holds (received at any time), each collection voided once."""
    zone = tenant_zone(conn, tenant_id)
    rows = conn.execute(
        sa.select(
            journal_entries.c.device_id,
            journal_entries.c.seq,
            journal_entries.c.type,
            journal_entries.c.hash,
            journal_entries.c.mission_id,
            journal_entries.c.body,
            journal_entries.c.received_at,
        )
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.type.in_(("collection", "reversal")),
            journal_entries.c.received_at < bounds[1],
            TABLET_ENTRY,
        )
        .order_by(journal_entries.c.received_at, journal_entries.c.device_id, journal_entries.c.seq)
    ).all()
    collections: dict[str, tuple[str, int]] = {}  # hash → (method, cents)
    reversed_: set[str] = set()
    booked: list[tuple[Any, str, int, str]] = []  # (row, method, cents, kind)
    for row in rows:
        try:
            payload = json.loads(row.body)["payload"]
            if row.type == "collection":
                method, cents = str(payload["method"]), to_cents(parse_amount(payload["amount"]))
                collections[row.hash] = (method, cents)
                booked.append((row, method, cents, "collection"))
                continue
            ref = str(payload["reverses"]["hash"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # unreadable: the anomaly catalogue's business, not the books'
        if ref in collections and ref not in reversed_:
            reversed_.add(ref)
            method, cents = collections[ref]
            booked.append((row, method, cents, "reversal"))
    keys = _mission_customers(
        conn, tenant_id, [r.mission_id for r, _, _, _ in booked if r.mission_id]
    )
    out = []
    for row, method, cents, kind in booked:
        if row.received_at < bounds[0]:
            continue
        day = local_day(row.received_at, zone)
        aux_num, aux_name = _Aux.customer(keys.get(row.mission_id, OTHER_CUSTOMERS))
        money = chart.methods.get(method, chart.bank)
        what = "Encaissement" if kind == "collection" else "Annulation d'encaissement"
        receivable = Line(
            chart.receivable,
            chart.label(chart.receivable),
            aux_num,
            aux_name,
            cents if kind == "reversal" else 0,
            cents if kind == "collection" else 0,
        )
        cash = Line(
            money,
            chart.label(money),
            "",
            "",
            cents if kind == "collection" else 0,
            cents if kind == "reversal" else 0,
        )
        out.append(
            Entry(
                kind=kind,
                journal=chart.method_journal(method),
                day=day,
                piece=f"{row.device_id}-{row.seq}",
                piece_day=day,
                label=f"{what} {method_label(method)} {row.mission_id or ''}".strip(),
                valid_day=day,
                lines=_lines(cash, receivable)
                if kind == "collection"
                else _lines(receivable, cash),
            )
        )
    return out


def _invoice_aux(
    conn: sa.Connection, tenant_id: str, numbers: Iterable[str], aux: _Aux
) -> dict[str, tuple[str, str]]:
    wanted = sorted(set(numbers))
    out = {}
    for i in range(0, len(wanted), IN_CHUNK):
        for row in conn.execute(
            sa.select(
                documents.c.number,
                documents.c.recipient_kind,
                documents.c.recipient,
                documents.c.mission_id,
            ).where(
                documents.c.tenant_id == tenant_id,
                documents.c.number.in_(wanted[i : i + IN_CHUNK]),
            )
        ):
            out[row.number] = aux.of_document(row.recipient_kind, row.recipient, row.mission_id)
    return out


def _office(
    conn: sa.Connection, tenant_id: str, chart: Chart, start: date, end: date, aux: _Aux
) -> list[Entry]:
    zone = tenant_zone(conn, tenant_id)
    payments = {
        r.number: r
        for r in conn.execute(
            sa.select(office_payments).where(office_payments.c.tenant_id == tenant_id)
        )
    }
    uses = conn.execute(
        sa.select(office_payment_uses)
        .where(office_payment_uses.c.tenant_id == tenant_id)
        .order_by(office_payment_uses.c.payment_number, office_payment_uses.c.line_no)
    ).all()
    invoice_aux = _invoice_aux(
        conn, tenant_id, [u.invoice_number for u in uses if u.invoice_number], aux
    )
    out = []
    for number, p in sorted(payments.items()):
        if not start <= p.received_on <= end:
            continue
        payer = _Aux.customer(p.customer, p.payer)
        received = [
            u for u in uses if u.payment_number == number and u.journal_seq == p.journal_seq
        ]
        amount = int(p.amount_cents)
        money = chart.methods.get(p.method, chart.bank)
        lines = [Line(money, chart.label(money), "", "", amount, 0)]
        for use in received:
            a_num, a_name = invoice_aux.get(use.invoice_number, payer)
            lines.append(
                Line(
                    chart.receivable,
                    chart.label(chart.receivable),
                    a_num,
                    a_name,
                    0,
                    int(use.amount_cents),
                )
            )
        rest = amount - sum(int(u.amount_cents) for u in received)
        lines.append(
            Line(
                chart.customer_credit,
                chart.label(chart.customer_credit),
                payer[0],
                payer[1],
                0,
                rest,
            )
        )
        out.append(
            Entry(
                kind="office_payment",
                journal=chart.method_journal(p.method),
                day=p.received_on,
                piece=number,
                piece_day=p.received_on,
                label=f"Règlement {method_label(p.method)} {p.reference or ''} {payer[1]}".strip(),
                valid_day=max(local_day(p.recorded_at, zone), p.received_on),
                lines=_lines(*lines),
            )
        )
    for use in uses:
        p = payments[use.payment_number]
        if use.journal_seq == p.journal_seq or not start <= use.on_date <= end:
            continue
        payer = _Aux.customer(p.customer, p.payer)
        cents = int(use.amount_cents)
        credit_line = Line(
            chart.customer_credit, chart.label(chart.customer_credit), payer[0], payer[1], cents, 0
        )
        if use.kind == payment_uses.INVOICE_USE:
            a_num, a_name = invoice_aux.get(use.invoice_number, payer)
            other = Line(chart.receivable, chart.label(chart.receivable), a_num, a_name, 0, cents)
            journal, kind = "misc", "credit_applied"
            label = f"Avoir {p.number} affecté à {use.invoice_number}"
        else:
            other = Line(chart.bank, chart.label(chart.bank), "", "", 0, cents)
            journal, kind = "bank", "refund"
            label = f"Remboursement avoir {p.number} {use.reference or ''}".strip()
        out.append(
            Entry(
                kind=kind,
                journal=journal,
                day=use.on_date,
                piece=f"{p.number}-{use.line_no}",
                piece_day=use.on_date,
                label=label,
                valid_day=max(local_day(use.at, zone), use.on_date),
                lines=_lines(credit_line, other),
            )
        )
    return out


def _overpayments(
    conn: sa.Connection, tenant_id: str, chart: Chart, start: date, end: date
) -> list[Entry]:
    """The office's acts on invoices overpaid on site (server journal `office_payment`,
    acts `overpayment_refunded` and `overpayment_applied`), by the day of the act."""
    out = []
    for act in payment_uses.overpayment_acts(
        conn, tenant_id, None, payment_uses.OVERPAYMENT_REFUNDED, payment_uses.OVERPAYMENT_APPLIED
    ):
        day = date.fromisoformat(str(act["on"]))
        if not start <= day <= end:
            continue
        cents = to_cents(parse_amount(act["amount"]))
        a_num, a_name = _Aux.customer(str(act["customer"]))
        overpaid = Line(chart.receivable, chart.label(chart.receivable), a_num, a_name, cents, 0)
        if act["act"] == payment_uses.OVERPAYMENT_APPLIED:
            other = Line(chart.receivable, chart.label(chart.receivable), a_num, a_name, 0, cents)
            journal, kind = "misc", "overpayment_applied"
            label = f"Trop-perçu {act['invoice']} affecté à {act['to']}"
        else:
            other = Line(chart.bank, chart.label(chart.bank), "", "", 0, cents)
            journal, kind = "bank", "overpayment_refund"
            label = f"Remboursement trop-perçu {act['invoice']} {act.get('reference') or ''}"
        out.append(
            Entry(
                kind=kind,
                journal=journal,
                day=day,
                piece=f"{act['invoice']}-{act['journal_seq']}",
                piece_day=day,
                label=label.strip(),
                valid_day=day,
                lines=_lines(overpaid, other),
            )
        )
    return out


def _parties(
    conn: sa.Connection, tenant_id: str, chart: Chart, start: date, end: date, aux: _Aux
) -> list[Entry]:
    zone = tenant_zone(conn, tenant_id)
    rows = conn.execute(
        sa.select(payment_lines, payment_imports.c.imported_at)
        .join(
            payment_imports,
            sa.and_(
                payment_imports.c.tenant_id == payment_lines.c.tenant_id,
                payment_imports.c.id == payment_lines.c.import_id,
            ),
        )
        .where(
            payment_lines.c.tenant_id == tenant_id,
            payment_lines.c.paid_on >= start,
            payment_lines.c.paid_on <= end,
            payment_lines.c.invoice_number.is_not(None),
        )
        .order_by(payment_lines.c.paid_on, payment_lines.c.import_id, payment_lines.c.line_no)
    ).all()
    invoice_aux = _invoice_aux(conn, tenant_id, [r.invoice_number for r in rows], aux)
    out = []
    for row in rows:
        applied = row.applied_cents
        if applied is None:  # imported before the column existed
            applied = row.amount_cents if row.outcome == "matched" else 0
        cents = int(applied)
        if cents <= 0:
            continue
        a_num, a_name = invoice_aux.get(row.invoice_number, aux.party(row.party_id))
        out.append(
            Entry(
                kind="party_payment",
                journal="bank",
                day=row.paid_on,
                piece=f"{row.import_id}-{row.line_no}",
                piece_day=row.paid_on,
                label=f"Règlement {a_name} {row.invoice_number}",
                valid_day=max(local_day(row.imported_at, zone), row.paid_on),
                lines=_lines(
                    Line(chart.bank, chart.label(chart.bank), "", "", cents, 0),
                    Line(chart.receivable, chart.label(chart.receivable), a_num, a_name, 0, cents),
                ),
            )
        )
    return out


def entries(
    conn: sa.Connection, tenant_id: str, start: date, end: date, chart: Chart
) -> list[Entry]:
    """Every entry of the period [start, end] (the tenant's days), in the order the FEC
    lists them: by validation day, then journal, then date and piece."""
    aux = _Aux(conn, tenant_id)
    bounds = day_bounds(conn, tenant_id, start, end)
    found = [
        *_sales(conn, tenant_id, chart, bounds, aux),
        *_field(conn, tenant_id, chart, bounds),
        *_office(conn, tenant_id, chart, start, end, aux),
        *_overpayments(conn, tenant_id, chart, start, end),
        *_parties(conn, tenant_id, chart, start, end, aux),
    ]
    codes = chart.journals
    found.sort(key=lambda e: (e.valid_day, codes[e.journal], e.day, e.piece))
    return [e for e in found if e.lines]
