"""Invoices and credit notes (docs/invoicing.md).

When a mission is completed, the server invoices each payer for its share of the
server's own latest valuation of the mission (table `valuations`, source "server"): the
ordering party (with a Factur-X e-invoice) and the beneficiary (whose invoice shows what
was paid on the spot). French rules:

- numbers from one continuous chronological sequence per series (`server.office.numbering`),
  taken in the issuing transaction: no gap, no duplicate, even with concurrent issuers;
- the mandatory mentions (seller's identity with SIREN, SIRET and VAT number, dates,
  recipient, lines, VAT per rate, totals), printed on the PDF and kept in the row;
- nothing issued is ever changed or deleted (database triggers refuse it): a mistake is
  corrected by a credit note, total or partial, that names the invoice it corrects.

Each document is one row of `documents` (with its PDF, and the Factur-X PDF for an
ordering party), one entry of the tenant's signed server journal (`invoice_issued` or
`credit_note_issued`) and one audit line, in the caller's transaction. Every query is
scoped by the tenant.

This module issues them; reading them and a beneficiary's balance are in
`server.office.issued_documents`, their amounts per VAT rate in `server.office.document_amounts`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import beneficiaries, document_files, numbering, office_journal
from server.office.anomalies import open_anomaly
from server.office.document_amounts import (
    cents_by_rate,
    credit_rows,
    payer_lines,
    total_of,
    wire_rows,
)
from server.office.issued_documents import (
    BENEFICIARY,
    CREDIT_NOTE,
    INVOICE,
    ORDERING_PARTY,
    RECIPIENTS,
    credited_cents,
    document_row,
    field_money,
    to_wire,
)
from server.office.seller import require_seller
from server.people.identity import audit
from server.platform import events
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import documents, missions, ordering_parties, tenants, valuations
from shared.errors import TowlineError
from shared.journal import EntryType
from shared.money import ZERO, format_amount, from_cents, parse_amount, to_cents, wire
from shared.signing import PrivateKey

log = logging.getLogger(__name__)

JOURNAL_TYPES = {INVOICE: EntryType.INVOICE_ISSUED, CREDIT_NOTE: EntryType.CREDIT_NOTE_ISSUED}
CANCELLED = "cancelled"


def timezone_of(settings: Mapping[str, Any] | None) -> str:
    tz = (settings or {}).get("timezone")
    return tz if isinstance(tz, str) and tz else numbering.DEFAULT_TIMEZONE


# --- issuing ------------------------------------------------------------------------


def _local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def _store(
    conn: sa.Connection,
    tenant_id: str,
    draft: dict[str, Any],
    *,
    key: PrivateKey,
    actor: str,
    now: datetime,
    timezone: str,
) -> dict[str, Any]:
    """Number the draft, sign it into the journal, store it, audit it, and ask for its
    files (rendered after the commit: server.office.document_files)."""
    kind = draft["kind"]
    number = numbering.next_number(conn, tenant_id, kind, now, timezone=timezone)
    document = {
        **draft,
        "number": number.text,
        "series": number.series,
        "seq": number.seq,
        "issued_at": number.issued_at,
        "issue_date": _local_date(number.issued_at, timezone),
        "total": total_of(draft["by_rate"]),
    }
    payload: dict[str, Any] = {
        "number": number.text,
        "kind": kind,
        "mission_id": document["mission_id"],
        "recipient_kind": document["recipient_kind"],
        "recipient": document["recipient"],
        "issued_at": number.issued_at.isoformat(),
        "by_rate": document["by_rate"],
        "total": document["total"],
    }
    if kind == CREDIT_NOTE:
        payload["corrects"] = document["corrects"]
        payload["reason"] = document["reason"]
    signed = office_journal.append(
        conn,
        tenant_id,
        JOURNAL_TYPES[kind],
        payload,
        key=key,
        actor=actor,
        now=number.issued_at,
        mission_id=document["mission_id"],
    )
    total = document["total"]
    conn.execute(
        sa.insert(documents).values(
            tenant_id=tenant_id,
            number=number.text,
            kind=kind,
            series=number.series,
            seq=number.seq,
            mission_id=document["mission_id"],
            file_number=document.get("file_number"),
            recipient_kind=document["recipient_kind"],
            recipient=document["recipient"],
            seller=document["seller"],
            issued_at=number.issued_at,
            service_date=document["service_date"],
            currency=document["currency"],
            lines=document["lines"],
            by_rate=document["by_rate"],
            total_excl_cents=to_cents(parse_amount(total["excl_vat"])),
            total_vat_cents=to_cents(parse_amount(total["vat"])),
            total_incl_cents=to_cents(parse_amount(total["incl_vat"])),
            corrects=document.get("corrects"),
            reason=document.get("reason"),
            valuation_digest=document.get("valuation_digest"),
            journal_seq=signed.entry.seq,
            pdf=b"",  # rendered after the commit, into document_files
            facturx=None,
            created_by=actor[:64],
        )
    )
    document_files.ask(conn, tenant_id, document, now)
    audit(
        conn,
        tenant_id,
        actor,
        f"document.{kind}",
        number.text,
        now,
        reason=document.get("reason"),
        detail={
            "mission_id": document["mission_id"],
            "recipient_kind": document["recipient_kind"],
            "total": total,
            "corrects": document.get("corrects"),
        },
    )
    stored = document_row(conn, tenant_id, number.text)
    # Claims and ordering parties' files follow the document (server.reactions).
    events.publish(conn, events.DocumentStored(tenant_id, stored, actor, now))
    return to_wire(stored)


def _mission_row(conn: sa.Connection, tenant_id: str, mission_id: str) -> Any:
    """The mission, locked until the transaction ends: two issuers of one mission queue."""
    row = conn.execute(
        sa.select(missions)
        .where(missions.c.tenant_id == tenant_id, missions.c.id == mission_id)
        .with_for_update()
    ).first()
    if row is None:
        raise not_found("Mission", "Mission", mission_id)
    return row


def _latest_valuation(conn: sa.Connection, tenant_id: str, mission_id: str) -> Any:
    row = conn.execute(
        sa.select(valuations.c.digest, valuations.c.body)
        .where(
            valuations.c.tenant_id == tenant_id,
            valuations.c.mission_id == mission_id,
            valuations.c.source == "server",
        )
        .order_by(valuations.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise Conflict(
            f"La mission {mission_id} n'a pas encore de valorisation du serveur : la "
            "facture sera émise quand la tablette aura synchronisé sa valorisation.",
            f"Mission {mission_id} has no server valuation yet: it is invoiced once the "
            "tablet has synced its valuation.",
            code="valuation_missing",
        )
    return row


def _recipient(conn: sa.Connection, tenant_id: str, mission: Any, payer: str) -> dict[str, Any]:
    document = json.loads(mission.document)
    if payer == ORDERING_PARTY:
        party_id = mission.ordering_party_id or document.get("ordering_party")
        name = conn.execute(
            sa.select(ordering_parties.c.name).where(
                ordering_parties.c.tenant_id == tenant_id, ordering_parties.c.id == party_id
            )
        ).scalar_one_or_none()
        return {"id": party_id, "name": name or party_id or "Donneur d'ordre"}
    plate = (document.get("vehicle") or {}).get("plate")
    customer = document.get("customer")
    # Who pays on site: captured by the driver, else as the order gave them.
    who = beneficiaries.of_mission(conn, tenant_id, mission.id, document)
    named = who.name if who is not None else None
    name = named or customer or (f"Client (véhicule {plate})" if plate else "Client")
    return {
        "customer": customer,
        "name": name,
        "vehicle_plate": plate,
        **beneficiaries.recipient_fields(who),
    }


def _service_date(mission: Any, timezone: str) -> date:
    call = json.loads(mission.document)["times"]["call"]
    return _local_date(datetime.fromisoformat(call), timezone)


def issue(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    *,
    key: PrivateKey,
    actor: str,
    now: datetime,
) -> tuple[list[dict[str, Any]], bool]:
    """`issue_for_mission`, and whether anything new was issued."""
    mission = _mission_row(conn, tenant_id, mission_id)
    if mission.status == CANCELLED:
        raise Conflict(
            f"La mission {mission_id} est annulée : elle n'est pas facturée.",
            f"Mission {mission_id} is cancelled: it is not invoiced.",
            code="mission_cancelled",
        )
    seller = require_seller(conn, tenant_id)
    valuation = _latest_valuation(conn, tenant_id, mission_id)
    invoices = conn.execute(
        sa.select(documents)
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.mission_id == mission_id,
            documents.c.kind == INVOICE,
        )
        .order_by(documents.c.series, documents.c.seq)
    ).all()
    same = [row for row in invoices if row.valuation_digest == valuation.digest]
    if same:
        made = document_files.files(conn, tenant_id, [row.number for row in same])
        return [to_wire(row, made.get(row.number)) for row in same], False
    open_ = [
        row.number
        for row in invoices
        if credited_cents(conn, tenant_id, row.number)[2] < int(row.total_incl_cents)
    ]
    if open_:
        listed = ", ".join(open_)
        raise Conflict(
            f"La mission {mission_id} a déjà été facturée sur une autre valorisation "
            f"({listed}) : émettez d'abord un avoir total sur ces factures.",
            f"Mission {mission_id} was already invoiced on another valuation ({listed}): "
            "issue a total credit note on those invoices first.",
            code="mission_already_invoiced",
        )
    body = json.loads(valuation.body)
    tenant_settings = _settings(conn, tenant_id)
    timezone = timezone_of(tenant_settings)
    document = json.loads(mission.document)
    common = {
        "kind": INVOICE,
        "mission_id": mission_id,
        "file_number": mission.file_number,
        "seller": seller,
        "service_date": _service_date(mission, timezone),
        "currency": body.get("currency", "EUR"),
        "valuation_digest": valuation.digest,
        "vehicle_plate": (document.get("vehicle") or {}).get("plate"),
    }
    issued = []
    for payer in RECIPIENTS:
        if parse_amount(body["payers"][payer]["incl_vat"]) <= 0:
            continue
        draft = {
            **common,
            "recipient_kind": payer,
            "recipient": _recipient(conn, tenant_id, mission, payer),
            "lines": payer_lines(body, payer),
            "by_rate": wire_rows(cents_by_rate(body["payers"][payer]["by_rate"])),
        }
        if payer == BENEFICIARY:
            due = parse_amount(body["payers"][payer]["incl_vat"])
            money = field_money(conn, tenant_id, mission_id, due)
            draft["field"] = {
                "paid": wire(money.net_collected),
                "discounted": wire(money.discounted),
                "deferred": wire(money.deferred),
            }
        issued.append(
            _store(conn, tenant_id, draft, key=key, actor=actor, now=now, timezone=timezone)
        )
    return issued, bool(issued)


def _settings(conn: sa.Connection, tenant_id: str) -> dict[str, Any]:
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    return dict(settings or {})


def issue_for_mission(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    *,
    key: PrivateKey,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Invoice the mission's payers for their shares of the server's latest valuation:
    the ordering party (if its share is positive), then the beneficiary (likewise).
    Idempotent: for a valuation already invoiced, the invoices issued then are returned
    and nothing new is issued. Refused (409) for a cancelled mission, without a seller
    identity or a server valuation, or when the mission was invoiced on another
    valuation and those invoices are not fully credited."""
    return issue(conn, tenant_id, mission_id, key=key, actor=actor, now=now)[0]


