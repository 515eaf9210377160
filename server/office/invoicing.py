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
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import invoice_render, numbering, office_journal
from server.office.anomalies import open_anomaly
from server.office.seller import require_seller
from server.people.identity import audit
from server.platform import events
from server.platform.errors import Conflict, NotFound, Unprocessable, not_found
from server.platform.tables import (
    decisions,
    documents,
    journal_entries,
    missions,
    ordering_parties,
    tenants,
    valuations,
)
from shared.balance import Deferred, Discounted, fold
from shared.errors import TowlineError
from shared.journal import EntryType
from shared.money import ZERO, format_amount, from_cents, parse_amount, to_cents, wire
from shared.payments import event_from_entry
from shared.signing import PrivateKey
from shared.vat import rate_totals

log = logging.getLogger(__name__)

INVOICE = numbering.INVOICE
CREDIT_NOTE = numbering.CREDIT_NOTE
KINDS = (INVOICE, CREDIT_NOTE)
ORDERING_PARTY = "ordering_party"
BENEFICIARY = "beneficiary"
RECIPIENTS = (ORDERING_PARTY, BENEFICIARY)
JOURNAL_TYPES = {INVOICE: EntryType.INVOICE_ISSUED, CREDIT_NOTE: EntryType.CREDIT_NOTE_ISSUED}
CANCELLED = "cancelled"
MONEY_ENTRIES = ("collection", "reversal", "discount", "deferral")
# What the field recorded on a mission, from the tablets' chains (not the server's own).
TABLET_ENTRY = sa.not_(journal_entries.c.device_id.like(office_journal.PREFIX + "%"))


def timezone_of(settings: Mapping[str, Any] | None) -> str:
    tz = (settings or {}).get("timezone")
    return tz if isinstance(tz, str) and tz else numbering.DEFAULT_TIMEZONE


