# mypy: disable-error-code="untyped-decorator"
"""Attachments: tablets upload photos, signatures and reports in chunks (device token,
under /api/v1/sync/attachments, docs/sync-protocol.md "Attachments"); the office lists a
mission's attachments and reads their bytes (right `reconcile`).

Another tenant's attachment or mission, and another tablet's upload, answer 404 like
one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import IDENT
from server.api.security import current_device, current_user, require_device, require_user
from server.api.sync import check_protocol
from server.devices import attachments
from server.people.rights import Right
from server.platform.errors import ApiError, Unprocessable
from server.platform.web import Blueprint, Strict, engine, now, reader
from shared.schema_tools import bilingual

attachments_blp = Blueprint(
    "attachments", __name__, url_prefix="/api/v1", description="Attachments (photos, signatures)"
)

SYNC_PREFIX = "/api/v1/sync/"
OFFSET_HEADER = "Upload-Offset"  # the chunk's first byte in the file
CHECKSUM_HEADER = "Upload-SHA256"  # optional: the chunk's own SHA-256 (hex)
OCTETS = "application/octet-stream"
SHA256 = validate.Regexp(
    r"^[0-9a-fA-F]{64}$",
    error=bilingual(
        "SHA-256 attendu : 64 caractères hexadécimaux",
        "a SHA-256 is expected: 64 hexadecimal characters",
    ),
)


@attachments_blp.before_request
def _protocol() -> None:
    if request.path.startswith(SYNC_PREFIX):
        check_protocol()


class AnnounceIn(Strict):
    id = fields.String(
        required=True, validate=IDENT, metadata={"description": "made by the tablet"}
    )
    mission_id = fields.String(required=True, validate=IDENT)
    kind = fields.String(required=True, validate=validate.OneOf(attachments.KINDS))
    content_type = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": ", ".join(attachments.CONTENT_TYPES) + " (else 415)"},
    )
    size = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "bytes; at most ATTACHMENT_MAX_BYTES (else 413)"},
    )
    sha256 = fields.String(required=True, validate=SHA256)
    taken_at = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the tablet's clock, ISO 8601 (not trusted)"},
    )


class StatusOut(Strict):
    id = fields.String()
    mission_id = fields.String()
    kind = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    received = fields.Integer(metadata={"description": "bytes held: send from this offset"})
    complete = fields.Boolean(metadata={"description": "every byte held, SHA-256 checked"})


class AttachmentOut(StatusOut):
    device_id = fields.String()
    taken_at = fields.String()
    announced_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


CHUNK_DOC = {
    "requestBody": {
        "required": True,
        "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
        "description": f"the bytes, at most {attachments.MAX_CHUNK_BYTES}",
    },
    "parameters": [
        {
            "in": "header",
            "name": OFFSET_HEADER,
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
            "description": "the chunk's first byte: the `received` of the last status",
        },
        {
            "in": "header",
            "name": CHECKSUM_HEADER,
            "required": False,
            "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
            "description": "the chunk's SHA-256: an altered chunk is refused (422)",
        },
    ],
}
BYTES_DOC = {
    "responses": {
        "200": {
            "description": "The bytes, with their content type",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in attachments.CONTENT_TYPES
            },
        }
    }
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


def _max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", attachments.DEFAULT_MAX_BYTES))


# --- the tablet's side -------------------------------------------------------------------


@attachments_blp.route("/sync/attachments")
class Announce(MethodView):
    @require_device()
    @attachments_blp.arguments(AnnounceIn)
    @attachments_blp.response(201, StatusOut)
    @attachments_blp.alt_response(200, schema=StatusOut, description="Already announced")
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Announce an attachment of a mission this tablet works on; the same announcement
        again answers how far its upload went. Same id, other content: 409."""
        with engine().begin() as conn:
            found, new = attachments.announce(
                conn, current_device(), data, max_bytes=_max_bytes(), now=now()
            )
        return found, 201 if new else 200


@attachments_blp.route("/sync/attachments/<string:attachment_id>/status")
class Status(MethodView):
    @require_device()
    @attachments_blp.response(200, StatusOut)
    def post(self, attachment_id: str) -> dict[str, Any]:
        """How many bytes the server holds: send the next chunk from there."""
        with reader().connect() as conn:
            return attachments.status(conn, current_device(), attachment_id)


def _offset() -> int:
    raw = request.headers.get(OFFSET_HEADER, "").strip()
    if not raw.isdigit() or len(raw) > 18:
        raise Unprocessable(
            f"En-tête {OFFSET_HEADER} attendu : l'octet où commence ce morceau.",
            f"Header {OFFSET_HEADER} expected: the byte this chunk starts at.",
            code="bad_offset",
        )
    return int(raw)


def _checksum() -> str | None:
    raw = request.headers.get(CHECKSUM_HEADER)
    if raw is None:
        return None
    raw = raw.strip()
    if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise Unprocessable(
            f"En-tête {CHECKSUM_HEADER} : 64 caractères hexadécimaux attendus.",
            f"Header {CHECKSUM_HEADER}: 64 hexadecimal characters expected.",
            code="bad_checksum",
        )
    return raw


@attachments_blp.route("/sync/attachments/<string:attachment_id>/chunks")
class Chunks(MethodView):
    @require_device()
    @attachments_blp.doc(**CHUNK_DOC)
    @attachments_blp.response(200, StatusOut)
    def post(self, attachment_id: str) -> dict[str, Any]:
        """One chunk (raw bytes) at the offset the server holds. A chunk already held is
        acknowledged again; a gap or other bytes: 409 `offset_mismatch`; the last chunk
        completes the upload, or (SHA-256 mismatch) drops it: 409 `attachment_corrupted`,
        send it again from byte 0."""
        if request.mimetype != OCTETS:
            raise ApiError(
                f"Envoyez le morceau brut ({OCTETS}).",
                f"Send the chunk as raw bytes ({OCTETS}).",
                code="unsupported_media_type",
            )
        declared = request.content_length
        if declared is not None and declared > attachments.MAX_CHUNK_BYTES:
            raise attachments.chunk_too_large(declared)
        offset, checksum = _offset(), _checksum()
        data = request.get_data(cache=False)
        with engine().begin() as conn:
            result = attachments.receive_chunk(
                conn, current_device(), attachment_id, offset, data, now=now(), checksum=checksum
            )
        if result.refusal is not None:  # raised only now: the reset had to be committed
            raise result.refusal
        return result.status


# --- the office's side -------------------------------------------------------------------


@attachments_blp.route("/missions/<string:mission_id>/attachments")
class MissionAttachments(MethodView):
    @require_user(Right.RECONCILE)
    @attachments_blp.response(200, AttachmentOut(many=True))
    def get(self, mission_id: str) -> list[dict[str, Any]]:
        """The mission's photos, signatures and reports, complete (`complete`) or still
        uploading."""
        with reader().connect() as conn:
            return attachments.list_for_mission(conn, current_user().tenant_id, mission_id)


@attachments_blp.route("/attachments/<string:attachment_id>")
class AttachmentBytes(MethodView):
    @require_user(Right.RECONCILE)
    @attachments_blp.doc(**BYTES_DOC)
    def get(self, attachment_id: str) -> Response:
        """A complete attachment's bytes; 409 `attachment_incomplete` while uploading."""
        with reader().connect() as conn:
            found, data = attachments.content(conn, current_user().tenant_id, attachment_id)
        name = f"{found['id']}.{EXTENSIONS.get(found['content_type'], 'bin')}"
        return Response(
            data,
            mimetype=found["content_type"],
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "ETag": f'"{found["sha256"]}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-store",
            },
        )
