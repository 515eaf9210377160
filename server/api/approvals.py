# mypy: disable-error-code="untyped-decorator"
"""Manager approval codes for a tablet offline (right `approve_discount`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import AMOUNT
from server.api.security import current_user, require_user
from server.office import approvals
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now

blp = Blueprint("approvals", __name__, url_prefix="/api/v1", description="Manager approval codes")


class ApprovalIn(Strict):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    mission_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(approvals.KINDS))
    amount = fields.String(
        required=True, validate=AMOUNT, metadata={"description": 'positive, e.g. "20.00"'}
    )


class ApprovalOut(Strict):
    code = fields.String(metadata={"description": "10 characters, as the tablet checks it"})
    spoken = fields.String(metadata={"description": "two groups of five, to read out"})
    device_id = fields.String()
    mission_id = fields.String()
    kind = fields.String()
    amount = fields.String()
    issued_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()


@blp.route("/approvals")
class Approvals(MethodView):
    @require_user(Right.APPROVE_DISCOUNT)
    @blp.arguments(ApprovalIn)
    @blp.response(201, ApprovalOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """A code approving a discount or a deferral of this exact amount, on this
        mission, for this tablet only; the manager reads it out (30 minutes)."""
        user = current_user()
        with engine().begin() as conn:
            return approvals.issue(
                conn,
                user.tenant_id,
                data["device_id"],
                data["mission_id"],
                data["kind"],
                data["amount"],
                actor=user.id,
                now=now(),
            )
