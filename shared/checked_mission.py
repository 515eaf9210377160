"""A mission document that passed its schema before, built again without it.

The tablet validates a mission (`shared.mission.load_mission`, marshmallow) before it
stores it; reading it back at every command does not need the schema again, only the
conversions it made: defaults, decimals, amounts, instants. This module makes them with
the very functions the schema's fields use (`shared.money.parse_decimal`,
`parse_amount`, `datetime.fromisoformat`), so the `Mission` is equal to the validated
one (tests/test_checked_documents.py checks it for every example and generated mission).
It checks nothing: the caller trusts the document only when its digest is one the
tablet recorded after a full validation (fieldclient/checked_documents.py). A shape the
schema would have turned into something else raises `Unchecked`: validate it in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.checked import Unchecked, boolean, integer, mapping, optional, text
from shared.mission import Mission, mission_from_data
from shared.money import parse_amount, parse_decimal

_ONE = Decimal(1)


def _instant(value: Any) -> datetime:
    if type(value) is not str:
        raise Unchecked("an instant is a string")
    return datetime.fromisoformat(value)


def _amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    if type(value) is not str:
        raise Unchecked("an amount is a string")
    return parse_amount(value)


def _number(value: Any) -> Decimal | None:
    return None if value is None else parse_decimal(value)


def _whole(value: Any) -> int | None:
    return None if value is None else integer(value)


def _cap(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    cap = mapping(raw)
    return {"amount": _amount(cap["amount"]), "includes_vat": boolean(cap["includes_vat"])}


def _coverage(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    block = mapping(raw)
    terms = block.get("contract")
    warning = block.get("warning")
    return {
        "mission_cap": _amount(block.get("mission_cap")),
        "file_cap": _amount(block.get("file_cap")),
        "caps_include_vat": boolean(block.get("caps_include_vat", True)),
        "km_covered": _number(block.get("km_covered")),
        "deductible": _amount(block.get("deductible")),
        "deductible_includes_vat": boolean(block.get("deductible_includes_vat", True)),
        "file_consumed": _amount(block.get("file_consumed")),
        "reference": optional(block.get("reference")),
        "note": optional(block.get("note")),
        "contract": None
        if terms is None
        else {
            "id": text(mapping(terms)["id"]),
            "version": integer(terms["version"]),
            "mission_cap": _cap(terms.get("mission_cap")),
            "file_cap": _cap(terms.get("file_cap")),
            "deductible": _cap(terms.get("deductible")),
            "km_included": _number(terms.get("km_included")),
            "file_consumed": _amount(terms.get("file_consumed")),
        },
        "warning": None
        if warning is None
        else {"fr": text(mapping(warning)["fr"]), "en": text(warning["en"])},
    }


def loaded(document: Mapping[str, Any]) -> dict[str, Any]:
    """The schema's output for a document that passed it (defaults and conversions)."""
    vehicle = mapping(document["vehicle"])
    return {
        "id": text(document["id"]),
        "file_number": optional(document.get("file_number")),
        "file_sequence": integer(document.get("file_sequence", 1)),
        "ordering_party": optional(document.get("ordering_party")),
        "customer": optional(document.get("customer")),
        "vehicle": {
            "plate": optional(vehicle.get("plate")),
            "vehicle_class": optional(vehicle.get("class")),
            "weight_kg": _whole(vehicle.get("weight_kg")),
        },
        "times": {text(k): _instant(v) for k, v in mapping(document["times"]).items()},
        "distance_km": {
            text(k): parse_decimal(v) for k, v in mapping(document.get("distance_km", {})).items()
        },
        "facts": dict(mapping(document.get("facts", {}))),
        "services": [
            {
                "code": text(mapping(s)["code"]),
                "quantity": parse_decimal(s["quantity"]) if "quantity" in s else _ONE,
                "amount": _amount(s.get("amount")),
            }
            for s in document.get("services", [])
        ],
        "coverage": _coverage(document.get("coverage")),
    }


def checked_mission(document: Any) -> Mission:
    """The `Mission` of a document that passed `shared.mission_schema` before."""
    try:
        return mission_from_data(loaded(mapping(document)))
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise Unchecked(str(exc)) from None
