"""Session challenges that the server keeps nowhere: signed, not stored (issue 18).

A challenge is 16 random bytes and its expiry instant, with an HMAC-SHA256 (truncated to
128 bits) over them and the device id, keyed by a key derived from the app's secret key;
the three are the nonce, in base64url (54 characters). Making one reads the device's row
and writes nothing, so on SQLite it never waits for the write lock a push holds.

When the tablet sends the nonce back, signed with its key, the server checks, without
touching the database: the MAC (a nonce it did not make, or made for another device, is
`challenge_unknown`), then the expiry (`challenge_expired`). Single use is kept by the
one write of opening a session: the spent nonce is inserted into `challenges` (its primary
key), so a second use fails there (`challenge_used`), whatever the signature said; a wrong
signature spends it too. That write is a single-row INSERT (and the device's `last_seen_at`
when it is a minute old): short on PostgreSQL, and on SQLite the only moment a session
waits for the write lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

RANDOM_BYTES = 16
MAC_BYTES = 16
_PURPOSE = b"towline session challenge v1"


@dataclass(frozen=True, slots=True)
class Challenge:
    nonce: str
    expires_at: datetime


def _key(secret: bytes) -> bytes:
    """The challenges' own key: never the token key itself."""
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _mac(secret: bytes, device_id: str, body: bytes) -> bytes:
    message = device_id.encode("utf-8") + b"\x00" + body
    return hmac.new(_key(secret), message, hashlib.sha256).digest()[:MAC_BYTES]


def make(secret: bytes, device_id: str, expires_at: datetime) -> Challenge:
    """A fresh challenge for the device, valid until `expires_at` (whole seconds)."""
    seconds = int(expires_at.timestamp())
    body = secrets.token_bytes(RANDOM_BYTES) + seconds.to_bytes(8, "big")
    raw = body + _mac(secret, device_id, body)
    nonce = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return Challenge(nonce, datetime.fromtimestamp(seconds, UTC))


def read(secret: bytes, device_id: str, nonce: str) -> datetime | None:
    """The challenge's expiry if this server made it for this device, else None."""
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != RANDOM_BYTES + 8 + MAC_BYTES:
        return None
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != nonce:
        return None  # one spelling per challenge: the spent record is its text
    body, mac = raw[: RANDOM_BYTES + 8], raw[RANDOM_BYTES + 8 :]
    if not hmac.compare_digest(mac, _mac(secret, device_id, body)):
        return None
    return datetime.fromtimestamp(int.from_bytes(body[RANDOM_BYTES:], "big"), UTC)
