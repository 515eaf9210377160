# mypy: disable-error-code="untyped-decorator"
"""Payments received in the office from beneficiaries (docs/customer-debts.md
"Payments"): record one against one or several invoices, apply its credit, refund it,
read them. Recording, applying and refunding need `record_payments` (a payments-module
right, seed 004); reading needs `reconcile`. Another tenant's payment or invoice is a 404
or a 422, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import AMOUNT
from server.api.security import current_user, require_user
from server.office import customer_debts, office_payments, received_payments
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader, server_private_key

payments_blp = Blueprint(
    "office_payments", __name__, url_prefix="/api/v1", description="Payments received"
)

DAY = validate.Range(min=customer_debts.FIRST_DAY, max=customer_debts.LAST_DAY)
NUMBER = validate.Length(min=1, max=32)
CUSTOMER = validate.Length(min=1, max=160)
MONEY = {"description": 'an amount, e.g. "120.00"'}


class UseOut(Strict):
    line_no = fields.Integer()
    kind = fields.String(validate=validate.OneOf(["invoice", "refund"]))
    invoice = fields.String(allow_none=True)
    amount = fields.String(metadata=MONEY)
    on = fields.String()
    reference = fields.String(allow_none=True)
    at = fields.AwareDateTime()
    by = fields.String()
    journal_seq = fields.Integer()


class PaymentOut(Strict):
    number = fields.String(metadata={"description": "R2026-000001"})
    received_on = fields.String()
    method = fields.String(validate=validate.OneOf(list(office_payments.METHODS)))
    amount = fields.String(metadata=MONEY)
    reference = fields.String(allow_none=True)
    customer = fields.String()
    customer_label = fields.String()
    payer = fields.String()
    note = fields.String(allow_none=True)
    recorded_at = fields.AwareDateTime()
    recorded_by = fields.String()
    journal_seq = fields.Integer(metadata={"description": "its entry in the server journal"})
    uses = fields.List(fields.Nested(UseOut))
    credit = fields.String(metadata={"description": "not used yet: to apply or refund"})


class UseIn(Strict):
    invoice = fields.String(required=True, validate=NUMBER)
    amount = fields.String(
        validate=AMOUNT, metadata={"description": "default: what it owes, within the payment"}
    )


class PaymentIn(Strict):
    amount = fields.String(required=True, validate=AMOUNT, metadata=MONEY)
    method = fields.String(required=True, validate=validate.OneOf(list(office_payments.METHODS)))
    received_on = fields.Date(required=True, validate=DAY)
    reference = fields.String(
        validate=validate.Length(min=1, max=office_payments.REFERENCE_MAX),
        metadata={
            "description": "cheque number, transfer reference, card authorisation…; "
            "required except for cash"
        },
    )
    invoices = fields.List(
        fields.Nested(UseIn),
        load_default=list,
        validate=validate.Length(max=office_payments.MAX_INVOICES),
    )
    customer = fields.String(
        validate=CUSTOMER, metadata={"description": "required without invoices: whose credit"}
    )
    payer = fields.String(validate=validate.Length(min=1, max=200))
    note = fields.String(validate=validate.Length(max=office_payments.NOTE_MAX))
    cash_payer = fields.String(
        validate=validate.OneOf(["resident", "non_resident"]),
        metadata={
            "description": "cash only: resident (tax domicile in France or a business, "
            "limit 1,000 €, the default) or non_resident (a private person, 15,000 €)"
        },
    )


class ApplyIn(Strict):
    invoice = fields.String(required=True, validate=NUMBER)
    amount = fields.String(validate=AMOUNT, metadata={"description": "default: all it can"})


class RefundIn(Strict):
    reference = fields.String(
        required=True, validate=validate.Length(min=1, max=office_payments.REFERENCE_MAX)
    )
    amount = fields.String(validate=AMOUNT, metadata={"description": "default: all the credit"})


class PaymentsQuery(Strict):
    customer = fields.String(validate=CUSTOMER)
    invoice = fields.String(validate=NUMBER)
    with_credit = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


@payments_blp.route("/office-payments")
class Payments(MethodView):
    @require_user(Right.RECONCILE)
    @payments_blp.arguments(PaymentsQuery, location="query")
    @payments_blp.response(200, PaymentOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Payments received in the office, latest first."""
        with reader().connect() as conn:
            return received_payments.list_payments(
                conn,
                current_user().tenant_id,
                customer=query.get("customer"),
                invoice=query.get("invoice"),
                with_credit=query["with_credit"],
                limit=query["limit"],
            )

    @require_user(Right.RECORD_PAYMENTS)
    @payments_blp.arguments(PaymentIn)
    @payments_blp.response(201, PaymentOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Record a payment received in the office against one or several invoices, in
        part or in whole; what they do not owe stays as the customer's credit. One signed
        entry of the server journal."""
        user = current_user()
        uses = office_payments.parse_uses(data["invoices"])
        with engine().begin() as conn:
            return office_payments.record(
                conn,
                user.tenant_id,
                amount=data["amount"],
                method=data["method"],
                received_on=data["received_on"],
                reference=data.get("reference"),
                uses=uses,
                customer=data.get("customer"),
                payer=data.get("payer"),
                note=data.get("note"),
                cash_payer=data.get("cash_payer"),
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )


@payments_blp.route("/office-payments/<string:number>")
class Payment(MethodView):
    @require_user(Right.RECONCILE)
    @payments_blp.response(200, PaymentOut)
    def get(self, number: str) -> dict[str, Any]:
        """One payment: where its money went and the credit left."""
        with reader().connect() as conn:
            return received_payments.get_payment(conn, current_user().tenant_id, number[:32])


@payments_blp.route("/office-payments/<string:number>/apply")
class ApplyCredit(MethodView):
    @require_user(Right.RECORD_PAYMENTS)
    @payments_blp.arguments(ApplyIn)
    @payments_blp.response(200, PaymentOut)
    def post(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Put the payment's credit on an invoice (as much as both allow, or `amount`)."""
        user = current_user()
        with engine().begin() as conn:
            return office_payments.apply_credit(
                conn,
                user.tenant_id,
                number[:32],
                data["invoice"],
                amount=data.get("amount"),
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )


@payments_blp.route("/office-payments/<string:number>/refund")
class Refund(MethodView):
    @require_user(Right.RECORD_PAYMENTS)
    @payments_blp.arguments(RefundIn)
    @payments_blp.response(200, PaymentOut)
    def post(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Pay the payment's credit back (all of it, or `amount`)."""
        user = current_user()
        with engine().begin() as conn:
            return office_payments.refund(
                conn,
                user.tenant_id,
                number[:32],
                reference=data["reference"],
                amount=data.get("amount"),
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
