"""What each ordering party brings and costs over a period (docs/reports.md "Per
ordering party").

For a period [start, end] of the tenant's days, one row per ordering party (and one for
private customers, who have none), every amount in cents:

- `missions`: the party's missions called in the period (their call time's day);
- `revenue`: what was invoiced excl. VAT in the period on the party's missions — to the
  party and to the beneficiaries — minus the credit notes of the period;
- `beneficiary_share`: the part of that revenue invoiced to the beneficiaries (what the
  caps, the deductible and the exclusions left to them), net of their credit notes;
- `shifted_by_caps`: of which what the caps and the deductible shifted to them — lines
  the contract covered but the party did not pay in full (server.office.cap_shifts);
  exclusions are not in it; a credit note takes back its share;
- `credit_notes` and `credit_notes_count`: the credit notes of the period, incl. VAT;
- `paid_by_party`: the party's payments matched to its claims, by the day paid;
- `paid_by_beneficiaries`: collected on the spot (net of voids, by the day received)
  and paid in the office (by the day received or applied) on the party's missions;
- `days_to_pay`: over the party's invoices settled by a payment in the period, the mean
  number of days from the invoice to the payment that settled it (one decimal, half up),
  and `invoices_paid`, how many invoices that mean covers;
- `owed_by_party`, `owed_by_beneficiaries`, `owed`: what is still owed today on the
  party's missions — its open claims (docs/claims-and-payments.md), the beneficiaries'
  open invoices (docs/customer-debts.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from server.office import cap_shifts, debt_terms, ledger, payment_uses
from server.office.invoice_balances import balances
from server.office.issued_documents import CREDIT_NOTE, ORDERING_PARTY
from server.office.period_collections import net_collections
from server.parties import claim_reading
from server.platform.tables import (
    claims,
    documents,
    missions,
    office_payment_uses,
    ordering_parties,
    payment_lines,
)
from shared.money import from_cents, parse_amount, to_cents, wire

PRIVATE = ""  # the row of missions without an ordering party
COLUMNS = (
    "missions",
    "revenue",
    "beneficiary_share",
    "shifted_by_caps",
    "credit_notes",
    "credit_notes_count",
    "paid_by_party",
    "paid_by_beneficiaries",
    "owed_by_party",
    "owed_by_beneficiaries",
)
COUNTS = ("missions", "credit_notes_count")
Rows = dict[str, dict[str, int]]


# A document that names no ordering party says so in its canonical text: those are not
# parsed to learn it (the column `ordering_party_id` holds it for the others).
NO_PARTY = ('%"ordering_party":null%', '%"ordering_party": null%')


class MissionParties:
    """Each mission's ordering party ("" for a private customer), read for the missions a
    period touches, not for every mission the tenant ever had."""

    def __init__(self, conn: sa.Connection, tenant_id: str) -> None:
        self.conn, self.tenant_id = conn, tenant_id
        self.known: dict[str, str] = {}

    @staticmethod
    def columns() -> list[Any]:
        unnamed = sa.and_(
            missions.c.ordering_party_id.is_(None),
            *(missions.c.document.not_like(p) for p in NO_PARTY),
        )
        return [
            missions.c.id,
            missions.c.ordering_party_id,
            sa.case((unnamed, missions.c.document), else_=sa.null()).label("document"),
        ]

    def keep(self, row: Any) -> str:
        party = row.ordering_party_id
        if not party and row.document is not None:
            party = json.loads(row.document).get("ordering_party")
        self.known[row.id] = str(party or PRIVATE)
        return self.known[row.id]

    def load(self, mission_ids: Iterable[str | None]) -> None:
        wanted = sorted({m for m in mission_ids if m and m not in self.known})
        for start in range(0, len(wanted), 500):
            for row in self.conn.execute(
                sa.select(*self.columns()).where(
                    missions.c.tenant_id == self.tenant_id,
                    missions.c.id.in_(wanted[start : start + 500]),
                )
            ):
                self.keep(row)

    def __call__(self, mission_id: str | None) -> str:
        if mission_id and mission_id not in self.known:
            self.load([mission_id])
        return self.known.get(mission_id or "", PRIVATE)

    def called_within(self, first: datetime, after: datetime) -> list[str]:
        """The party of each mission called in [first, after) (the call's instant, kept
        beside the document)."""
        return [
            self.keep(row)
            for row in self.conn.execute(
                sa.select(*self.columns()).where(
                    missions.c.tenant_id == self.tenant_id,
                    missions.c.call_at >= first,
                    missions.c.call_at < after,
                )
            )
        ]


def mean_days(days: list[int]) -> str | None:
    """The mean of whole days, to one decimal, half up ("12.5"); None without any."""
    if not days:
        return None
    mean = Decimal(sum(days)) / Decimal(len(days))
    return str(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def report(conn: sa.Connection, tenant_id: str, start: date, end: date) -> dict[str, Any]:
    """One row per party with anything in the period or still owed, then the totals."""
    first, after = ledger.day_bounds(conn, tenant_id, start, end)
    party_of = MissionParties(conn, tenant_id)
    rows: Rows = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    days_to_pay: dict[str, list[int]] = defaultdict(list)
    for party in party_of.called_within(first, after):
        rows[party]["missions"] += 1
    _documents(conn, tenant_id, first, after, rows, party_of)
    _party_payments(conn, tenant_id, start, end, rows, days_to_pay)
    _field_collections(conn, tenant_id, first, after, rows, party_of)
    _office_payments(conn, tenant_id, start, end, rows, party_of)
    _owed(conn, tenant_id, rows, party_of)
    names = {
        str(r.id): str(r.name)
        for r in conn.execute(
            sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
                ordering_parties.c.tenant_id == tenant_id
            )
        )
    }
    listed = []
    for party in sorted(rows, key=lambda p: (p == PRIVATE, p)):
        values = rows[party]
        if not any(values.values()):
            continue
        listed.append(
            {
                "party_id": party or None,
                "name": names.get(party, party) if party else None,
                **_wire(values, days_to_pay[party]),
            }
        )
    totals = {c: sum(v[c] for v in rows.values()) for c in COLUMNS}
    every_day = [d for days in days_to_pay.values() for d in days]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "parties": listed,
        "totals": _wire(totals, every_day),
    }


def _wire(values: Mapping[str, int], days: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v if k in COUNTS else wire(from_cents(v)) for k, v in values.items()}
    out["owed"] = wire(from_cents(values["owed_by_party"] + values["owed_by_beneficiaries"]))
    out["days_to_pay"] = mean_days(days)
    out["invoices_paid"] = len(days)
    return out


def _documents(
    conn: sa.Connection,
    tenant_id: str,
    first: datetime,
    after: datetime,
    rows: Rows,
    party_of: MissionParties,
) -> None:
    shifted = cap_shifts.by_document(conn, tenant_id, after)
    found = conn.execute(
        sa.select(
            documents.c.number,
            documents.c.mission_id,
            documents.c.kind,
            documents.c.recipient_kind,
            documents.c.total_excl_cents,
            documents.c.total_incl_cents,
        ).where(
            documents.c.tenant_id == tenant_id,
            documents.c.issued_at >= first,
            documents.c.issued_at < after,
        )
    ).all()
    party_of.load(doc.mission_id for doc in found)
    for doc in found:
        row = rows[party_of(doc.mission_id)]
        sign = -1 if doc.kind == CREDIT_NOTE else 1
        row["revenue"] += sign * int(doc.total_excl_cents)
        if doc.recipient_kind != ORDERING_PARTY:
            row["beneficiary_share"] += sign * int(doc.total_excl_cents)
            row["shifted_by_caps"] += shifted.get(doc.number, 0)
        if doc.kind == CREDIT_NOTE:
            row["credit_notes"] += int(doc.total_incl_cents)
            row["credit_notes_count"] += 1


def _party_payments(
    conn: sa.Connection,
    tenant_id: str,
    start: date,
    end: date,
    rows: Rows,
    days_to_pay: dict[str, list[int]],
) -> None:
    """Payments matched to claims, by the day paid; an invoice whose claim is paid and
    whose last payment falls in the period counts its days from issue to that payment."""
    found = conn.execute(
        sa.select(
            payment_lines.c.invoice_number,
            payment_lines.c.paid_on,
            payment_lines.c.amount_cents,
            payment_lines.c.applied_cents,
            payment_lines.c.outcome,
            claims.c.party_id,
            claims.c.issued_on,
            claims.c.status,
        )
        .join(
            claims,
            sa.and_(
                claims.c.tenant_id == payment_lines.c.tenant_id,
                claims.c.invoice_number == payment_lines.c.invoice_number,
            ),
        )
        .where(payment_lines.c.tenant_id == tenant_id)
        .order_by(payment_lines.c.paid_on, payment_lines.c.import_id, payment_lines.c.line_no)
    ).all()
    last: dict[str, tuple[str, date, date]] = {}
    for line in found:
        applied = line.applied_cents
        if applied is None:  # imported before migration 0003
            applied = line.amount_cents if line.outcome == "matched" else 0
        if not applied:
            continue
        if start <= line.paid_on <= end:
            rows[line.party_id]["paid_by_party"] += int(applied)
        if line.status == "paid":
            last[line.invoice_number] = (line.party_id, line.issued_on, line.paid_on)
    for party, issued_on, paid_on in last.values():
        if start <= paid_on <= end:
            days_to_pay[party].append((paid_on - issued_on).days)


def _collection(row: Any) -> tuple[str | None, int] | None:
    """(mission, cents) of a stored collection; None when unreadable."""
    try:
        return row.mission_id, to_cents(parse_amount(json.loads(row.body)["payload"]["amount"]))
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def _field_collections(
    conn: sa.Connection,
    tenant_id: str,
    first: datetime,
    after: datetime,
    rows: Rows,
    party_of: MissionParties,
) -> None:
    """Collections net of voids received in the period, per mission's party (a void
    counts once, and only for a collection the server holds; read for the period only:
    server.office.period_collections)."""
    collected, voided = net_collections(conn, tenant_id, first, after, _collection)
    party_of.load(mission for _, (mission, _) in (*collected, *voided))
    for _, (mission, cents) in collected:
        rows[party_of(mission)]["paid_by_beneficiaries"] += cents
    for _, (mission, cents) in voided:
        rows[party_of(mission)]["paid_by_beneficiaries"] -= cents


def _office_payments(
    conn: sa.Connection,
    tenant_id: str,
    start: date,
    end: date,
    rows: Rows,
    party_of: MissionParties,
) -> None:
    uses = office_payment_uses
    found = conn.execute(
        sa.select(documents.c.mission_id, uses.c.amount_cents)
        .join(
            documents,
            sa.and_(
                documents.c.tenant_id == uses.c.tenant_id,
                documents.c.number == uses.c.invoice_number,
            ),
        )
        .where(
            uses.c.tenant_id == tenant_id,
            uses.c.kind == payment_uses.INVOICE_USE,
            uses.c.on_date >= start,
            uses.c.on_date <= end,
        )
    ).all()
    party_of.load(use.mission_id for use in found)
    for use in found:
        rows[party_of(use.mission_id)]["paid_by_beneficiaries"] += int(use.amount_cents)


def _owed(conn: sa.Connection, tenant_id: str, rows: Rows, party_of: MissionParties) -> None:
    """What is owed today: the parties' open claims, the beneficiaries' open invoices."""
    found = conn.execute(sa.select(claims).where(claims.c.tenant_id == tenant_id)).all()
    credited = claim_reading.credited_cents(conn, tenant_id, [c.invoice_number for c in found])
    for claim in found:
        owed = claim_reading.accounts_of(claim, credited.get(claim.invoice_number, 0)).open
        if owed > 0:
            rows[claim.party_id]["owed_by_party"] += owed
    open_ones = [
        b for b in balances(conn, tenant_id, debt_terms.current(conn, tenant_id)) if b.open
    ]
    party_of.load(b.mission_id for b in open_ones)
    for b in open_ones:
        if b.open:
            rows[party_of(b.mission_id)]["owed_by_beneficiaries"] += b.open


def csv_rows(found: Mapping[str, Any], lang: str) -> list[list[str]]:
    """The report as CSV rows (a header, one row per party, the totals)."""
    header = ["party_id", "name", *COLUMNS, "owed", "days_to_pay", "invoices_paid"]
    out = [header]
    for row in [*found["parties"], {"party_id": "TOTAL", "name": "", **found["totals"]}]:
        name = row.get("name") or ("" if row.get("party_id") else _private(lang))
        out.append(
            [
                str(row.get("party_id") or ""),
                str(name),
                *(str(row[c]) for c in COLUMNS),
                str(row["owed"]),
                str(row["days_to_pay"] or ""),
                str(row["invoices_paid"]),
            ]
        )
    return out


def _private(lang: str) -> str:
    return "Particuliers" if lang == "fr" else "Private customers"
