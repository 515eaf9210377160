# mypy: disable-error-code="untyped-decorator"
"""Claims, payments back and receivables of the caller's tenant
(docs/claims-and-payments.md).

Rights: everything needs `reconcile`, except setting an ordering party's required
documents, which needs `edit_contracts` (it is part of the party's terms). Another
tenant's claim is a 404, like one that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import IDENT, REASON
from server.api.security import current_user, require_user
from server.parties import (
    claim_documents,
    claim_reading,
    claim_states,
    claims,
    payment_files,
    receivables,
)
from server.parties import payments as payments_in
from server.people.rights import Right
from server.platform.public_ids import FILE_EVENT, Ref
from server.platform.web import Blueprint, Strict, engine, now, reader

claims_blp = Blueprint(
    "claims", __name__, url_prefix="/api/v1", description="Claims and payments back"
)

NUMBER = validate.Length(min=1, max=32)
MONEY = {"description": 'an amount incl. VAT, e.g. "250.00"'}


class ClaimText(Strict):
    fr = fields.String()
    en = fields.String()


class ClaimOut(Strict):
    invoice_number = fields.String()
    party_id = fields.String()
    party_name = fields.String(allow_none=True)
    file_number = fields.String(allow_none=True)
    mission_id = fields.String()
    status = fields.String(validate=validate.OneOf([s.value for s in claim_states.Status]))
    status_label = fields.Nested(ClaimText)
    amount = fields.String(metadata={"description": "the invoice's total incl. VAT"})
    paid = fields.String(metadata={"description": "payments matched to it"})
    credited = fields.String(metadata={"description": "credit notes on the invoice"})
    open = fields.String(metadata={"description": "amount − credited − paid, at least 0"})
    refund_due = fields.String(
        metadata={"description": "paid beyond what is owed after a credit note"}
    )
    rejection = fields.Dict(allow_none=True, metadata={"description": "the last rejection"})
    issued_on = fields.String(metadata={"description": "the invoice's date: ageing starts"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    next_actions = fields.List(fields.String(), metadata={"description": "the office's"})


class DocumentItemOut(Strict):
    kind = fields.String()
    label = fields.Nested(ClaimText)
    present = fields.Boolean()


class LogEntryOut(Strict):
    id = Ref(FILE_EVENT, metadata={"description": "the log entry's ref (not its row id)"})
    source = fields.String()
    event = fields.String()
    message_id = fields.String(allow_none=True)
    state_before = fields.String(allow_none=True)
    state_after = fields.String(allow_none=True)
    detail = fields.Dict()
    at = fields.AwareDateTime()
    actor = fields.String()


class ClaimDetailOut(ClaimOut):
    version = fields.Integer(metadata={"description": "the requirements' version checked"})
    documents = fields.List(fields.Nested(DocumentItemOut))
    missing = fields.List(fields.String())
    log = fields.List(fields.Nested(LogEntryOut), metadata={"description": "the file's log"})


class ClaimsQuery(Strict):
    party_id = fields.String(validate=IDENT)
    status = fields.String(validate=validate.OneOf([s.value for s in claim_states.Status]))
    file_number = fields.String(validate=validate.Length(min=1, max=64))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class RejectIn(Strict):
    reasons = fields.List(
        fields.String(validate=REASON),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "why the ordering party rejected the invoice"},
    )


class RequirementsIn(Strict):
    kinds = fields.List(
        fields.String(validate=validate.Regexp(claim_documents.KIND_PATTERN)),
        required=True,
        validate=validate.Length(max=claim_documents.MAX_KINDS),
        metadata={
            "description": "invoice_pdf, vehicle_photo, signature, handover_report, or any "
            "other attachment kind"
        },
    )


class RequirementsOut(Strict):
    party_id = fields.String()
    version = fields.Integer(metadata={"description": "0: never set (the invoice PDF only)"})
    kinds = fields.List(fields.String())
    set_at = fields.AwareDateTime(allow_none=True)
    set_by = fields.String(allow_none=True)


class ImportIn(Strict):
    source = fields.String(required=True, validate=validate.OneOf(payment_files.SOURCES))
    file_name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    content = fields.String(
        required=True,
        validate=validate.Length(min=1, max=payments_in.MAX_BYTES),
        metadata={"description": "the CSV file's text"},
    )


class PaymentLineOut(Strict):
    line_no = fields.Integer()
    reference = fields.String()
    amount = fields.String()
    outcome = fields.String(validate=validate.OneOf(payments_in.OUTCOMES))
    difference = fields.String(
        allow_none=True,
        metadata={"description": "amount_differs: short (applied) or overpaid (not applied)"},
    )
    invoice_number = fields.String(allow_none=True)


class ImportOut(Strict):
    id = fields.String()
    source = fields.String()
    file_name = fields.String()
    lines = fields.Integer()
    ignored = fields.Integer(metadata={"description": "bank debits, not payments back"})
    matched = fields.Integer()
    amount_differs = fields.Integer()
    unknown_reference = fields.Integer()
    already_paid = fields.Integer()
    applied = fields.String(metadata={"description": "the money applied to claims"})
    claims_paid = fields.List(fields.String())
    mismatches = fields.List(fields.Nested(PaymentLineOut))


class ClaimStateOut(Strict):
    status = fields.String()
    party_id = fields.String()
    amount = fields.String()
    paid = fields.String()
    credited = fields.String()
    open = fields.String()


class MismatchOut(Strict):
    import_id = fields.String()
    file_name = fields.String()
    source = fields.String()
    imported_at = fields.AwareDateTime()
    line_no = fields.Integer()
    paid_on = fields.String()
    reference = fields.String()
    label = fields.String(allow_none=True)
    party_id = fields.String(allow_none=True)
    amount = fields.String()
    outcome = fields.String(validate=validate.OneOf(payments_in.MISMATCHES))
    difference = fields.String(
        allow_none=True,
        metadata={"description": "amount_differs: short (applied) or overpaid (not applied)"},
    )
    applied = fields.String(metadata={"description": "what of the line reached the claim"})
    invoice_number = fields.String(allow_none=True)
    claim = fields.Nested(ClaimStateOut, allow_none=True)


class MismatchQuery(Strict):
    party_id = fields.String(validate=validate.Length(min=1, max=64))
    import_id = fields.String(validate=validate.Length(min=1, max=32))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class ReceivablesQuery(Strict):
    at = fields.Date(metadata={"description": "YYYY-MM-DD; default: today (tenant's time)"})
    party_id = fields.String(validate=IDENT)


class BucketsOut(Strict):
    class Meta(Strict.Meta):
        include = {  # noqa: RUF012 - marshmallow's own
            name: fields.String(metadata=MONEY) for name, _, _ in receivables.BUCKETS
        }


class PartyReceivableOut(Strict):
    party_id = fields.String()
    name = fields.String(allow_none=True)
    claims = fields.Integer()
    oldest_invoice = fields.String()
    buckets = fields.Nested(BucketsOut)
    total = fields.String(metadata=MONEY)


class TotalsOut(Strict):
    claims = fields.Integer()
    buckets = fields.Nested(BucketsOut)
    total = fields.String(metadata=MONEY)


class ReceivablesOut(Strict):
    at = fields.String()
    parties = fields.List(fields.Nested(PartyReceivableOut))
    totals = fields.Nested(TotalsOut)


# --- claims --------------------------------------------------------------------------------


@claims_blp.route("/claims")
class Claims(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.arguments(ClaimsQuery, location="query")
    @claims_blp.response(200, ClaimOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The tenant's claims (invoices to ordering parties), oldest invoice first."""
        with reader().connect() as conn:
            return claim_reading.list_claims(
                conn,
                current_user().tenant_id,
                party_id=query.get("party_id"),
                status=query.get("status"),
                file_number=query.get("file_number"),
                limit=query["limit"],
            )


