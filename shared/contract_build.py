"""A `Contract` from a contract document's loaded form: the schema's output
(`shared.contract_schema.load_contract`), or `shared.checked_contract`'s for a document
that passed the schema before. No marshmallow here: the tablet builds the contracts it
checked before without importing it (docs/field-client.md "Speed").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from shared.catalogue import DEFAULT_CATALOGUE, Catalogue, Segment
from shared.contract import (
    ALWAYS,
    WEEKDAYS,
    Amount,
    Caps,
    Combine,
    Condition,
    Contract,
    CoverageRule,
    CustomerTerms,
    Discount,
    DistanceRule,
    DistanceTier,
    Instant,
    OrderingParty,
    Payer,
    Supplement,
    TimeBand,
    TimeBands,
    VehicleClassBand,
)
from shared.i18n import Text
from shared.payment_terms import DepositTerms, DepositWhen, Method, PaymentTerms, PayWhen
from shared.site_fact_rules import rules_from


def catalogue_of(raw: Mapping[str, Any] | None) -> Catalogue:
    if raw is None:
        return DEFAULT_CATALOGUE
    return Catalogue(
        segments=tuple(
            Segment(s["name"], {k: Text(v["fr"], v["en"]) for k, v in s["values"].items()})
            for s in raw["segments"]
        ),
        separator=raw["separator"],
    )


def _hhmm(text: str) -> time | None:
    if text == "24:00":
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _condition(raw: Mapping[str, Any]) -> Condition:
    if not raw:
        return ALWAYS
    return Condition({k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def _amount(raw: Mapping[str, Any] | None) -> Amount | None:
    return None if raw is None else Amount(raw["amount"], raw["includes_vat"])


def contract_from_data(data: Mapping[str, Any], source_digest: str) -> Contract:
    """The `Contract` of a document's loaded form; `source_digest`: the sha256 of the
    document's canonical JSON."""
    bands = data["time_bands"]
    payment = data["payment"]
    return Contract(
        id=data["id"],
        version=data["version"],
        label=data["label"],
        ordering_party=(
            OrderingParty(data["ordering_party"]["id"], data["ordering_party"]["name"])
            if data["ordering_party"]
            else None
        ),
        valid_from=data["valid_from"],
        valid_until=data["valid_until"],
        currency=data["currency"],
        timezone=data["timezone"],
        holiday_country=data["holidays"]["country"],
        holiday_subdivision=data["holidays"]["subdivision"],
        prices_include_vat=data["prices_include_vat"],
        vat_rate=data["vat_rate"],
        vat_rates=dict(data["vat_rates"]),
        catalogue=catalogue_of(data["catalogue"]),
        vehicle_classes=tuple(
            VehicleClassBand(v["code"], v["max_weight_kg"]) for v in data["vehicle_classes"]
        ),
        price_lists={name: dict(prices) for name, prices in data["price_lists"].items()},
        price_list=data["price_list"],
        at_cost=tuple(data["at_cost"]),
        customers={
            name: CustomerTerms(
                t["price_list"], tuple(Discount(d["code"], d["percent"]) for d in t["discounts"])
            )
            for name, t in data["customers"].items()
        },
        distance=(
            DistanceRule(
                legs=tuple(data["distance"]["legs"]),
                included_km=data["distance"]["included_km"],
                tiers=tuple(
                    DistanceTier(t["up_to_km"], t["price"]) for t in data["distance"]["tiers"]
                ),
                code=data["distance"]["code"],
            )
            if data["distance"]
            else None
        ),
        time_bands=TimeBands(
            decided_by=Instant(bands["decided_by"]),
            combine=Combine(bands["combine"]),
            bands=tuple(
                TimeBand(
                    id=b["id"],
                    label=b["label"],
                    percent=b["percent"],
                    applies_to=tuple(b["applies_to"]),
                    days=tuple(b["days"]) if b["days"] else WEEKDAYS,
                    start=_hhmm(b["start"]) or time(0, 0),
                    end=_hhmm(b["end"]),
                    public_holidays=b["public_holidays"],
                )
                for b in bands["bands"]
            ),
        ),
        supplements=tuple(
            Supplement(s["code"], _condition(s["when"])) for s in data["supplements"]
        ),
        coverage=tuple(
            CoverageRule(c["code"], Payer(c["payer"]), _condition(c["when"]), c["band"])
            for c in data["coverage"]
        ),
        deductible=_amount(data["deductible"]),
        caps=Caps(_amount(data["caps"].get("mission")), _amount(data["caps"].get("file"))),
        payment=PaymentTerms(
            beneficiary_pays=PayWhen(payment["beneficiary_pays"]),
            methods=frozenset(Method(m) for m in payment["methods"]),
            deposit=DepositTerms(
                DepositWhen(payment["deposit"]["when"]), payment["deposit"]["amount"]
            ),
        ),
        source_digest=source_digest,
        weight_decides=data["weight_decides"],
        site_facts=rules_from(data["site_facts"], data["ordering_party"] is None),
    )
