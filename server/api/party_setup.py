# mypy: disable-error-code="untyped-decorator"
"""The office's side of an ordering party's link (docs/orders.md), called with a user
token: the API keys its system calls with (right `manage_party_keys`), and its cleaning
rules, their versions and their replay on its open files (right `edit_contracts`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from server.api.fields import NAME
from server.api.security import current_user, require_user
from server.parties import api_keys as party_keys
from server.parties import cleaning as cleaning_store
from server.parties import replay
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader

setup_blp = Blueprint(
    "party_setup",
    __name__,
    url_prefix="/api/v1",
    description="Orders in: ordering parties' API keys and cleaning rules",
)
# Listed under the "orders" tag of the OpenAPI document, as when they were in server.api.orders.
TAGS = ["orders"]


# --- schemas ------------------------------------------------------------------------------


class KeyIn(Strict):
    label = fields.String(required=True, validate=NAME)


class KeyOut(Strict):
    id = fields.String()
    party_id = fields.String()
    label = fields.String()
    created_at = fields.AwareDateTime()
    created_by = fields.String()
    revoked_at = fields.AwareDateTime(allow_none=True)
    revoked_by = fields.String(allow_none=True)


class KeyCreatedOut(KeyOut):
    key = fields.String(metadata={"description": "<id>.<secret>: shown this once only"})


class RulesIn(Strict):
    document = fields.Dict(
        required=True,
        metadata={
            "description": "a cleaning rule set (docs/cleaning-rules.md); `version` "
            "and `party` may be left out"
        },
    )


class RulesOut(Strict):
    party_id = fields.String()
    version = fields.Integer()
    digest = fields.String()
    rules = fields.Integer(metadata={"description": "how many rules"})
    published_at = fields.AwareDateTime()
    published_by = fields.String()


class RulesDocumentOut(RulesOut):
    document = fields.Dict()


class ReplayIn(Strict):
    dry_run = fields.Boolean(load_default=False)


class ReplayOut(Strict):
    party_id = fields.String()
    version = fields.Integer()
    digest = fields.String()
    dry_run = fields.Boolean()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    files = fields.List(fields.Dict())


# --- the office: API keys, cleaning rules ---------------------------------------------------


@setup_blp.route("/parties/<string:party_id>/api-keys", tags=TAGS)
class PartyKeys(MethodView):
    @require_user(Right.MANAGE_PARTY_KEYS)
    @setup_blp.response(200, KeyOut(many=True))
    def get(self, party_id: str) -> list[dict[str, Any]]:
        """The party's API keys (never their secrets), newest first."""
        with reader().connect() as conn:
            return party_keys.list_keys(conn, current_user().tenant_id, party_id)

    @require_user(Right.MANAGE_PARTY_KEYS)
    @setup_blp.arguments(KeyIn)
    @setup_blp.response(201, KeyCreatedOut)
    def post(self, data: dict[str, Any], party_id: str) -> dict[str, Any]:
        """A new API key for the party's system; `key` is shown this once only."""
        user = current_user()
        with engine().begin() as conn:
            return party_keys.create_key(
                conn, user.tenant_id, party_id, data["label"].strip(), actor=user.id, now=now()
            )


@setup_blp.route("/parties/<string:party_id>/api-keys/<string:key_id>/revoke", tags=TAGS)
class PartyKeyRevoke(MethodView):
    @require_user(Right.MANAGE_PARTY_KEYS)
    @setup_blp.response(200, KeyOut)
    def post(self, party_id: str, key_id: str) -> dict[str, Any]:
        """Revoke a key: its next call is refused (401)."""
        user = current_user()
        with engine().begin() as conn:
            return party_keys.revoke_key(
                conn, user.tenant_id, party_id, key_id, actor=user.id, now=now()
            )


@setup_blp.route("/parties/<string:party_id>/cleaning-rules", tags=TAGS)
class CleaningRules(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @setup_blp.response(200, RulesOut(many=True))
    def get(self, party_id: str) -> list[dict[str, Any]]:
        """Every published version of the party's cleaning rules, oldest first."""
        with reader().connect() as conn:
            return cleaning_store.list_versions(conn, current_user().tenant_id, party_id)

    @require_user(Right.EDIT_CONTRACTS)
    @setup_blp.arguments(RulesIn)
    @setup_blp.response(201, RulesDocumentOut)
    def post(self, data: dict[str, Any], party_id: str) -> dict[str, Any]:
        """Publish the next version (N+1) of the party's cleaning rules; every order
        received from now on is cleaned with it. 409 when the document names another
        version (someone published meanwhile)."""
        user = current_user()
        with engine().begin() as conn:
            return cleaning_store.publish(
                conn, user.tenant_id, party_id, data["document"], actor=user.id, now=now()
            )


@setup_blp.route("/parties/<string:party_id>/cleaning-rules/<int:version>", tags=TAGS)
class CleaningRulesVersion(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @setup_blp.response(200, RulesDocumentOut)
    def get(self, party_id: str, version: int) -> dict[str, Any]:
        """One version, with its document."""
        with reader().connect() as conn:
            return cleaning_store.get_version(conn, current_user().tenant_id, party_id, version)


@setup_blp.route("/parties/<string:party_id>/cleaning-rules/replay", tags=TAGS)
class CleaningReplay(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @setup_blp.arguments(ReplayIn)
    @setup_blp.response(200, ReplayOut)
    def post(self, data: dict[str, Any], party_id: str) -> dict[str, Any]:
        """Clean the party's open files again with its latest rules, from the orders as
        received; a mission a tablet valued or the office corrected by hand is reported,
        not changed. `dry_run` only reports."""
        user = current_user()
        with engine().begin() as conn:
            return replay.replay(
                conn, user.tenant_id, party_id, actor=user.id, now=now(), dry_run=data["dry_run"]
            )
