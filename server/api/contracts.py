# mypy: disable-error-code="untyped-decorator"
"""Contract versions of the caller's tenant (right `edit_contracts`): publish, list, read."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from server.api.fields import IDENT
from server.api.security import current_user, require_user
from server.office import contracts
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader

blp = Blueprint("contracts", __name__, url_prefix="/api/v1", description="Contracts")


class PublishIn(Strict):
    document = fields.Dict(
        required=True,
        metadata={"description": "a contract document (docs/contracts.md); amounts as strings"},
    )


class ContractOut(Strict):
    id = fields.String()
    version = fields.Integer()
    label = fields.String()
    ordering_party_id = fields.String(allow_none=True)
    digest = fields.String()
    valid_from = fields.String()
    valid_until = fields.String(allow_none=True)
    published_at = fields.AwareDateTime()
    published_by = fields.String()


class ContractDocumentOut(ContractOut):
    document = fields.Dict()


class ListQuery(Strict):
    id = fields.String(validate=IDENT)


@blp.route("/contracts")
class Contracts(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, ContractOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Every published version (of one contract with `?id=`)."""
        with reader().connect() as conn:
            return contracts.list_versions(conn, current_user().tenant_id, query.get("id"))

    @require_user(Right.EDIT_CONTRACTS)
    @blp.arguments(PublishIn)
    @blp.response(201, ContractOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Publish a new contract version; every tablet of the tenant receives it."""
        user = current_user()
        with engine().begin() as conn:
            return contracts.publish(
                conn, user.tenant_id, data["document"], actor=user.id, now=now()
            )


@blp.route("/contracts/<string:contract_id>/versions/<int:version>")
class ContractVersion(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @blp.response(200, ContractDocumentOut)
    def get(self, contract_id: str, version: int) -> dict[str, Any]:
        """One version with its document, as published."""
        with reader().connect() as conn:
            return contracts.get_version(conn, current_user().tenant_id, contract_id, version)
