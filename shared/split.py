"""How much of the covered lines the ordering party pays, under deductible and caps.

The ordering party's coverage is one number X (cents in the contract's price basis),
consumed line by line in valuation order: the first covered lines are paid by the
ordering party in full, the rest falls to the beneficiary. Every limit (deductible,
mission cap, file cap, stated excl. or incl. VAT) is a bound on the ordering party's
VAT-computed total, which only grows with X; so each limit is met exactly by the
largest X that satisfies it. With one VAT rate (nearly always) that X is worked out in
closed form and then checked, with two measures, against the rounded totals themselves;
with several rates it is found by bisection over whole cents. Either way "the ordering
party never pays more than a cap, to the cent" is true by construction, for any mix of
VAT rates and either price basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from shared.money import CENT, ZERO
from shared.vat import Totals, restated, totals

# Amounts and rates whose measures are worked out on integers (cents, and hundredths of a
# percent), exactly as the Decimal functions of shared.vat round them: beyond these bounds,
# or for a rate with more than two decimals, the Decimal functions themselves.
_MAX_CENTS = 10**14
_MAX_RATE = 10**6  # hundredths of a percent


@dataclass(frozen=True, slots=True)
class Covered:
    """The lines the ordering party covers, in order: (amount, VAT rate) each."""

    amounts: Sequence[Decimal]
    rates: Sequence[Decimal]
    prices_include_vat: bool
    # The one VAT rate of every covered line, or None when they differ: worked out once,
    # as measure() runs several times per valuation (once per step of the cap search).
    _single_rate: Decimal | None = field(init=False, repr=False, compare=False)
    # The amounts in whole cents and the rates in hundredths of a percent, when they are
    # exactly that (the usual case), so that measures are integer arithmetic: worked out
    # on the first measure; () when they are not.
    _whole: tuple[tuple[int, ...], tuple[int, ...]] | tuple[()] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        distinct = list(dict.fromkeys(self.rates))
        single = distinct[0] if len(distinct) == 1 else None
        object.__setattr__(self, "_single_rate", single)
        object.__setattr__(self, "_whole", None)

    def _integers(self) -> tuple[tuple[int, ...], tuple[int, ...]] | tuple[()]:
        found = self._whole
        if found is None:
            found = _integers(self.amounts, self.rates)
            object.__setattr__(self, "_whole", found)
        return found

    @property
    def full(self) -> int:
        return int(sum(self.amounts, ZERO) / CENT)

    def shares(self, coverage_cents: int) -> list[Decimal]:
        """Each covered line's ordering-party share when the coverage is X cents."""
        left = Decimal(coverage_cents) * CENT
        out = []
        for amount in self.amounts:
            take = amount if amount <= left else left
            out.append(take)
            left -= take
        return out

    def totals(self, coverage_cents: int) -> Totals:
        by_rate: dict[Decimal, Decimal] = {}
        for rate, share in zip(self.rates, self.shares(coverage_cents), strict=True):
            by_rate[rate] = by_rate.get(rate, ZERO) + share
        return totals(by_rate, self.prices_include_vat)

    def measure(self, coverage_cents: int, includes_vat: bool) -> Decimal:
        """The ordering party's total incl. or excl. VAT for a coverage of X cents."""
        found = self.measure_cents(coverage_cents, includes_vat)
        if found is not None:  # the same amount, to the digit (2 decimals, as below)
            return CENT * found
        if self._single_rate is not None:  # the usual case: one rate, no grouping needed
            amount = Decimal(coverage_cents) * CENT
            return restated(self._single_rate, amount, self.prices_include_vat, includes_vat)
        by_rate: dict[Decimal, Decimal] = {}
        for rate, share in zip(self.rates, self.shares(coverage_cents), strict=True):
            by_rate[rate] = by_rate.get(rate, ZERO) + share
        total = ZERO
        for rate, amount in by_rate.items():
            total += restated(rate, amount, self.prices_include_vat, includes_vat)
        return total

    def measure_cents(self, coverage_cents: int, includes_vat: bool) -> int | None:
        """`measure` in cents, on integers; None when the amounts or rates are not whole
        cents and hundredths of a percent (then only `measure` answers)."""
        whole = self._integers()
        if not whole or not 0 <= coverage_cents < _MAX_CENTS:
            return None
        cents, rates = whole
        basis = self.prices_include_vat
        single = self._single_rate is not None
        if includes_vat == basis:  # restated() leaves each rate's amount as it is
            return coverage_cents if single else min(coverage_cents, sum(cents))
        if single:
            return _restated(rates[0], coverage_cents, basis)
        by_rate: dict[int, int] = {}
        left = coverage_cents
        for rate, amount in zip(rates, cents, strict=True):
            take = amount if amount <= left else left
            by_rate[rate] = by_rate.get(rate, 0) + take
            left -= take
        return sum(_restated(rate, amount, basis) for rate, amount in by_rate.items())

    def estimate(self, bound_cents: int, includes_vat: bool) -> int | None:
        """With one VAT rate, the largest X whose total is within `bound_cents` by exact
        arithmetic, rounding aside: the answer or a cent next to it (None: several rates,
        or amounts measured in Decimal)."""
        whole = self._integers()
        if self._single_rate is None or not whole:
            return None
        rate = whole[1][0]
        if includes_vat == self.prices_include_vat:  # measure(X) is X itself
            return bound_cents
        if includes_vat:  # X + round(X × rate) <= bound
            return bound_cents * 10_000 // (10_000 + rate)
        # Prices incl. VAT, bound excl.: round(X / (1 + rate)) <= bound, that is X / (1 +
        # rate) below bound + half a cent.
        return ((2 * bound_cents + 1) * (10_000 + rate) - 1) // 20_000


