"""Payments back from ordering parties: payment advices and bank statement lines,
imported from CSV files and matched to claims (docs/claims-and-payments.md).

Two formats, read like the card settlement files (`server.office.settlements`): a header line,
`;` or `,` between columns, dates as YYYY-MM-DD or DD/MM/YYYY, amounts as `12.50` or
`12,50`. Every unreadable line is named with its number and nothing is imported.

- `advice` (the ordering party's payment advice): `reference` (the invoice number, or
  the party's own reference: its file number), `amount`, `date`, and optionally `party`
  (the ordering party's id or name, which then restricts the match to its claims).
- `bank` (a bank statement export): `date`, `label`, `amount`; the reference is found in
  the label (an invoice number such as F2026-000123, also written F2026000123 or
  f 2026 000123). A bank line of zero or less (a debit) is not a payment back: it is
  counted as ignored, not stored.

The files are read by `server.parties.payment_files`. A file is imported once (its
SHA-256); each line is matched to a claim by reference and amount
(`claim_money.apply_payment`): `matched`, `amount_differs` (partial, applied; or more than
owed, not applied), `unknown_reference`, `already_paid`. Every line that is not `matched`
is a mismatch the office sees (`mismatches`); an `amount_differs` line says which way it
differs (`difference`: `short` or `overpaid`), so the office chases a balance only where
one is owed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.parties import claim_money, claim_reading, claim_states
from server.parties.payment_files import (
    ADVICE,
    BANK,
    Line,
    checked_source,
    invoice_numbers_in,
    parse,
)
from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable
from server.platform.tables import claims, ordering_parties, payment_imports, payment_lines
from shared.money import from_cents, wire

OUTCOMES = ("matched", "amount_differs", "unknown_reference", "already_paid")
MISMATCHES = ("amount_differs", "unknown_reference", "already_paid")
MAX_BYTES = 10_000_000
SHORT, OVERPAID = "short", "overpaid"  # the two ways an amount differs (`difference`)


# --- matching --------------------------------------------------------------------------


def _resolve_party(conn: sa.Connection, tenant_id: str, given: str | None) -> str | None:
    """The ordering party a line names, by id or name (case-insensitive); the text as
    given when no party has it (the line then matches nothing)."""
    if not given:
        return None
    for row in conn.execute(
        sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
            ordering_parties.c.tenant_id == tenant_id
        )
    ):
        if given.casefold() in (str(row.id).casefold(), str(row.name).casefold()):
            return str(row.id)
    return given


def _candidates(
    conn: sa.Connection, tenant_id: str, line: Line, party: str | None, source: str
) -> list[Any]:
    """The claims a line may pay: by invoice number (the reference, or any number in a
    bank label), else for an advice by the party's file number."""
    numbers = [line.reference] if line.reference else []
    if source == BANK:
        numbers = invoice_numbers_in(f"{line.reference} {line.label or ''}")
    query = sa.select(claims).where(claims.c.tenant_id == tenant_id)
    if party is not None:
        query = query.where(claims.c.party_id == party)
    order = (claims.c.issued_on, claims.c.invoice_number)
    found: list[Any] = []
    if numbers:
        found = list(
            conn.execute(query.where(claims.c.invoice_number.in_(numbers)).order_by(*order))
        )
    if not found and source == ADVICE and line.reference:
        found = list(
            conn.execute(query.where(claims.c.file_number == line.reference).order_by(*order))
        )
    return found


def _pick(conn: sa.Connection, tenant_id: str, found: list[Any], cents: int) -> Any:
    """Of several claims, the open one owed exactly `cents`, else the oldest open one,
    else the oldest."""
    credited = claim_reading.credited_cents(conn, tenant_id, [r.invoice_number for r in found])
    owed = [
        (r, claim_reading.accounts_of(r, credited.get(r.invoice_number, 0)).open)
        for r in found
        if r.status in {s.value for s in claim_states.OPEN}
    ]
    exact = [r for r, left in owed if left == cents]
    if exact:
        return exact[0]
    still = [r for r, left in owed if left > 0]
    return still[0] if still else found[0]


