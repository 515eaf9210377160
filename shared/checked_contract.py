"""A contract document that passed its schema before, built again without it.

The tablet validates a contract (`shared.contract_schema.load_contract`, marshmallow,
and the `holidays` library to check the country) before it trusts it; reading it back at
every command needs only the schema's conversions: its defaults, decimals, amounts and
dates. They are made here with the functions the schema's fields use, so the `Contract`
is equal to the validated one (tests/test_checked_documents.py checks it for every
example and generated contract). Nothing is checked: the caller trusts the document only
when its digest is one the tablet recorded after a full validation
(fieldclient/checked_documents.py). A shape the schema would have converted ("yes" for
true) raises `Unchecked`: validate it in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from shared.checked import Unchecked, boolean, integer, mapping, optional, text
from shared.contract import Contract
from shared.contract_build import contract_from_data
from shared.money import ZERO, parse_amount, parse_decimal
from shared.payment_terms import Method
from shared.site_fact_rules import FACTS

_RULES = ("default", *FACTS)  # the `site_facts` block's fields, each None when absent


def _amount(value: Any) -> Decimal:
    return parse_amount(text(value))


def _day(value: Any) -> date:
    return date.fromisoformat(text(value))


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Unchecked("a list is expected")
    return [text(v) for v in value]


def _whole(value: Any) -> int | None:
    return None if value is None else integer(value)


def _stated(raw: Any) -> dict[str, Any] | None:
    """An amount with its VAT basis (a deductible, a cap), or None."""
    if raw is None:
        return None
    item = mapping(raw)
    return {"amount": _amount(item["amount"]), "includes_vat": boolean(item["includes_vat"])}


def _catalogue(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    block = mapping(raw)
    return {
        "separator": text(block.get("separator", ".")),
        "segments": [
            {
                "name": text(mapping(s)["name"]),
                "values": {
                    text(k): {"fr": text(mapping(v)["fr"]), "en": text(v["en"])}
                    for k, v in mapping(s["values"]).items()
                },
            }
            for s in block["segments"]
        ],
    }


def _distance(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    rule = mapping(raw)
    return {
        "legs": _texts(rule["legs"]),
        "included_km": parse_decimal(rule["included_km"]),
        "tiers": [
            {
                "up_to_km": None if t["up_to_km"] is None else parse_decimal(t["up_to_km"]),
                "price": _amount(t["price"]),
            }
            for t in map(mapping, rule["tiers"])
        ],
        "code": text(rule.get("code", "KM")),
    }


def _band(raw: Any) -> dict[str, Any]:
    band = mapping(raw)
    days = band.get("days")
    return {
        "id": text(band["id"]),
        "label": optional(band.get("label")),
        "percent": parse_decimal(band["percent"]),
        "applies_to": _texts(band["applies_to"]),
        "days": None if days is None else _texts(days),
        "start": text(band.get("from", "00:00")),
        "end": text(band.get("to", "24:00")),
        "public_holidays": boolean(band.get("public_holidays", False)),
    }


def _when(raw: Any) -> dict[str, Any]:
    return dict(mapping(raw))


def _payment(raw: Any) -> dict[str, Any]:
    block = mapping(raw)
    deposit = mapping(block.get("deposit", {}))
    methods = block.get("methods")
    return {
        "beneficiary_pays": text(block.get("beneficiary_pays", "before_departure")),
        "methods": [m.value for m in Method] if methods is None else _texts(methods),
        "deposit": {
            "when": text(deposit.get("when", "exempt")),
            "amount": _amount(deposit["amount"]) if "amount" in deposit else ZERO,
        },
    }


def _site_facts(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    block = mapping(raw)
    rules: dict[str, Any] = {}
    for name in _RULES:
        rule = block.get(name)
        if rule is None:
            rules[name] = None
            continue
        rule = mapping(rule)
        percent, absolute = rule.get("percent"), rule.get("absolute")
        rules[name] = {
            "allow": text(rule["allow"]),
            "percent": None if percent is None else parse_decimal(percent),
            "absolute": None if absolute is None else parse_decimal(absolute),
        }
    return rules


def loaded(document: Mapping[str, Any]) -> dict[str, Any]:
    """The schema's output for a document that passed it (defaults and conversions)."""
    party = document["ordering_party"]
    holidays = mapping(document.get("holidays", {}))
    bands = mapping(document.get("time_bands", {}))
    caps = mapping(document.get("caps", {}))
    until = document.get("valid_until")
    return {
        "id": text(document["id"]),
        "version": integer(document["version"]),
        "label": text(document["label"]),
        "ordering_party": None
        if party is None
        else {"id": text(mapping(party)["id"]), "name": text(party["name"])},
        "valid_from": _day(document["valid_from"]),
        "valid_until": None if until is None else _day(until),
        "currency": text(document.get("currency", "EUR")),
        "timezone": text(document.get("timezone", "Europe/Paris")),
        "holidays": {
            "country": text(holidays.get("country", "FR")),
            "subdivision": optional(holidays.get("subdivision")),
        },
        "prices_include_vat": boolean(document["prices_include_vat"]),
        "vat_rate": parse_decimal(document["vat_rate"]),
        "vat_rates": {
            text(k): parse_decimal(v) for k, v in mapping(document.get("vat_rates", {})).items()
        },
        "catalogue": _catalogue(document.get("catalogue")),
        "vehicle_classes": [
            {"code": text(v["code"]), "max_weight_kg": _whole(v["max_weight_kg"])}
            for v in map(mapping, document.get("vehicle_classes", []))
        ],
        "weight_decides": boolean(document.get("weight_decides", False)),
        "price_lists": {
            text(name): {text(code): _amount(price) for code, price in mapping(prices).items()}
            for name, prices in mapping(document["price_lists"]).items()
        },
        "price_list": text(document["price_list"]),
        "at_cost": _texts(document.get("at_cost", [])),
        "customers": {
            text(name): {
                "price_list": optional(terms.get("price_list")),
                "discounts": [
                    {"code": text(d["code"]), "percent": parse_decimal(d["percent"])}
                    for d in map(mapping, terms.get("discounts", []))
                ],
            }
            for name, terms in (
                (n, mapping(t)) for n, t in mapping(document.get("customers", {})).items()
            )
        },
        "distance": _distance(document.get("distance")),
        "time_bands": {
            "decided_by": text(bands.get("decided_by", "call")),
            "combine": text(bands.get("combine", "highest")),
            "bands": [_band(b) for b in bands.get("bands", [])],
        },
        "supplements": [
            {"code": text(s["code"]), "when": _when(s.get("when", {}))}
            for s in map(mapping, document.get("supplements", []))
        ],
        "coverage": [
            {
                "code": text(c["code"]),
                "payer": text(c["payer"]),
                "when": _when(c.get("when", {})),
                "band": optional(c.get("band")),
            }
            for c in map(mapping, document.get("coverage", []))
        ],
        "deductible": _stated(document.get("deductible")),
        "caps": {"mission": _stated(caps.get("mission")), "file": _stated(caps.get("file"))},
        "payment": _payment(document.get("payment", {})),
        "site_facts": _site_facts(document.get("site_facts")),
    }


def checked_contract(document: Any, source_digest: str) -> Contract:
    """The `Contract` of a document that passed `shared.contract_schema` before;
    `source_digest`: the sha256 of its canonical JSON, already computed by the caller."""
    try:
        return contract_from_data(loaded(mapping(document)), source_digest)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise Unchecked(str(exc)) from None
