"""Password and PIN hashes: scrypt from the standard library, self-describing strings.

Format: `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`. The parameters travel with the hash,
so they can be raised later without breaking old hashes. Drivers' PIN hashes also reach
the tablets through the pull feed (drivers sign in offline); the tablet verifies them
with the same `hashlib.scrypt` call. A 4-digit PIN is short: its hash only slows an
attacker who already holds an enrolled tablet, it does not stop one.
"""

from __future__ import annotations

import secrets
from functools import cache

from shared.secret_hash import PREFIX, format_hash, verify_secret

__all__ = ["PREFIX", "dummy_hash", "hash_secret", "verify_secret"]

N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32


def hash_secret(secret: str, *, n: int | None = None, r: int = R, p: int = P) -> str:
    n = n or N  # read at call time, so tests can lower the cost
    return format_hash(secret, secrets.token_bytes(SALT_BYTES), n, r, p, HASH_BYTES)


@cache
def dummy_hash() -> str:
    """A hash to verify against when the login is unknown, so both cases take as long."""
    return hash_secret(secrets.token_hex(8))