def difference(outcome: str, applied_cents: int) -> str | None:
    """Which way an `amount_differs` line differs: `short` (less than owed, applied: the
    claim stays open for the rest) or `overpaid` (more than owed, not applied: nothing of
    it reached the claim). None for the other outcomes. `claim_money.apply_payment`
    applies a short payment and never an overpayment, so what was applied tells them
    apart."""
    if outcome != "amount_differs":
        return None
    return SHORT if applied_cents > 0 else OVERPAID


def _import_id(digest: str) -> str:
    return f"pay_{digest[:20]}"


def import_file(
    conn: sa.Connection,
    tenant_id: str,
    source: str,
    name: str,
    content: bytes,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Read, store and match a payment file in the caller's transaction: refused whole
    when a line is unreadable (422, every line named) or when this file was already
    imported (409 `payment_file_already_imported`). Returns the summary."""
    source = checked_source(source)
    if len(content) > MAX_BYTES:
        raise Unprocessable(
            f"Fichier trop volumineux (au plus {MAX_BYTES} octets).",
            f"File too large (at most {MAX_BYTES} bytes).",
            code="payment_file_too_large",
        )
    lines, ignored = parse(content, source)
    digest = hashlib.sha256(content).hexdigest()
    known = conn.execute(
        sa.select(payment_imports).where(
            payment_imports.c.tenant_id == tenant_id, payment_imports.c.sha256 == digest
        )
    ).first()
    if known is not None:
        raise AlreadyImported(known)
    import_id = _import_id(digest)
    conn.execute(
        sa.insert(payment_imports).values(
            tenant_id=tenant_id,
            id=import_id,
            source=source,
            file_name=name[:255],
            sha256=digest,
            line_count=len(lines),
            imported_at=now,
            imported_by=actor[:64],
        )
    )
    outcomes: Counter[str] = Counter()
    applied = 0
    paid: list[str] = []
    mismatched: list[dict[str, Any]] = []
    for line in lines:
        party = _resolve_party(conn, tenant_id, line.party)
        found = _candidates(conn, tenant_id, line, party, source)
        invoice = None
        cents = 0
        if not found:
            outcome = "unknown_reference"
        else:
            claim = _pick(conn, tenant_id, found, line.cents)
            invoice = claim.invoice_number
            outcome, cents = claim_money.apply_payment(
                conn,
                tenant_id,
                invoice,
                line.cents,
                reference=f"payment:{import_id}:{line.line_no}",
                actor=actor,
                now=now,
            )
            applied += cents
            if outcome == "matched":
                paid.append(invoice)
        outcomes[outcome] += 1
        conn.execute(
            sa.insert(payment_lines).values(
                tenant_id=tenant_id,
                import_id=import_id,
                line_no=line.line_no,
                paid_on=line.paid_on,
                reference=line.reference,
                amount_cents=line.cents,
                party_id=party,
                label=line.label,
                outcome=outcome,
                invoice_number=invoice,
                applied_cents=cents,
            )
        )
        if outcome != "matched":
            mismatched.append(
                {
                    "line_no": line.line_no,
                    "reference": line.reference,
                    "amount": wire(from_cents(line.cents)),
                    "outcome": outcome,
                    "difference": difference(outcome, cents),
                    "invoice_number": invoice,
                }
            )
    summary = {
        "id": import_id,
        "source": source,
        "file_name": name,
        "lines": len(lines),
        "ignored": ignored,
        **{outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        "applied": wire(from_cents(applied)),
        "claims_paid": paid,
        "mismatches": mismatched,
    }
    audit(
        conn,
        tenant_id,
        actor,
        "payments.import",
        import_id,
        now,
        detail={k: v for k, v in summary.items() if k != "mismatches"},
    )
    return summary


class AlreadyImported(Conflict):
    code = "payment_file_already_imported"

    def __init__(self, known: Any) -> None:
        super().__init__(
            f"Ce fichier de paiements a déjà été importé ({known.file_name}, import {known.id}).",
            f"This payment file was already imported ({known.file_name}, import {known.id}).",
        )
        self.import_id = str(known.id)
        self.file_name = str(known.file_name)


# --- for the office ------------------------------------------------------------------------


def mismatches(
    conn: sa.Connection,
    tenant_id: str,
    *,
    party_id: str | None = None,
    import_id: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Every imported line that did not simply pay its claim, newest import first, with
    where its claim stands now (a partial payment whose claim was paid since shows it)."""
    query = (
        sa.select(
            payment_lines,
            payment_imports.c.file_name,
            payment_imports.c.source,
            payment_imports.c.imported_at,
        )
        .join(
            payment_imports,
            sa.and_(
                payment_imports.c.tenant_id == payment_lines.c.tenant_id,
                payment_imports.c.id == payment_lines.c.import_id,
            ),
        )
        .where(payment_lines.c.tenant_id == tenant_id, payment_lines.c.outcome.in_(MISMATCHES))
    )
    if party_id is not None:
        # The party the file names, or the party whose claim the line was matched to (bank
        # lines and advices without a party column name none).
        theirs = sa.select(claims.c.invoice_number).where(
            claims.c.tenant_id == tenant_id, claims.c.party_id == party_id
        )
        query = query.where(
            sa.or_(
                payment_lines.c.party_id == party_id,
                payment_lines.c.invoice_number.in_(theirs.scalar_subquery()),
            )
        )
    if import_id is not None:
        query = query.where(payment_lines.c.import_id == import_id)
    rows = conn.execute(
        query.order_by(
            payment_imports.c.imported_at.desc(), payment_lines.c.import_id, payment_lines.c.line_no
        )
    ).all()
    numbers = sorted({r.invoice_number for r in rows if r.invoice_number})
    claim_rows = (
        {
            r.invoice_number: r
            for r in conn.execute(
                sa.select(claims).where(
                    claims.c.tenant_id == tenant_id, claims.c.invoice_number.in_(numbers)
                )
            )
        }
        if numbers
        else {}
    )
    credited = claim_reading.credited_cents(conn, tenant_id, numbers)
    out = []
    for r in rows:
        claim = None
        found = claim_rows.get(r.invoice_number) if r.invoice_number else None
        if found is not None:
            money = claim_reading.accounts_of(found, credited.get(found.invoice_number, 0))
            claim = {
                "status": found.status,
                "party_id": found.party_id,
                "amount": wire(from_cents(money.amount)),
                "paid": wire(from_cents(money.paid)),
                "credited": wire(from_cents(money.credited)),
                "open": wire(from_cents(money.open)),
            }
        out.append(
            {
                "import_id": r.import_id,
                "file_name": r.file_name,
                "source": r.source,
                "imported_at": r.imported_at,
                "line_no": int(r.line_no),
                "paid_on": r.paid_on.isoformat(),
                "reference": r.reference,
                "label": r.label,
                "party_id": r.party_id,
                "amount": wire(from_cents(int(r.amount_cents))),
                "outcome": r.outcome,
                "difference": difference(str(r.outcome), int(r.applied_cents or 0)),
                "applied": wire(from_cents(int(r.applied_cents or 0))),
                "invoice_number": r.invoice_number,
                "claim": claim,
            }
        )
        if len(out) >= limit:
            break
    return out


def list_imports(conn: sa.Connection, tenant_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(payment_imports)
        .where(payment_imports.c.tenant_id == tenant_id)
        .order_by(payment_imports.c.imported_at.desc())
        .limit(limit)
    )
    return [
        {
            "id": r.id,
            "source": r.source,
            "file_name": r.file_name,
            "sha256": r.sha256,
            "lines": int(r.line_count),
            "imported_at": r.imported_at,
            "imported_by": r.imported_by,
        }
        for r in rows
    ]
