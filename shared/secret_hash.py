"""Verifying scrypt hashes of passwords and PINs: `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`.

Pure: the salt is an input. The server makes the hashes (`server.people.hashing`, with a random
salt); both the server and the tablet verify them with `verify_secret`, so a driver signs
in on the tablet offline with the PIN hash the server sent.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "scrypt"
MAX_N = 2**20  # refuse hashes that would make verification a denial of service


def derive(secret: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=size, maxmem=2**27
    )


def format_hash(secret: str, salt: bytes, n: int, r: int, p: int, size: int = 32) -> str:
    derived = derive(secret, salt, n, r, p, size)
    return f"{PREFIX}${n}${r}${p}${salt.hex()}${derived.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches `stored`; a malformed stored hash never matches."""
    try:
        prefix, n_text, r_text, p_text, salt_hex, hash_hex = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    if prefix != PREFIX or not 1 < n <= MAX_N or not expected:
        return False
    return hmac.compare_digest(derive(secret, salt, n, r, p, len(expected)), expected)
