"""The installation's secrets, kept as files under `var/` readable by the owner only:
the key that signs bearer tokens and the server's Ed25519 key pair (its public key is
given to every tablet at enrolment).

Several gunicorn workers starting together end up reading the one file the first of
them linked into place.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.signing import PrivateKey, private_key_from_bytes

SECRET_KEY_FILE = "secret_key"
SERVER_KEY_FILE = "server_ed25519.key"


def _read_or_create(path: Path, make: bytes) -> bytes:
    """The file's bytes; if absent, `make` is written to a private temporary file and
    linked into place (atomic: a reader never sees a half-written key)."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        temporary.unlink(missing_ok=True)
    return make


def secret_key(var_dir: Path) -> str:
    """The token-signing key: read from `var/secret_key`, created on first use."""
    raw = _read_or_create(var_dir / SECRET_KEY_FILE, secrets.token_hex(32).encode("ascii"))
    return raw.decode("ascii").strip()


def server_key(var_dir: Path) -> PrivateKey:
    """The installation's Ed25519 key (raw 32-byte seed in `var/server_ed25519.key`)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return private_key_from_bytes(_read_or_create(var_dir / SERVER_KEY_FILE, seed))


def derived_key(secret: str, purpose: str) -> bytes:
    """A key of its own for `purpose`, derived from the app's secret key (HMAC-SHA256):
    one secret to keep, and no use of it can be turned against another."""
    return hmac.new(secret.encode("utf-8"), f"towline/{purpose}".encode(), hashlib.sha256).digest()
