"""Ed25519 for the journal: keys from and to raw bytes, sign, verify.

Signing is computation, so it lives in the core. Generating a key needs randomness, so it
does not: the tablet makes its key pair at enrolment (outside the core) and passes the
private key in; the server and auditors hold only public keys.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

PrivateKey = Ed25519PrivateKey
PublicKey = Ed25519PublicKey

KEY_SIZE = 32  # raw private seed and raw public key, RFC 8032
SIGNATURE_SIZE = 64


def _check_size(raw: bytes, what: Text) -> None:
    if not isinstance(raw, bytes) or len(raw) != KEY_SIZE:
        got = len(raw) if isinstance(raw, bytes) else type(raw).__name__
        raise InvalidDocument(
            what,
            [
                Problem(
                    "",
                    Text(
                        f"{KEY_SIZE} octets attendus, reçu : {got}",
                        f"{KEY_SIZE} bytes expected, got: {got}",
                    ),
                )
            ],
        )


def private_key_from_bytes(raw: bytes) -> PrivateKey:
    """The private key from its raw 32-byte seed (RFC 8032)."""
    _check_size(raw, Text("Clé privée Ed25519", "Ed25519 private key"))
    return Ed25519PrivateKey.from_private_bytes(raw)


def private_key_to_bytes(key: PrivateKey) -> bytes:
    """The raw 32-byte seed, for the tablet's key store."""
    return key.private_bytes_raw()


def public_key_from_bytes(raw: bytes) -> PublicKey:
    """A device's public key from its raw 32 bytes, as received at enrolment."""
    _check_size(raw, Text("Clé publique Ed25519", "Ed25519 public key"))
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:  # not a point on the curve
        raise InvalidDocument(
            Text("Clé publique Ed25519", "Ed25519 public key"),
            [Problem("", Text("clé invalide", "not a valid key"))],
        ) from exc


def public_key_to_bytes(key: PublicKey) -> bytes:
    return key.public_bytes_raw()


def public_key_of(key: PrivateKey) -> PublicKey:
    return key.public_key()


def sign(key: PrivateKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature (deterministic: same key and message, same bytes)."""
    return key.sign(message)


def verify(key: PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `key`'s signature of `message`; never raises on a bad one."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
