"""The mission document's schema (marshmallow): every field checked, unknown ones refused,
each problem named by its path in French and English. `shared.mission.load_mission` runs
it; the values it loads into are `shared.mission`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.errors import InvalidDocument
from shared.mission import LEGS, MISSION, TIMES
from shared.schema_tools import AmountField, DecimalField, bilingual, problems


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _VehicleSchema(_Strict):
    plate = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    vehicle_class = fields.String(
        data_key="class", load_default=None, allow_none=True, validate=validate.Length(max=8)
    )
    weight_kg = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 100_000)
    )


class _ServiceSchema(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9]{1,8}$"))
    quantity = DecimalField(load_default=Decimal(1), minimum=Decimal(0))
    amount = AmountField(load_default=None, allow_none=True)

    @validates_schema
    def _positive(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("amount") is not None and data["amount"] < 0:
            raise ValidationError(bilingual("montant négatif", "negative amount"), "amount")


def _flag(**kwargs: Any) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


_NEGATIVE = bilingual("montant négatif", "negative amount")


class _AmountSchema(_Strict):
    """An amount and its VAT basis, as in a contract (`{"amount", "includes_vat"}`)."""

    amount = AmountField(required=True)
    includes_vat = _flag(required=True)

    @validates_schema
    def _positive(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["amount"] < 0:
            raise ValidationError(_NEGATIVE, "amount")


class _ContractCoverageSchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    mission_cap = fields.Nested(_AmountSchema, load_default=None, allow_none=True)
    file_cap = fields.Nested(_AmountSchema, load_default=None, allow_none=True)
    deductible = fields.Nested(_AmountSchema, load_default=None, allow_none=True)
    km_included = DecimalField(load_default=None, allow_none=True, minimum=Decimal(0))
    file_consumed = AmountField(load_default=None, allow_none=True)

    @validates_schema
    def _positive(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("file_consumed") is not None and data["file_consumed"] < 0:
            raise ValidationError(_NEGATIVE, "file_consumed")


class _TextSchema(_Strict):
    fr = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    en = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class _CoverageSchema(_Strict):
    """The optional `coverage` block: the order's coverage fields (docs/orders.md), the
    file's earlier consumption, a note, and what the contract applies (`contract`) with a
    `warning` when the two differ. Informational: the valuation never reads it."""

    mission_cap = AmountField(load_default=None, allow_none=True)
    file_cap = AmountField(load_default=None, allow_none=True)
    caps_include_vat = _flag(load_default=True)
    km_covered = DecimalField(load_default=None, allow_none=True, minimum=Decimal(0))
    deductible = AmountField(load_default=None, allow_none=True)
    deductible_includes_vat = _flag(load_default=True)
    file_consumed = AmountField(load_default=None, allow_none=True)
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    contract = fields.Nested(_ContractCoverageSchema, load_default=None, allow_none=True)
    warning = fields.Nested(_TextSchema, load_default=None, allow_none=True)

    @validates_schema
    def _positive(self, data: dict[str, Any], **kwargs: Any) -> None:
        for name in ("mission_cap", "file_cap", "deductible", "file_consumed"):
            if data.get(name) is not None and data[name] < 0:
                raise ValidationError(_NEGATIVE, name)


class _BeneficiarySchema(_Strict):
    """Who pays on site, as the order gave them (`shared.beneficiary`): lengths only, so
    an order is never refused for a phone number written oddly. Never read by the
    valuation."""

    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    postcode = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    city = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class _AwareDateTime(fields.AwareDateTime):
    default_error_messages = {  # noqa: RUF012 - marshmallow's own convention
        "invalid": "Not a valid datetime.",
        "invalid_awareness": bilingual(
            "le décalage horaire est obligatoire (par ex. +01:00 ou Z)",
            "the UTC offset is required (e.g. +01:00 or Z)",
        ),
    }


class MissionSchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    file_number = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=64)
    )
    file_sequence = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))
    ordering_party = fields.String(load_default=None, allow_none=True)
    customer = fields.String(load_default=None, allow_none=True)
    vehicle = fields.Nested(_VehicleSchema, required=True)
    times = fields.Dict(
        keys=fields.String(validate=validate.OneOf(TIMES)),
        values=_AwareDateTime(),
        required=True,
    )
    distance_km = fields.Dict(
        keys=fields.String(validate=validate.OneOf(LEGS)),
        values=DecimalField(minimum=Decimal(0)),
        load_default=dict,
    )
    facts = fields.Dict(keys=fields.String(validate=validate.Length(1, 40)), load_default=dict)
    services = fields.List(fields.Nested(_ServiceSchema), load_default=list)
    coverage = fields.Nested(_CoverageSchema, load_default=None, allow_none=True)
    beneficiary = fields.Nested(_BeneficiarySchema, load_default=None, allow_none=True)

    @validates_schema
    def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "call" not in data.get("times", {}):
            raise ValidationError(
                bilingual("l'heure d'appel est obligatoire", "the call time is required"), "times"
            )
        for name, value in data.get("facts", {}).items():
            if not isinstance(value, bool | str):
                raise ValidationError(
                    bilingual(
                        "un fait vaut true/false ou un texte", "a fact is true/false or a string"
                    ),
                    f"facts.{name}",
                )
        vehicle = data.get("vehicle") or {}
        if vehicle.get("vehicle_class") is None and vehicle.get("weight_kg") is None:
            raise ValidationError(
                bilingual(
                    "indiquez la classe du véhicule ou son poids",
                    "give the vehicle's class or its weight",
                ),
                "vehicle",
            )


def validated(document: Any) -> dict[str, Any]:
    """The document's loaded form; `InvalidDocument` lists every problem with its path."""
    if not isinstance(document, Mapping):
        raise InvalidDocument(MISSION, problems(["Invalid input type."]))
    try:
        data: dict[str, Any] = MissionSchema().load(document)
    except ValidationError as exc:
        raise InvalidDocument(MISSION, problems(exc.messages)) from None
    return data
