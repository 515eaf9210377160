"""`value(mission, contract, context)`: apply a contract to a mission.

The result lists the priced lines and surcharges, splits every line between the
ordering party and the beneficiary, totals each payer excl. VAT / VAT / incl. VAT per
rate, explains every rule applied, and carries a digest of its canonical JSON. Same
inputs, same bytes: the tablet and the server compare digests.

Order of work: vehicle class and variant → price list → service lines → automatic
supplements → extra distance → time-band surcharges → VAT rates → who pays each line →
deductible → mission cap → file cap → totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.canonical import quote, text_digest
from shared.catalogue import FIRST, FOLLOW_UP
from shared.contract import Amount, Contract, Discount, Payer
from shared.errors import ValuationRefused
from shared.frozen import maker
from shared.i18n import Text
from shared.mission import Mission
from shared.money import CENT, ZERO, cents
from shared.split import Covered, largest_within
from shared.valuation_plan import Plan, no_price, plan_of
from shared.vat import Totals, combine, totals
from shared.vehicle_class import classify

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_NO_KM = Decimal(0)


@dataclass(frozen=True, slots=True)
class ValuationContext:
    """What the valuation needs beyond the mission and the contract.

    `file_consumed`: what the ordering party already paid on this file's cap, in the
    cap's own basis (incl. VAT if the cap is stated incl. VAT), from earlier missions.
    """

    file_consumed: Decimal = ZERO

    def __post_init__(self) -> None:
        # Equal amounts must give equal digests: 94, 94.0 and 94.00 are one amount.
        object.__setattr__(self, "file_consumed", cents(self.file_consumed))


_NO_CONTEXT = ValuationContext()


@dataclass(frozen=True, slots=True)
class Line:
    code: str  # full structured code, e.g. TOW.VL.P
    kind: str  # service | supplement | distance | surcharge | at_cost
    label: Text
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # in the contract's price basis (excl. or incl. VAT)
    vat_rate: Decimal  # percent
    ordering_party: Decimal  # this line's share of each payer, adding up to `amount`
    beneficiary: Decimal
    band: str | None = None  # the time band of a surcharge line

    def to_wire(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "quantity": str(self.quantity),
            "unit_price": str(self.unit_price),
            "amount": str(self.amount),
            "vat_rate": str(self.vat_rate),
            "shares": {
                Payer.ORDERING_PARTY.value: str(self.ordering_party),
                Payer.BENEFICIARY.value: str(self.beneficiary),
            },
            "band": self.band,
        }

    def canonical(self) -> str:
        """`canonical_json(self.to_wire())` as text, written directly (keys sorted)."""
        band = "null" if self.band is None else quote(self.band)
        return (
            f'{{"amount":"{self.amount!s}","band":{band},"code":{quote(self.code)},'
            f'"kind":{quote(self.kind)},"quantity":"{self.quantity!s}",'
            f'"shares":{{"beneficiary":"{self.beneficiary!s}",'
            f'"ordering_party":"{self.ordering_party!s}"}},'
            f'"unit_price":"{self.unit_price!s}","vat_rate":"{self.vat_rate!s}"}}'
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One rule applied, as JSON-ready data: amounts are passed as strings (str() of the
    Decimal) and nested values are plain, which a property test checks; `shared.explain`
    words it in French or English."""

    rule: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"rule": self.rule, "params": self.params}


@dataclass(frozen=True, slots=True)
class FileCap:
    cap: Decimal
    includes_vat: bool
    consumed_before: Decimal
    consumed_by_mission: Decimal

    def to_wire(self) -> dict[str, Any]:
        return {
            "cap": str(self.cap),
            "includes_vat": self.includes_vat,
            "consumed_before": str(self.consumed_before),
            "consumed_by_mission": str(self.consumed_by_mission),
        }

    def canonical(self) -> str:
        """`canonical_json(self.to_wire())` as text, written directly (keys sorted)."""
        return (
            f'{{"cap":"{self.cap!s}","consumed_before":"{self.consumed_before!s}",'
            f'"consumed_by_mission":"{self.consumed_by_mission!s}",'
            f'"includes_vat":{"true" if self.includes_vat else "false"}}}'
        )


