# mypy: disable-error-code="untyped-decorator"
"""A mission's deposit and payment moment set by hand in the office (docs/customer-debts.md
"Deposits set by hand"): read them (`reconcile`), set them (`manage_missions`). Another
tenant's mission is a 404, like one that does not exist."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import AMOUNT
from server.api.security import current_user, require_user
from server.office import mission_terms
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader, server_private_key

terms_blp = Blueprint(
    "mission_terms", __name__, url_prefix="/api/v1", description="Mission payment terms"
)

DEPOSIT_WHEN = validate.OneOf(list(mission_terms.DEPOSIT_WHEN))
PAY_WHEN = validate.OneOf(list(mission_terms.PAY_WHEN))
MONEY = {"description": 'an amount, e.g. "50.00"'}


class DepositIn(Strict):
    amount = fields.String(
        validate=AMOUNT, metadata={"description": '"0.00" asks for none; omit with exempt'}
    )
    when = fields.String(required=True, validate=DEPOSIT_WHEN)


class TermsIn(Strict):
    deposit = fields.Nested(DepositIn, metadata={"description": "omit to keep it as it is"})
    pays = fields.String(validate=PAY_WHEN, metadata={"description": "omit to keep it as it is"})
    reason = fields.String(
        required=True, validate=validate.Length(min=1, max=mission_terms.REASON_MAX)
    )


class DepositOut(Strict):
    when = fields.String(validate=DEPOSIT_WHEN)
    amount = fields.String(metadata=MONEY)


class Explanation(Strict):
    fr = fields.String()
    en = fields.String()


class DepositInForce(DepositOut):
    source = fields.String(validate=validate.OneOf(["contract", "office"]))
    explanation = fields.Nested(Explanation)


class ContractTerms(Strict):
    deposit = fields.Nested(DepositOut, allow_none=True)
    pays = fields.String(validate=PAY_WHEN)


class OfficeTerms(Strict):
    deposit = fields.Nested(DepositOut, allow_none=True)
    pays = fields.String(allow_none=True, validate=PAY_WHEN)


class InForce(Strict):
    deposit = fields.Nested(DepositInForce)
    pays = fields.String(allow_none=True, validate=PAY_WHEN)
    pays_source = fields.String(validate=validate.OneOf(["contract", "office"]))


class Act(Strict):
    journal_seq = fields.Integer(metadata={"description": "its entry in the server journal"})
    at = fields.String()
    by = fields.String()
    deposit = fields.Nested(DepositOut, allow_none=True)
    pays = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class TermsOut(Strict):
    mission_id = fields.String()
    contract = fields.Nested(
        ContractTerms, allow_none=True, metadata={"description": "null: not valued yet"}
    )
    office = fields.Nested(OfficeTerms)
    in_force = fields.Nested(InForce)
    history = fields.List(fields.Nested(Act))


@terms_blp.route("/missions/<string:mission_id>/payment-terms")
class MissionTerms(MethodView):
    @require_user(Right.RECONCILE)
    @terms_blp.response(200, TermsOut)
    def get(self, mission_id: str) -> dict[str, Any]:
        """The mission's payment terms: the contract's, the office's, those in force."""
        with reader().connect() as conn:
            return mission_terms.terms_of(conn, current_user().tenant_id, mission_id[:64])

    @require_user(Right.MANAGE_MISSIONS)
    @terms_blp.arguments(TermsIn)
    @terms_blp.response(200, TermsOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """Set the mission's deposit, its payment moment, or both, by hand: one signed
        entry of the server journal; the tablet applies it at its next pull and no
        recomputation or sync replaces it."""
        user = current_user()
        deposit = data.get("deposit") or {}
        with engine().begin() as conn:
            return mission_terms.set_terms(
                conn,
                user.tenant_id,
                mission_id[:64],
                deposit_amount=deposit.get("amount"),
                deposit_when=deposit.get("when"),
                pays=data.get("pays"),
                reason=data["reason"],
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
