# mypy: disable-error-code="untyped-decorator"
"""Orders in (docs/orders.md): the ordering parties' own API, called with an API key
scoped to one tenant and one party (`/party/...`), and the office's missions from orders,
called with a user token: imports and hand fixes (`manage_missions`), a rule from a fix
(`edit_contracts`), bug reports (`reconcile`). The office's API keys and cleaning rules are
in `server.api.party_setup`, the files in `server.api.party_files`.

A party's key only ever reaches its own party's files: another party's file, or another
tenant's, is a 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import INCLUDE, ValidationError, fields, validate, validates_schema

from server.api.fields import IDENT, REASON
from server.api.final_facts import PartyFileMissionOut
from server.api.security import current_user, require_user
from server.parties import (
    bug_report,
    file_views,
    hand_fix,
    messages,
    order_import,
    orders,
)
from server.parties.api_keys import current_party_key, require_party_key
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, lang, now, reader
from shared.schema_tools import bilingual

party_blp = Blueprint(
    "orders", __name__, url_prefix="/api/v1", description="Orders in: ordering parties' API"
)


# --- schemas ------------------------------------------------------------------------------


class OrderIn(Strict):
    """An order (docs/orders.md): the mission document's fields and the party's own.
    Only `message_id` and `file_number` are read here; the rest is cleaned with the
    party's rules, then validated (422 with every problem by its path)."""

    class Meta:
        unknown = INCLUDE

    message_id = fields.String(required=True, validate=validate.Length(min=1, max=120))
    file_number = fields.String(required=True, validate=validate.Length(min=1, max=64))


class OrderOut(Strict):
    order_id = fields.String()
    message_id = fields.String()
    party_id = fields.String()
    file_number = fields.String()
    mission_id = fields.String(allow_none=True)
    outcome = fields.String(
        metadata={"description": "created | amended | held | not_created"}, allow_none=True
    )
    reason = fields.String(allow_none=True)
    note = fields.Dict(allow_none=True, metadata={"description": "{fr, en}: why held"})
    state = fields.String(allow_none=True, metadata={"description": "the file's state then"})
    state_label = fields.Dict(allow_none=True)
    warning = fields.Dict(allow_none=True)
    ruleset = fields.Dict(allow_none=True, metadata={"description": "{version, digest}"})
    corrections = fields.List(fields.Dict())
    received_at = fields.AwareDateTime()
    duplicate = fields.Boolean(metadata={"description": "true: the first outcome, again"})


class MessageDetailIn(Strict):
    invoice_number = fields.String(validate=validate.Length(min=1, max=32))
    reasons = fields.List(fields.String(validate=validate.Length(max=500)))
    amount = fields.String(metadata={"description": 'e.g. "250.00"'})
    reference = fields.String(validate=validate.Length(max=120))
    provider = fields.String(validate=validate.Length(max=200))
    note = fields.String(validate=validate.Length(max=1000))


class MessageIn(Strict):
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=120))
    file_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(messages.MESSAGE_KINDS))
    name = fields.String(
        allow_none=True, metadata={"description": "your own name for it: 'SD 37 Rejet'"}
    )
    at = fields.String(allow_none=True, metadata={"description": "when you sent it (ISO 8601)"})
    detail = fields.Nested(MessageDetailIn)


class MessageOut(Strict):
    message_id = fields.String()
    file_number = fields.String()
    kind = fields.String()
    duplicate = fields.Boolean()
    state_before = fields.String(allow_none=True)
    state = fields.String()
    state_label = fields.Dict()
    changed = fields.Boolean()
    warning = fields.Dict(allow_none=True)
    claims = fields.List(fields.Dict())
    missions_cancelled = fields.List(fields.String())
    missions_kept = fields.List(fields.String())


class PartyMessageOut(Strict):
    message_id = fields.String()
    kind = fields.String()
    state = fields.String()
    at = fields.AwareDateTime()


class PartyFileOut(Strict):
    file_number = fields.String()
    state = fields.String()
    state_label = fields.Dict()
    updated_at = fields.AwareDateTime()
    messages = fields.List(fields.Nested(PartyMessageOut))
    missions = fields.List(
        fields.Nested(PartyFileMissionOut),
        metadata={"description": "each mission's final facts beside the order's"},
    )


class RuleFromFixIn(Strict):
    rule_id = fields.String(load_default=None, allow_none=True, validate=IDENT)


class RuleFromFixOut(Strict):
    mission_id = fields.String()
    order_id = fields.String()
    party_id = fields.String()
    based_on_version = fields.Integer(allow_none=True)
    rule = fields.Dict()
    left_out = fields.List(fields.String())
    draft = fields.Dict(metadata={"description": "the next version, to edit then publish"})


class ManualCleanIn(Strict):
    document = fields.Dict(required=True, metadata={"description": "the corrected mission"})
    reason = fields.String(required=True, validate=REASON)


class ManualCleanOut(Strict):
    id = fields.String()
    file_number = fields.String(allow_none=True)
    ordering_party_id = fields.String(allow_none=True)
    driver_id = fields.String(allow_none=True)
    status = fields.String()
    cancel_reason = fields.String(allow_none=True)
    source = fields.String()
    document = fields.Dict()
    changes = fields.List(fields.Dict())


class BugReportOut(Strict):
    format = fields.String()
    generated_at = fields.String()
    tenant_id = fields.String()
    mission = fields.Dict()
    order = fields.Dict(allow_none=True)
    contract = fields.Dict(allow_none=True)
    valuations = fields.List(fields.Dict())
    anomalies = fields.List(fields.Dict())
    file_log = fields.List(fields.Dict())
    homes = fields.Dict()
    digest = fields.String()


