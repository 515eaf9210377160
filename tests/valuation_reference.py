"""The valuation as it was written before it was prepared per contract: the reference the
fast path is compared with (tests/test_valuation_prepared.py), output for output.

A frozen copy of shared/valuation.py's `value` and its helpers, of shared/split.py's cap
search (a proportional guess, then bisection) and of shared/vat.py's totals, kept
deliberately plain: every contract lookup made again for every mission, no cache. The data classes,
the digest and the VAT come from the product code, so only the way of computing
differs. A change to the pricing rules is made in both places, or this test fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared import calendar
from shared.catalogue import FIRST, FOLLOW_UP, prefixes
from shared.contract import Amount, Combine, Contract, Discount, Payer, TimeBand
from shared.errors import ValuationRefused
from shared.i18n import Text
from shared.mission import Mission
from shared.money import CENT, ZERO
from shared.split import Covered
from shared.valuation import (
    FileCap,
    Line,
    Step,
    Valuation,
    ValuationContext,
    _Draft,
    _facts_digest,
)
from shared.vat import RateTotals, Totals, rate_totals, restated
from shared.vehicle_class import classify

_HUNDRED = Decimal(100)
_NO_KM = Decimal(0)


def value(
    mission: Mission, contract: Contract, context: ValuationContext | None = None
) -> Valuation:
    """Value a mission with a contract. Raises `ValuationRefused` when it cannot."""
    context = context or ValuationContext()
    steps: list[Step] = []
    _check_party_and_date(mission, contract, steps)
    cat = contract.catalogue
    vclass = _vehicle_class(mission, contract, steps)
    variant = FIRST if mission.file_sequence == 1 else FOLLOW_UP
    if variant == FOLLOW_UP:
        steps.append(Step("follow_up", {"file_sequence": mission.file_sequence}))
    facts: dict[str, Any] = {**mission.facts, "vehicle_class": vclass}

    list_name: str = contract.price_list
    discounts: tuple[Discount, ...] = ()
    customer = contract.customers.get(mission.customer) if mission.customer else None
    if customer is not None:
        list_name = customer.price_list or list_name
        discounts = customer.discounts
    steps.append(Step("price_list", {"list": list_name, "customer": mission.customer}))
    prices = contract.price_lists[list_name]

    def price(code: str) -> Decimal:
        for prefix in prefixes(code, cat.separator):
            if prefix in prices:
                unit = prices[prefix]
                break
        else:
            raise ValuationRefused(
                f"Aucun prix pour {code} dans la liste « {list_name} » de la convention "
                f"{contract.id} v{contract.version} : erreur de paramétrage à corriger.",
                f"No price for {code} in price list '{list_name}' of contract "
                f"{contract.id} v{contract.version}: a configuration error to fix.",
            )
        matching = [
            d for d in discounts if code == d.code or code.startswith(d.code + cat.separator)
        ]
        best = max(matching, key=lambda d: len(d.code), default=None)  # most specific wins
        if best is not None and best.percent:
            discounted = _pct_of(unit, _HUNDRED - best.percent)
            steps.append(
                Step(
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
        if service.code not in cat.families:
            raise ValuationRefused(
                f"Prestation inconnue : {service.code}.", f"Unknown service: {service.code}."
            )
        performed.add(service.code)
        code = cat.code(service.code, vclass, variant)
        label = _label(contract, service.code, variant)
        if service.code in contract.at_cost:
            if service.amount is None:
                raise ValuationRefused(
                    f"{label.fr} est facturé au réel : indiquez le montant du justificatif.",
                    f"{label.en} is charged at cost: give the receipt's amount.",
                )
            amount = service.amount * service.quantity
            drafts.append(
                _Draft(
                    code,
                    "at_cost",
                    label,
                    service.quantity,
                    service.amount,
                    amount.quantize(CENT, rounding=ROUND_HALF_UP),
                )
            )
            steps.append(Step("at_cost", {"code": code, "amount": str(service.amount)}))
            continue
        if service.amount is not None:
            raise ValuationRefused(
                f"{label.fr} a un prix de convention : ne donnez pas de montant.",
                f"{label.en} has a contract price: do not give an amount.",
            )
        unit = price(code)
        drafts.append(
            _Draft(
                code,
                "service",
                label,
                service.quantity,
                unit,
                (unit * service.quantity).quantize(CENT, rounding=ROUND_HALF_UP),
            )
        )

    if contract.distance is not None:
        drafts.extend(_distance_lines(mission, contract, vclass, variant, steps))

    for supplement in contract.supplements:
        if supplement.code in performed or not supplement.when.holds(facts):
            continue
        code = cat.code(supplement.code, vclass, variant)
        unit = price(code)
        drafts.append(
            _Draft(
                code,
                "supplement",
                _label(contract, supplement.code, variant),
                Decimal(1),
                unit,
                unit,
            )
        )
        steps.append(Step("supplement", {"code": code, "when": _when(supplement.when.facts)}))

    drafts = _surcharges(drafts, mission, contract, steps)

    for draft in drafts:
        draft.vat_rate = _vat_rate(draft.code, contract)
        draft.payer = _payer(draft, contract, facts, steps)

    return _finish(mission, contract, context, drafts, steps)


def _check_party_and_date(mission: Mission, contract: Contract, steps: list[Step]) -> None:
    party = contract.ordering_party.id if contract.ordering_party else None
    if mission.ordering_party != party:
        raise ValuationRefused(
            f"La mission est commandée par « {mission.ordering_party or 'un particulier'} », "
            f"la convention {contract.id} est celle de « {party or 'particulier'} ».",
            f"The mission is ordered by '{mission.ordering_party or 'a private customer'}', "
            f"contract {contract.id} belongs to '{party or 'private customer'}'.",
        )
    day = calendar.local(mission.times["call"], contract.timezone).date()
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
        Step("contract", {"id": contract.id, "version": contract.version, "date": day.isoformat()})
    )


def _vehicle_class(mission: Mission, contract: Contract, steps: list[Step]) -> str:
    vclass, how = classify(mission.vehicle, contract)
    steps.extend(Step(rule, params) for rule, params in how)
    return vclass


def _distance_lines(
    mission: Mission, contract: Contract, vclass: str, variant: str, steps: list[Step]
) -> list[_Draft]:
    rule = contract.distance
    assert rule is not None
    counted = sum((mission.distance_km.get(leg, _NO_KM) for leg in rule.legs), _NO_KM)
    extra = max(counted - rule.included_km, ZERO)
    steps.append(
        Step(
            "distance",
            {
                "legs": list(rule.legs),
                "counted_km": str(counted),
                "included_km": str(rule.included_km),
                "extra_km": str(extra),
            },
        )
    )
    code = contract.catalogue.code(rule.code, vclass, variant)
    label = _label(contract, rule.code, variant)
    out = []
    floor = rule.included_km
    for tier in rule.tiers:
        ceiling = counted if tier.up_to_km is None else min(counted, tier.up_to_km)
        km = ceiling - floor
        if km > 0:
            amount = (km * tier.price).quantize(CENT, rounding=ROUND_HALF_UP)
            out.append(_Draft(code, "distance", label, km, tier.price, amount))
        if tier.up_to_km is not None:
            floor = max(floor, tier.up_to_km)
    return out


def _surcharges(
    drafts: list[_Draft], mission: Mission, contract: Contract, steps: list[Step]
) -> list[_Draft]:
    bands = contract.time_bands
    if not bands.bands:
        return drafts
    instant_name = bands.decided_by.value
    instant = mission.times.get(instant_name)
    if instant is None:
        raise ValuationRefused(
            f"La convention {contract.id} fixe la tranche horaire à l'heure d'arrivée : "
            "renseignez l'heure d'arrivée sur place.",
            f"Contract {contract.id} sets the time band by the arrival time: "
            "record the arrival time.",
        )
    at = calendar.local(instant, contract.timezone)
    holiday = calendar.holiday(contract.holiday_country, contract.holiday_subdivision, at.date())
    matched = [b for b in bands.bands if b.matches(at.weekday(), at.time(), holiday is not None)]
    steps.append(
        Step(
            "time_band",
            {
                "instant": instant_name,
                "local_time": at.strftime("%Y-%m-%d %H:%M"),
                "weekday": at.weekday(),
                "holiday": {"fr": holiday.fr, "en": holiday.en} if holiday else None,
                "bands": [b.id for b in matched],
                "combine": bands.combine.value,
            },
        )
    )
    if not matched:
        return drafts
    out: list[_Draft] = []
    sep = contract.catalogue.separator
    for draft in drafts:
        out.append(draft)
        applicable = [b for b in matched if _applies(b, draft.code, sep)]
        if not applicable or draft.kind == "at_cost":
            continue
        if bands.combine is Combine.HIGHEST:
            applicable = [max(applicable, key=lambda b: b.percent)]  # first wins a tie
        for band in applicable:
            amount = _pct_of(draft.amount, band.percent)
            label = Text(
                f"Majoration {band.label or band.id} +{_pct(band.percent)} % ({draft.label.fr})",
                f"{band.label or band.id} surcharge +{_pct(band.percent)}% ({draft.label.en})",
            )
            out.append(_Draft(draft.code, "surcharge", label, Decimal(1), amount, amount, band.id))
            steps.append(
                Step(
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


def _label(contract: Contract, family: str, variant: str) -> Text:
    """A line's label: the family's, marked when it is a follow-up mission's price."""
    name = contract.catalogue.families[family]
    if variant == FIRST:
        return name
    return Text(f"{name.fr} (intervention de suite)", f"{name.en} (follow-up mission)")


