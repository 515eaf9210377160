"""Refund receipts: the customer's document for money the office gives back by voiding a
collection that no invoice bills them for (issue 16; docs/collection.md "Voiding a
collection").

When an invoice bills the beneficiary, a void is answered by the invoice: a credit note
for what it bills beyond what is due, or the invoice open again. When none does, the
customer paid against a roadside receipt only, and the void issues a **refund receipt**,
in the caller's transaction:

- a number of its own gapless series per tenant and local year (`RR2026-000001`), taken
  from `number_series` like the invoices' (`server.office.numbering`): the row stays
  locked until the transaction ends, and a rolled back void gives its number back;
- one signed entry of the tenant's server journal (`office_decision`, act
  `refund_receipt`) holding everything the document prints, with the mission in the
  entry's `mission_id` column; the entry is the record (no other table holds it);
- an audit line.

Its PDF (`pdf`) is made from that entry on demand: the same entry gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fpdf import FPDF

from server.office import issued_documents, numbering, office_journal
from server.office.reconcile_rules import cents
from server.office.seller import get_seller
from server.people.identity import audit
from server.people.tenant_time import tenant_zone, when_words, zone_named, zone_words
from server.platform.errors import not_found
from server.platform.tables import journal_entries
from shared.journal import EntryType
from shared.money import format_amount, parse_amount
from shared.payment_terms import Method
from shared.payments import LABELS as METHODS

ACT = "refund_receipt"


# --- issuing -----------------------------------------------------------------------------------


def billed(conn: sa.Connection, tenant_id: str, mission_id: str | None) -> bool:
    """Does an invoice bill the mission's beneficiary (something of it not yet credited)?"""
    if not mission_id:
        return False
    for listed in issued_documents.list_documents(
        conn, tenant_id, mission_id=mission_id, kind=issued_documents.INVOICE, limit=1000
    ):
        if listed["recipient_kind"] != issued_documents.BENEFICIARY:
            continue
        invoice = issued_documents.get_document(conn, tenant_id, listed["number"])
        if cents(invoice["total"]["incl_vat"]) - cents(invoice["credited"]) > 0:
            return True
    return False


def issue_for_void(
    conn: sa.Connection,
    tenant_id: str,
    decision: Mapping[str, Any],
    collection: Mapping[str, Any],
    *,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The refund receipt of a `void_collection` decision (`collection`: the voided
    entry's payload), or None when an invoice bills the beneficiary (it answers instead)."""
    mission_id = decision.get("mission_id")
    if billed(conn, tenant_id, mission_id):
        return None
    zone = tenant_zone(conn, tenant_id)
    # Taken in the caller's transaction: a rolled back void gives its number back.
    number = numbering.next_number(
        conn, tenant_id, numbering.REFUND_RECEIPT, now, timezone=zone.key
    )
    block = collection.get("receipt")
    roadside = block if isinstance(block, Mapping) else {}
    payer = roadside.get("payer")
    payload = {
        "act": ACT,
        "number": number.text,
        "issued_at": number.issued_at.isoformat(),
        "decision": decision["id"],
        "mission_id": mission_id,
        "collection": dict(decision["collection"]),
        "receipt_number": roadside.get("number"),  # the roadside receipt it refunds
        "method": decision.get("method"),
        "amount": decision.get("amount"),
        "reason": decision.get("reason"),
        "payer": dict(payer) if isinstance(payer, Mapping) else None,
    }
    signed = office_journal.append(
        conn,
        tenant_id,
        EntryType.OFFICE_DECISION,
        payload,
        key=key,
        actor=actor,
        now=now,
        mission_id=mission_id if isinstance(mission_id, str) else None,
    )
    audit(conn, tenant_id, actor, "refund_receipt.issue", payload["number"], now, detail=payload)
    return {**payload, "journal_seq": signed.entry.seq}


# --- reading -----------------------------------------------------------------------------------


def _payload(body: str) -> dict[str, Any] | None:
    payload = (json.loads(body).get("payload") or {}) if body else {}
    return payload if isinstance(payload, dict) and payload.get("act") == ACT else None


def _refunds(conn: sa.Connection, tenant_id: str, *where: Any) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(journal_entries.c.seq, journal_entries.c.body)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == office_journal.chain_id(tenant_id),
            journal_entries.c.type == EntryType.OFFICE_DECISION.value,
            *where,
        )
        .order_by(journal_entries.c.seq)
    )
    return [
        {**found, "journal_seq": int(r.seq)}
        for r in rows
        if (found := _payload(r.body)) is not None
    ]