class OrdersImportIn(Strict):
    party_id = fields.String(required=True, validate=IDENT)
    driver_id = fields.String(load_default=None, allow_none=True, validate=IDENT)
    csv = fields.String(
        validate=validate.Length(max=8 * 1024 * 1024),
        metadata={"description": "a CSV file's text (docs/orders.md)"},
    )
    orders = fields.List(fields.Raw(), metadata={"description": "or: a list of orders"})

    @validates_schema
    def _one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("csv" in data) == ("orders" in data):
            raise ValidationError(
                bilingual("envoyez « csv » ou « orders », pas les deux", "send 'csv' or 'orders'")
            )


class OrdersImportOut(Strict):
    party_id = fields.String()
    taken = fields.Integer()
    duplicates = fields.Integer()
    refused = fields.Integer()
    refused_lines = fields.List(fields.Integer())
    message = fields.String()
    lines = fields.List(fields.Dict())


# --- the ordering party's API (API key) ------------------------------------------------------


def _raw_body() -> Any:
    return request.get_json(silent=True)


@party_blp.route("/party/orders")
class PartyOrders(MethodView):
    @require_party_key()
    @party_blp.arguments(OrderIn)
    @party_blp.response(201, OrderOut)
    @party_blp.alt_response(200, schema=OrderOut, description="the same order again")
    def post(self, _: dict[str, Any]) -> Any:
        """Send a mission order. It is cleaned with your rules, validated (422, every
        problem by its path, nothing stored) and becomes a mission. The same
        `message_id` again changes nothing and answers 200 with the first outcome."""
        key = current_party_key()
        body = _raw_body()
        with engine().begin() as conn:
            made = orders.receive_order(
                conn,
                key.tenant_id,
                key.party_id,
                body,
                actor=key.key_id,
                now=now(),
                received_text=request.get_data(as_text=True),
            )
        return made, 200 if made["duplicate"] else 201


@party_blp.route("/party/messages")
class PartyMessages(MethodView):
    @require_party_key()
    @party_blp.arguments(MessageIn)
    @party_blp.response(200, MessageOut)
    def post(self, _: dict[str, Any]) -> dict[str, Any]:
        """Send a message about one of your files (opening request, follow-up, invoice
        rejected or validated, payment advice, order cancelled, provider changed): the
        file moves as docs/file-lifecycle.md says. A known `message_id` changes nothing."""
        key = current_party_key()
        with engine().begin() as conn:
            return messages.receive_message(
                conn, key.tenant_id, key.party_id, _raw_body(), actor=key.key_id, now=now()
            )


@party_blp.route("/party/files/<path:file_number>")
class PartyFile(MethodView):
    @require_party_key()
    @party_blp.response(200, PartyFileOut)
    def get(self, file_number: str) -> dict[str, Any]:
        """One of your files: its state and the messages you sent about it."""
        key = current_party_key()
        with reader().connect() as conn:
            return file_views.file_for_party(conn, key.tenant_id, key.party_id, file_number)


# --- the office: missions from orders -------------------------------------------------------


@party_blp.route("/missions/<string:mission_id>/manual-clean")
class ManualClean(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @party_blp.arguments(ManualCleanIn)
    @party_blp.response(200, ManualCleanOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """Correct the mission by hand before a tablet values it (the order's one-off
        mistake); logged on the file with what changed. 409 once a tablet valued it."""
        user = current_user()
        with engine().begin() as conn:
            return hand_fix.correct_mission(
                conn,
                user.tenant_id,
                mission_id,
                data["document"],
                data["reason"].strip(),
                actor=user.id,
                now=now(),
            )


@party_blp.route("/missions/<string:mission_id>/rule-from-fix")
class RuleFromFix(MethodView):
    @require_user(Right.EDIT_CONTRACTS)
    @party_blp.arguments(RuleFromFixIn)
    @party_blp.response(200, RuleFromFixOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """A draft cleaning rule from the office's hand fix of this mission, and the
        party's rules with it as the next version: edit it, then publish it."""
        with reader().connect() as conn:
            return hand_fix.rule_from_fix(
                conn, current_user().tenant_id, mission_id, rule_id=data["rule_id"]
            )


@party_blp.route("/missions/<string:mission_id>/bug-report")
class BugReport(MethodView):
    @require_user(Right.RECONCILE)
    @party_blp.response(200, BugReportOut)
    def get(self, mission_id: str) -> dict[str, Any]:
        """Everything needed to replay a mission Towline valued wrong: the order as
        received and cleaned, the corrections, the contract version, the valuations and
        the file's log; `homes` says where each of the four causes is fixed."""
        with reader().connect() as conn:
            return bug_report.bug_report(conn, current_user().tenant_id, mission_id, now=now())


@party_blp.route("/orders/import")
class OrdersImport(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @party_blp.arguments(OrdersImportIn)
    @party_blp.response(200, OrdersImportOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Import a batch of one party's orders: `csv` (a CSV file's text) or `orders` (a
        list). Each line is taken on its own: the valid ones are stored, each refused
        line is named by its number with its problems (`refused_lines`). A header the
        format does not know refuses the whole file (422)."""
        user = current_user()
        items = (
            order_import.orders_from_csv(data["csv"])
            if "csv" in data
            else order_import.orders_from_json(data["orders"])
        )
        with engine().begin() as conn:
            return order_import.import_orders(
                conn,
                user.tenant_id,
                data["party_id"],
                items,
                actor=user.id,
                now=now(),
                lang=lang(),
                driver_id=data["driver_id"],
            )
