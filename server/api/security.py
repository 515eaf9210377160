"""Who is calling: `require_user(right)` for office endpoints, `require_device()` for
tablet endpoints. Both read a bearer token (`server.people.tokens`), then look the caller up in
the database, so a revoked device or a removed right takes effect at the next request.

    @blp.route("/things")
    class Things(MethodView):
        @require_user(Right.EDIT_CONTRACTS)
        @blp.response(200, ThingSchema(many=True))
        def get(self):
            user = current_user()  # tenant_id, id, rights…

Put the decorator above `@blp.arguments`: the caller is authenticated before the body
is read, and a stranger learns nothing about the schema's checks.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from server.devices.tablets import DeviceIdentity, load_identity
from server.people import tokens
from server.people.identity import User, get_user
from server.people.rights import Right, missing_right
from server.platform.errors import Forbidden, Unauthenticated
from server.platform.openapi_refusals import RIGHT_NEEDED
from server.platform.web import now, reader, token_key

F = TypeVar("F", bound=Callable[..., Any])

NO_TOKEN = Unauthenticated(
    "Authentification requise : envoyez « Authorization: Bearer <jeton> ».",
    "Authentication required: send 'Authorization: Bearer <token>'.",
    code="unauthenticated",
)
DEVICE_REVOKED = Forbidden(
    "Cette tablette a été révoquée par le bureau : elle ne peut plus synchroniser. "
    "Contactez le bureau.",
    "This device has been revoked by the office: it can no longer sync. Contact the office.",
    code="device_revoked",
)


def bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NO_TOKEN
    return token.strip()


def _document(wrapper: Any, scheme: str, right: Right | None = None) -> None:
    """Mark the operation as needing a bearer token in the OpenAPI document (and a
    right: its 403 is listed, server/platform/openapi_refusals.py)."""
    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    manual["security"] = [{scheme: []}]
    if right is not None:
        manual[RIGHT_NEEDED] = str(right)
    wrapper._apidoc = apidoc


def require_user(right: Right | None = None) -> Callable[[F], F]:
    """An office user's token; with `right`, the user's role must give it (else 403).
    The user is then `current_user()`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            claims = tokens.check(token_key(), bearer(), tokens.USER, now())
            with reader().connect() as conn:
                user = get_user(conn, claims.tenant_id, claims.subject)
            if user is None or not user.active or _ended(user, claims):
                raise NO_TOKEN
            if right is not None and right not in user.rights:
                raise missing_right(right)
            g.user = user
            return view(*args, **kwargs)

        _document(wrapper, "user", right)
        return cast(F, wrapper)

    return decorator


def _ended(user: User, claims: tokens.Claims) -> bool:
    """A token begun before the user's sessions were ended (password reset,
    deactivation); one without an issue time counts as begun before. `iat` is in whole
    seconds: a token of the very second of the end is refused too (sign in again)."""
    if user.sessions_ended_at is None:
        return False
    return claims.issued is None or claims.issued <= int(user.sessions_ended_at.timestamp())


def current_user() -> User:
    user: User = g.user
    return user


def require_device(*, allow_revoked: bool = False) -> Callable[[F], F]:
    """A device's session token. A revoked device gets 403 `device_revoked`, unless
    `allow_revoked` (the push endpoint, which quarantines what it sends): then
    `current_device().revoked` is True. The device is then `current_device()`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            claims = tokens.check(token_key(), bearer(), tokens.DEVICE, now())
            with reader().connect() as conn:
                device = load_identity(conn, claims.subject)
            if device is None or device.tenant_id != claims.tenant_id:
                raise NO_TOKEN
            if device.revoked and not allow_revoked:
                raise DEVICE_REVOKED
            g.device = device
            return view(*args, **kwargs)

        _document(wrapper, "device")
        return cast(F, wrapper)

    return decorator


def current_device() -> DeviceIdentity:
    device: DeviceIdentity = g.device
    return device
