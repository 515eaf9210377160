# mypy: disable-error-code="untyped-decorator"
"""Invoices and credit notes of the caller's tenant (docs/invoicing.md).

Rights: reading documents and issuing a mission's invoices need `reconcile`; a credit
note needs `issue_credit_note`; the seller's identity is read by any office user and set
with `manage_users` (the administrator's right: it is the company's legal identity).
Another tenant's document is a 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import AMOUNT, NAME, REASON
from server.api.security import current_user, require_user
from server.office import invoicing, issued_documents, seller
from server.people.rights import Right
from server.platform.errors import NotFound
from server.platform.web import Blueprint, Strict, engine, now, reader, server_private_key

blp = Blueprint("documents", __name__, url_prefix="/api/v1", description="Invoices")

NUMBER = "F2026-000001 (invoice) or A2026-000001 (credit note)"
PDF_RESPONSE = {
    "200": {
        "description": "The PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
TEXT = validate.Length(min=1, max=300)


# --- the seller ---------------------------------------------------------------------


class SellerIn(Strict):
    name = fields.String(required=True, validate=NAME)
    address = fields.String(
        required=True, validate=TEXT, metadata={"description": "street; lines split by \\n"}
    )
    postcode = fields.String(required=True, validate=validate.Length(min=1, max=16))
    city = fields.String(required=True, validate=NAME)
    siret = fields.String(required=True, validate=validate.Length(min=1, max=40))
    vat_number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "intra-community VAT number, e.g. FR44732829320"},
    )
    siren = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "optional: the SIRET's first nine digits"},
    )
    country = fields.String(validate=validate.Length(equal=2))
    legal_form = fields.String(validate=TEXT, metadata={"description": "e.g. SAS, SARL"})
    capital = fields.String(validate=AMOUNT, metadata={"description": 'e.g. "10000.00"'})
    rcs_city = fields.String(validate=TEXT, metadata={"description": "e.g. Lyon"})
    email = fields.String(validate=TEXT)
    phone = fields.String(validate=TEXT)


class SellerOut(SellerIn):
    pass


def _without_blanks(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


@blp.route("/tenant/seller")
class Seller(MethodView):
    @require_user()
    @blp.response(200, SellerOut)
    def get(self) -> dict[str, Any]:
        """The seller's identity printed on the tenant's invoices."""
        with reader().connect() as conn:
            found = seller.get_seller(conn, current_user().tenant_id)
        if found is None:
            error = seller.missing()
            raise NotFound(error.text.fr, error.text.en, code=error.code)
        return found

    @require_user(Right.MANAGE_USERS)
    @blp.arguments(SellerIn)
    @blp.response(200, SellerOut)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the seller's identity (checked: SIREN, SIRET and VAT number keys, the SIRET
        starting with the SIREN, the VAT number being that SIREN's). Documents already
        issued keep the identity they were issued with."""
        user = current_user()
        with engine().begin() as conn:
            return seller.set_seller(
                conn, user.tenant_id, _without_blanks(data), actor=user.id, now=now()
            )


# --- documents ----------------------------------------------------------------------


class RateOut(Strict):
    rate = fields.String(metadata={"description": "percent, e.g. 20"})
    excl_vat = fields.String()
    vat = fields.String()
    incl_vat = fields.String()


class TotalOut(Strict):
    excl_vat = fields.String()
    vat = fields.String()
    incl_vat = fields.String()


class LineOut(Strict):
    code = fields.String()
    kind = fields.String()
    label = fields.Dict(metadata={"description": '{"fr": …, "en": …}'})
    quantity = fields.String()
    unit_price = fields.String(metadata={"description": "in the contract's price basis"})
    amount = fields.String(allow_none=True, metadata={"description": "the whole line"})
    share = fields.String(metadata={"description": "this payer's share of the line"})
    price_basis = fields.String(validate=validate.OneOf(["excl_vat", "incl_vat"]))
    rate = fields.String()
    excl_vat = fields.String()
    vat = fields.String()
    incl_vat = fields.String()


class BalanceOut(Strict):
    number = fields.String()
    total = fields.String()
    paid = fields.String(metadata={"description": "collected in the field, net of reversals"})
    discounted = fields.String()
    deferred = fields.String()
    credited = fields.String()
    paid_in_office = fields.String(metadata={"description": "payments received in the office"})
    open = fields.String()
    overpaid = fields.String()
    status = fields.String(validate=validate.OneOf(["paid", "partly_paid", "open"]))


