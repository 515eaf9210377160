"""What caps and deductibles shifted to beneficiaries, per document (docs/reports.md
"Per ordering party", column `shifted_by_caps`).

A beneficiary's invoice holds two kinds of lines: those the contract never covered (a
coverage rule sent them to the beneficiary: an exclusion) and those it covered but the
ordering party did not pay in full because the deductible, the mission's cap or the
file's cap bit. Only the second are "shifted". The server's valuation the invoice was
made from (`documents.valuation_digest`) tells them apart: its explanation names every
line a coverage rule sent to the beneficiary, and a `deductible`, `mission_cap` or
`file_cap` step whenever one bit. The amount is the invoice's own lines excl. VAT, so it
adds up to the invoice to the cent.

A credit note on such an invoice takes back its share of the shift, in proportion to
what it credits excl. VAT, counted on the cumulated credit (as commissions' reversals):
credit notes that cancel an invoice take back exactly what it shifted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from server.office.issued_documents import BENEFICIARY, CREDIT_NOTE, INVOICE
from server.platform.tables import documents, valuations
from shared.money import parse_amount, to_cents

LIMITS = ("deductible", "mission_cap", "file_cap")


def _key(line: Mapping[str, Any]) -> tuple[str, str, str | None]:
    return (str(line.get("code")), str(line.get("kind")), line.get("band"))


def shifted_of_invoice(valuation: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> int:
    """Cents excl. VAT of a beneficiary invoice's `lines` that a cap or the deductible
    shifted to the beneficiary, per the valuation (`Valuation.to_wire()`) it was made of."""
    steps = valuation.get("explanation") or []
    if not any(step.get("rule") in LIMITS for step in steps):
        return 0
    excluded = {
        _key(step["params"])
        for step in steps
        if step.get("rule") == "coverage" and step["params"].get("payer") == BENEFICIARY
    }
    # The invoice's lines are the valuation's lines with a beneficiary share, in order
    # (server.office.document_amounts.payer_lines): pair them by position and code.
    theirs = [
        line
        for line in valuation.get("lines") or []
        if parse_amount(line["shares"][BENEFICIARY]) != 0
    ]
    cents = 0
    for invoiced, valued in zip(lines, theirs, strict=False):
        if invoiced.get("code") != valued.get("code"):
            break  # not the valuation the lines came from: claim nothing rather than guess
        if _key(valued) not in excluded:
            cents += to_cents(parse_amount(invoiced["excl_vat"]))
    return cents


def by_document(conn: sa.Connection, tenant_id: str, before: datetime) -> dict[str, int]:
    """{document number: cents excl. VAT} for the beneficiaries' documents issued before
    `before`: what each invoice shifted, minus what each credit note took back."""
    rows = conn.execute(
        sa.select(
            documents.c.number,
            documents.c.kind,
            documents.c.mission_id,
            documents.c.lines,
            documents.c.total_excl_cents,
            documents.c.corrects,
            documents.c.valuation_digest,
        )
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.recipient_kind == BENEFICIARY,
            documents.c.issued_at < before,
        )
        .order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
    ).all()
    bodies = _valuations(conn, tenant_id, {r.valuation_digest for r in rows if r.valuation_digest})
    out: dict[str, int] = {}
    base: dict[str, int] = {}
    credited: dict[str, int] = {}
    for row in rows:
        if row.kind == INVOICE:
            body = bodies.get((row.mission_id, row.valuation_digest or ""))
            lines = row.lines if isinstance(row.lines, list) else json.loads(row.lines)
            out[row.number] = shifted_of_invoice(body, lines) if body else 0
            base[row.number] = int(row.total_excl_cents)
        elif row.kind == CREDIT_NOTE and row.corrects in base:
            shifted, whole = out[row.corrects], base[row.corrects]
            before_ = credited.get(row.corrects, 0)
            credited[row.corrects] = after_ = before_ + int(row.total_excl_cents)
            out[row.number] = -(_part(shifted, after_, whole) - _part(shifted, before_, whole))
    return out


def _part(shifted: int, credited: int, whole: int) -> int:
    if not whole or not shifted:
        return 0
    share = Decimal(shifted) * Decimal(min(credited, whole)) / Decimal(whole)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _valuations(
    conn: sa.Connection, tenant_id: str, digests: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The server's valuations by (mission, digest); a device's only where the server's
    is missing (both carry the same figures when their digests agree)."""
    if not digests:
        return {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in conn.execute(
        sa.select(
            valuations.c.mission_id, valuations.c.digest, valuations.c.body, valuations.c.source
        )
        .where(valuations.c.tenant_id == tenant_id, valuations.c.digest.in_(sorted(digests)))
        .order_by(valuations.c.id)
    ):
        key = (row.mission_id, row.digest)
        if key not in found or row.source == "server":
            found[key] = json.loads(row.body)
    return found
