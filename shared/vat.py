"""VAT per payer per rate.

Each payer gets its own invoice, so VAT is computed per payer and per rate on that
payer's total, never line by line:
- prices stated excluding VAT: VAT = round(total excl. VAT × rate), incl. = excl. + VAT;
- prices stated including VAT: the amounts incl. VAT are kept exactly (the tariff's
  printed price comes out to the cent), excl. = round(incl. / (1 + rate)), and the VAT
  is what remains.
Either way excl. + VAT = incl. for every payer and every rate, by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shared.frozen import maker
from shared.money import CENT, ZERO

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RateTotals:
    rate: Decimal  # percent
    excl: Decimal
    vat: Decimal
    incl: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    excl: Decimal
    vat: Decimal
    incl: Decimal
    by_rate: tuple[RateTotals, ...]

    def to_wire(self) -> dict[str, object]:
        return {
            "excl_vat": str(self.excl),
            "vat": str(self.vat),
            "incl_vat": str(self.incl),
            "by_rate": [
                {
                    "rate": str(r.rate),
                    "excl_vat": str(r.excl),
                    "vat": str(r.vat),
                    "incl_vat": str(r.incl),
                }
                for r in self.by_rate
            ],
        }

    def canonical(self) -> str:
        """`canonical_json(self.to_wire())` as text, written directly (keys sorted)."""
        rows = ",".join(
            [
                f'{{"excl_vat":"{r.excl!s}","incl_vat":"{r.incl!s}",'
                f'"rate":"{r.rate!s}","vat":"{r.vat!s}"}}'
                for r in self.by_rate
            ]
        )
        return (
            f'{{"by_rate":[{rows}],"excl_vat":"{self.excl!s}",'
            f'"incl_vat":"{self.incl!s}","vat":"{self.vat!s}"}}'
        )


# Built on every valuation, without the frozen guard's cost (shared.frozen).
_rate_totals, _totals = maker(RateTotals), maker(Totals)


def rate_totals(rate: Decimal, amount: Decimal, prices_include_vat: bool) -> RateTotals:
    """Totals for one payer at one rate, from the sum of its shares in the price basis."""
    if prices_include_vat:
        excl = _excl_of(amount, rate)
        return _rate_totals(rate, excl, amount - excl, amount)
    vat = _vat_on(amount, rate)
    return _rate_totals(rate, amount, vat, amount + vat)


def restated(rate: Decimal, amount: Decimal, prices_include_vat: bool, incl: bool) -> Decimal:
    """`rate_totals(...).incl` if `incl` else `.excl`, without building the row: the
    cap search asks for it several times per valuation."""
    if incl == prices_include_vat:
        return amount
    if prices_include_vat:
        return _excl_of(amount, rate)
    return amount + _vat_on(amount, rate)


def _vat_on(excl: Decimal, rate: Decimal) -> Decimal:
    return (excl * rate / _HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def _excl_of(incl: Decimal, rate: Decimal) -> Decimal:
    return (incl / (_ONE + rate / _HUNDRED)).quantize(CENT, rounding=ROUND_HALF_UP)


def totals(by_rate: Mapping[Decimal, Decimal], prices_include_vat: bool) -> Totals:
    """A payer's totals from its amounts per rate (in the contract's price basis)."""
    if len(by_rate) == 1:  # the usual case, without sorting and summing one row
        [(rate, amount)] = by_rate.items()
        row = rate_totals(rate, amount, prices_include_vat)
        return _totals(ZERO + row.excl, ZERO + row.vat, ZERO + row.incl, (row,))  # as _summed
    rows = tuple(
        [rate_totals(rate, amount, prices_include_vat) for rate, amount in sorted(by_rate.items())]
    )
    return _summed(rows)


def combine(parts: Iterable[Totals]) -> Totals:
    """The sum of several payers' totals, rate by rate (the valuation's grand total)."""
    parts = tuple(parts)
    if len(parts) == 2 and len(parts[0].by_rate) == len(parts[1].by_rate) == 1:
        # The usual valuation: two payers, one rate each.
        (a,), (b,) = parts[0].by_rate, parts[1].by_rate
        if a.rate == b.rate:  # the sums as the loop below writes them, from ZERO
            row = _rate_totals(
                a.rate, ZERO + a.excl + b.excl, ZERO + a.vat + b.vat, ZERO + a.incl + b.incl
            )
            return _totals(ZERO + row.excl, ZERO + row.vat, ZERO + row.incl, (row,))
    acc: dict[Decimal, list[Decimal]] = {}
    for part in parts:
        for row in part.by_rate:
            cell = acc.setdefault(row.rate, [ZERO, ZERO, ZERO])
            cell[0] += row.excl
            cell[1] += row.vat
            cell[2] += row.incl
    rows = tuple([_rate_totals(rate, *acc[rate]) for rate in sorted(acc)])
    return _summed(rows)


def _summed(rows: tuple[RateTotals, ...]) -> Totals:
    """Totals whose columns are the sums of the rows' (in one pass: this runs for every
    payer of every valuation)."""
    excl = vat = incl = ZERO
    for row in rows:
        excl += row.excl
        vat += row.vat
        incl += row.incl
    return _totals(excl, vat, incl, rows)


def vat_split(amount: Decimal, basis: Totals) -> list[dict[str, str]]:
    """How a payment of `amount` incl. VAT divides among the VAT rates of what it pays.

    Each rate gets a share in proportion to its incl. VAT total in `basis` (the payer's
    totals), whole cents by largest remainder so the shares add up exactly; within a share,
    excl. = round(incl. / (1 + rate)) and the VAT is what remains. The result is in the
    format of `Totals.to_wire()["by_rate"]`, which closings total per rate.
    """
    rows = [row for row in basis.by_rate if row.incl > 0]
    if not rows or amount <= 0:
        return []
    total = sum((row.incl for row in rows), ZERO)
    pot = int(amount / CENT)
    exact = [pot * row.incl / total for row in rows]
    shares = [int(x) for x in exact]
    order = sorted(
        range(len(rows)), key=lambda i: (exact[i] - shares[i], rows[i].rate), reverse=True
    )
    for i in order[: pot - sum(shares)]:
        shares[i] += 1
    out = []
    for row, share_cents in zip(rows, shares, strict=True):
        incl = Decimal(share_cents) * CENT
        part = rate_totals(row.rate, incl, prices_include_vat=True)
        out.append(
            {
                "rate": str(row.rate),
                "excl_vat": str(part.excl),
                "vat": str(part.vat),
                "incl_vat": str(incl),
            }
        )
    return out