# --- amounts ------------------------------------------------------------------------


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """`total` cents split in proportion to `weights` (cents, not negative), in whole
    cents by largest remainder: the parts add up to `total` exactly, and each differs
    from its exact share by less than a cent."""
    whole = sum(weights)
    if total == 0:
        return [0] * len(weights)
    if whole <= 0 or any(w < 0 for w in weights) or total < 0:
        raise ValueError(f"cannot split {total} cents by {list(weights)}")
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _rows(by_rate: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    """{rate: [excl, vat, incl] in cents} from `by_rate` rows of strings."""
    return {
        str(r["rate"]): [to_cents(parse_amount(r[k])) for k in ("excl_vat", "vat", "incl_vat")]
        for r in by_rate
    }


def _wire_rows(rows: Mapping[str, Sequence[int]]) -> list[dict[str, str]]:
    return [
        {
            "rate": rate,
            "excl_vat": wire(from_cents(cells[0])),
            "vat": wire(from_cents(cells[1])),
            "incl_vat": wire(from_cents(cells[2])),
        }
        for rate, cells in sorted(rows.items(), key=lambda item: Decimal(item[0]))
        if any(cells)
    ]


def _total(rows: Sequence[Mapping[str, str]]) -> dict[str, str]:
    return {
        key: wire(sum((parse_amount(r[key]) for r in rows), ZERO))
        for key in ("excl_vat", "vat", "incl_vat")
    }


def payer_lines(valuation: Mapping[str, Any], payer: str) -> list[dict[str, Any]]:
    """The payer's lines of a valuation (`Valuation.to_wire()`), each with its share
    excl. VAT, VAT and incl. VAT. The payer's totals per rate are computed on its total
    (shared.vat), never line by line; the lines divide them in proportion to their
    shares (largest remainder), so lines add up to the totals exactly, rate by rate."""
    include_vat = bool(valuation["prices_include_vat"])
    basis = "incl_vat" if include_vat else "excl_vat"
    totals = _rows(valuation["payers"][payer]["by_rate"])
    lines = []
    for line in valuation["lines"]:
        share = parse_amount(line["shares"][payer])
        if share == 0:
            continue
        lines.append(
            {
                "code": line["code"],
                "kind": line["kind"],
                "label": dict(line["label"]),
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "amount": line["amount"],
                "share": wire(share),
                "price_basis": basis,
                "rate": str(line["vat_rate"]),
            }
        )
    for rate, (excl, vat, incl) in totals.items():
        mine = [x for x in lines if Decimal(x["rate"]) == Decimal(rate)]
        weights = [to_cents(parse_amount(x["share"])) for x in mine]
        if sum(weights) != (incl if include_vat else excl):
            raise ValueError(f"the lines at {rate} % do not add up to the payer's total")
        spread = allocate(excl if include_vat else vat, weights)
        for item, weight, part in zip(mine, weights, spread, strict=True):
            line_excl, line_vat = (part, weight - part) if include_vat else (weight, part)
            item["excl_vat"] = wire(from_cents(line_excl))
            item["vat"] = wire(from_cents(line_vat))
            item["incl_vat"] = wire(from_cents(line_excl + line_vat))
    return [x for x in lines if "excl_vat" in x]


# --- reading ------------------------------------------------------------------------


def _document_row(conn: sa.Connection, tenant_id: str, number: str, *, lock: bool = False) -> Any:
    query = sa.select(documents).where(
        documents.c.tenant_id == tenant_id, documents.c.number == number
    )
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise not_found("Document", "Document", number)
    return row


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def to_wire(row: Any) -> dict[str, Any]:
    """A document as the API and the command line show it (without the PDF bytes)."""
    return {
        "number": row.number,
        "kind": row.kind,
        "series": row.series,
        "seq": int(row.seq),
        "mission_id": row.mission_id,
        "file_number": row.file_number,
        "recipient_kind": row.recipient_kind,
        "recipient": row.recipient,
        "seller": row.seller,
        "issued_at": row.issued_at.astimezone(UTC).isoformat(),
        "service_date": row.service_date.isoformat(),
        "currency": row.currency,
        "lines": row.lines,
        "by_rate": row.by_rate,
        "total": {
            "excl_vat": wire(from_cents(int(row.total_excl_cents))),
            "vat": wire(from_cents(int(row.total_vat_cents))),
            "incl_vat": wire(from_cents(int(row.total_incl_cents))),
        },
        "corrects": row.corrects,
        "reason": row.reason,
        "valuation_digest": row.valuation_digest,
        "journal_seq": int(row.journal_seq),
        "pdf_sha256": _sha256(row.pdf),
        "facturx_sha256": _sha256(row.facturx),
        "created_by": row.created_by,
    }


def get_document(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    """One document; a beneficiary's invoice also carries its `balance`."""
    row = _document_row(conn, tenant_id, number)
    out = to_wire(row)
    if row.kind == INVOICE:
        out["credited"] = wire(from_cents(_credited(conn, tenant_id, number)[2]))
        if row.recipient_kind == BENEFICIARY:
            out["balance"] = beneficiary_balance(conn, tenant_id, number)
    return out


def list_documents(
    conn: sa.Connection,
    tenant_id: str,
    *,
    mission_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The tenant's documents in the order they were issued."""
    query = sa.select(documents).where(documents.c.tenant_id == tenant_id)
    if mission_id is not None:
        query = query.where(documents.c.mission_id == mission_id)
    if kind is not None:
        query = query.where(documents.c.kind == kind)
    query = query.order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
    return [to_wire(row) for row in conn.execute(query.limit(limit))]


def document_file(
    conn: sa.Connection, tenant_id: str, number: str, *, facturx: bool = False
) -> bytes:
    """The document's PDF, or its Factur-X PDF (ordering parties' documents only)."""
    row = _document_row(conn, tenant_id, number)
    if not facturx:
        return bytes(row.pdf)
    if row.facturx is None:
        raise NotFound(
            f"Le document {number} n'a pas de version Factur-X : seuls les documents des "
            "donneurs d'ordre en ont une.",
            f"Document {number} has no Factur-X version: only ordering parties' documents "
            "have one.",
            code="no_facturx",
        )
    return bytes(row.facturx)


# --- what the beneficiary paid ------------------------------------------------------


def _credited(conn: sa.Connection, tenant_id: str, invoice_number: str) -> list[int]:
    """[excl, vat, incl] cents of every credit note on the invoice."""
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(documents.c.total_excl_cents), 0),
            sa.func.coalesce(sa.func.sum(documents.c.total_vat_cents), 0),
            sa.func.coalesce(sa.func.sum(documents.c.total_incl_cents), 0),
        ).where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == CREDIT_NOTE,
            documents.c.corrects == invoice_number,
        )
    ).one()
    return [int(row[0]), int(row[1]), int(row[2])]