def _integers(
    amounts: Sequence[Decimal], rates: Sequence[Decimal]
) -> tuple[tuple[int, ...], tuple[int, ...]] | tuple[()]:
    """The amounts in cents when each is written to the cent (as every line's is: a share
    then has the same digits computed either way), the rates in hundredths of a percent
    when each has at most two decimals, all within bounds; else ()."""
    cents = []
    for amount in amounts:
        if type(amount) is not Decimal or not amount.same_quantum(CENT) or amount.is_signed():
            return ()
        cents.append(int(amount * 100))
    if sum(cents) >= _MAX_CENTS:
        return ()
    hundredths = []
    for rate in rates:
        found = _RATES.get(rate)
        if found is None:
            scaled = rate.scaleb(2)
            if not scaled.is_finite() or scaled != scaled.to_integral_value():
                return ()
            found = int(scaled)
            if not 0 <= found < _MAX_RATE:
                return ()
            if len(_RATES) < 256:  # a few rates in use: remember them
                _RATES[rate] = found
        hundredths.append(found)
    return tuple(cents), tuple(hundredths)


_RATES: dict[Decimal, int] = {}


def _restated(rate: int, cents: int, prices_include_vat: bool) -> int:
    """`vat.restated` to the other basis, on integers: `cents` at `rate` (hundredths of a
    percent), rounded half up to the cent as `vat._vat_on` and `vat._excl_of` round.
    Exact: the amount excl. VAT is a fraction whose distance to a half cent, when it is not
    one, is far above the 28 digits the Decimal division keeps."""
    if prices_include_vat:  # excl. = round(incl. / (1 + rate))
        return (20_000 * cents + 10_000 + rate) // (2 * (10_000 + rate))
    return cents + (2 * cents * rate + 10_000) // 20_000  # incl. = excl. + round(excl. × rate)


def largest_within(
    covered: Covered, upper: int, bound: Decimal, includes_vat: bool, top: Decimal | None = None
) -> int:
    """The largest coverage X <= upper whose ordering-party total stays within `bound`.

    `top`, if the caller has it, is measure(upper).
    """
    if bound < 0:
        return 0
    if top is None:
        top = covered.measure(upper, includes_vat)
    if top <= bound:
        return upper
    # Measures are whole cents: within the bound is within its whole cents.
    bound_cents = int((bound * 100).to_integral_value(rounding=ROUND_FLOOR))

    def fits(x: int) -> bool:
        found = covered.measure_cents(x, includes_vat)
        if found is None:
            return covered.measure(x, includes_vat) <= bound
        return found <= bound_cents

    # The closed form with one rate; else measure() is nearly linear in X, so a
    # proportional guess lands within a few cents. Gallop out from the guess to a bracket
    # low <= X* < high, then bisect it: when the guess is X*, two measures confirm it.
    estimate = covered.estimate(bound_cents, includes_vat)
    guess = int(upper * bound / top) if estimate is None else estimate
    guess = min(max(guess, 0), upper - 1)
    step = 1
    if fits(guess):
        low, high = guess, min(guess + step, upper)
        while high < upper and fits(high):
            low, step = high, step * 2
            high = min(high + step, upper)
    else:
        high, low = guess, max(guess - step, 0)
        while low > 0 and not fits(low):
            high, step = low, step * 2
            low = max(low - step, 0)
    while high - low > 1:  # invariant: fits(low) and not fits(high)
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
