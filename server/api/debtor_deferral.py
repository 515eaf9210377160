# mypy: disable-error-code="untyped-decorator"
"""`/api/v1/debtor-deferral`: whether "bill later" is allowed for a customer who still
owes money (server.office.debtor_deferral; docs/customer-debts.md "Bill later for a
debtor")."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.security import current_user, require_user
from server.office import debtor_deferral
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader

deferral_blp = Blueprint(
    "debtor_deferral",
    __name__,
    url_prefix="/api/v1",
    description='"Bill later" for a customer who owes money',
)


class ChoiceIO(Strict):
    # Checked by the office module, which names both choices in French and English.
    debtor_deferral = fields.String(
        required=True,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "warn (allowed, with a warning) or block (refused)"},
    )
    version = fields.Integer(dump_only=True, allow_none=True)


@deferral_blp.route("/debtor-deferral")
class Choice(MethodView):
    @require_user(Right.RECONCILE)
    @deferral_blp.response(200, ChoiceIO)
    def get(self) -> dict[str, Any]:
        """The choice in force (version null: the default, warn)."""
        with reader().connect() as conn:
            return debtor_deferral.to_wire(conn, current_user().tenant_id)

    @require_user(Right.EDIT_CONTRACTS)
    @deferral_blp.arguments(ChoiceIO)
    @deferral_blp.response(200, ChoiceIO)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the choice: a new version when it changes, announced to every tablet."""
        user = current_user()
        with engine().begin() as conn:
            return debtor_deferral.set_choice(
                conn, user.tenant_id, data["debtor_deferral"], actor=user.id, now=now()
            )
