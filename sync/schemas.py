"""Every message of the sync protocol as a marshmallow schema (docs/sync-protocol.md).

Requests refuse unknown fields and floats (ARCHITECTURE rule 8): the server loads each
body with these schemas before anything else. Clients read responses with
`unknown=EXCLUDE`, so a newer server may add a field without breaking older tablets.
Journal entries inside a push are only checked for being JSON objects free of floats
here; `shared.journal.from_wire` checks their shape, entry by entry, on the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.schema_tools import bilingual, problems
from sync.protocol import (
    MAX_PAGE,
    MAX_REPORT_FINDINGS,
    PUBLIC_KEY_HEX,
    SIGNATURE_HEX,
    ErrorCode,
    PushStatus,
)

_MAX_DEPTH = 32  # journal payloads are shallow; a deeper body is an attack on the parser


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class StrictInteger(fields.Integer):
    """An integer written as a JSON integer: no float, no string, no boolean."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float):
                raise ValidationError("FLOAT")
            raise ValidationError("Not a valid integer.")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


def _float_path(value: Any, path: str, depth: int = 0) -> str | None:
    """Where the first float (or excessive nesting) hides in JSON data, else None."""
    if depth > _MAX_DEPTH:
        return path or "."
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # parsed JSON: exact types
        return None
    if (kind is dict or kind is list) and not _suspect(value, depth):
        return None
    return _float_path_slow(value, path, depth)


def _suspect(container: Any, depth: int) -> bool:
    """Whether a float, a value that is not plain JSON, or nesting beyond _MAX_DEPTH may
    hide in `container` (at `depth`): a quick walk over exact types, no path built."""
    if depth >= _MAX_DEPTH:
        return len(container) > 0  # its items would be too deep
    items: Any = container.values() if type(container) is dict else container
    for item in items:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is dict or kind is list:
            if _suspect(item, depth + 1):
                return True
            continue
        return True  # a float, or anything else: let the full walk name it
    return False