def of_mission(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[dict[str, Any]]:
    """The mission's refund receipts, in the order they were issued."""
    return _refunds(conn, tenant_id, journal_entries.c.mission_id == mission_id)


def get(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    """The refund receipt `number`; 404 when the tenant has none by that number."""
    marker = f'"number":{json.dumps(number)}'  # canonical JSON: no spaces
    found = [
        r
        for r in _refunds(conn, tenant_id, journal_entries.c.body.contains(marker, autoescape=True))
        if r["number"] == number
    ]
    if not found:
        raise not_found("Reçu de remboursement", "Refund receipt", number)
    return found[0]


# --- the PDF -----------------------------------------------------------------------------------


def _text(value: object) -> str:
    """Text for the standard font (Windows-1252), as the roadside receipt's PDF."""
    return str(value).replace("\u202f", "\u00a0").encode("cp1252", "replace").decode("cp1252")


def _method(code: object, lang: str) -> str:
    try:
        return METHODS[Method(str(code))](lang)
    except ValueError:
        return str(code)


def pdf(
    refund: Mapping[str, Any],
    seller: Mapping[str, Any] | None,
    lang: str = "fr",
    zone: ZoneInfo | None = None,
) -> bytes:
    """The refund receipt as a one-page A5 PDF in `lang` (fr or en), its time on the
    tenant's clock in `zone` (Europe/Paris by default), the zone stated beside it."""
    zone = zone or zone_named(None)
    fr = lang == "fr"
    issued = datetime.fromisoformat(str(refund["issued_at"]))
    amount = format_amount(Decimal(parse_amount(refund["amount"])), lang)
    title = f"{'Reçu de remboursement' if fr else 'Refund receipt'} {refund['number']}"
    doc = FPDF(format="A5")
    doc.core_fonts_encoding = "windows-1252"
    doc.set_creation_date(issued)
    doc.set_title(_text(title))
    doc.set_lang("fr-FR" if fr else "en-GB")
    doc.set_margins(10, 10, 10)
    doc.add_page()
    doc.set_font("Helvetica", "B", 13)
    doc.multi_cell(0, 7, _text(title), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 9)
    who = seller or {}
    town = " ".join(str(who[k]) for k in ("postcode", "city") if who.get(k))
    siret = f"SIRET {who['siret']}" if who.get("siret") else None
    for line in (who.get("name"), who.get("address"), town, siret):
        if line:
            doc.multi_cell(0, 4.5, _text(line), new_x="LMARGIN", new_y="NEXT")
    payer = refund.get("payer") or {}
    collection = refund.get("collection") or {}
    roadside = refund.get("receipt_number")
    rows = [
        ("Date", f"{when_words(issued, zone, lang)} ({zone_words(zone, lang)})"),
        ("Mission", str(refund.get("mission_id") or "-")),
        ("Client" if fr else "Customer", str(payer.get("name") or "-")),
        (
            "Reçu remboursé" if fr else "Receipt refunded",
            f"{collection.get('device_id')} n° {roadside}" if roadside else "-",
        ),
        ("Mode" if fr else "Method", _method(refund.get("method"), lang)),
        ("Motif" if fr else "Reason", str(refund.get("reason") or "-")),
        ("Montant remboursé" if fr else "Amount refunded", amount),
    ]
    doc.ln(3)
    for index, (left, right) in enumerate(rows):
        strong = index == len(rows) - 1
        doc.set_font("Helvetica", "B" if strong else "", 11 if strong else 9)
        doc.cell(40, 5, _text(left))
        doc.multi_cell(0, 5, _text(right), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    doc.set_font("Helvetica", "", 8)
    doc.multi_cell(
        0,
        4,
        _text(
            "L'encaissement ci-dessus est annulé par le bureau et rendu au client par le même"
            " mode de règlement. Aucune facture ne portait cette somme."
            if fr
            else "The collection above is voided by the office and given back to the"
            " customer by the same payment method. No invoice carried this amount."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(doc.output())


def pdf_of(conn: sa.Connection, tenant_id: str, number: str, lang: str = "fr") -> bytes:
    """The PDF of the tenant's refund receipt `number` (404 when unknown)."""
    found = get(conn, tenant_id, number)
    return pdf(found, get_seller(conn, tenant_id), lang, tenant_zone(conn, tenant_id))
