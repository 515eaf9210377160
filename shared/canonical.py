"""Canonical JSON: the exact bytes that digests and signatures are computed over.

Sorted keys, no whitespace, UTF-8, decimals as strings, floats refused. The tablet and
the server must produce the same bytes for the same value, so nothing here depends on
the platform, the locale or the Python version's float repr.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.money import FloatRefused


def plain(value: Any) -> Any:
    """Turn a value into JSON-ready data: Decimal to str, tuples to lists; refuse floats."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        raise FloatRefused(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written to canonical JSON")
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON keys must be strings, not {key!r}")
            out[key] = plain(item)
        return out
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
