# mypy: disable-error-code="untyped-decorator"
"""Money owed by beneficiaries (docs/customer-debts.md): the ageing, a customer's
account, reminders, the payment terms (payments received in the office:
`server.api.office_payments`).

Rights: reading needs `reconcile`; recording a payment, applying a credit and refunding
need `record_payments` (a payments-module right, seed 004); sending reminders needs
`reconcile`; the payment terms are set with `edit_contracts` (the company's terms, like an
ordering party's required documents). Another tenant's invoice, payment or customer is
a 404 or a 422, like one that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.office_payments import ApplyIn, PaymentOut, RefundIn
from server.api.security import current_user, require_user
from server.office import customer_debts, debt_terms, invoice_balances, office_payments, reminders
from server.people.rights import Right
from server.platform.errors import not_found
from server.platform.web import Blueprint, Strict, engine, now, reader, server_private_key

debts_blp = Blueprint(
    "debts", __name__, url_prefix="/api/v1", description="Money owed by beneficiaries"
)

DAY = validate.Range(min=customer_debts.FIRST_DAY, max=customer_debts.LAST_DAY)
NUMBER = validate.Length(min=1, max=32)
CUSTOMER = validate.Length(min=1, max=160)
MONEY = {"description": 'an amount, e.g. "120.00"'}
PDF_RESPONSE = {
    "200": {
        "description": "The PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _today() -> date:
    with reader().connect() as conn:
        zone = invoice_balances.tenant_zone(conn, current_user().tenant_id)
    return invoice_balances.local_day(now(), zone)


class AtQuery(Strict):
    at = fields.Date(validate=DAY, metadata={"description": "YYYY-MM-DD; default: today"})


class Buckets(Strict):
    class Meta(Strict.Meta):
        include = {  # noqa: RUF012 - marshmallow's own
            name: fields.String(metadata=MONEY) for name in customer_debts.BUCKET_NAMES
        }


class CustomerAgeOut(Strict):
    customer = fields.String(metadata={"description": "the customer's key"})
    customer_label = fields.String()
    name = fields.String()
    invoices = fields.Integer()
    oldest_due = fields.String(allow_none=True)
    buckets = fields.Nested(Buckets)
    total = fields.String(metadata=MONEY)
    credit = fields.String(
        metadata={"description": "payments not used yet, and invoices overpaid on site: to refund"}
    )


class AgeTotalsOut(Strict):
    invoices = fields.Integer()
    buckets = fields.Nested(Buckets)
    total = fields.String(metadata=MONEY)
    credit = fields.String(metadata=MONEY)


class AgeingOut(Strict):
    at = fields.String()
    customers = fields.List(fields.Nested(CustomerAgeOut))
    totals = fields.Nested(AgeTotalsOut)


class InvoiceOut(Strict):
    number = fields.String()
    mission_id = fields.String()
    customer = fields.String()
    customer_label = fields.String()
    name = fields.String()
    vehicle_plate = fields.String(allow_none=True)
    issued_on = fields.String()
    due_on = fields.String()
    total = fields.String(metadata=MONEY)
    paid = fields.String(metadata={"description": "collected on site, net of reversals"})
    paid_in_office = fields.String(metadata=MONEY)
    discounted = fields.String(metadata=MONEY)
    deferred = fields.String(metadata={"description": "billed later on site: still open"})
    credited = fields.String(metadata=MONEY)
    open = fields.String(metadata=MONEY)
    overpaid = fields.String(metadata=MONEY)
    voided_pending = fields.String(
        metadata={"description": "collections voided by the office, not reversed by a tablet yet"}
    )
    overpaid_refunded = fields.String(metadata={"description": "refunded of the overpayment"})
    credit = fields.String(
        metadata={"description": "the customer's credit the overpayment still holds"}
    )
    status = fields.String(validate=validate.OneOf(["paid", "partly_paid", "open"]))
    days_late = fields.Integer()
    bucket = fields.String()


class OverpaymentRefundOut(Strict):
    act = fields.String()
    invoice = fields.String()
    customer = fields.String()
    amount = fields.String(metadata=MONEY)
    on = fields.String()
    reference = fields.String()
    journal_seq = fields.Integer(metadata={"description": "its server journal entry"})
    balance = fields.Nested(InvoiceOut, metadata={"description": "the invoice after it"})


class OverpaymentAppliedOut(Strict):
    act = fields.String()
    invoice = fields.String(metadata={"description": "the overpaid invoice"})
    to = fields.String(metadata={"description": "the invoice the credit went on"})
    customer = fields.String()
    amount = fields.String(metadata=MONEY)
    on = fields.String()
    journal_seq = fields.Integer(metadata={"description": "its server journal entry"})
    balance = fields.Nested(InvoiceOut, metadata={"description": "the overpaid invoice after it"})
    to_balance = fields.Nested(InvoiceOut, metadata={"description": "the invoice paid, after it"})


class ReminderOut(Strict):
    invoice = fields.String()
    level = fields.Integer()
    lang = fields.String()
    customer = fields.String()
    customer_label = fields.String()
    sent_on = fields.String()
    open = fields.String(metadata=MONEY)
    sent_by = fields.String()
    sent_at = fields.AwareDateTime()
    title = fields.String()
    name = fields.String()


class HistoryOut(Strict):
    on = fields.String()
    event = fields.String()
    ref = fields.String()
    amount = fields.String(metadata=MONEY)
    invoice = fields.String(allow_none=True)
    method = fields.String()
    reference = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    level = fields.Integer()


class AccountTermsOut(Strict):
    payment_days = fields.Integer()
    letter_lang = fields.String()
    version = fields.Integer()


class AccountTotalsOut(Strict):
    billed = fields.String(metadata=MONEY)
    credited = fields.String(metadata=MONEY)
    paid = fields.String(metadata=MONEY)
    open = fields.String(metadata=MONEY)
    credit = fields.String(metadata=MONEY)


class AccountOut(Strict):
    customer = fields.String()
    customer_label = fields.String()
    name = fields.String()
    at = fields.String()
    terms = fields.Nested(AccountTermsOut)
    invoices = fields.List(fields.Nested(InvoiceOut))
    payments = fields.List(fields.Nested(PaymentOut))
    reminders = fields.List(fields.Nested(ReminderOut))
    history = fields.List(fields.Nested(HistoryOut))
    totals = fields.Nested(AccountTotalsOut)


class OpenQuery(Strict):
    at = fields.Date(validate=DAY, metadata={"description": "YYYY-MM-DD; default: today"})
    customer = fields.String(validate=CUSTOMER)


class SendIn(Strict):
    at = fields.Date(validate=DAY, metadata={"description": "default: today"})
    invoices = fields.List(
        fields.String(validate=NUMBER),
        validate=validate.Length(min=1, max=500),
        metadata={"description": "only these (each must be due); default: every letter due"},
    )
    lang = fields.String(
        validate=validate.OneOf(["fr", "en"]), metadata={"description": "default: the customer's"}
    )


class TermsIO(Strict):
    version = fields.Integer(dump_only=True)
    payment_days = fields.Integer(validate=validate.Range(min=0, max=debt_terms.MAX_DAYS))
    customers = fields.Dict(
        keys=fields.String(validate=CUSTOMER),
        values=fields.Integer(validate=validate.Range(min=0, max=debt_terms.MAX_DAYS)),
    )
    reminder_days = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=debt_terms.MAX_DAYS)),
        validate=validate.Length(min=1, max=debt_terms.MAX_REMINDERS),
    )
    letter_lang = fields.String(validate=validate.OneOf(["fr", "en"]))
    languages = fields.Dict(
        keys=fields.String(validate=CUSTOMER),
        values=fields.String(validate=validate.OneOf(["fr", "en"])),
    )


# --- reading ------------------------------------------------------------------------


@debts_blp.route("/customer-debts")
class Ageing(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.arguments(AtQuery, location="query")
    @debts_blp.response(200, AgeingOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Per customer, what is open by days past the due date (not due, 0–30, 31–60,
        61–90, over 90), with the credit each holds."""
        at = query.get("at") or _today()
        with reader().connect() as conn:
            return customer_debts.ageing(conn, current_user().tenant_id, at)