@dataclass(frozen=True, slots=True)
class Valuation:
    mission_id: str
    contract_id: str
    contract_version: int
    contract_digest: str
    currency: str
    prices_include_vat: bool
    lines: tuple[Line, ...]
    ordering_party: Totals
    beneficiary: Totals
    total: Totals
    file_cap: FileCap | None
    explanation: tuple[Step, ...]
    digest: str

    @property
    def beneficiary_due(self) -> Decimal:
        """What the beneficiary owes for this mission, incl. VAT: the amount to collect."""
        return self.beneficiary.incl

    def to_wire(self) -> dict[str, Any]:
        body = _body(self)
        body["digest"] = self.digest
        return body


def _body(v: Valuation) -> dict[str, Any]:
    """The wire form, without the digest."""
    body = _money_facts(v)
    for wire, line in zip(body["lines"], v.lines, strict=True):
        wire["label"] = {"fr": line.label.fr, "en": line.label.en}
    body["explanation"] = [step.to_wire() for step in v.explanation]
    return body


def _money_facts(v: Valuation) -> dict[str, Any]:
    """What the digest covers: who pays what, line by line, under which contract.

    Labels and the explanation's wording are left out on purpose: they follow from the
    contract (whose digest is included) and the lines, and rewording a sentence in a new
    release must not make every tablet's valuation disagree with the server's.
    """
    return {
        "mission_id": v.mission_id,
        "contract": {
            "id": v.contract_id,
            "version": v.contract_version,
            "digest": v.contract_digest,
        },
        "currency": v.currency,
        "prices_include_vat": v.prices_include_vat,
        "lines": [line.to_wire() for line in v.lines],
        "payers": {
            Payer.ORDERING_PARTY.value: v.ordering_party.to_wire(),
            Payer.BENEFICIARY.value: v.beneficiary.to_wire(),
        },
        "total": v.total.to_wire(),
        "file_cap": v.file_cap.to_wire() if v.file_cap else None,
    }


def _facts_digest(
    mission_id: str,
    contract_id: str,
    contract_version: int,
    contract_digest: str,
    currency: str,
    prices_include_vat: bool,
    lines: tuple[Line, ...],
    ordering_party: Totals,
    beneficiary: Totals,
    total: Totals,
    file_cap: FileCap | None,
) -> str:
    """`digest(_money_facts(valuation))`, from canonical JSON text written directly, before
    the valuation exists.

    The facts have a fixed shape, so their canonical bytes (sorted keys, no whitespace)
    are written with the keys in order; that is several times faster than building the
    dicts and running json.dumps over them, and this runs for every valuation. A
    property test checks it gives the same digest as the canonical encoder.
    """
    head = _facts_head(contract_id, contract_version, contract_digest, currency)
    return _digest_of(
        head, mission_id, prices_include_vat, lines, ordering_party, beneficiary, total, file_cap
    )


def _facts_head(
    contract_id: str, contract_version: int, contract_digest: str, currency: str
) -> str:
    """The canonical text the money facts begin with: the contract's, the same for each
    of its valuations (a plan keeps it)."""
    return (
        f'{{"contract":{{"digest":{quote(contract_digest)},"id":{quote(contract_id)},'
        f'"version":{contract_version!r}}},"currency":{quote(currency)},'
    )


