"""The facts a driver finds on site, beside what the order said, and the mission they make.

A `site_facts` journal entry holds, per fact changed, what the order said and what the
driver found (`Fact`), the manager's approval code when one was needed, and the mission's
total after them. `on_site(order, records, contract)` replays a mission's entries over
its order: a fact within what the ordering party lets the driver change alone (its
contract's `site_facts` rules, `shared.site_fact_rules`), or covered by the entry's
approval code, is applied; one beyond without a code is kept (the office sees it) but
changes nothing. The tablet and the server run this same function over the same signed
entries, so their valuations agree to the digest.

Every figure is absolute ("80 km found"), never a difference, so replaying an entry twice
gives the same mission, and a fact equal to the mission's figure changes nothing at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.contract import Contract
from shared.i18n import Text
from shared.mission import Mission, PerformedService
from shared.site_fact_rules import NUMERIC, Allow, Verdict, judge_number, judge_value
from shared.valuation import Step, Valuation, ValuationContext, value

WAIT = "WAIT"  # the catalogue's family for waiting time, priced per hour
STORAGE = "STO"  # the catalogue's family for storage, priced per day
HOURS = Decimal("0.01")  # waiting is billed in hundredths of an hour (45 min = 0.75 h)
_SIXTY = Decimal(60)
_ZERO = Decimal(0)

SITE_FACTS = Text("Constats sur place invalides", "Invalid site facts")


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact: what the order said and what the driver found, in wire form.

    `key` is the leg of a distance or the family of items at cost. Values: distance,
    waiting (minutes) and storage (days) as decimal text; services as the sorted list of
    families; at cost as the list of amounts; accident a bool; weight an int or None;
    class a text or None. `evidence`: odometer readings, the receipts' SHA-256.
    """

    fact: str
    key: str | None
    order: Any
    found: Any
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """One `site_facts` entry read back."""

    facts: tuple[Fact, ...]
    approval_ref: str | None = None
    ref: str | None = None  # the entry (its hash), for the office


@dataclass(frozen=True, slots=True)
class Judged:
    fact: Fact
    order: Any  # what the order says, per whoever judges (tablet or server)
    verdict: Verdict
    approval_ref: str | None
    record: str | None

    @property
    def applied(self) -> bool:
        return self.verdict.within or self.approval_ref is not None


@dataclass(frozen=True, slots=True)
class OnSite:
    order: Mission
    mission: Mission  # the order with every applied fact
    judged: tuple[Judged, ...]  # every fact of every entry, in journal order

    @property
    def held(self) -> tuple[Judged, ...]:
        """Facts beyond what the driver may change alone, recorded without a code."""
        return tuple(j for j in self.judged if not j.applied)

    def latest(self) -> list[Judged]:
        """The last word on each fact (a driver may correct a figure twice)."""
        last: dict[tuple[str, str | None], Judged] = {}
        for judged in self.judged:
            last[(judged.fact.fact, judged.fact.key)] = judged
        return list(last.values())


# --- reading a mission's figures -----------------------------------------------------------


def plain_families(contract: Contract) -> frozenset[str]:
    """Families a driver adds or removes as a service: not the ones with their own fact
    (waiting, storage, items at cost) and not the extra km, which the distance gives."""
    own = {WAIT, STORAGE, *contract.at_cost}
    if contract.distance is not None:
        own.add(contract.distance.code)
    return frozenset(f for f in contract.catalogue.families if f not in own)


def text(number: Decimal) -> str:
    """Decimal text without a needless exponent or trailing zeros: 80, 0.75, 12.4."""
    normal = number.normalize()
    return format(normal, "f") if normal != normal.to_integral() else str(int(normal))


def _quantity(mission: Mission, family: str) -> Decimal:
    return sum((s.quantity for s in mission.services if s.code == family), _ZERO)


