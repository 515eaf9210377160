"""Password and PIN hashes: scrypt from the standard library, self-describing strings.

Format: `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`. The parameters travel with the hash,
so they can be raised later without breaking old hashes. Drivers' PIN hashes also reach
the tablets through the pull feed (drivers sign in offline); the tablet verifies them
with the same `hashlib.scrypt` call. A 4-digit PIN is short: its hash only slows an
attacker who already holds an enrolled tablet, it does not stop one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

PREFIX = "scrypt"
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_N = 2**20  # refuse hashes that would make verification a denial of service


def hash_secret(secret: str, *, n: int | None = None, r: int = R, p: int = P) -> str:
    n = n or N  # read at call time, so tests can lower the cost
    salt = secrets.token_bytes(SALT_BYTES)
    derived = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES)
    return f"{PREFIX}${n}${r}${p}${salt.hex()}${derived.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches `stored`; a malformed stored hash never matches."""
    try:
        prefix, n_text, r_text, p_text, salt_hex, hash_hex = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    if prefix != PREFIX or not 1 < n <= _MAX_N or not expected:
        return False
    derived = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**27
    )
    return hmac.compare_digest(derived, expected)


@cache
def dummy_hash() -> str:
    """A hash to verify against when the login is unknown, so both cases take as long."""
    return hash_secret(secrets.token_hex(8))