def _digest_of(
    head: str,
    mission_id: str,
    prices_include_vat: bool,
    lines: tuple[Line, ...],
    ordering_party: Totals,
    beneficiary: Totals,
    total: Totals,
    file_cap: FileCap | None,
) -> str:
    """`_facts_digest` after the contract's part (`_facts_head`)."""
    text = (
        f'{head}"file_cap":{file_cap.canonical() if file_cap else "null"},'
        f'"lines":[{",".join([line.canonical() for line in lines])}],'
        f'"mission_id":{quote(mission_id)},'
        f'"payers":{{"beneficiary":{beneficiary.canonical()},'
        f'"ordering_party":{ordering_party.canonical()}}},'
        f'"prices_include_vat":{"true" if prices_include_vat else "false"},'
        f'"total":{total.canonical()}}}'
    )
    return text_digest(text)


@dataclass(slots=True)
class _Draft:
    """A line while it is being built (mutable only inside `value`)."""

    code: str
    kind: str
    label: Text
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    band: str | None = None
    vat_rate: Decimal = ZERO
    payer: Payer = Payer.BENEFICIARY


# The valuation's own values, built without the frozen guard's cost (shared.frozen).
_step, _line, _file_cap, _valuation = maker(Step), maker(Line), maker(FileCap), maker(Valuation)
_BENEFICIARY = Payer.BENEFICIARY
_new_draft = maker(_Draft)


def _draft(
    code: str,
    kind: str,
    label: Text,
    quantity: Decimal,
    unit_price: Decimal,
    amount: Decimal,
    band: str | None = None,
) -> _Draft:
    return _new_draft(code, kind, label, quantity, unit_price, amount, band, ZERO, _BENEFICIARY)


def value(
    mission: Mission, contract: Contract, context: ValuationContext | None = None
) -> Valuation:
    """Value a mission with a contract. Raises `ValuationRefused` when it cannot."""
    context = context or _NO_CONTEXT
    plan = plan_of(contract)  # what depends on the contract alone, worked out once
    steps: list[Step] = []
    called = _check_party_and_date(mission, contract, plan, steps)
    vclass = _vehicle_class(mission, contract, plan, steps)
    variant = FIRST if mission.file_sequence == 1 else FOLLOW_UP
    if variant == FOLLOW_UP:
        steps.append(_step("follow_up", {"file_sequence": mission.file_sequence}))
    facts: dict[str, Any] = {**mission.facts, "vehicle_class": vclass}

    list_name: str = contract.price_list
    discounts: tuple[Discount, ...] = ()
    customer = contract.customers.get(mission.customer) if mission.customer else None
    if customer is not None:
        list_name = customer.price_list or list_name
        discounts = customer.discounts
    steps.append(_step("price_list", {"list": list_name, "customer": mission.customer}))
    sep = contract.catalogue.separator

    def price(code: str) -> Decimal:
        unit = plan.unit(list_name, code)
        if unit is None:
            raise no_price(contract, list_name, code)
        if not discounts:
            return unit
        matching = [d for d in discounts if code == d.code or code.startswith(d.code + sep)]
        best = max(matching, key=lambda d: len(d.code), default=None)  # most specific wins
        if best is not None and best.percent:
            discounted = _pct_of(unit, _HUNDRED - best.percent)
            steps.append(
                _step(
                    "customer_discount",
                    {
                        "code": code,
                        "percent": str(best.percent),
                        "list_price": str(unit),
                        "price": str(discounted),
                    },
                )
            )
            return discounted
        return unit

    drafts: list[_Draft] = []
    performed = set()
    for service in mission.services:
        product = plan.product(service.code, vclass, variant)
        if product is None:
            raise ValuationRefused(
                f"Prestation inconnue : {service.code}.", f"Unknown service: {service.code}."
            )
        performed.add(service.code)
        code, label, at_cost = product
        if at_cost:
            if service.amount is None:
                raise ValuationRefused(
                    f"{label.fr} est facturé au réel : indiquez le montant du justificatif.",
                    f"{label.en} is charged at cost: give the receipt's amount.",
                )
            amount = service.amount * service.quantity
            drafts.append(
                _draft(
                    code,
                    "at_cost",
                    label,
                    service.quantity,
                    service.amount,
                    amount.quantize(CENT, rounding=ROUND_HALF_UP),
                )
            )
            steps.append(_step("at_cost", {"code": code, "amount": str(service.amount)}))
            continue
        if service.amount is not None:
            raise ValuationRefused(
                f"{label.fr} a un prix de convention : ne donnez pas de montant.",
                f"{label.en} has a contract price: do not give an amount.",
            )
        unit = price(code)
        drafts.append(
            _draft(
                code,
                "service",
                label,
                service.quantity,
                unit,
                (unit * service.quantity).quantize(CENT, rounding=ROUND_HALF_UP),
            )
        )

    if contract.distance is not None:
        drafts.extend(_distance_lines(mission, contract, plan, vclass, variant, steps))

    for supplement in contract.supplements:
        if supplement.code in performed or not supplement.when.holds(facts):
            continue
        code, label, _ = plan.line(supplement.code, vclass, variant)
        unit = price(code)
        drafts.append(_draft(code, "supplement", label, _ONE, unit, unit))
        steps.append(_step("supplement", {"code": code, "when": _when(supplement.when.facts)}))

    drafts = _surcharges(drafts, mission, contract, plan, called, steps)

    private = contract.ordering_party is None
    for draft in drafts:
        draft.vat_rate = plan.vat_rate(draft.code)
        if not private:  # a private customer pays every line: no rule to look up
            draft.payer = _payer(draft, plan, facts, steps)

    return _finish(mission, contract, plan, context, drafts, steps)