def _float_path_slow(value: Any, path: str, depth: int = 0) -> str | None:
    """`_float_path` for any data, naming the path of what it finds."""
    if depth > _MAX_DEPTH:
        return path or "."
    if isinstance(value, float):
        return path or "."
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _float_path_slow(item, f"{path}.{key}" if path else str(key), depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for number, item in enumerate(value):
            found = _float_path_slow(item, f"{path}[{number}]", depth + 1)
            if found is not None:
                return found
    return None


class JsonObject(fields.Field[dict[str, Any]]):
    """A JSON object passed on as it is, refused if a float hides anywhere inside it."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("Not a valid mapping type.")
        where = _float_path(value, "")
        if where is not None:
            raise ValidationError(
                bilingual(
                    f"nombre à virgule flottante ou imbrication excessive à {where} : "
                    'les montants s\'écrivent en texte, par ex. "12.50"',
                    f"binary float or excessive nesting at {where}: amounts are written "
                    'as text, e.g. "12.50"',
                )
            )
        return value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


def _hex(size: int) -> validate.Regexp:
    return validate.Regexp(
        rf"^[0-9a-f]{{{size}}}$",
        error=bilingual(
            f"{size} chiffres hexadécimaux en minuscules attendus",
            f"{size} lowercase hexadecimal digits expected",
        ),
    )


def _id() -> fields.String:
    return fields.String(required=True, validate=validate.Length(1, 64))


def _protocol() -> StrictInteger:
    return StrictInteger(required=True, validate=validate.Range(min=1))


# --- enrolment and sessions -----------------------------------------------------------------


class EnrolRequest(_Strict):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    public_key = fields.String(required=True, validate=_hex(PUBLIC_KEY_HEX))
    label = fields.String(load_default="", validate=validate.Length(max=200))


class ApprovalKey(_Strict):
    """The device's secret for offline manager approval codes (shared.approvals)."""

    version = StrictInteger(required=True, validate=validate.Range(min=1))
    secret = fields.String(required=True, validate=_hex(64))


class EnrolResponse(_Strict):
    device_id = _id()
    tenant_id = _id()
    server_public_key = fields.String(required=True, validate=_hex(PUBLIC_KEY_HEX))
    # The server's Ed25519 signature of `protocol.enrolment_message(tenant_id, device_id,
    # the tablet's public key)`: what lets the tablet check its journal offline against
    # the key the server enrolled (new in this release, required by its tablets).
    enrolment_signature = fields.String(required=True, validate=_hex(SIGNATURE_HEX))
    approval_key = fields.Nested(ApprovalKey, required=True)
    drivers = fields.List(JsonObject(), required=True)  # who may sign in on this tablet


class ChallengeRequest(_Strict):
    device_id = _id()


_NONCE = validate.Length(1, 64)


class ChallengeResponse(_Strict):
    nonce = fields.String(required=True, validate=_NONCE)  # signed as its UTF-8 bytes
    # The server's own clock decides; a client never compares either with its clock.
    expires_in = StrictInteger(validate=validate.Range(min=1))  # seconds
    expires_at = fields.AwareDateTime()


class SessionRequest(_Strict):
    device_id = _id()
    nonce = fields.String(required=True, validate=_NONCE)
    signature = fields.String(required=True, validate=_hex(SIGNATURE_HEX))


class SessionResponse(_Strict):
    token = fields.String(required=True, validate=validate.Length(16, 2048))
    expires_in = StrictInteger(required=True, validate=validate.Range(min=1))  # seconds
    revoked = fields.Boolean(load_default=False)  # true: pushes go to quarantine
    server_time = fields.AwareDateTime(load_default=None)  # the server's clock (UTC)
    # What the server says of itself and of this device: the tablet compares them with
    # what it stored at enrolment (a replaced server key is caught here).
    server_public_key = fields.String(load_default=None, validate=_hex(PUBLIC_KEY_HEX))
    enrolment_signature = fields.String(load_default=None, validate=_hex(SIGNATURE_HEX))


# --- push -----------------------------------------------------------------------------------


class IntegrityFinding(_Strict):
    kind = fields.String(required=True, validate=validate.Length(1, 40))
    seq = StrictInteger(load_default=None, allow_none=True, validate=validate.Range(min=0))
    fr = fields.String(required=True, validate=validate.Length(1, 2000))
    en = fields.String(required=True, validate=validate.Length(1, 2000))


class IntegrityReport(_Strict):
    """What the tablet's own check found wrong with its files (docs/sync-protocol.md
    "Integrity report"): told to the office at the next contact."""

    id = fields.String(required=True, validate=_hex(64))  # sha256 of the findings: dedup
    found_at = fields.String(required=True, validate=validate.Length(1, 40))  # tablet clock
    total = StrictInteger(required=True, validate=validate.Range(min=1))
    findings = fields.List(
        fields.Nested(IntegrityFinding),
        required=True,
        validate=validate.Length(1, MAX_REPORT_FINDINGS),
    )


class PushRequest(_Strict):
    protocol = _protocol()
    device_id = _id()
    # Bounded by MAX_PUSH_ENTRIES, enforced by the server with its own error code
    # (`batch_too_large`, 413) so that a client can tell it from a malformed body.
    # Empty (protocol 2): the push only asks the device's head, and carries the report.
    entries = fields.List(JsonObject(), required=True)
    integrity_report = fields.Nested(IntegrityReport, load_default=None)


class Acknowledged(_Strict):
    """The device's head as stored on the server: the next entry it expects is seq + 1."""

    seq = StrictInteger(required=True, validate=validate.Range(min=0))
    hash = fields.String(required=True, validate=_hex(64))


class ReportRecorded(_Strict):
    id = fields.String(required=True, validate=_hex(64))


class PushResponse(_Strict):
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in PushStatus]))
    acknowledged = fields.Nested(Acknowledged, required=True)
    expected_seq = StrictInteger(validate=validate.Range(min=1))  # with status "gap"
    message = fields.String()  # for a person, with every status but "ok"
    integrity_report = fields.Nested(ReportRecorded)  # the report, once the server kept it


# --- pull -----------------------------------------------------------------------------------


