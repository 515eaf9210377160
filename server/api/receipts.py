# mypy: disable-error-code="untyped-decorator"
"""The receipts drivers handed out on the spot, as the server makes them again from the
tablets' signed entries (docs/field-client.md "The receipt at the scene"); and the refund
receipts the office issued when it voided a collection no invoice bills (docs/collection.md
"Voiding a collection").

Right `reconcile`, like the invoices. Another tenant's receipt is a 404, like one that
does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.security import current_user, require_user
from server.office import receipt_render, receipts, refund_receipts
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, reader

receipts_blp = Blueprint(
    "receipts", __name__, url_prefix="/api/v1", description="Receipts handed out on site"
)

PDF_RESPONSE = {
    "200": {
        "description": "The PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ReceiptOut(Strict):
    receipt = fields.String(metadata={"description": "series and number, e.g. dev_3f…-000012"})
    device_id = fields.String(metadata={"description": "the tablet: one gapless series each"})
    number = fields.Integer()
    seq = fields.Integer(metadata={"description": "the collection entry in that journal"})
    at = fields.String(metadata={"description": "as the tablet's clock said, UTC"})
    method = fields.String()
    amount = fields.String()
    driver_id = fields.String(allow_none=True)


class ReceiptDetailOut(Strict):
    receipt = fields.String()
    number = fields.Integer()
    series = fields.String(metadata={"description": "the tablet's device id"})
    written_at = fields.String(metadata={"description": "ISO 8601, the tenant's local time"})
    mission_id = fields.String()
    file_number = fields.String(allow_none=True)
    plate = fields.String(allow_none=True)
    service_day = fields.String()
    place = fields.String(allow_none=True)
    seller = fields.Dict(
        allow_none=True, metadata={"description": "the identity the tablet printed"}
    )
    seller_note = fields.Dict(
        allow_none=True,
        metadata={"description": "{fr, en} when that identity is unknown: today's is shown"},
    )
    beneficiary = fields.Dict(allow_none=True, metadata={"description": "who paid, as known then"})
    method = fields.String()
    amount = fields.String()
    evidence = fields.Dict()
    settled_before = fields.String()
    remaining_after = fields.String()
    payers = fields.Dict(metadata={"description": "excl_vat, vat, incl_vat per payer and total"})
    note_required = fields.Boolean(metadata={"description": "a service of 25 € TTC or more"})


class LangQuery(Strict):
    lang = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))


@receipts_blp.route("/missions/<string:mission_id>/receipts")
class MissionReceipts(MethodView):
    @require_user(Right.RECONCILE)
    @receipts_blp.response(200, ReceiptOut(many=True))
    def get(self, mission_id: str) -> list[dict[str, Any]]:
        """The receipts handed out on the mission, tablet by tablet, in number order."""
        with reader().connect() as conn:
            found = receipts.of_mission(conn, current_user().tenant_id, mission_id)
        return [r.to_json() for r in found]


@receipts_blp.route("/receipts/<string:device_id>/<int:number>")
class OneReceipt(MethodView):
    @require_user(Right.RECONCILE)
    @receipts_blp.arguments(LangQuery, location="query")
    @receipts_blp.response(200, ReceiptDetailOut)
    def get(self, query: dict[str, Any], device_id: str, number: int) -> dict[str, Any]:
        """One receipt, as the customer was given it: number, company, customer, service,
        who pays what, the amount and method received."""
        with reader().connect() as conn:
            return receipts.receipt(conn, current_user().tenant_id, device_id, number).to_json()


@receipts_blp.route("/receipts/<string:device_id>/<int:number>/pdf")
class ReceiptPdf(MethodView):
    @require_user(Right.RECONCILE)
    @receipts_blp.arguments(LangQuery, location="query")
    @receipts_blp.doc(responses=PDF_RESPONSE)
    def get(self, query: dict[str, Any], device_id: str, number: int) -> Response:
        """The receipt's PDF (`?lang=en` for English)."""
        with reader().connect() as conn:
            made = receipts.receipt(conn, current_user().tenant_id, device_id, number)
        return Response(
            receipt_render.pdf(made, query["lang"]),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="recu-{made.ident}.pdf"'},
        )


class RefundReceiptOut(Strict):
    number = fields.String(metadata={"description": "gapless per tenant and year: RR2026-000001"})
    issued_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    mission_id = fields.String(allow_none=True)
    decision = fields.String(metadata={"description": "the void_collection decision"})
    collection = fields.Dict(metadata={"description": "the voided entry: device_id, seq, hash"})
    receipt_number = fields.Integer(
        allow_none=True, metadata={"description": "the roadside receipt refunded, in its series"}
    )
    method = fields.String(allow_none=True)
    amount = fields.String(metadata={"description": 'refunded, e.g. "96.00"'})
    reason = fields.String(allow_none=True)
    payer = fields.Dict(allow_none=True, metadata={"description": "as the roadside receipt had"})
    journal_seq = fields.Integer(metadata={"description": "its entry in the server journal"})


@receipts_blp.route("/missions/<string:mission_id>/refund-receipts")
class MissionRefundReceipts(MethodView):
    @require_user(Right.RECONCILE)
    @receipts_blp.response(200, RefundReceiptOut(many=True))
    def get(self, mission_id: str) -> list[dict[str, Any]]:
        """The refund receipts the office issued on the mission, in the order issued."""
        with reader().connect() as conn:
            return refund_receipts.of_mission(conn, current_user().tenant_id, mission_id)


@receipts_blp.route("/refund-receipts/<string(maxlength=40):number>")
class OneRefundReceipt(MethodView):
    @require_user(Right.RECONCILE)
    @receipts_blp.response(200, RefundReceiptOut)
    def get(self, number: str) -> dict[str, Any]:
        """One refund receipt (404 when the company has none by that number)."""
        with reader().connect() as conn:
            return refund_receipts.get(conn, current_user().tenant_id, number)


@receipts_blp.route("/refund-receipts/<string(maxlength=40):number>/pdf")
class RefundReceiptPdf(MethodView):
    @require_user(Right.RECONCILE)
    @receipts_blp.arguments(LangQuery, location="query")
    @receipts_blp.doc(responses=PDF_RESPONSE)
    def get(self, query: dict[str, Any], number: str) -> Response:
        """The refund receipt's PDF (`?lang=en` for English)."""
        with reader().connect() as conn:
            made = refund_receipts.pdf_of(conn, current_user().tenant_id, number, query["lang"])
        return Response(
            made,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
        )
