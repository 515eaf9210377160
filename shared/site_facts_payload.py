"""The schema of a `site_facts` entry's payload (marshmallow): `shared.site_facts` reads an
entry through it, importing it only when a mission has such entries (most have none, and
valuing them must not import marshmallow: docs/field-client.md "Speed").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.errors import InvalidDocument
from shared.mission import LEGS
from shared.schema_tools import bilingual, problems
from shared.site_fact_rules import FACTS, Allow
from shared.site_facts import SITE_FACTS


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Odometer(_Strict):
    start = fields.String(required=True)
    end = fields.String(required=True)


class _Receipt(_Strict):
    amount = fields.String(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    content_type = fields.String(required=True)


def _is_decimal(text: Any, *, integral: bool = False) -> bool:
    try:
        value_ = Decimal(text) if isinstance(text, str) else None
    except ArithmeticError:
        return False
    if value_ is None or not value_.is_finite() or value_ < 0:
        return False
    return not integral or value_ == value_.to_integral()


def _valid_found(fact: str, found: Any) -> bool:
    if fact in ("distance", "waiting"):
        return _is_decimal(found)
    if fact == "storage":
        return _is_decimal(found, integral=True)
    if fact == "services":
        return isinstance(found, list) and all(isinstance(c, str) and c for c in found)
    if fact == "at_cost":
        return isinstance(found, list) and all(_is_decimal(a) for a in found)
    if fact == "accident":
        return isinstance(found, bool)
    if fact == "weight":
        return found is None or (
            isinstance(found, int) and not isinstance(found, bool) and 0 < found <= 100_000
        )
    return found is None or (isinstance(found, str) and 0 < len(found) <= 8)


class _FactSchema(_Strict):
    fact = fields.String(required=True, validate=validate.OneOf(FACTS))
    leg = fields.String(load_default=None, validate=validate.OneOf(LEGS))
    family = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Z0-9]{1,8}$"))
    order = fields.Raw(required=True, allow_none=True)
    found = fields.Raw(required=True, allow_none=True)
    odometer = fields.Nested(_Odometer, load_default=None)
    receipts = fields.List(fields.Nested(_Receipt), load_default=list)
    allow = fields.String(load_default=None, validate=validate.OneOf(list(Allow)))
    within = fields.Boolean(load_default=None)
    limit = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _shape(self, data: dict[str, Any], **kwargs: Any) -> None:
        fact = data.get("fact")
        if fact == "distance" and data.get("leg") is None:
            raise ValidationError(bilingual("le trajet manque", "the leg is missing"), "leg")
        if fact == "at_cost" and data.get("family") is None:
            raise ValidationError(bilingual("la famille manque", "the family is missing"), "family")
        if fact is not None and not _valid_found(fact, data.get("found")):
            raise ValidationError(bilingual("valeur illisible", "unreadable value"), "found")


class _ContractRef(_Strict):
    id = fields.String(required=True)
    version = fields.Integer(required=True, strict=True)


class _Warning(_Strict):
    fr = fields.String(required=True)
    en = fields.String(required=True)


class PayloadSchema(_Strict):
    mission_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    contract = fields.Nested(_ContractRef, required=True)
    facts = fields.List(fields.Nested(_FactSchema), required=True, validate=validate.Length(1))
    approval_ref = fields.String(load_default=None, allow_none=True)
    total = fields.String(load_default=None, allow_none=True)
    warnings = fields.List(fields.Nested(_Warning), load_default=list)


def validated(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's loaded form; `InvalidDocument` lists every problem with its path."""
    try:
        data: dict[str, Any] = PayloadSchema().load(dict(payload))
    except ValidationError as exc:
        raise InvalidDocument(SITE_FACTS, problems(exc.messages)) from None
    return data
