"""Short-lived bearer tokens: stateless, HMAC-SHA256 signed with the app's secret key.

`<payload>.<mac>`, both base64url without padding; the payload is JSON
`{"k": kind, "sub": id, "t": tenant, "exp": epoch seconds, "iat": epoch seconds}` (`iat`
is absent from tokens made before it was added: they count as begun before anything).
Nothing is stored: the server checks the MAC and the expiry with its own clock, then
looks the user or device up (so a revoked device or a deleted user is refused even with a
live token). Rotating the secret key ends every session at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from server.platform.errors import Unauthenticated

USER = "user"
DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Claims:
    kind: str
    subject: str
    tenant_id: str
    expires: int
    issued: int | None = None  # a user's sessions end before an instant: see user_admin


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def issue(
    key: bytes,
    kind: str,
    subject: str,
    tenant_id: str,
    expires: datetime,
    issued: datetime | None = None,
) -> str:
    body: dict[str, str | int] = {
        "k": kind,
        "sub": subject,
        "t": tenant_id,
        "exp": int(expires.timestamp()),
    }
    if issued is not None:
        body["iat"] = int(issued.timestamp())
    payload = _b64(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_mac(key, payload)}"


_INVALID = Unauthenticated(
    "Jeton de session invalide : reconnectez-vous.",
    "Invalid session token: sign in again.",
    code="token_invalid",
)


def check(key: bytes, token: str, kind: str, now: datetime) -> Claims:
    """The token's claims if its MAC is right, it is of `kind` and not expired."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or len(token) > 2048:
        raise _INVALID
    try:
        if not hmac.compare_digest(mac.encode("ascii"), _mac(key, payload).encode("ascii")):
            raise _INVALID
        body = json.loads(_unb64(payload))
        issued = body.get("iat")
        claims = Claims(
            str(body["k"]),
            str(body["sub"]),
            str(body["t"]),
            int(body["exp"]),
            None if issued is None else int(issued),
        )
    except (ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise _INVALID from None
    if claims.kind != kind:
        raise _INVALID
    if claims.expires <= now.timestamp():
        raise Unauthenticated(
            "Session expirée : reconnectez-vous.",
            "Session expired: sign in again.",
            code="token_expired",
        )
    return claims