class PullRequest(_Strict):
    cursor = StrictInteger(required=True, validate=validate.Range(min=0))
    limit = StrictInteger(load_default=None, validate=validate.Range(1, MAX_PAGE))


class Change(_Strict):
    seq = StrictInteger(required=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.Length(1, 40))
    id = fields.String(required=True, validate=validate.Length(1, 128))
    data = JsonObject(required=True, allow_none=True)  # null: a tombstone


class PullResponse(_Strict):
    changes = fields.List(fields.Nested(Change), required=True)
    next_cursor = StrictInteger(required=True, validate=validate.Range(min=0))
    has_more = fields.Boolean(required=True)


# --- attachments ----------------------------------------------------------------------------


class UploadStatus(_Strict):
    """An attachment's status as the server answers it (docs/sync-protocol.md)."""

    id = fields.String(required=True)
    size = StrictInteger(required=True)
    received = StrictInteger(required=True)
    complete = fields.Boolean(required=True)


# --- errors ---------------------------------------------------------------------------------


class Error(_Strict):
    code = fields.String(  # an ErrorCode; a client treats a code it does not know as a refusal
        required=True,
        validate=validate.Length(1, 64),
        metadata={"enum": [c.value for c in ErrorCode]},
    )
    message = fields.String(required=True)


REQUEST = Text("Requête de synchronisation invalide", "Invalid sync request")


def load(schema: type[Schema], data: Any, *, strict: bool = True) -> dict[str, Any]:
    """Load a message, or raise InvalidDocument naming every problem by its path.

    `strict=False` ignores unknown fields: for a client reading a newer server's answer.
    """
    try:
        loaded: dict[str, Any] = schema(unknown=RAISE if strict else EXCLUDE).load(data)
    except ValidationError as exc:
        raise InvalidDocument(REQUEST, problems(exc.messages)) from None
    return loaded


# --- reading a pull answer fast ------------------------------------------------------------

_CHANGE_FIELDS = frozenset(Change().fields)


class _NotPlain(Exception):
    """A float, NaN or Infinity met while parsing: the page goes the slow way."""


def _not_plain(text: str) -> Any:
    raise _NotPlain(text)


def load_pull_page(raw: bytes | str) -> dict[str, Any]:
    """A pull answer's body, read exactly as `load(PullResponse, json.loads(raw),
    strict=False)` reads it, but without marshmallow for a well-formed page.

    The quick way refuses floats (and NaN, Infinity) while parsing, then checks the
    envelope and every change by exact JSON types: `seq` an integer from 1, `kind` and
    `id` texts of 1 to 40 and 1 to 128 characters, no other field in a change, `data` an
    object (free of excessive nesting) or null. Anything it does not accept as it is —
    a float anywhere, a wrong type, a missing or unknown field — is read again by the
    marshmallow schema, which names every problem by its path (InvalidDocument) or
    accepts what the schema accepts (e.g. a newer server's extra envelope field).
    Raises ValueError when the body is not JSON at all.
    """
    try:
        data = json.loads(raw, parse_float=_not_plain, parse_constant=_not_plain)
    except _NotPlain:
        pass
    else:
        page = _plain_page(data)
        if page is not None:
            return page
    return load(PullResponse, json.loads(raw), strict=False)


def _plain_page(data: Any) -> dict[str, Any] | None:
    """The loaded page, or None when the schema must have the last word."""
    if type(data) is not dict:
        return None
    changes, cursor, more = data.get("changes"), data.get("next_cursor"), data.get("has_more")
    if type(changes) is not list or type(cursor) is not int or cursor < 0:
        return None
    if type(more) is not bool:
        return None
    for change in changes:
        if type(change) is not dict or change.keys() != _CHANGE_FIELDS:
            return None
        seq, kind, name, body = change["seq"], change["kind"], change["id"], change["data"]
        if type(seq) is not int or seq < 1:
            return None
        if type(kind) is not str or not 0 < len(kind) <= 40:
            return None
        if type(name) is not str or not 0 < len(name) <= 128:
            return None
        if body is not None and (type(body) is not dict or _suspect(body, 0)):
            return None
    return {"changes": changes, "next_cursor": cursor, "has_more": more}