def field_money(conn: sa.Connection, tenant_id: str, mission_id: str, due: Decimal) -> Any:
    """The mission's money (shared.balance): collections minus reversals, discounts and
    deferrals, from the tablets' stored journal entries, plus the discounts and deferrals
    the office decided that no tablet has recorded yet (or could not: a tablet that
    valued the mission lower sees nothing left to bill later). A decision recorded by a
    tablet cites it as `office:<decision id>` and is counted once."""
    rows = conn.execute(
        sa.select(journal_entries.c.type, journal_entries.c.hash, journal_entries.c.body).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            journal_entries.c.type.in_(MONEY_ENTRIES),
            TABLET_ENTRY,
        )
    )
    events: list[Any] = []
    recorded: set[str] = set()
    for row in rows:
        try:
            payload = json.loads(row.body)["payload"]
            event = event_from_entry(row.type, row.hash, payload)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # an unreadable entry is the anomaly catalogue's business, not money
        if event is not None and event.mission_id == mission_id:
            events.append(event)
            recorded.add(str(payload.get("approval_ref", "")))
    for decided in conn.execute(
        sa.select(decisions.c.id, decisions.c.type, decisions.c.data).where(
            decisions.c.tenant_id == tenant_id,
            decisions.c.mission_id == mission_id,
            decisions.c.type.in_(("discount", "deferral")),
        )
    ):
        ref = f"office:{decided.id}"
        if ref in recorded:
            continue
        data = json.loads(decided.data) if isinstance(decided.data, str) else decided.data
        made = Discounted if decided.type == "discount" else Deferred
        events.append(made(ref, mission_id, parse_amount(data["amount"])))
    return fold(mission_id, due, events)


