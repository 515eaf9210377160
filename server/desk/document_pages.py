"""Invoices and credit notes on the desk (right `reconcile`, as in the API): the list
with its filters and totals, one document, and its PDF and Factur-X exactly as issued.

Documents are never edited here: a mistake is corrected by a credit note, which the
anomaly pages issue. Another tenant's number is a 404, like a number that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Response, render_template, request

from server.desk.blueprint import desk, t
from server.desk.session import current, page
from server.desk.times import zone as desk_zone
from server.office import document_files, invoice_render, issued_documents
from server.people.rights import Right
from server.people.tenant_time import day_bounds
from server.platform.tables import documents
from server.platform.web import reader

LIMIT = 200  # rows shown; the totals always cover every matching document
KINDS = {"invoice": ("Facture", "Invoice"), "credit_note": ("Avoir", "Credit note")}
RECIPIENTS = {
    "ordering_party": ("Donneur d'ordre", "Ordering party"),
    "beneficiary": ("Bénéficiaire", "Beneficiary"),
}


@dataclass(frozen=True, slots=True)
class Filters:
    kind: str | None = None
    recipient: str | None = None
    mission: str | None = None
    number: str | None = None
    since: date | None = None
    until: date | None = None

    def query(self) -> dict[str, str]:
        """The filters as they go back into links (empty ones left out)."""
        values = {
            "kind": self.kind,
            "recipient": self.recipient,
            "mission": self.mission,
            "number": self.number,
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
        }
        return {k: v for k, v in values.items() if v}


def _day(text: str, fr: str, en: str, errors: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(t(f"{fr} : date attendue (AAAA-MM-JJ).", f"{en}: a date is expected."))
        return None


def parse_filters(args: Mapping[str, str]) -> tuple[Filters, list[str]]:
    """The filters of the query string, and what is wrong with them (in the user's
    language): an unknown kind or an unreadable date is refused, never guessed."""
    errors: list[str] = []
    kind = args.get("kind", "").strip() or None
    recipient = args.get("recipient", "").strip() or None
    if kind is not None and kind not in KINDS:
        errors.append(t("Type de document inconnu.", "Unknown document type."))
    if recipient is not None and recipient not in RECIPIENTS:
        errors.append(t("Destinataire inconnu.", "Unknown recipient."))
    since = _day(args.get("from", "").strip(), "Du", "From", errors)
    until = _day(args.get("to", "").strip(), "Au", "To", errors)
    if since and until and until < since:
        errors.append(
            t("La date de fin précède la date de début.", "The end date is before the start.")
        )
    found = Filters(
        kind=kind,
        recipient=recipient,
        mission=args.get("mission", "").strip()[:64] or None,
        number=args.get("number", "").strip()[:32] or None,
        since=since,
        until=until,
    )
    return found, errors


def _where(tenant_id: str, filters: Filters) -> list[Any]:
    where: list[Any] = [documents.c.tenant_id == tenant_id]
    if filters.kind:
        where.append(documents.c.kind == filters.kind)
    if filters.recipient:
        where.append(documents.c.recipient_kind == filters.recipient)
    if filters.mission:
        where.append(documents.c.mission_id.contains(filters.mission, autoescape=True))
    if filters.number:
        where.append(documents.c.number.contains(filters.number.upper(), autoescape=True))
    # The tenant's days, as the pages show every moment; "to" includes its whole day.
    if filters.since:
        where.append(documents.c.issued_at >= day_bounds(filters.since, desk_zone())[0])
    if filters.until:
        where.append(documents.c.issued_at < day_bounds(filters.until, desk_zone())[1])
    return where


# The list's own columns: issued_documents.list_documents loads and hashes every PDF and only
# filters by mission and kind; a list of hundreds of rows needs neither.
_COLUMNS = (
    documents.c.number,
    documents.c.kind,
    documents.c.mission_id,
    documents.c.file_number,
    documents.c.recipient_kind,
    documents.c.recipient,
    documents.c.issued_at,
    documents.c.total_excl_cents,
    documents.c.total_vat_cents,
    documents.c.total_incl_cents,
    documents.c.corrects,
    (documents.c.recipient_kind == issued_documents.ORDERING_PARTY).label("has_facturx"),
    document_files.ready_clause().label("ready"),  # its PDF is made (else: being prepared)
)


def find_documents(
    conn: sa.Connection, tenant_id: str, filters: Filters, limit: int = LIMIT
) -> list[Any]:
    """The tenant's matching documents, newest first."""
    query = (
        sa.select(*_COLUMNS)
        .where(*_where(tenant_id, filters))
        .order_by(documents.c.issued_at.desc(), documents.c.series.desc(), documents.c.seq.desc())
        .limit(limit)
    )
    return list(conn.execute(query))