def value_of(mission: Mission, fact: str, key: str | None, contract: Contract) -> Any:
    """A fact's figure on a mission, in wire form."""
    if fact == "distance":
        return text(mission.distance_km.get(key or "", _ZERO))
    if fact == "services":
        families = plain_families(contract)
        return sorted({s.code for s in mission.services if s.code in families})
    if fact == "waiting":
        return text(_quantity(mission, WAIT) * _SIXTY)
    if fact == "storage":
        return text(_quantity(mission, STORAGE))
    if fact == "at_cost":
        return [str((s.amount or _ZERO) * s.quantity) for s in mission.services if s.code == key]
    if fact == "accident":
        return mission.facts.get("accident") is True
    if fact == "weight":
        return mission.vehicle.weight_kg
    if fact == "vehicle_class":
        return mission.vehicle.vehicle_class
    raise ValueError(f"unknown fact {fact}")


def number(fact: str, wire: Any) -> Decimal | None:
    """A figure to compare: the sum of the amounts for items at cost."""
    if wire is None:
        return None
    if fact == "at_cost":
        return sum((Decimal(a) for a in wire), _ZERO)
    return Decimal(wire)


def same(fact: str, left: Any, right: Any) -> bool:
    """Equal figures, whatever their writing (80, 80.0 and 80.00 are one distance)."""
    if fact == "at_cost":
        return [Decimal(a) for a in left] == [Decimal(a) for a in right]
    if fact == "services":
        return sorted(set(left)) == sorted(set(right))
    if fact in NUMERIC and left is not None and right is not None:
        return Decimal(left) == Decimal(right)
    return bool(left == right)


# --- applying a fact -----------------------------------------------------------------------


def _set_quantity(services: list[PerformedService], family: str, quantity: Decimal) -> None:
    """One line of `family` with `quantity`, where the first one was (0: none)."""
    at = next((i for i, s in enumerate(services) if s.code == family), len(services))
    services[:] = [s for s in services if s.code != family]
    if quantity > 0:
        services.insert(min(at, len(services)), PerformedService(family, quantity))


def _waiting_hours(minutes: Decimal) -> Decimal:
    hours = (minutes / _SIXTY).quantize(HOURS, rounding=ROUND_HALF_UP)
    return Decimal(int(hours)) if hours == hours.to_integral() else hours


def apply(mission: Mission, fact: Fact, contract: Contract) -> Mission:
    """The mission with the driver's figure for one fact (unchanged when equal)."""
    if same(fact.fact, value_of(mission, fact.fact, fact.key, contract), fact.found):
        return mission
    found = fact.found
    if fact.fact == "distance":
        leg = str(fact.key)
        return replace(mission, distance_km={**mission.distance_km, leg: Decimal(found)})
    if fact.fact == "accident":
        return replace(mission, facts={**mission.facts, "accident": bool(found)})
    if fact.fact == "weight":
        return replace(mission, vehicle=replace(mission.vehicle, weight_kg=found))
    if fact.fact == "vehicle_class":
        return replace(mission, vehicle=replace(mission.vehicle, vehicle_class=found))
    services = list(mission.services)
    if fact.fact == "services":
        families = plain_families(contract)
        wanted = set(found)
        services = [s for s in services if s.code not in families or s.code in wanted]
        present = {s.code for s in services}
        services += [PerformedService(code) for code in sorted(wanted - present)]
    elif fact.fact == "waiting":
        _set_quantity(services, WAIT, _waiting_hours(Decimal(found)))
    elif fact.fact == "storage":
        _set_quantity(services, STORAGE, Decimal(found))
    elif fact.fact == "at_cost":
        at = next((i for i, s in enumerate(services) if s.code == fact.key), len(services))
        services = [s for s in services if s.code != fact.key]
        items = [PerformedService(str(fact.key), Decimal(1), Decimal(a)) for a in found]
        services[min(at, len(services)) : min(at, len(services))] = items
    return replace(mission, services=tuple(services))


# --- judging and replaying -----------------------------------------------------------------


def _weight_reference(order: Mission, contract: Contract) -> Decimal | None:
    """An order silent on the weight: the heaviest its class allows (a weight that keeps
    the class changes nothing); None when the class has no limit."""
    for band in contract.vehicle_classes:
        if band.code == order.vehicle.vehicle_class:
            return None if band.max_weight_kg is None else Decimal(band.max_weight_kg)
    return None


