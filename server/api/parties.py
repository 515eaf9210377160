# mypy: disable-error-code="untyped-decorator"
"""Ordering parties of the caller's tenant (right `edit_contracts`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from server.api.fields import IDENT, NAME
from server.api.security import current_user, require_user
from server.people import ordering_parties as parties
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader

blp = Blueprint("ordering_parties", __name__, url_prefix="/api/v1", description="Ordering parties")


class PartyIn(Strict):
    id = fields.String(required=True, validate=IDENT)
    name = fields.String(required=True, validate=NAME)


class PartyOut(Strict):
    id = fields.String()
    name = fields.String()
    created_at = fields.AwareDateTime()


@blp.route("/ordering-parties")
class Parties(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @blp.response(200, PartyOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The tenant's ordering parties."""
        with reader().connect() as conn:
            return parties.list_parties(conn, current_user().tenant_id)

    @require_user(Right.EDIT_CONTRACTS)
    @blp.arguments(PartyIn)
    @blp.response(201, PartyOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add an ordering party (before publishing its contracts)."""
        user = current_user()
        with engine().begin() as conn:
            return parties.create_party(
                conn, user.tenant_id, data["id"], data["name"], actor=user.id, now=now()
            )