@claims_blp.route("/claims/<string:number>")
class Claim(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, ClaimDetailOut)
    def get(self, number: str) -> dict[str, Any]:
        """One claim: its money, the documents its party requires (present or missing)
        and its file's log."""
        with reader().connect() as conn:
            return claim_reading.get_claim(conn, current_user().tenant_id, number)


def _act(
    number: str, action: claim_states.Action, reasons: list[str] | None = None
) -> dict[str, Any]:
    user = current_user()
    with engine().begin() as conn:
        return claims.act(
            conn, user.tenant_id, number, action, actor=user.id, now=now(), reasons=reasons
        )


@claims_blp.route("/claims/<string:number>/create")
class ClaimCreate(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, ClaimDetailOut)
    def post(self, number: str) -> dict[str, Any]:
        """Create the claim (`to_create` → `created`)."""
        return _act(number, claim_states.Action.CREATE)


@claims_blp.route("/claims/<string:number>/attach-check")
class ClaimAttachCheck(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, ClaimDetailOut)
    def post(self, number: str) -> dict[str, Any]:
        """Check that every document the party requires is there (`created` →
        `documents_attached`); 409 `documents_missing` names each one missing."""
        return _act(number, claim_states.Action.ATTACH_CHECK)


@claims_blp.route("/claims/<string:number>/submit")
class ClaimSubmit(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, ClaimDetailOut)
    def post(self, number: str) -> dict[str, Any]:
        """Submit the claim: the invoice is sent (`to_validate`; the file records it as
        sent). 409 `documents_missing` while a required document is missing."""
        return _act(number, claim_states.Action.SUBMIT)


