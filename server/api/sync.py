# mypy: disable-error-code="untyped-decorator"
"""Push and pull: the two calls a tablet makes when it reconnects (docs/sync-protocol.md).

The request and response schemas are the wire contract's own (`sync.schemas`); this
module only authenticates, checks the protocol version and hands the work to
`server.devices.push` and `server.devices.pull` in one transaction each.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, request
from flask.views import MethodView

from server.api.security import current_device, require_device
from server.devices import integrity_reports, pull, push
from server.platform.errors import ApiError, Forbidden
from server.platform.problems import problem, respond
from server.platform.tables import devices
from server.platform.web import Blueprint, engine, lang, now, reader, server_private_key
from shared.i18n import Text
from sync import protocol, schemas

REFUSED = Text("Envoi refusé par le serveur.", "Push refused by the server.")

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Tablet sync")


class UpdateRequired(ApiError):
    status = 426
    code = protocol.ErrorCode.UPDATE_REQUIRED.value


@blp.before_request
def check_protocol() -> None:
    """A client states its protocol version in a header; no header means the current one."""
    stated = request.headers.get(protocol.PROTOCOL_HEADER)
    if stated is None:
        return
    try:
        version = int(stated)
    except ValueError:
        version = 0
    if version < protocol.MIN_PROTOCOL:
        raise UpdateRequired(protocol.UPDATE_REQUIRED.fr, protocol.UPDATE_REQUIRED.en)
    if version > protocol.PROTOCOL_VERSION:
        raise ApiError(
            protocol.SERVER_TOO_OLD.fr,
            protocol.SERVER_TOO_OLD.en,
            code=protocol.ErrorCode.SERVER_TOO_OLD.value,
        )


@blp.route("/push")
class Push(MethodView):
    @require_device(allow_revoked=True)
    @blp.arguments(schemas.PushRequest)
    @blp.response(200, schemas.PushResponse)
    @blp.alt_response(202, schema=schemas.PushResponse, description="Kept in quarantine")
    @blp.alt_response(409, schema=schemas.PushResponse, description="Gap or fork")
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int] | Response:
        """Store a batch of journal entries, in device order, in one transaction."""
        device = current_device()
        if data["device_id"] != device.device_id:
            raise Forbidden(
                "Ces entrées sont celles d'une autre tablette.",
                "These entries belong to another tablet.",
                code=protocol.ErrorCode.WRONG_DEVICE.value,
            )
        # Always commit: a refused batch stores nothing but what must survive the
        # refusal (a fork's security anomaly, a revoked device's quarantined batch).
        with engine().begin() as conn:
            key = conn.execute(
                sa.select(devices.c.public_key).where(devices.c.id == device.device_id)
            ).scalar_one()
            result = push.receive(
                conn,
                tenant_id=device.tenant_id,
                device_id=device.device_id,
                public_key=bytes.fromhex(key),
                entries=data["entries"],
                revoked=device.revoked,
                now=now(),
                key=server_private_key(),
            )
            # What the tablet found wrong with its own files (docs/sync-protocol.md).
            report_id = None
            if data.get("integrity_report") is not None:
                report_id = integrity_reports.record(
                    conn,
                    tenant_id=device.tenant_id,
                    device_id=device.device_id,
                    report=data["integrity_report"],
                    revoked=device.revoked,
                    now=now(),
                )
        if result.status is None:  # a refusal, raised only now that the transaction committed
            text = result.text or REFUSED
            refusal = ApiError(text.fr, text.en, code=str(result.code))
            refusal.status = result.http_status
            raise refusal
        body = result.to_wire(lang())
        if report_id is not None:
            body["integrity_report"] = {"id": report_id}
        if result.http_status == 409:  # a gap or a fork: a refusal, in the one shape
            code = str(result.status)
            return respond(problem(code, body.get("message", ""), 409, lang(), body), 409)
        return body, result.http_status


@blp.route("/pull")
class Pull(MethodView):
    @require_device()
    @blp.arguments(schemas.PullRequest)
    @blp.response(200, schemas.PullResponse)
    def post(self, data: dict[str, Any]) -> Response:
        """The changes after `cursor` that this tablet and its drivers may see, one page."""
        device = current_device()
        with reader().connect() as conn:
            body = pull.pull_json(
                conn,
                tenant_id=device.tenant_id,
                driver_ids=device.driver_ids,
                device_id=device.device_id,
                cursor=data["cursor"],
                limit=data["limit"],
            )
        # A prepared answer: flask-smorest sends a Response as it is (PullResponse still
        # documents it); the stored data is already JSON, so it is not parsed again.
        return Response(body, mimetype="application/json")