def judge(fact: Fact, order: Mission, contract: Contract) -> tuple[Any, Verdict]:
    """What the order says of the fact, and whether the driver may record it alone."""
    rule = contract.site_facts.rule(fact.fact)
    said = value_of(order, fact.fact, fact.key, contract)
    if fact.fact not in NUMERIC:  # unchanged, whatever the writing, is always allowed
        return said, judge_value(rule, same(fact.fact, said, fact.found))
    reference = number(fact.fact, said)
    if fact.fact == "weight" and reference is None and rule.allow is Allow.TOLERANCE:
        reference = _weight_reference(order, contract)
        if reference is None:
            return said, Verdict(Allow.TOLERANCE, True)
    return said, judge_number(rule, reference, number(fact.fact, fact.found))


def on_site(order: Mission, records: Sequence[Record], contract: Contract) -> OnSite:
    """The order with a mission's recorded facts replayed, in journal order."""
    mission = order
    judged: list[Judged] = []
    for record in records:
        for fact in record.facts:
            said, verdict = judge(fact, order, contract)
            item = Judged(fact, said, verdict, record.approval_ref, record.ref)
            judged.append(item)
            if item.applied:
                mission = apply(mission, fact, contract)
    return OnSite(order, mission, tuple(judged))


def step_of(judged: Judged) -> Step:
    """The explanation's line: order and site side by side."""
    limit = judged.verdict.limit
    return Step(
        "site_fact",
        {
            "fact": judged.fact.fact,
            "key": judged.fact.key,
            "order": judged.order,
            "found": judged.fact.found,
            "allow": judged.verdict.allow.value,
            "limit": None if limit is None else text(limit),
            "within": judged.verdict.within,
            "approval_ref": judged.approval_ref,
            "applied": judged.applied,
        },
    )


def revalue(
    order: Mission,
    records: Sequence[Record],
    contract: Contract,
    context: ValuationContext | None = None,
) -> tuple[OnSite, Valuation]:
    """The mission on site and its valuation, with the same contract; the explanation
    starts with order against site (wording only: the digest is the money's)."""
    site = on_site(order, records, contract)
    valuation = value(site.mission, contract, context)
    if site.judged:
        steps = tuple(step_of(j) for j in site.latest())
        valuation = replace(valuation, explanation=(*steps, *valuation.explanation))
    return site, valuation


# --- the entry's payload -------------------------------------------------------------------


def fact_wire(fact: Fact, verdict: Verdict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"fact": fact.fact, "order": fact.order, "found": fact.found}
    if fact.fact == "distance":
        body["leg"] = fact.key
    if fact.fact == "at_cost":
        body["family"] = fact.key
    body.update(fact.evidence)
    if verdict is not None:
        body["allow"] = verdict.allow.value
        body["within"] = verdict.within
        body["limit"] = None if verdict.limit is None else text(verdict.limit)
    return body


def record_from_payload(payload: Mapping[str, Any], ref: str | None = None) -> Record:
    """A `site_facts` entry's payload, checked; `InvalidDocument` lists what is wrong."""
    from shared.site_facts_payload import validated  # marshmallow: only when there are facts

    data = validated(payload)
    facts = []
    for item in data["facts"]:
        evidence: dict[str, Any] = {}
        if item["odometer"] is not None:
            evidence["odometer"] = item["odometer"]
        if item["receipts"]:
            evidence["receipts"] = item["receipts"]
        key = item["leg"] if item["fact"] == "distance" else item["family"]
        facts.append(Fact(item["fact"], key, item["order"], item["found"], evidence))
    return Record(tuple(facts), data["approval_ref"], ref)


def contract_of(payload: Mapping[str, Any]) -> str | None:
    """The contract id the entry was judged under (None when unreadable)."""
    contract = payload.get("contract")
    name = contract.get("id") if isinstance(contract, Mapping) else None
    return name if isinstance(name, str) else None