def on_mission_completed(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    *,
    key: PrivateKey,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The hook ingest calls when a `mission_step` to "closed" is synced: issue the
    invoices, in a savepoint of the push's transaction. Never raises: the entries are
    facts already stored, so a refusal (no seller identity, no server valuation yet…)
    or a failure becomes an `invoicing_pending` anomaly for the office, which can issue
    the invoices later (POST /api/v1/missions/<id>/invoice)."""
    try:
        with conn.begin_nested():
            return issue_for_mission(conn, tenant_id, mission_id, key=key, actor=actor, now=now)
    except Exception as exc:  # a bug here must not refuse the tablet's push
        if isinstance(exc, TowlineError):
            fr, en = exc.message("fr"), exc.message("en")
            code = getattr(exc, "code", "refused")
        else:
            log.exception("invoicing mission %s of %s failed", mission_id, tenant_id)
            fr = "La facturation automatique a échoué ; réessayez depuis le bureau."
            en = "Automatic invoicing failed; try again from the office."
            code = "internal_error"
        open_anomaly(
            conn,
            tenant_id=tenant_id,
            kind="invoicing_pending",
            detail={"code": code, "fr": fr, "en": en},
            now=now,
            mission_id=mission_id,
        )
        return []


# --- credit notes -------------------------------------------------------------------


def credit_note(
    conn: sa.Connection,
    tenant_id: str,
    invoice_number: str,
    *,
    amount: object = None,
    reason: str,
    key: PrivateKey,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A credit note on the invoice: total (`amount` None: all that is not credited yet)
    or partial (`amount` incl. VAT, split across the invoice's VAT rates). Never more
    than what remains un-credited on the invoice; always names it (`corrects`)."""
    if not isinstance(reason, str) or not reason.strip():
        raise Unprocessable(
            "Indiquez le motif de l'avoir.", "Give the credit note's reason.", code="reason_missing"
        )
    invoice = document_row(conn, tenant_id, invoice_number, lock=True)
    if invoice.kind != INVOICE:
        raise Unprocessable(
            f"{invoice_number} est un avoir : seul une facture peut être corrigée par un avoir.",
            f"{invoice_number} is a credit note: only an invoice can be credited.",
            code="not_an_invoice",
        )
    value: int | None = None
    if amount is not None:
        try:
            parsed = parse_amount(amount)
        except (ValueError, TypeError, ArithmeticError):
            parsed = ZERO
        if parsed <= 0:
            raise Unprocessable(
                'Montant de l\'avoir invalide : un montant TTC positif, par exemple "20.00".',
                'Invalid credit note amount: a positive amount incl. VAT, e.g. "20.00".',
                code="amount_invalid",
            )
        value = to_cents(parsed)
    remaining = cents_by_rate(invoice.by_rate)
    for note in conn.execute(
        sa.select(documents.c.by_rate).where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == CREDIT_NOTE,
            documents.c.corrects == invoice_number,
        )
    ).scalars():
        for rate, cells in cents_by_rate(note).items():
            remaining[rate] = [a - b for a, b in zip(remaining[rate], cells, strict=True)]
    left = sum(cells[2] for cells in remaining.values())
    if left <= 0:
        raise Conflict(
            f"La facture {invoice_number} est déjà entièrement annulée par des avoirs.",
            f"Invoice {invoice_number} is already fully credited.",
            code="invoice_fully_credited",
        )
    if value is not None and value > left:
        rest, asked = from_cents(left), from_cents(value)
        raise Conflict(
            f"L'avoir ({format_amount(asked, 'fr')}) dépasse ce qui reste à créditer sur la "
            f"facture {invoice_number} ({format_amount(rest, 'fr')} TTC).",
            f"The credit note ({format_amount(asked, 'en')}) is more than what remains to "
            f"credit on invoice {invoice_number} ({format_amount(rest, 'en')} incl. VAT).",
            code="credit_exceeds_invoice",
        )
    by_rate = wire_rows(credit_rows(remaining, value))
    settings = _settings(conn, tenant_id)
    timezone = timezone_of(settings)
    lines = [
        {
            "code": "AVOIR",
            "kind": "credit",
            "label": {
                "fr": f"Avoir sur la facture {invoice_number} (TVA {row['rate']} %)",
                "en": f"Credit on invoice {invoice_number} (VAT {row['rate']}%)",
            },
            "quantity": "1",
            "unit_price": row["excl_vat"],
            "amount": None,
            "share": row["excl_vat"],
            "price_basis": "excl_vat",
            "rate": row["rate"],
            "excl_vat": row["excl_vat"],
            "vat": row["vat"],
            "incl_vat": row["incl_vat"],
        }
        for row in by_rate
    ]
    mission = conn.execute(
        sa.select(missions.c.document).where(
            missions.c.tenant_id == tenant_id, missions.c.id == invoice.mission_id
        )
    ).scalar_one_or_none()
    plate = ((json.loads(mission) if mission else {}).get("vehicle") or {}).get("plate")
    draft = {
        "kind": CREDIT_NOTE,
        "mission_id": invoice.mission_id,
        "file_number": invoice.file_number,
        "seller": require_seller(conn, tenant_id),  # who issues it now
        "service_date": invoice.service_date,
        "currency": invoice.currency,
        "recipient_kind": invoice.recipient_kind,
        "recipient": invoice.recipient,
        "lines": lines,
        "by_rate": by_rate,
        "corrects": invoice_number,
        "corrects_issue_date": _local_date(invoice.issued_at, timezone),
        "reason": " ".join(reason.split()),
        "vehicle_plate": plate,
    }
    return _store(conn, tenant_id, draft, key=key, actor=actor, now=now, timezone=timezone)
