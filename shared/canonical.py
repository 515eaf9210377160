"""Canonical JSON: the exact bytes that digests and signatures are computed over.

Sorted keys, no whitespace, UTF-8, decimals as strings, floats refused. The tablet and
the server must produce the same bytes for the same value, so nothing here depends on
the platform, the locale or the Python version's float repr.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from shared.money import FloatRefused


def plain(value: Any) -> Any:
    """Turn a value into JSON-ready data: Decimal to str, tuples to lists; refuse floats."""
    kind = type(value)  # exact-type dispatch first: this runs for every digest and signature
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written to canonical JSON")
        return str(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"canonical JSON keys must be strings, not {key!r}")
            out[key] = plain(item)
        return out
    if kind is list or kind is tuple:
        return [plain(item) for item in value]
    return _plain_other(value)


def _plain_other(value: Any) -> Any:
    """Subclasses and other mappings: the slow, general path."""
    if isinstance(value, float):
        raise FloatRefused(value)
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return plain(Decimal(value))
    if isinstance(value, Mapping):
        return plain(dict(value))
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} cannot be written to canonical JSON")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def digest(value: Any) -> str:
    """sha256 of the canonical JSON, as lowercase hex."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


# A str as a canonical JSON string literal, quotes included: the very function json.dumps
# uses with ensure_ascii=False, for code that writes canonical JSON text directly.
quote: Callable[[str], str] = encode_basestring


def text_digest(text: str) -> str:
    """sha256 of canonical JSON text already written (UTF-8), as lowercase hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
