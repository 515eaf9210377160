"""Every message of the sync protocol as a marshmallow schema (docs/sync-protocol.md).

Requests refuse unknown fields and floats (ARCHITECTURE rule 8): the server loads each
body with these schemas before anything else. Clients read responses with
`unknown=EXCLUDE`, so a newer server may add a field without breaking older tablets.
Journal entries inside a push are only checked for being JSON objects free of floats
here; `shared.journal.from_wire` checks their shape, entry by entry, on the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.schema_tools import bilingual, problems
from sync.protocol import (
    MAX_PAGE,
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
    if isinstance(value, float):
        return path or "."
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _float_path(item, f"{path}.{key}" if path else str(key), depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for number, item in enumerate(value):
            found = _float_path(item, f"{path}[{number}]", depth + 1)
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


# --- push -----------------------------------------------------------------------------------


class PushRequest(_Strict):
    protocol = _protocol()
    device_id = _id()
    # Bounded by MAX_PUSH_ENTRIES, enforced by the server with its own error code
    # (`batch_too_large`, 413) so that a client can tell it from a malformed body.
    entries = fields.List(JsonObject(), required=True, validate=validate.Length(min=1))


class Acknowledged(_Strict):
    """The device's head as stored on the server: the next entry it expects is seq + 1."""

    seq = StrictInteger(required=True, validate=validate.Range(min=0))
    hash = fields.String(required=True, validate=_hex(64))


class PushResponse(_Strict):
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in PushStatus]))
    acknowledged = fields.Nested(Acknowledged, required=True)
    expected_seq = StrictInteger(validate=validate.Range(min=1))  # with status "gap"
    message = fields.String()  # for a person, with every status but "ok"


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
