"""A mission (intervention) as the valuation sees it, and its document schema.

The mission carries facts, not prices: what was done (services), to which vehicle,
when, how far, and what happened (accident…). Prices come from the contract. Items at
cost (tolls, parts) are the exception: their amount is on the receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.contract import FactValue
from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.schema_tools import AmountField, DecimalField, bilingual, problems

LEGS = ("en_route", "loaded", "return")
TIMES = ("call", "arrival", "departure", "delivery")


@dataclass(frozen=True, slots=True)
class Vehicle:
    plate: str | None = None
    vehicle_class: str | None = None
    weight_kg: int | None = None


@dataclass(frozen=True, slots=True)
class PerformedService:
    """A service done on the mission: a family code, a quantity, an amount if at cost."""

    code: str
    quantity: Decimal = Decimal(1)
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Mission:
    id: str
    file_number: str | None
    file_sequence: int  # 1 for the file's first mission, 2+ for follow-ups
    ordering_party: str | None
    customer: str | None
    vehicle: Vehicle
    times: Mapping[str, datetime]
    distance_km: Mapping[str, Decimal]
    facts: Mapping[str, FactValue] = field(default_factory=dict)
    services: tuple[PerformedService, ...] = ()


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


MISSION = Text("Mission invalide", "Invalid mission")


def load_mission(document: Any) -> Mission:
    """Validate a mission document (parsed JSON) and build the `Mission` value."""
    if not isinstance(document, Mapping):
        raise InvalidDocument(MISSION, problems(["Invalid input type."]))
    try:
        data = MissionSchema().load(document)
    except ValidationError as exc:
        raise InvalidDocument(MISSION, problems(exc.messages)) from None
    vehicle = data["vehicle"]
    return Mission(
        id=data["id"],
        file_number=data["file_number"],
        file_sequence=data["file_sequence"],
        ordering_party=data["ordering_party"],
        customer=data["customer"],
        vehicle=Vehicle(vehicle["plate"], vehicle["vehicle_class"], vehicle["weight_kg"]),
        times=dict(data["times"]),
        distance_km=dict(data["distance_km"]),
        facts=dict(data["facts"]),
        services=tuple(
            PerformedService(s["code"], s["quantity"], s["amount"]) for s in data["services"]
        ),
    )
