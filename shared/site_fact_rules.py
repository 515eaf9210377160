"""What a driver may change alone of what the order said: the ordering party's rule, as data
in its contract (the `site_facts` block, docs/contracts.md "Facts found on site").

Per fact, one of:

- `free`: the driver records what they found;
- `tolerance`: alone up to the order's figure plus the larger of `percent` of it and
  `absolute` (in the fact's unit: km, minutes, days, euros, kg), e.g. km up to +10 % or
  +5 km over the order; less than the order is always within;
- `approval`: any change needs a manager's approval code (`shared.approvals`, kind
  `site_facts`).

A contract that says nothing lets the driver change nothing alone (`approval`): the
ordering party never agreed to more. Private customers' contracts are always `free`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from shared.i18n import Text

FACTS = (
    "distance",  # km per leg
    "services",  # services added or removed (families of the catalogue)
    "waiting",  # waiting time, in minutes
    "storage",  # storage, in days
    "at_cost",  # items charged at the receipt's amount (tolls, parts), in euros
    "accident",  # the vehicle was in an accident
    "weight",  # the vehicle's weight, in kg
    "vehicle_class",  # the vehicle's class
)
NUMERIC = frozenset({"distance", "waiting", "storage", "at_cost", "weight"})

LABELS: Mapping[str, Text] = {
    "distance": Text("distance", "distance"),
    "services": Text("prestations", "services"),
    "waiting": Text("attente", "waiting time"),
    "storage": Text("gardiennage", "storage"),
    "at_cost": Text("frais au réel", "items at cost"),
    "accident": Text("accident", "accident"),
    "weight": Text("poids", "weight"),
    "vehicle_class": Text("classe du véhicule", "vehicle class"),
}
UNITS: Mapping[str, Text] = {
    "distance": Text("km", "km"),
    "waiting": Text("min", "min"),
    "storage": Text("jour(s)", "day(s)"),
    "at_cost": Text("€", "€"),
    "weight": Text("kg", "kg"),
}

_HUNDRED = Decimal(100)


class Allow(StrEnum):
    FREE = "free"
    TOLERANCE = "tolerance"
    APPROVAL = "approval"


@dataclass(frozen=True, slots=True)
class FactRule:
    allow: Allow
    percent: Decimal = Decimal(0)
    absolute: Decimal = Decimal(0)  # in the fact's unit

    def limit(self, order: Decimal) -> Decimal:
        """The highest figure the driver may record alone (tolerance only)."""
        margin = max(order * self.percent / _HUNDRED, self.absolute)
        return (order + margin).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


FREE = FactRule(Allow.FREE)
APPROVAL = FactRule(Allow.APPROVAL)


@dataclass(frozen=True, slots=True)
class SiteFactRules:
    """The contract's rule per fact; `default` for the facts it does not name."""

    default: FactRule = APPROVAL
    facts: Mapping[str, FactRule] = field(default_factory=dict)

    def rule(self, fact: str) -> FactRule:
        return self.facts.get(fact, self.default)


ALL_FREE = SiteFactRules(FREE)
UNSTATED = SiteFactRules(APPROVAL)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the driver may record a fact alone, and the limit that decided it."""

    allow: Allow
    within: bool
    limit: Decimal | None = None  # tolerance: the highest figure allowed alone


def judge_number(rule: FactRule, order: Decimal | None, found: Decimal | None) -> Verdict:
    """A figure against the order's: `free` always within; `approval` within only when
    unchanged; `tolerance` within up to the limit (an order silent on it counts as 0)."""
    if rule.allow is Allow.FREE:
        return Verdict(Allow.FREE, True)
    if rule.allow is Allow.APPROVAL:
        return Verdict(Allow.APPROVAL, found == order)
    limit = rule.limit(order or Decimal(0))
    return Verdict(Allow.TOLERANCE, found is None or found <= limit, limit)


def judge_value(rule: FactRule, unchanged: bool) -> Verdict:
    """A fact that is not a figure (services, accident, class): free, or unchanged."""
    if rule.allow is Allow.FREE:
        return Verdict(Allow.FREE, True)
    return Verdict(rule.allow, unchanged)


# --- the `site_facts` block of a contract, once loaded (schema: shared.site_fact_schema) ---


def problems(raw: Mapping[str, Any] | None, private: bool) -> list[tuple[str, str, str]]:
    """Consistency of a loaded block: (path, French, English) per problem."""
    found: list[tuple[str, str, str]] = []
    if not raw:
        return found
    for name, rule in raw.items():
        if rule is None:
            continue
        if rule["allow"] == Allow.TOLERANCE and name not in NUMERIC:
            found.append(
                (
                    f"site_facts.{name}.allow",
                    "une tolérance ne vaut que pour un chiffre : " + ", ".join(sorted(NUMERIC)),
                    "a tolerance only fits a figure: " + ", ".join(sorted(NUMERIC)),
                )
            )
        if private and rule["allow"] != Allow.FREE:
            found.append(
                (
                    f"site_facts.{name}.allow",
                    "contrat sans donneur d'ordre : le chauffeur note librement ce qu'il trouve",
                    "contract without ordering party: the driver records freely what they find",
                )
            )
    return found


def _rule(raw: Mapping[str, Any]) -> FactRule:
    return FactRule(
        Allow(raw["allow"]), raw["percent"] or Decimal(0), raw["absolute"] or Decimal(0)
    )


def rules_from(raw: Mapping[str, Any] | None, private: bool) -> SiteFactRules:
    """The rules of a loaded block; private customers are always free."""
    if private:
        return ALL_FREE
    if raw is None:
        return UNSTATED
    default = APPROVAL if raw.get("default") is None else _rule(raw["default"])
    return SiteFactRules(
        default, {name: _rule(rule) for name, rule in raw.items() if name in FACTS and rule}
    )