def totals(conn: sa.Connection, tenant_id: str, filters: Filters) -> dict[str, dict[str, int]]:
    """Per kind: count and totals in cents of every matching document, and the net
    (invoices less credit notes, which are stored as positive amounts)."""
    rows = conn.execute(
        sa.select(
            documents.c.kind,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(documents.c.total_excl_cents), 0),
            sa.func.coalesce(sa.func.sum(documents.c.total_vat_cents), 0),
            sa.func.coalesce(sa.func.sum(documents.c.total_incl_cents), 0),
        )
        .where(*_where(tenant_id, filters))
        .group_by(documents.c.kind)
    )
    out = {kind: {"count": 0, "excl": 0, "vat": 0, "incl": 0} for kind in KINDS}
    for kind, count, excl, vat, incl in rows:
        out[kind] = {"count": int(count), "excl": int(excl), "vat": int(vat), "incl": int(incl)}
    invoice, credit = out["invoice"], out["credit_note"]
    out["net"] = {key: invoice[key] - credit[key] for key in ("count", "excl", "vat", "incl")}
    return out


def credit_notes_of(
    conn: sa.Connection, tenant_id: str, numbers: list[str]
) -> dict[str, list[str]]:
    """For each invoice number, the credit notes that correct it, in issue order."""
    if not numbers:
        return {}
    rows = conn.execute(
        sa.select(documents.c.corrects, documents.c.number)
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == issued_documents.CREDIT_NOTE,
            documents.c.corrects.in_(numbers),
        )
        .order_by(documents.c.series, documents.c.seq)
    )
    found: dict[str, list[str]] = {}
    for corrects, number in rows:
        found.setdefault(corrects, []).append(number)
    return found


def labels() -> dict[str, dict[str, str]]:
    return {
        "kinds": {k: t(fr, en) for k, (fr, en) in KINDS.items()},
        "recipients": {k: t(fr, en) for k, (fr, en) in RECIPIENTS.items()},
    }


@desk.route("/documents", endpoint="documents")
@page(Right.RECONCILE)
def documents_list() -> Any:
    filters, errors = parse_filters(request.args)
    tenant_id = current().tenant_id
    rows: list[Any] = []
    sums: dict[str, dict[str, int]] = {}
    corrected: dict[str, list[str]] = {}
    if not errors:
        with reader().connect() as conn:
            rows = find_documents(conn, tenant_id, filters, LIMIT + 1)
            sums = totals(conn, tenant_id, filters)
            corrected = credit_notes_of(
                conn, tenant_id, [r.number for r in rows if r.kind == issued_documents.INVOICE]
            )
    html = render_template(
        "desk/documents.html",
        rows=rows[:LIMIT],
        more=len(rows) > LIMIT,
        limit=LIMIT,
        sums=sums,
        corrected=corrected,
        filters=filters,
        errors=errors,
        **labels(),
    )
    return html, 400 if errors else 200


@desk.route("/documents/<string:number>")
@page(Right.RECONCILE)
def document(number: str) -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        # 404 if not this tenant's; 409 "being prepared" until its PDF is made
        found = issued_documents.shown(conn, tenant_id, number)
        credits = credit_notes_of(conn, tenant_id, [number]).get(number, [])
    return render_template("desk/documents_view.html", doc=found, credits=credits, **labels())


def _file(data: bytes, mimetype: str, name: str) -> Response:
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@desk.route("/documents/<string:number>.pdf")
@page(Right.RECONCILE)
def document_pdf(number: str) -> Response:
    """The PDF as issued: the stored bytes, never a new rendering."""
    with reader().connect() as conn:
        data = issued_documents.document_file(conn, current().tenant_id, number)
    return _file(data, "application/pdf", f"{number}.pdf")


@desk.route("/documents/<string:number>/facturx.pdf")
@page(Right.RECONCILE)
def document_facturx_pdf(number: str) -> Response:
    with reader().connect() as conn:
        data = issued_documents.document_file(conn, current().tenant_id, number, facturx=True)
    return _file(data, "application/pdf", f"{number}-facturx.pdf")


@desk.route("/documents/<string:number>/facturx.xml")
@page(Right.RECONCILE)
def document_facturx(number: str) -> Response:
    """The CII XML the stored Factur-X PDF carries (a beneficiary's document has none: 404)."""
    with reader().connect() as conn:
        data = issued_documents.document_file(conn, current().tenant_id, number, facturx=True)
    return _file(invoice_render.embedded_xml(data), "application/xml", f"{number}-facturx.xml")
