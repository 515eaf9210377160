"""A mission (intervention) as the valuation sees it.

The mission carries facts, not prices: what was done (services), to which vehicle,
when, how far, and what happened (accident…). Prices come from the contract. Items at
cost (tolls, parts) are the exception: their amount is on the receipt.

The document's schema is `shared.mission_schema` (marshmallow), imported only when a
document is validated: the tablet builds the missions it checked before without it
(`shared.checked_mission`, docs/field-client.md "Speed").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.contract import Amount, FactValue
from shared.i18n import Text
from shared.money import format_amount

if TYPE_CHECKING:
    from shared.mission_schema import MissionSchema as MissionSchema

LEGS = ("en_route", "loaded", "return")
# Each leg in words (French, English), for every text a person reads: a code never shows.
LEG_WORDS: Mapping[str, Text] = {
    "en_route": Text("aller", "to the scene"),
    "loaded": Text("en charge", "loaded with the vehicle"),
    "return": Text("retour", "return trip"),
}
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


MISSION = Text("Mission invalide", "Invalid mission")


def load_mission(document: Any) -> Mission:
    """Validate a mission document (parsed JSON) and build the `Mission` value."""
    from shared.mission_schema import validated  # marshmallow: only for unchecked documents

    return mission_from_data(validated(document))


def mission_from_data(data: Mapping[str, Any]) -> Mission:
    """The `Mission` of a document's loaded form (the schema's output, or
    `shared.checked_mission`'s for a document that passed it before)."""
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


def __getattr__(name: str) -> Any:
    """`MissionSchema` where it always was, without importing marshmallow with the values."""
    if name == "MissionSchema":
        from shared.mission_schema import MissionSchema

        return MissionSchema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
