"""How much of the covered lines the ordering party pays, under deductible and caps.

The ordering party's coverage is one number X (cents in the contract's price basis),
consumed line by line in valuation order: the first covered lines are paid by the
ordering party in full, the rest falls to the beneficiary. Every limit (deductible,
mission cap, file cap, stated excl. or incl. VAT) is a bound on the ordering party's
VAT-computed total, which only grows with X; so each limit is met exactly by the
largest X that satisfies it, found by bisection over whole cents. That makes "the
ordering party never pays more than a cap, to the cent" true by construction, for any
mix of VAT rates and either price basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from shared.money import CENT, ZERO
from shared.vat import Totals, restated, totals


@dataclass(frozen=True, slots=True)
class Covered:
    """The lines the ordering party covers, in order: (amount, VAT rate) each."""

    amounts: Sequence[Decimal]
    rates: Sequence[Decimal]
    prices_include_vat: bool
    # The one VAT rate of every covered line, or None when they differ: worked out once,
    # as measure() runs several times per valuation (once per step of the cap search).
    _single_rate: Decimal | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        distinct = list(dict.fromkeys(self.rates))
        single = distinct[0] if len(distinct) == 1 else None
        object.__setattr__(self, "_single_rate", single)

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
    # measure() is nearly linear in X, so a proportional guess lands within a few cents;
    # gallop out from it to a bracket low <= X* < high, then bisect the bracket.
    guess = min(max(int(upper * bound / top), 0), upper - 1)
    step = 1
    if covered.measure(guess, includes_vat) <= bound:
        low, high = guess, min(guess + step, upper)
        while high < upper and covered.measure(high, includes_vat) <= bound:
            low, step = high, step * 2
            high = min(high + step, upper)
    else:
        high, low = guess, max(guess - step, 0)
        while low > 0 and covered.measure(low, includes_vat) > bound:
            high, step = low, step * 2
            low = max(low - step, 0)
    while high - low > 1:  # invariant: measure(low) <= bound < measure(high)
        middle = (low + high) // 2
        if covered.measure(middle, includes_vat) <= bound:
            low = middle
        else:
            high = middle
    return low