@claims_blp.route("/claims/<string:number>/validate")
class ClaimValidate(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, ClaimDetailOut)
    def post(self, number: str) -> dict[str, Any]:
        """Record that the ordering party validated the invoice (by its portal, on the
        phone); its own message does the same through the messages."""
        return _act(number, claim_states.Action.VALIDATE)


@claims_blp.route("/claims/<string:number>/reject")
class ClaimReject(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.arguments(RejectIn)
    @claims_blp.response(200, ClaimDetailOut)
    def post(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Record that the ordering party rejected the invoice, with its reasons."""
        return _act(number, claim_states.Action.REJECT, data["reasons"])


@claims_blp.route("/claims/<string:number>/resubmit")
class ClaimResubmit(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, ClaimDetailOut)
    def post(self, number: str) -> dict[str, Any]:
        """Submit a corrected claim again after a rejection (`to_validate`)."""
        return _act(number, claim_states.Action.RESUBMIT)


@claims_blp.route("/ordering-parties/<string:party_id>/claim-requirements")
class Requirements(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.response(200, RequirementsOut)
    def get(self, party_id: str) -> dict[str, Any]:
        """The documents the ordering party requires with a claim (latest version)."""
        with reader().connect() as conn:
            tenant = current_user().tenant_id
            claim_documents.require_party(conn, tenant, party_id)
            return claim_documents.requirements(conn, tenant, party_id)

    @require_user(Right.EDIT_CONTRACTS)
    @claims_blp.arguments(RequirementsIn)
    @claims_blp.response(200, RequirementsOut)
    def put(self, data: dict[str, Any], party_id: str) -> dict[str, Any]:
        """A new version of the documents the party requires (the same list adds none)."""
        user = current_user()
        with engine().begin() as conn:
            return claim_documents.set_requirements(
                conn, user.tenant_id, party_id, data["kinds"], actor=user.id, now=now()
            )


# --- payments back -------------------------------------------------------------------------


@claims_blp.route("/payments/import")
class PaymentsImport(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.arguments(ImportIn)
    @claims_blp.response(201, ImportOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Import a CSV of payment advices (`advice`: reference, amount, date[, party]) or
        bank statement lines (`bank`: date, label, amount) and match each line to a claim.
        422 with every unreadable line named; 409 `payment_file_already_imported`."""
        user = current_user()
        with engine().begin() as conn:
            return payments_in.import_file(
                conn,
                user.tenant_id,
                data["source"],
                data["file_name"],
                data["content"].encode("utf-8", "surrogatepass"),  # a lone surrogate: not UTF-8
                actor=user.id,
                now=now(),
            )


@claims_blp.route("/payments/mismatches")
class PaymentMismatches(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.arguments(MismatchQuery, location="query")
    @claims_blp.response(200, MismatchOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Imported payment lines that did not simply pay their claim (partial or too
        much, unknown reference, already paid), with where the claim stands now."""
        with reader().connect() as conn:
            return payments_in.mismatches(
                conn,
                current_user().tenant_id,
                party_id=query.get("party_id"),
                import_id=query.get("import_id"),
                limit=query["limit"],
            )


@claims_blp.route("/receivables")
class Receivables(MethodView):
    @require_user(Right.RECONCILE)
    @claims_blp.arguments(ReceivablesQuery, location="query")
    @claims_blp.response(200, ReceivablesOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """What each ordering party still owes, aged by invoice date in 0–30, 31–60,
        61–90 and over 90 days at `at` (today by default), with totals."""
        tenant = current_user().tenant_id
        with reader().connect() as conn:
            at: date = query.get("at") or receivables.local_today(conn, tenant, now())
            return receivables.receivables(conn, tenant, at, party_id=query.get("party_id"))