class DocumentOut(Strict):
    number = fields.String(metadata={"description": NUMBER})
    kind = fields.String(validate=validate.OneOf(issued_documents.KINDS))
    series = fields.String()
    seq = fields.Integer()
    mission_id = fields.String()
    file_number = fields.String(allow_none=True)
    recipient_kind = fields.String(validate=validate.OneOf(issued_documents.RECIPIENTS))
    recipient = fields.Dict()
    seller = fields.Dict()
    issued_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    service_date = fields.String(metadata={"description": "the mission's day (call time)"})
    currency = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    by_rate = fields.List(fields.Nested(RateOut))
    total = fields.Nested(TotalOut)
    corrects = fields.String(allow_none=True, metadata={"description": "credit notes"})
    reason = fields.String(allow_none=True)
    valuation_digest = fields.String(allow_none=True)
    journal_seq = fields.Integer(metadata={"description": "its entry in the server journal"})
    pdf_sha256 = fields.String(allow_none=True, metadata={"description": "null while preparing"})
    facturx_sha256 = fields.String(allow_none=True)
    files = fields.String(
        metadata={
            "description": "ready: the PDF is made; preparing: the document is issued and "
            'numbered, its PDF is being made after the commit (docs/invoicing.md "Files")'
        }
    )
    created_by = fields.String()
    credited = fields.String(metadata={"description": "invoices (one document only)"})
    balance = fields.Nested(
        BalanceOut, metadata={"description": "beneficiaries' invoices (one document only)"}
    )


class ListQuery(Strict):
    mission_id = fields.String(validate=validate.Length(min=1, max=64))
    kind = fields.String(validate=validate.OneOf(issued_documents.KINDS))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class CreditNoteIn(Strict):
    amount = fields.String(
        validate=AMOUNT,
        metadata={"description": 'incl. VAT, e.g. "20.00"; left out: all that remains'},
    )
    reason = fields.String(required=True, validate=REASON)


@blp.route("/documents")
class Documents(MethodView):
    @require_user(Right.RECONCILE)
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, DocumentOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The tenant's invoices and credit notes, in the order they were issued, once
        their PDF is made (a document whose PDF is being prepared is listed a moment later)."""
        with reader().connect() as conn:
            return issued_documents.list_documents(
                conn,
                current_user().tenant_id,
                mission_id=query.get("mission_id"),
                kind=query.get("kind"),
                limit=query["limit"],
                ready_only=True,
            )


@blp.route("/documents/<string:number>")
class Document(MethodView):
    @require_user(Right.RECONCILE)
    @blp.response(200, DocumentOut)
    def get(self, number: str) -> dict[str, Any]:
        """One document; a beneficiary's invoice with its balance (paid, open…). 409
        `document_being_prepared` with Retry-After while its PDF is being made."""
        with reader().connect() as conn:
            return issued_documents.shown(conn, current_user().tenant_id, number)


def _pdf(number: str, facturx: bool) -> Response:
    with reader().connect() as conn:
        data = issued_documents.document_file(
            conn, current_user().tenant_id, number, facturx=facturx
        )
    name = f"{number}-facturx.pdf" if facturx else f"{number}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@blp.route("/documents/<string:number>/pdf")
class DocumentPdf(MethodView):
    @require_user(Right.RECONCILE)
    @blp.doc(responses=PDF_RESPONSE)
    def get(self, number: str) -> Response:
        """The document's PDF, as issued; 409 `document_being_prepared` with Retry-After
        while it is being made."""
        return _pdf(number, facturx=False)


@blp.route("/documents/<string:number>/facturx")
class DocumentFacturx(MethodView):
    @require_user(Right.RECONCILE)
    @blp.doc(responses=PDF_RESPONSE)
    def get(self, number: str) -> Response:
        """The Factur-X PDF (EN 16931 CII XML embedded) of an ordering party's document;
        404 `no_facturx` for a beneficiary's."""
        return _pdf(number, facturx=True)


@blp.route("/documents/<string:number>/credit-note")
class CreditNote(MethodView):
    @require_user(Right.ISSUE_CREDIT_NOTE)
    @blp.arguments(CreditNoteIn)
    @blp.response(201, DocumentOut)
    def post(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Issue a credit note on the invoice: total without `amount`, else partial (split
        across its VAT rates). Never more than what remains un-credited."""
        user = current_user()
        with engine().begin() as conn:
            return invoicing.credit_note(
                conn,
                user.tenant_id,
                number,
                amount=data.get("amount"),
                reason=data["reason"],
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )


@blp.route("/missions/<string:mission_id>/invoice")
class MissionInvoice(MethodView):
    @require_user(Right.RECONCILE)
    @blp.response(201, DocumentOut(many=True))
    @blp.alt_response(200, schema=DocumentOut(many=True), description="Already invoiced")
    def post(self, mission_id: str) -> tuple[list[dict[str, Any]], int]:
        """Invoice the mission now from the server's latest valuation: the ordering party
        and the beneficiary, each for its share. Idempotent: for a valuation already
        invoiced, 200 with the invoices issued then."""
        user = current_user()
        with engine().begin() as conn:
            made, new = invoicing.issue(
                conn,
                user.tenant_id,
                mission_id,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
        return made, 201 if new else 200
