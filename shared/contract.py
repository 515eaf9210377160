"""A contract (convention): an ordering party's pricing rules, as data.

These frozen values are what `shared.contract_schema` builds from a contract document;
`shared.valuation.value` applies them to a mission. Every rule of DOMAIN.md's "Pricing
rules an ordering party can have" has a field here; docs/contracts.md describes the
document format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from enum import StrEnum

from shared.catalogue import Catalogue
from shared.errors import ValuationRefused
from shared.payment_terms import PaymentTerms
from shared.site_fact_rules import UNSTATED, SiteFactRules

FactValue = bool | str


class Payer(StrEnum):
    ORDERING_PARTY = "ordering_party"
    BENEFICIARY = "beneficiary"


class Instant(StrEnum):
    """Which of the mission's times decides its time band."""

    CALL = "call"
    ARRIVAL = "arrival"


class Combine(StrEnum):
    HIGHEST = "highest"  # only the highest matching surcharge applies
    STACK = "stack"  # every matching surcharge applies


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Condition:
    """Facts that must all hold: ``{"accident": true}``; a tuple means any of the values."""

    facts: Mapping[str, FactValue | tuple[str, ...]] = field(default_factory=dict)

    def holds(self, facts: Mapping[str, FactValue]) -> bool:
        for name, expected in self.facts.items():
            actual = facts.get(name, False if isinstance(expected, bool) else None)
            if isinstance(expected, tuple):
                if actual not in expected:
                    return False
            elif actual != expected:
                return False
        return True

    def __bool__(self) -> bool:
        return bool(self.facts)


ALWAYS = Condition()


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount stated excluding or including VAT (caps, deductibles)."""

    amount: Decimal
    includes_vat: bool


@dataclass(frozen=True, slots=True)
class OrderingParty:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class VehicleClassBand:
    """Weight band: a vehicle up to `max_weight_kg` (None: no limit) is of class `code`."""

    code: str
    max_weight_kg: int | None


@dataclass(frozen=True, slots=True)
class Discount:
    """A per-customer discount on one product or a whole family (by code prefix)."""

    code: str
    percent: Decimal


@dataclass(frozen=True, slots=True)
class CustomerTerms:
    price_list: str | None
    discounts: tuple[Discount, ...] = ()


@dataclass(frozen=True, slots=True)
class DistanceTier:
    """Price per km for the km up to `up_to_km` of counted distance (None: no limit)."""

    up_to_km: Decimal | None
    price: Decimal


@dataclass(frozen=True, slots=True)
class DistanceRule:
    legs: tuple[str, ...]
    included_km: Decimal
    tiers: tuple[DistanceTier, ...]
    code: str = "KM"


@dataclass(frozen=True, slots=True)
class TimeBand:
    id: str
    label: str | None
    percent: Decimal
    applies_to: tuple[str, ...]  # code prefixes of the lines it surcharges
    days: tuple[str, ...] = WEEKDAYS
    start: time = time(0, 0)
    end: time | None = None  # None: until midnight; end <= start wraps past midnight
    public_holidays: bool = False  # matches public holidays (days and hours ignored)

    def matches(self, weekday: int, at: time, is_holiday: bool) -> bool:
        if self.public_holidays:
            return is_holiday
        if WEEKDAYS[weekday] not in self.days:
            return False
        if self.end is None:
            return at >= self.start
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


@dataclass(frozen=True, slots=True)
class TimeBands:
    decided_by: Instant = Instant.CALL
    combine: Combine = Combine.HIGHEST
    bands: tuple[TimeBand, ...] = ()


@dataclass(frozen=True, slots=True)
class Supplement:
    """A line added automatically when the mission's facts satisfy the condition."""

    code: str
    when: Condition


@dataclass(frozen=True, slots=True)
class CoverageRule:
    """Who pays the lines matching `code` (a prefix; "*" for all), optionally only the
    surcharge lines of one time band, when the condition holds. First match wins."""

    code: str
    payer: Payer
    when: Condition = ALWAYS
    band: str | None = None

    def matches(self, code: str, separator: str, band: str | None) -> bool:
        if self.band is not None and self.band != band:
            return False
        return self.code == "*" or code == self.code or code.startswith(self.code + separator)


@dataclass(frozen=True, slots=True)
class Caps:
    mission: Amount | None = None
    file: Amount | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    version: int
    label: str
    ordering_party: OrderingParty | None  # None: a private customer pays everything
    valid_from: date
    valid_until: date | None  # inclusive
    currency: str
    timezone: str
    holiday_country: str
    holiday_subdivision: str | None
    prices_include_vat: bool
    vat_rate: Decimal  # percent, e.g. 20
    vat_rates: Mapping[str, Decimal]  # per code prefix, e.g. {"TOLL": 0}
    catalogue: Catalogue
    vehicle_classes: tuple[VehicleClassBand, ...]
    price_lists: Mapping[str, Mapping[str, Decimal]]
    price_list: str
    at_cost: tuple[str, ...]
    customers: Mapping[str, CustomerTerms]
    distance: DistanceRule | None
    time_bands: TimeBands
    supplements: tuple[Supplement, ...]
    coverage: tuple[CoverageRule, ...]
    deductible: Amount | None
    caps: Caps
    payment: PaymentTerms
    source_digest: str  # sha256 of the document's canonical JSON
    # A regulated tariff: the weight decides the class whenever it is known.
    weight_decides: bool = False
    # What a driver may change alone of what the order said (shared.site_fact_rules).
    site_facts: SiteFactRules = UNSTATED

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def version_on(versions: Iterable[Contract], contract_id: str, day: date) -> Contract:
    """The version of a contract valid on a day: the highest version whose validity
    window contains it (a newer version published for the same period supersedes the
    older one). An old mission keeps the price of its own date."""
    valid = [c for c in versions if c.id == contract_id and c.is_valid_on(day)]
    if not valid:
        raise ValuationRefused(
            f"Aucune version de la convention {contract_id} n'est valable le {day:%d/%m/%Y}.",
            f"No version of contract {contract_id} is valid on {day.isoformat()}.",
        )
    return max(valid, key=lambda c: c.version)
