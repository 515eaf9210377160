"""Public numbers for rows numbered by one counter shared by every tenant.

An anomaly's row id comes from a global autoincrement: shown as is, a tenant that sees
its anomalies 1041 and 1187 learns that the other companies raised 145 between them. So
the API and the desk show a **ref** instead: the id put through a keyed pseudo-random
permutation of the integers below 2^32 (an 8-round Feistel network whose round function
is HMAC-SHA256 under a key derived from the app's SECRET_KEY, one key per kind of row).
A ref is an integer as before (at most 10 digits), stable for a row, and nothing in it
tells another row's number; a ref nobody was given decodes to some id that is not the
caller's (404 like any other unknown id).

Routes take refs through the URL converter of their kind (`<anomaly_ref:anomaly_id>`):
the view receives the row id, and `url_for(..., anomaly_id=row.id)` writes the ref;
schemas write them with `Ref(kind)`. The same goes for the other rows numbered across
tenants that a tenant sees: enrolment codes (`<enrolment_code_ref:code_id>`), card
settlement imports and the entries of a file's or a claim's log, each kind under its
own key (one kind's ref tells nothing of another's). A decoded id that no row can have
(0, or beyond the 32-bit signed columns) is no row: `fits_column` says so before a query.
Rotating SECRET_KEY changes every ref (old links answer 404), as it ends every token.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app
from marshmallow import fields
from werkzeug.routing import BaseConverter, ValidationError

from server.platform.keys import derived_key

HALF_BITS = 16
HALF_MASK = (1 << HALF_BITS) - 1
LIMIT = 1 << (2 * HALF_BITS)  # refs and ids below 2^32 (the id columns are 32-bit)
ROUNDS = 8

ANOMALY = "anomaly"
ENROLMENT_CODE = "enrolment_code"
SETTLEMENT = "settlement"
FILE_EVENT = "file_event"  # party_file_log rows: a file's and a claim's history


def _key(kind: str) -> bytes:
    cache: dict[str, bytes] = current_app.extensions.setdefault("towline.public_id_keys", {})
    if kind not in cache:
        cache[kind] = derived_key(str(current_app.config["SECRET_KEY"]), f"public-id/{kind}/v1")
    return cache[kind]


def _round(key: bytes, index: int, half: int) -> int:
    digest = hmac.new(key, bytes([index]) + half.to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & HALF_MASK


def permute(key: bytes, number: int) -> int:
    """The Feistel network forward: a bijection of [0, 2^32)."""
    left, right = number >> HALF_BITS, number & HALF_MASK
    for index in range(ROUNDS):
        left, right = right, left ^ _round(key, index, right)
    return (left << HALF_BITS) | right


def unpermute(key: bytes, number: int) -> int:
    """The same network backwards: `unpermute(k, permute(k, n)) == n`."""
    left, right = number >> HALF_BITS, number & HALF_MASK
    for index in reversed(range(ROUNDS)):
        left, right = right ^ _round(key, index, left), left
    return (left << HALF_BITS) | right


def to_ref(kind: str, row_id: int) -> int:
    """The number a person or a program sees for row `row_id` (needs an app context)."""
    if not 0 <= row_id < LIMIT:
        raise ValueError(f"{kind} id out of range: {row_id}")
    return permute(_key(kind), row_id)


def from_ref(kind: str, ref: int) -> int | None:
    """The row id behind a ref; None for a number that cannot be a ref."""
    if not 0 <= ref < LIMIT:
        return None
    return unpermute(_key(kind), ref)


def fits_column(row_id: int) -> bool:
    """Whether a row can have this id (32-bit signed columns counting from 1)."""
    return 0 < row_id < 2**31


class Ref(fields.Integer):
    """A schema field: the row id in the data, its ref (of `kind`) on the wire."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else to_ref(self.kind, int(value))


class RefConverter(BaseConverter):
    """`<anomaly_ref:name>`: digits in the URL, the row id in the view."""

    kind = ANOMALY
    regex = r"\d{1,10}"

    def to_python(self, value: str) -> int:
        row_id = from_ref(self.kind, int(value))
        if row_id is None:
            raise ValidationError  # no route matches: 404
        return row_id

    def to_url(self, value: Any) -> str:
        return str(to_ref(self.kind, int(value)))


class AnomalyRef(RefConverter):
    kind = ANOMALY


class EnrolmentCodeRef(RefConverter):
    kind = ENROLMENT_CODE


CONVERTERS: dict[str, type[RefConverter]] = {
    "anomaly_ref": AnomalyRef,
    "enrolment_code_ref": EnrolmentCodeRef,
}
