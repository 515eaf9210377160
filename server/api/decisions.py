# mypy: disable-error-code="untyped-decorator"
"""Office decisions the tablets apply at their next pull: void a collection (right
`void_collection`; a refund receipt for the customer when no invoice bills them), approve
a discount or a deferral after the fact (`approve_discount`),
unlock a tablet's approval codes (`manage_devices`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import AMOUNT, REASON
from server.api.security import current_user, require_user
from server.office import decisions
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, server_private_key

blp = Blueprint("decisions", __name__, url_prefix="/api/v1", description="Office decisions")


class ReasonIn(Strict):
    reason = fields.String(required=True, validate=REASON)


class ApproveIn(Strict):
    amount = fields.String(
        required=True, validate=AMOUNT, metadata={"description": 'positive, e.g. "20.00"'}
    )
    reason = fields.String(required=True, validate=REASON)


class UnlockIn(Strict):
    mission_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "one mission's codes; none: every mission's"},
    )


class CollectionRefOut(Strict):
    device_id = fields.String()
    seq = fields.Integer()
    hash = fields.String()


class DecisionOut(Strict):
    """The decision as the tablets receive it (`data` of the `decision` change)."""

    id = fields.String()
    type = fields.String(validate=validate.OneOf(decisions.TYPES))
    mission_id = fields.String(allow_none=True)
    driver_id = fields.String(allow_none=True)
    device_id = fields.String()
    collection = fields.Nested(CollectionRefOut)
    method = fields.String(allow_none=True)
    amount = fields.String(allow_none=True)
    reason = fields.String()
    decided_by = fields.String()
    decided_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    refund_receipt = fields.String(
        allow_none=True,
        metadata={
            "description": "a void: the refund receipt issued to the customer (no invoice"
            " bills them), e.g. RR2026-000001; null when an invoice bills them"
        },
    )


@blp.route("/collections/<string:device_id>/<int:seq>/void")
class VoidCollection(MethodView):
    @require_user(Right.VOID_COLLECTION)
    @blp.arguments(ReasonIn)
    @blp.response(201, DecisionOut)
    def post(self, data: dict[str, Any], device_id: str, seq: int) -> dict[str, Any]:
        """Void the collection recorded as entry `seq` of tablet `device_id`; that tablet
        records the reversal at its next sync. Once per collection. Issues a refund
        receipt to the customer (`refund_receipt`, its PDF at
        /refund-receipts/<number>/pdf) when no invoice bills them; when one does, the
        invoice is open again for what is no longer paid (no document is issued)."""
        user = current_user()
        with engine().begin() as conn:
            return decisions.void_collection(
                conn,
                user.tenant_id,
                device_id,
                seq,
                data["reason"].strip(),
                actor=user.id,
                now=now(),
                key=server_private_key(),
            )


def _approve(kind: str, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
    user = current_user()
    with engine().begin() as conn:
        return decisions.approve(
            conn,
            user.tenant_id,
            mission_id,
            kind,
            data["amount"],
            data["reason"].strip(),
            actor=user.id,
            now=now(),
        )


@blp.route("/missions/<string:mission_id>/discount")
class Discount(MethodView):
    @require_user(Right.APPROVE_DISCOUNT)
    @blp.arguments(ApproveIn)
    @blp.response(201, DecisionOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """Grant a discount on the mission; its driver's tablets record it."""
        return _approve(decisions.DISCOUNT, data, mission_id)


@blp.route("/missions/<string:mission_id>/deferral")
class Deferral(MethodView):
    @require_user(Right.APPROVE_DISCOUNT)
    @blp.arguments(ApproveIn)
    @blp.response(201, DecisionOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """Let the mission's beneficiary pay this amount later ("bill later")."""
        return _approve(decisions.DEFERRAL, data, mission_id)


@blp.route("/devices/<string:device_id>/unlock-approvals")
class UnlockApprovals(MethodView):
    @require_user(Right.MANAGE_DEVICES)
    @blp.arguments(UnlockIn)
    @blp.response(201, DecisionOut)
    def post(self, data: dict[str, Any], device_id: str) -> dict[str, Any]:
        """Forget the tablet's wrong approval codes (one mission's, or all); only that
        tablet receives this decision."""
        user = current_user()
        with engine().begin() as conn:
            return decisions.unlock_approvals(
                conn, user.tenant_id, device_id, data["mission_id"], actor=user.id, now=now()
            )