def beneficiary_balance(conn: sa.Connection, tenant_id: str, invoice_number: str) -> dict[str, Any]:
    """Where a beneficiary's invoice stands, derived (never stored): `paid` is what the
    tablets collected on the mission net of reversals, `discounted` the discounts granted
    on the spot, `deferred` the "bill later" approvals (left to pay), `credited` the
    credit notes on this invoice; `open` = total − paid − discounted − credited (never
    below zero; `overpaid` beyond). Status: "paid" when nothing is open, "partly_paid"
    when something was paid, else "open"."""
    row = _document_row(conn, tenant_id, invoice_number)
    if row.kind != INVOICE or row.recipient_kind != BENEFICIARY:
        raise Unprocessable(
            f"Le document {invoice_number} n'est pas une facture au bénéficiaire.",
            f"Document {invoice_number} is not a beneficiary's invoice.",
            code="not_a_beneficiary_invoice",
        )
    total = from_cents(int(row.total_incl_cents))
    money = field_money(conn, tenant_id, row.mission_id, total)
    credited = from_cents(_credited(conn, tenant_id, invoice_number)[2])
    rest = total - money.net_collected - money.discounted - credited
    open_ = max(rest, ZERO)
    if open_ == 0:
        status = "paid"
    elif money.net_collected > 0:
        status = "partly_paid"
    else:
        status = "open"
    return {
        "number": row.number,
        "total": wire(total),
        "paid": wire(money.net_collected),
        "discounted": wire(money.discounted),
        "deferred": wire(money.deferred),
        "credited": wire(credited),
        "open": wire(open_),
        "overpaid": wire(max(-rest, ZERO)),
        "status": status,
    }


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
    """Number the draft, render it, sign it into the journal, store it, audit it."""
    kind = draft["kind"]
    number = numbering.next_number(conn, tenant_id, kind, now, timezone=timezone)
    document = {
        **draft,
        "number": number.text,
        "series": number.series,
        "seq": number.seq,
        "issued_at": number.issued_at,
        "issue_date": _local_date(number.issued_at, timezone),
        "total": _total(draft["by_rate"]),
    }
    pdf = invoice_render.pdf(document)
    facturx = None
    if document["recipient_kind"] == ORDERING_PARTY:
        facturx = invoice_render.facturx_pdf(pdf, document)
    payload: dict[str, Any] = {
        "number": number.text,
        "kind": kind,
        "mission_id": document["mission_id"],
        "recipient_kind": document["recipient_kind"],
        "recipient": document["recipient"],
        "issued_at": number.issued_at.isoformat(),
        "by_rate": document["by_rate"],
        "total": document["total"],
        "pdf_sha256": _sha256(pdf),
    }
    if kind == CREDIT_NOTE:
        payload["corrects"] = document["corrects"]
        payload["reason"] = document["reason"]
    if facturx is not None:
        payload["facturx_sha256"] = _sha256(facturx)
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
            pdf=pdf,
            facturx=facturx,
            created_by=actor[:64],
        )
    )
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
    stored = _document_row(conn, tenant_id, number.text)
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
    name = customer or (f"Client (véhicule {plate})" if plate else "Client")
    return {"customer": customer, "name": name, "vehicle_plate": plate}


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
        return [to_wire(row) for row in same], False
    open_ = [
        row.number
        for row in invoices
        if _credited(conn, tenant_id, row.number)[2] < int(row.total_incl_cents)
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
            "by_rate": _wire_rows(_rows(body["payers"][payer]["by_rate"])),
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


def _credit_rows(
    remaining: Mapping[str, Sequence[int]], amount: int | None
) -> dict[str, list[int]]:
    """The credit note's [excl, vat, incl] cents per rate: what remains (total), or
    `amount` incl. VAT split across the rates in proportion to what remains of each
    (largest remainder), excl. VAT = round half up (incl. / (1 + rate)), the VAT what is
    left; no cell ever beyond what remains of it."""
    rates = [rate for rate, cells in remaining.items() if cells[2] > 0]
    left = sum(remaining[rate][2] for rate in rates)
    if amount is None or amount == left:
        return {rate: list(remaining[rate]) for rate in rates}
    out = {}
    for rate, incl in zip(rates, allocate(amount, [remaining[r][2] for r in rates]), strict=True):
        excl_left, vat_left, _ = remaining[rate]
        part = rate_totals(Decimal(rate), from_cents(incl), prices_include_vat=True)
        excl = min(to_cents(part.excl), excl_left)
        vat = incl - excl
        if vat > vat_left:
            vat, excl = vat_left, incl - vat_left
        out[rate] = [excl, vat, incl]
    return out


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
    invoice = _document_row(conn, tenant_id, invoice_number, lock=True)
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
    remaining = _rows(invoice.by_rate)
    for note in conn.execute(
        sa.select(documents.c.by_rate).where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == CREDIT_NOTE,
            documents.c.corrects == invoice_number,
        )
    ).scalars():
        for rate, cells in _rows(note).items():
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
    by_rate = _wire_rows(_credit_rows(remaining, value))
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
