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

from shared.contract import Amount, FactValue
from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.money import format_amount
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
class ContractCoverage:
    """What the party's contract applies to the file, as looked up at intake."""

    contract_id: str
    version: int
    mission_cap: Amount | None = None
    file_cap: Amount | None = None
    deductible: Amount | None = None
    km_included: Decimal | None = None
    file_consumed: Decimal | None = None  # what earlier missions consumed, per the server


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the ordering party says it covers for this file (informational only: the
    valuation never reads it; prices, caps and the deductible come from the contract)."""

    mission_cap: Amount | None = None
    file_cap: Amount | None = None
    km_covered: Decimal | None = None
    deductible: Amount | None = None
    file_consumed: Decimal | None = None  # the file's earlier consumption, per the party
    reference: str | None = None
    note: str | None = None
    contract: ContractCoverage | None = None
    warning: Text | None = None  # order and contract differ


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
    coverage: Coverage | None = None  # informational: never read by the valuation


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
        coverage=None if data["coverage"] is None else _coverage(data["coverage"]),
    )


def _amount(value: Decimal | None, includes_vat: bool) -> Amount | None:
    return None if value is None else Amount(value, includes_vat)


def _cap(data: Mapping[str, Any] | None) -> Amount | None:
    return None if data is None else Amount(data["amount"], data["includes_vat"])


def _coverage(data: Mapping[str, Any]) -> Coverage:
    terms = data["contract"]
    warning = data["warning"]
    return Coverage(
        mission_cap=_amount(data["mission_cap"], data["caps_include_vat"]),
        file_cap=_amount(data["file_cap"], data["caps_include_vat"]),
        km_covered=data["km_covered"],
        deductible=_amount(data["deductible"], data["deductible_includes_vat"]),
        file_consumed=data["file_consumed"],
        reference=data["reference"],
        note=data["note"],
        contract=None
        if terms is None
        else ContractCoverage(
            contract_id=terms["id"],
            version=terms["version"],
            mission_cap=_cap(terms["mission_cap"]),
            file_cap=_cap(terms["file_cap"]),
            deductible=_cap(terms["deductible"]),
            km_included=terms["km_included"],
            file_consumed=terms["file_consumed"],
        ),
        warning=None if warning is None else Text(warning["fr"], warning["en"]),
    )


# --- order and contract compared ---------------------------------------------------------

_WHAT: Mapping[str, Text] = {
    "mission_cap": Text("plafond par mission", "cap per mission"),
    "file_cap": Text("plafond par dossier", "cap per file"),
    "deductible": Text("franchise", "deductible"),
    "file_consumed": Text("déjà consommé sur le dossier", "already consumed on the file"),
}


def _said(value: Amount | Decimal | None, lang: str) -> str:
    if value is None:
        return "rien" if lang == "fr" else "nothing"
    if isinstance(value, Decimal):
        return format_amount(value, lang)
    basis = (
        ("TTC" if value.includes_vat else "HT")
        if lang == "fr"
        else ("incl. VAT" if value.includes_vat else "excl. VAT")
    )
    return f"{format_amount(value.amount, lang)} {basis}"


def _no_zero(amount: Amount | None) -> Amount | None:
    """A deductible of zero is no deductible."""
    return None if amount is None or amount.amount == 0 else amount


def coverage_differences(
    order: Coverage, contract: ContractCoverage
) -> list[tuple[str, Amount | Decimal | None, Amount | Decimal | None]]:
    """Where what the order says differs from what the contract applies: caps and
    deductible (amount and VAT basis) and the file's earlier consumption. Only what the
    order states is compared (an order silent on a cap contradicts nothing)."""
    pairs: list[tuple[str, Amount | Decimal | None, Amount | Decimal | None]] = [
        ("mission_cap", order.mission_cap, contract.mission_cap),
        ("file_cap", order.file_cap, contract.file_cap),
        ("deductible", _no_zero(order.deductible), _no_zero(contract.deductible)),
        ("file_consumed", order.file_consumed, contract.file_consumed),
    ]
    return [
        (name, said, applied)
        for name, said, applied in pairs
        if said is not None and said != applied
    ]


def coverage_warning(order: Coverage, contract: ContractCoverage) -> Text | None:
    """The warning the driver and the office read when order and contract differ (None
    when they agree)."""
    found = coverage_differences(order, contract)
    if not found:
        return None

    def say(lang: str) -> str:
        fr = lang == "fr"
        parts = [
            f"{_WHAT[name](lang)} : {_said(said, lang)} selon l'ordre, "
            f"{_said(applied, lang)} selon la convention"
            if fr
            else f"{_WHAT[name](lang)}: {_said(said, lang)} per the order, "
            f"{_said(applied, lang)} per the contract"
            for name, said, applied in found
        ]
        head = (
            f"L'ordre et la convention {contract.contract_id} v{contract.version} diffèrent"
            if fr
            else f"The order and contract {contract.contract_id} v{contract.version} differ"
        )
        tail = (
            "La valorisation applique la convention : appelez le bureau en cas de doute."
            if fr
            else "The valuation applies the contract: call the office if in doubt."
        )
        return f"{head} ({' ; '.join(parts) if fr else '; '.join(parts)}). {tail}"

    return Text(say("fr"), say("en"))
