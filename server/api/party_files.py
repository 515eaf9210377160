# mypy: disable-error-code="untyped-decorator"
"""The ordering parties' files as the office reads them (docs/file-lifecycle.md), called
with a user token and the right `reconcile`: the list, and one file with its whole log,
its orders and its missions."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import IDENT
from server.api.final_facts import OfficeFinalFactsOut
from server.api.security import current_user, require_user
from server.parties import file_views
from server.people.rights import Right
from server.platform.public_ids import FILE_EVENT, Ref
from server.platform.web import Blueprint, Strict, reader
from shared.file_lifecycle import State

files_blp = Blueprint(
    "party_files", __name__, url_prefix="/api/v1", description="Orders in: ordering parties' files"
)
# Listed under the "orders" tag of the OpenAPI document, as when they were in server.api.orders.
TAGS = ["orders"]

STATES = [s.value for s in State]


# --- schemas ------------------------------------------------------------------------------


class FilesQuery(Strict):
    party = fields.String(validate=IDENT)
    state = fields.String(validate=validate.OneOf(STATES))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class FileOut(Strict):
    party_id = fields.String()
    file_number = fields.String()
    state = fields.String()
    state_label = fields.Dict()
    warning = fields.Dict(allow_none=True)
    opened_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class LogOut(Strict):
    id = Ref(FILE_EVENT, metadata={"description": "the log entry's ref (not its row id)"})
    source = fields.String()
    event = fields.String()
    message_id = fields.String(allow_none=True)
    state_before = fields.String(allow_none=True)
    state_after = fields.String(allow_none=True)
    detail = fields.Dict()
    at = fields.AwareDateTime()
    actor = fields.String()


class FileOrderOut(Strict):
    order_id = fields.String()
    message_id = fields.String()
    mission_id = fields.String(allow_none=True)
    ruleset_version = fields.Integer(allow_none=True)
    received_at = fields.AwareDateTime()
    received_by = fields.String()


class FileMissionOut(Strict):
    id = fields.String()
    status = fields.String()
    driver_id = fields.String(allow_none=True)
    valued_by_tablet = fields.Boolean()
    final_facts = fields.Nested(OfficeFinalFactsOut, allow_none=True)


class FileDetailOut(FileOut):
    history = fields.List(fields.Nested(LogOut))
    orders = fields.List(fields.Nested(FileOrderOut))
    missions = fields.List(fields.Nested(FileMissionOut))


# --- the office: files ----------------------------------------------------------------------


@files_blp.route("/files", tags=TAGS)
class Files(MethodView):
    @require_user(Right.RECONCILE)
    @files_blp.arguments(FilesQuery, location="query")
    @files_blp.response(200, FileOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The ordering parties' files, last moved first (`party`, `state` to filter)."""
        with reader().connect() as conn:
            return file_views.list_files(
                conn,
                current_user().tenant_id,
                party_id=query.get("party"),
                state=query.get("state"),
                limit=query["limit"],
            )


@files_blp.route("/files/<string:party_id>/<path:file_number>", tags=TAGS)
class File(MethodView):
    @require_user(Right.RECONCILE)
    @files_blp.response(200, FileDetailOut)
    def get(self, party_id: str, file_number: str) -> dict[str, Any]:
        """One file: state, warning, its whole log, its orders and missions."""
        with reader().connect() as conn:
            return file_views.file_detail(conn, current_user().tenant_id, party_id, file_number)