def _applies(band: TimeBand, code: str, sep: str) -> bool:
    return any(code == p or code.startswith(p + sep) or p == "*" for p in band.applies_to)


def _vat_rate(code: str, contract: Contract) -> Decimal:
    for prefix in prefixes(code, contract.catalogue.separator):
        if prefix in contract.vat_rates:
            return contract.vat_rates[prefix]
    return contract.vat_rate


def _payer(draft: _Draft, contract: Contract, facts: Mapping[str, Any], steps: list[Step]) -> Payer:
    if contract.ordering_party is None:
        return Payer.BENEFICIARY
    for index, rule in enumerate(contract.coverage):
        if rule.matches(draft.code, contract.catalogue.separator, draft.band) and rule.when.holds(
            facts
        ):
            if rule.payer is Payer.BENEFICIARY or rule.when:
                steps.append(
                    Step(
                        "coverage",
                        {
                            "code": draft.code,
                            "kind": draft.kind,
                            "band": draft.band,
                            "rule": index,
                            "payer": rule.payer.value,
                            "when": _when(rule.when.facts),
                        },
                    )
                )
            return rule.payer
    return Payer.ORDERING_PARTY


def _finish(
    mission: Mission,
    contract: Contract,
    context: ValuationContext,
    drafts: list[_Draft],
    steps: list[Step],
) -> Valuation:
    incl_basis = contract.prices_include_vat
    covered_drafts = [d for d in drafts if d.payer is Payer.ORDERING_PARTY]
    covered = Covered(
        [d.amount for d in covered_drafts], [d.vat_rate for d in covered_drafts], incl_basis
    )
    x = int(sum(covered.amounts, ZERO) / CENT)

    def limit(rule: str, bound_amount: Amount, bound: Decimal, extra: dict[str, str]) -> None:
        nonlocal x
        before = measure(covered, x, bound_amount.includes_vat)
        if before <= bound:  # the common case: the limit does not bite
            return
        x = largest_within(covered, x, bound, bound_amount.includes_vat, top=before)
        after = measure(covered, x, bound_amount.includes_vat)
        steps.append(
            Step(
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
        limit("deductible", ded, measure(covered, x, ded.includes_vat) - ded.amount, {})
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
        file_cap = FileCap(
            cap.amount,
            cap.includes_vat,
            context.file_consumed,
            measure(covered, x, cap.includes_vat),
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
            Line(
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
    digest = _facts_digest(
        mission.id,
        contract.id,
        contract.version,
        contract.source_digest,
        contract.currency,
        incl_basis,
        line_values,
        op_totals,
        ben_totals,
        total,
        file_cap,
    )
    return Valuation(
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


def _pct(percent: Decimal) -> str:
    return format(percent.normalize(), "f")


def _when(facts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in facts.items()}


def measure(covered: Covered, coverage_cents: int, includes_vat: bool) -> Decimal:
    """`Covered.measure` in Decimal throughout, as it was written."""
    if len(set(covered.rates)) == 1:
        amount = Decimal(coverage_cents) * CENT
        return restated(covered.rates[0], amount, covered.prices_include_vat, includes_vat)
    by_rate: dict[Decimal, Decimal] = {}
    for rate, share in zip(covered.rates, covered.shares(coverage_cents), strict=True):
        by_rate[rate] = by_rate.get(rate, ZERO) + share
    total = ZERO
    for rate, amount in by_rate.items():
        total += restated(rate, amount, covered.prices_include_vat, includes_vat)
    return total


def largest_within(
    covered: Covered, upper: int, bound: Decimal, includes_vat: bool, top: Decimal | None = None
) -> int:
    """The largest coverage X <= upper whose ordering-party total stays within `bound`.

    `top`, if the caller has it, is measure(upper).
    """
    if bound < 0:
        return 0
    if top is None:
        top = measure(covered, upper, includes_vat)
    if top <= bound:
        return upper
    # measure() is nearly linear in X, so a proportional guess lands within a few cents;
    # gallop out from it to a bracket low <= X* < high, then bisect the bracket.
    guess = min(max(int(upper * bound / top), 0), upper - 1)
    step = 1
    if measure(covered, guess, includes_vat) <= bound:
        low, high = guess, min(guess + step, upper)
        while high < upper and measure(covered, high, includes_vat) <= bound:
            low, step = high, step * 2
            high = min(high + step, upper)
    else:
        high, low = guess, max(guess - step, 0)
        while low > 0 and measure(covered, low, includes_vat) > bound:
            high, step = low, step * 2
            low = max(low - step, 0)
    while high - low > 1:  # invariant: measure(low) <= bound < measure(high)
        middle = (low + high) // 2
        if measure(covered, middle, includes_vat) <= bound:
            low = middle
        else:
            high = middle
    return low


def totals(by_rate: Mapping[Decimal, Decimal], prices_include_vat: bool) -> Totals:
    rows = tuple(
        [rate_totals(rate, amount, prices_include_vat) for rate, amount in sorted(by_rate.items())]
    )
    return _summed(rows)


def combine(parts: tuple[Totals, ...]) -> Totals:
    acc: dict[Decimal, list[Decimal]] = {}
    for part in parts:
        for row in part.by_rate:
            cell = acc.setdefault(row.rate, [ZERO, ZERO, ZERO])
            cell[0] += row.excl
            cell[1] += row.vat
            cell[2] += row.incl
    rows = tuple([RateTotals(rate, *acc[rate]) for rate in sorted(acc)])
    return _summed(rows)


def _summed(rows: tuple[RateTotals, ...]) -> Totals:
    excl = vat = incl = ZERO
    for row in rows:
        excl += row.excl
        vat += row.vat
        incl += row.incl
    return Totals(excl, vat, incl, rows)
