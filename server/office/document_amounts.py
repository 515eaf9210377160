"""Invoice amounts in whole cents: a payer's lines and totals per VAT rate from a
valuation, a credit note's split across the rates, and the rows as the documents carry
them (docs/invoicing.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from shared.money import ZERO, from_cents, parse_amount, to_cents, wire
from shared.vat import rate_totals


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """`total` cents split in proportion to `weights` (cents, not negative), in whole
    cents by largest remainder: the parts add up to `total` exactly, and each differs
    from its exact share by less than a cent."""
    whole = sum(weights)
    if total == 0:
        return [0] * len(weights)
    if whole <= 0 or any(w < 0 for w in weights) or total < 0:
        raise ValueError(f"cannot split {total} cents by {list(weights)}")
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def cents_by_rate(by_rate: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    """{rate: [excl, vat, incl] in cents} from `by_rate` rows of strings."""
    return {
        str(r["rate"]): [to_cents(parse_amount(r[k])) for k in ("excl_vat", "vat", "incl_vat")]
        for r in by_rate
    }


def wire_rows(rows: Mapping[str, Sequence[int]]) -> list[dict[str, str]]:
    return [
        {
            "rate": rate,
            "excl_vat": wire(from_cents(cells[0])),
            "vat": wire(from_cents(cells[1])),
            "incl_vat": wire(from_cents(cells[2])),
        }
        for rate, cells in sorted(rows.items(), key=lambda item: Decimal(item[0]))
        if any(cells)
    ]


def total_of(rows: Sequence[Mapping[str, str]]) -> dict[str, str]:
    return {
        key: wire(sum((parse_amount(r[key]) for r in rows), ZERO))
        for key in ("excl_vat", "vat", "incl_vat")
    }


def payer_lines(valuation: Mapping[str, Any], payer: str) -> list[dict[str, Any]]:
    """The payer's lines of a valuation (`Valuation.to_wire()`), each with its share
    excl. VAT, VAT and incl. VAT. The payer's totals per rate are computed on its total
    (shared.vat), never line by line; the lines divide them in proportion to their
    shares (largest remainder), so lines add up to the totals exactly, rate by rate."""
    include_vat = bool(valuation["prices_include_vat"])
    basis = "incl_vat" if include_vat else "excl_vat"
    totals = cents_by_rate(valuation["payers"][payer]["by_rate"])
    lines = []
    for line in valuation["lines"]:
        share = parse_amount(line["shares"][payer])
        if share == 0:
            continue
        lines.append(
            {
                "code": line["code"],
                "kind": line["kind"],
                "label": dict(line["label"]),
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "amount": line["amount"],
                "share": wire(share),
                "price_basis": basis,
                "rate": str(line["vat_rate"]),
            }
        )
    for rate, (excl, vat, incl) in totals.items():
        mine = [x for x in lines if Decimal(x["rate"]) == Decimal(rate)]
        weights = [to_cents(parse_amount(x["share"])) for x in mine]
        if sum(weights) != (incl if include_vat else excl):
            raise ValueError(f"the lines at {rate} % do not add up to the payer's total")
        spread = allocate(excl if include_vat else vat, weights)
        for item, weight, part in zip(mine, weights, spread, strict=True):
            line_excl, line_vat = (part, weight - part) if include_vat else (weight, part)
            item["excl_vat"] = wire(from_cents(line_excl))
            item["vat"] = wire(from_cents(line_vat))
            item["incl_vat"] = wire(from_cents(line_excl + line_vat))
    return [x for x in lines if "excl_vat" in x]


def credit_rows(remaining: Mapping[str, Sequence[int]], amount: int | None) -> dict[str, list[int]]:
    """The credit note's [excl, vat, incl] cents per rate: what remains (total), or
    `amount` incl. VAT split across the rates in proportion to what remains of each
    (largest remainder), excl. VAT = round half up (incl. / (1 + rate)), the VAT what is
    left; no cell ever beyond what remains of it."""
    rates = [rate for rate, cells in remaining.items() if cells[2] > 0]
    left = sum(remaining[rate][2] for rate in rates)
    if amount is None or amount == left:
        return {rate: list(remaining[rate]) for rate in rates}
    out = {}
    for rate, incl in zip(rates, allocate(amount, [remaining[r][2] for r in rates]), strict=True):
        excl_left, vat_left, _ = remaining[rate]
        part = rate_totals(Decimal(rate), from_cents(incl), prices_include_vat=True)
        excl = min(to_cents(part.excl), excl_left)
        vat = incl - excl
        if vat > vat_left:
            vat, excl = vat_left, incl - vat_left
        out[rate] = [excl, vat, incl]
    return out
