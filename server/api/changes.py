# mypy: disable-error-code="untyped-decorator"
"""'Anything new for me?' (`GET /api/v1/sync/changes?since=<cursor>`): the cheap question
an online tablet asks every few seconds, so that it pulls a new assignment at once
instead of at its next sync (docs/sync-protocol.md "Anything new?").

`since` is the pull's own cursor (the change feed's sequence number). 204: nothing this
tablet may see was recorded after it; 200: something was, pull. Either way the
`Towline-Cursor` header gives the last change recorded, so the next question starts
there and does not read again the changes meant for other tablets.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.security import current_device, require_device
from server.devices import changes_probe
from server.platform.web import Blueprint, Strict, reader
from sync.protocol import CURSOR_HEADER

changes_blp = Blueprint(
    "sync_changes", __name__, url_prefix="/api/v1/sync", description="Tablet sync"
)


class ChangesQuery(Strict):
    since = fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "the tablet's pull cursor, e.g. 1234"},
    )


class ChangesOut(Strict):
    changed = fields.Boolean(metadata={"description": "always true: pull now"})
    cursor = fields.Integer(metadata={"description": "the last change recorded"})


@changes_blp.route("/changes")
class Changes(MethodView):
    @require_device()
    @changes_blp.arguments(ChangesQuery, location="query")
    @changes_blp.response(200, ChangesOut)
    @changes_blp.alt_response(204, description="Nothing new for this tablet")
    def get(self, query: dict[str, Any]) -> Any:
        """Whether a change this tablet may see was recorded after `since` (writes nothing)."""
        device = current_device()
        with reader().connect() as conn:
            found = changes_probe.probe(
                conn,
                tenant_id=device.tenant_id,
                driver_ids=device.driver_ids,
                device_id=device.device_id,
                since=query["since"],
            )
        headers = {CURSOR_HEADER: str(found.cursor), "Cache-Control": "no-store"}
        if not found.changed:
            return Response(status=204, headers=headers)
        return {"changed": True, "cursor": found.cursor}, 200, headers