def _check_party_and_date(
    mission: Mission, contract: Contract, plan: Plan, steps: list[Step]
) -> datetime:
    """Checks the contract fits the mission; returns the call's local time."""
    party = plan.party
    if mission.ordering_party != party:
        raise ValuationRefused(
            f"La mission est commandée par « {mission.ordering_party or 'un particulier'} », "
            f"la convention {contract.id} est celle de « {party or 'particulier'} ».",
            f"The mission is ordered by '{mission.ordering_party or 'a private customer'}', "
            f"contract {contract.id} belongs to '{party or 'private customer'}'.",
        )
    called = _local(mission.times["call"], plan)
    day = called.date()
    if not contract.is_valid_on(day):
        until_fr = f" au {contract.valid_until:%d/%m/%Y}" if contract.valid_until else ""
        raise ValuationRefused(
            f"La convention {contract.id} v{contract.version} n'est pas valable le {day:%d/%m/%Y} "
            f"(valable du {contract.valid_from:%d/%m/%Y}"
            f"{until_fr}).",
            f"Contract {contract.id} v{contract.version} is not valid on {day.isoformat()} "
            f"(valid from {contract.valid_from.isoformat()}"
            f"{' to ' + contract.valid_until.isoformat() if contract.valid_until else ''}).",
        )
    steps.append(
        _step("contract", {"id": contract.id, "version": contract.version, "date": day.isoformat()})
    )
    return called