@debts_blp.route("/customer-debts/invoices")
class OpenInvoices(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.arguments(OpenQuery, location="query")
    @debts_blp.response(200, InvoiceOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The beneficiary invoices still open at a date, oldest first."""
        at = query.get("at") or _today()
        with reader().connect() as conn:
            found = customer_debts.open_invoices(
                conn, current_user().tenant_id, at, customer=query.get("customer")
            )
        return [
            {
                **b.to_wire(),
                "days_late": b.days_late(at),
                "bucket": customer_debts.bucket_of(b.days_late(at)),
            }
            for b in found
        ]


@debts_blp.route("/customers/<string:customer>/account")
class Account(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.arguments(AtQuery, location="query")
    @debts_blp.response(200, AccountOut)
    def get(self, query: dict[str, Any], customer: str) -> dict[str, Any]:
        """A customer's invoices, payments, credit and reminders, and its history."""
        at = query.get("at") or _today()
        with reader().connect() as conn:
            return customer_debts.account(conn, current_user().tenant_id, customer[:160], at)


@debts_blp.route("/customer-debts/invoices/<string:number>/refund")
class RefundOverpayment(MethodView):
    @require_user(Right.RECORD_PAYMENTS)
    @debts_blp.arguments(RefundIn)
    @debts_blp.response(200, OverpaymentRefundOut)
    def post(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Pay back the credit an invoice overpaid on site holds (all of it, or
        `amount`): one signed `office_payment` entry, act `overpayment_refunded`."""
        user = current_user()
        with engine().begin() as conn:
            return office_payments.refund_overpayment(
                conn,
                user.tenant_id,
                number[:32],
                reference=data["reference"],
                amount=data.get("amount"),
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )


@debts_blp.route("/customer-debts/invoices/<string:number>/apply")
class ApplyOverpayment(MethodView):
    @require_user(Right.RECORD_PAYMENTS)
    @debts_blp.arguments(ApplyIn)
    @debts_blp.response(200, OverpaymentAppliedOut)
    def post(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Put the credit an invoice overpaid on site holds on another open invoice of the
        same customer (`amount`, or as much as both allow): one signed `office_payment`
        entry, act `overpayment_applied`."""
        user = current_user()
        with engine().begin() as conn:
            return office_payments.apply_overpayment(
                conn,
                user.tenant_id,
                number[:32],
                data["invoice"],
                amount=data.get("amount"),
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )


# --- reminders ------------------------------------------------------------------------


@debts_blp.route("/reminders")
class Reminders(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.response(200, ReminderOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The reminder letters sent, latest first."""
        with reader().connect() as conn:
            return reminders.sent(conn, current_user().tenant_id)

    @require_user(Right.RECONCILE)
    @debts_blp.arguments(SendIn)
    @debts_blp.response(201, ReminderOut(many=True))
    def post(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Make the letters due (or those of `invoices`, each of which must be due): one
        PDF per invoice, at its next level, kept on the customer's history."""
        user = current_user()
        at = data.get("at") or _today()
        with engine().begin() as conn:
            return reminders.send(
                conn,
                user.tenant_id,
                at,
                invoices=data.get("invoices"),
                lang=data.get("lang"),
                actor=user.id,
                now=now(),
            )


@debts_blp.route("/reminders/due")
class RemindersDue(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.arguments(AtQuery, location="query")
    @debts_blp.response(200, InvoiceOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The open invoices late enough for their next letter."""
        at = query.get("at") or _today()
        with reader().connect() as conn:
            found = reminders.due(conn, current_user().tenant_id, at)
        keep = set(InvoiceOut().fields)
        return [{k: v for k, v in d.items() if k in keep} for d in found]


@debts_blp.route("/reminders/<string:invoice>/<int:level>/pdf")
class ReminderPdf(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.doc(responses=PDF_RESPONSE)
    def get(self, invoice: str, level: int) -> Response:
        """A letter sent, as it was made."""
        if not 0 < level <= debt_terms.MAX_REMINDERS:
            raise not_found("Relance", "Reminder", f"{invoice[:32]} n° {level}")
        with reader().connect() as conn:
            data = reminders.letter(conn, current_user().tenant_id, invoice[:32], level)
        return Response(
            data,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="relance-{invoice}-{level}.pdf"'},
        )


# --- terms ------------------------------------------------------------------------------


@debts_blp.route("/debt-terms")
class Terms(MethodView):
    @require_user(Right.RECONCILE)
    @debts_blp.response(200, TermsIO)
    def get(self) -> dict[str, Any]:
        """Payment terms and reminder delays in force (version 0: the defaults)."""
        with reader().connect() as conn:
            return debt_terms.to_wire(debt_terms.current(conn, current_user().tenant_id))

    @require_user(Right.EDIT_CONTRACTS)
    @debts_blp.arguments(TermsIO)
    @debts_blp.response(200, TermsIO)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the terms: a new version (the same terms again add none); a field left
        out takes its default."""
        user = current_user()
        with engine().begin() as conn:
            made = debt_terms.set_terms(conn, user.tenant_id, data, actor=user.id, now=now())
        return debt_terms.to_wire(made)