def _local(instant: datetime, plan: Plan) -> datetime:
    """`calendar.local` with the contract's zone at hand."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: the offset is required")
    return instant.astimezone(plan.zone)


def _vehicle_class(mission: Mission, contract: Contract, plan: Plan, steps: list[Step]) -> str:
    vehicle = mission.vehicle
    given = vehicle.vehicle_class
    if given is not None and vehicle.weight_kg is None and given in plan.classes:
        return given  # the class typed on the order, no weight to weigh it against
    vclass, how = classify(vehicle, contract)
    steps.extend(_step(rule, params) for rule, params in how)
    return vclass


def _distance_lines(
    mission: Mission, contract: Contract, plan: Plan, vclass: str, variant: str, steps: list[Step]
) -> list[_Draft]:
    rule = contract.distance
    assert rule is not None
    counted = sum((mission.distance_km.get(leg, _NO_KM) for leg in rule.legs), _NO_KM)
    extra = max(counted - rule.included_km, ZERO)
    steps.append(
        _step(
            "distance",
            {
                "legs": list(rule.legs),
                "counted_km": str(counted),
                "included_km": str(rule.included_km),
                "extra_km": str(extra),
            },
        )
    )
    code, label, _ = plan.line(rule.code, vclass, variant)
    out = []
    floor = rule.included_km
    for tier in rule.tiers:
        ceiling = counted if tier.up_to_km is None else min(counted, tier.up_to_km)
        km = ceiling - floor
        if km > 0:
            amount = (km * tier.price).quantize(CENT, rounding=ROUND_HALF_UP)
            out.append(_draft(code, "distance", label, km, tier.price, amount))
        if tier.up_to_km is not None:
            floor = max(floor, tier.up_to_km)
    return out


def _surcharges(
    drafts: list[_Draft],
    mission: Mission,
    contract: Contract,
    plan: Plan,
    called: datetime,
    steps: list[Step],
) -> list[_Draft]:
    bands = contract.time_bands
    if not bands.bands:
        return drafts
    instant_name = plan.instant
    instant = mission.times.get(instant_name)
    if instant is None:
        raise ValuationRefused(
            f"La convention {contract.id} fixe la tranche horaire à l'heure d'arrivée : "
            "renseignez l'heure d'arrivée sur place.",
            f"Contract {contract.id} sets the time band by the arrival time: "
            "record the arrival time.",
        )
    at = called if instant_name == "call" else _local(instant, plan)
    holiday = plan.holiday(at.date())
    weekday = at.weekday()
    matched = plan.matched(weekday, at.time(), holiday is not None)
    steps.append(
        _step(
            "time_band",
            {
                "instant": instant_name,
                "local_time": _minute(at),
                "weekday": weekday,
                "holiday": {"fr": holiday.fr, "en": holiday.en} if holiday else None,
                "bands": [bands.bands[n].id for n in matched],
                "combine": plan.combine,
            },
        )
    )
    if not matched:
        return drafts
    out: list[_Draft] = []
    every = bands.bands
    highest = plan.highest
    for draft in drafts:
        out.append(draft)
        if draft.kind == "at_cost":
            continue
        fits = plan.bands_for(draft.code)
        applicable = [n for n in matched if n in fits]
        if not applicable:
            continue
        if highest and len(applicable) > 1:
            applicable = [max(applicable, key=lambda n: every[n].percent)]  # first wins a tie
        for n in applicable:
            band = every[n]
            amount = _pct_of(draft.amount, band.percent)
            label = plan.surcharge_label(n, draft.label)
            out.append(_draft(draft.code, "surcharge", label, _ONE, amount, amount, band.id))
            steps.append(
                _step(
                    "surcharge",
                    {
                        "code": draft.code,
                        "band": band.label or band.id,
                        "percent": str(band.percent),
                        "base": str(draft.amount),
                        "amount": str(amount),
                    },
                )
            )
    return out


def _minute(at: datetime) -> str:
    """`at.strftime("%Y-%m-%d %H:%M")`, from isoformat (strftime is slow)."""
    if at.year < 1000:  # strftime does not pad such a year: leave it the same bytes
        return at.strftime("%Y-%m-%d %H:%M")
    return at.isoformat(" ", "minutes")[:16]


def _payer(draft: _Draft, plan: Plan, facts: Mapping[str, Any], steps: list[Step]) -> Payer:
    for cover in plan.coverage(draft.code, draft.band):
        rule = cover.rule
        if rule.when.holds(facts):
            if cover.told:
                steps.append(
                    _step(
                        "coverage",
                        {
                            "code": draft.code,
                            "kind": draft.kind,
                            "band": draft.band,
                            "rule": cover.position,
                            "payer": cover.payer_value,
                            "when": _when(rule.when.facts),
                        },
                    )
                )
            return cover.payer
    return Payer.ORDERING_PARTY


def _finish(
    mission: Mission,
    contract: Contract,
    plan: Plan,
    context: ValuationContext,
    drafts: list[_Draft],
    steps: list[Step],
) -> Valuation:
    incl_basis = contract.prices_include_vat
    covered_drafts = [d for d in drafts if d.payer is Payer.ORDERING_PARTY]
    covered = Covered(
        [d.amount for d in covered_drafts], [d.vat_rate for d in covered_drafts], incl_basis
    )
    x = covered.full

    def limit(rule: str, bound_amount: Amount, bound: Decimal, extra: dict[str, str]) -> None:
        nonlocal x
        before = covered.measure(x, bound_amount.includes_vat)
        if before <= bound:  # the common case: the limit does not bite
            return
        x = largest_within(covered, x, bound, bound_amount.includes_vat, top=before)
        after = covered.measure(x, bound_amount.includes_vat)
        steps.append(
            _step(
                rule,
                {
                    "amount": str(bound_amount.amount),
                    "includes_vat": bound_amount.includes_vat,
                    "ordering_party_before": str(before),
                    "ordering_party_after": str(after),
                    "to_beneficiary": str(before - after),
                    **extra,
                },
            )
        )

    if contract.deductible is not None and x:
        ded = contract.deductible
        limit("deductible", ded, covered.measure(x, ded.includes_vat) - ded.amount, {})
    if contract.caps.mission is not None:
        cap = contract.caps.mission
        limit("mission_cap", cap, cap.amount, {})
    file_cap = None
    if contract.caps.file is not None:
        cap = contract.caps.file
        remaining = max(cap.amount - context.file_consumed, ZERO)
        limit(
            "file_cap",
            cap,
            remaining,
            {"consumed_before": str(context.file_consumed), "remaining": str(remaining)},
        )
        file_cap = _file_cap(
            cap.amount,
            cap.includes_vat,
            context.file_consumed,
            covered.measure(x, cap.includes_vat),
        )

    shares = iter(covered.shares(x))
    lines = []
    op_by_rate: dict[Decimal, Decimal] = {}
    ben_by_rate: dict[Decimal, Decimal] = {}
    for d in drafts:
        op = next(shares) if d.payer is Payer.ORDERING_PARTY else ZERO
        ben = d.amount - op
        op_by_rate[d.vat_rate] = op_by_rate.get(d.vat_rate, ZERO) + op
        ben_by_rate[d.vat_rate] = ben_by_rate.get(d.vat_rate, ZERO) + ben
        lines.append(
            _line(
                d.code,
                d.kind,
                d.label,
                d.quantity,
                d.unit_price,
                d.amount,
                d.vat_rate,
                op,
                ben,
                d.band,
            )
        )
    if contract.ordering_party is None:
        op_by_rate = {}
    op_totals = totals(op_by_rate, incl_basis)
    ben_totals = totals(ben_by_rate, incl_basis)
    line_values = tuple(lines)
    total = combine((op_totals, ben_totals))
    head = plan.head
    if head is None:
        head = plan.head = _facts_head(
            contract.id, contract.version, contract.source_digest, contract.currency
        )
    digest = _digest_of(
        head, mission.id, incl_basis, line_values, op_totals, ben_totals, total, file_cap
    )
    return _valuation(
        mission_id=mission.id,
        contract_id=contract.id,
        contract_version=contract.version,
        contract_digest=contract.source_digest,
        currency=contract.currency,
        prices_include_vat=incl_basis,
        lines=line_values,
        ordering_party=op_totals,
        beneficiary=ben_totals,
        total=total,
        file_cap=file_cap,
        explanation=tuple(steps),
        digest=digest,
    )


def _pct_of(amount: Decimal, percent: Decimal) -> Decimal:
    return (amount * percent / _HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def _when(facts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in facts.items()}
