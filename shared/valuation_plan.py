"""A contract prepared for valuing many missions: what `shared.valuation.value` would
otherwise work out again for every mission, worked out once per contract.

The answers depend on the contract alone (a line's code, label and VAT rate, a code's
price in a list, the time bands and coverage rules that can apply to a code, a year's
public holidays, the time bands of a weekday and time), so they are computed on first
use and kept with the contract: a server values thousands of missions with the same few
contract versions. With the closed-form caps (shared.split) and the values built without
the frozen guard's cost (shared.frozen) a valuation takes a third fewer instructions
(bench/valuation.py), with the same bytes out, which tests/test_valuation_prepared.py
checks against the plain path on random contracts and missions.

A plan is found by the contract object's identity (a `Contract` holds dicts, so it is not
hashable); the cache keeps the contract alive while its plan lives, so an identity is
never reused for another contract, and it holds a bounded number of plans. A contract is
a value: one changed in place would keep its old plan (nothing does that; a new version
is a new `Contract`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shared import calendar
from shared.catalogue import FIRST, prefixes
from shared.contract import Combine, Contract, CoverageRule, Payer
from shared.errors import ValuationRefused
from shared.i18n import Text

MAX_PLANS = 256  # contract versions valued by one process at a time, at most

Product = tuple[str, Text, bool]  # a line's full code, its label, whether it is at cost


class Cover(NamedTuple):
    """A coverage rule that fits a line, with what the valuation reads of it."""

    position: int  # in the contract, as the explanation cites it
    rule: CoverageRule
    payer: Payer
    payer_value: str
    told: bool  # the explanation says so when it decides


class Plan:
    """One contract's answers, computed on first use (every table is bounded by the
    contract's own size: its families, classes, price lists, bands and rules)."""

    __slots__ = (
        "_bands_for",
        "_coverage",
        "_holidays",
        "_labels",
        "_matched",
        "_products",
        "_units",
        "_vat",
        "classes",
        "combine",
        "contract",
        "head",
        "highest",
        "holiday_names",
        "instant",
        "party",
        "percents",
        "zone",
    )

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.party = contract.ordering_party.id if contract.ordering_party else None
        # The canonical text every valuation's money facts begin with (shared.valuation
        # writes it on the first).
        self.head: str | None = None
        self.zone: ZoneInfo = calendar.zone(contract.timezone)
        self.classes = contract.catalogue.segment("class").values
        bands = contract.time_bands.bands
        self.instant = contract.time_bands.decided_by.value  # an enum's .value is slow
        self.combine = contract.time_bands.combine.value
        self.highest = contract.time_bands.combine is Combine.HIGHEST
        # Each band's percent as the label writes it.
        self.percents = tuple(format(b.percent.normalize(), "f") for b in bands)
        self._products: dict[tuple[str, str, str], Product] = {}
        self._units: dict[tuple[str, str], Decimal | None] = {}
        self._vat: dict[str, Decimal] = {}
        self._bands_for: dict[str, tuple[int, ...]] = {}
        self._labels: dict[tuple[int, str, str], Text] = {}
        self._matched: dict[tuple[int, time, bool], tuple[int, ...]] = {}
        self._coverage: dict[tuple[str, str | None], tuple[Cover, ...]] = {}
        self._holidays: dict[int, Mapping[date, Text]] = {}
        # Where a year's public holidays come from: the library, unless the caller gives
        # the same names as data (the tablet keeps them per year: `use_holiday_names`).
        self.holiday_names: calendar.HolidayNames = calendar.holiday_names

    def product(self, family: str, vclass: str, variant: str) -> Product | None:
        """A family's line for a class and variant; None for a family the catalogue lacks."""
        key = (family, vclass, variant)
        found = self._products.get(key)
        if found is None:
            contract = self.contract
            names = contract.catalogue.families
            if family not in names:
                return None
            name = names[family]
            label = (
                name
                if variant == FIRST
                else Text(f"{name.fr} (intervention de suite)", f"{name.en} (follow-up mission)")
            )
            code = contract.catalogue.code(family, vclass, variant)
            found = self._products[key] = (code, label, family in contract.at_cost)
        return found

    def line(self, family: str, vclass: str, variant: str) -> Product:
        """`product` for a family the contract names itself (its schema checks it)."""
        found = self.product(family, vclass, variant)
        if found is None:
            raise KeyError(family)
        return found

    def unit(self, list_name: str, code: str) -> Decimal | None:
        """A code's price in a list: the longest prefix the list defines (None: no price)."""
        key = (list_name, code)
        if key not in self._units:
            prices = self.contract.price_lists[list_name]
            sep = self.contract.catalogue.separator
            self._units[key] = next((prices[p] for p in prefixes(code, sep) if p in prices), None)
        return self._units[key]

    def vat_rate(self, code: str) -> Decimal:
        rate = self._vat.get(code)
        if rate is None:
            contract = self.contract
            sep = contract.catalogue.separator
            rates = contract.vat_rates
            rate = next((rates[p] for p in prefixes(code, sep) if p in rates), contract.vat_rate)
            self._vat[code] = rate
        return rate

    def bands_for(self, code: str) -> tuple[int, ...]:
        """The time bands (by position) whose `applies_to` covers a code."""
        found = self._bands_for.get(code)
        if found is None:
            sep = self.contract.catalogue.separator
            found = self._bands_for[code] = tuple(
                n
                for n, band in enumerate(self.contract.time_bands.bands)
                if any(code == p or code.startswith(p + sep) or p == "*" for p in band.applies_to)
            )
        return found

    def matched(self, weekday: int, at: time, is_holiday: bool) -> tuple[int, ...]:
        """The time bands (by position) a local time falls in: `TimeBand.matches`, kept
        per weekday and time of day (a few thousand at most: missions are timed to the
        minute)."""
        key = (weekday, at, is_holiday)
        found = self._matched.get(key)
        if found is None:
            bands = self.contract.time_bands.bands
            found = tuple(
                n for n, band in enumerate(bands) if band.matches(weekday, at, is_holiday)
            )
            if len(self._matched) < 20_000:
                self._matched[key] = found
        return found

    def surcharge_label(self, n: int, label: Text) -> Text:
        """The label of band `n`'s surcharge on a line labelled `label`."""
        key = (n, label.fr, label.en)  # a Text's own hash is a Python call: its words'
        found = self._labels.get(key)
        if found is None:
            band = self.contract.time_bands.bands[n]
            name, pct = band.label or band.id, self.percents[n]
            found = self._labels[key] = Text(
                f"Majoration {name} +{pct} % ({label.fr})", f"{name} surcharge +{pct}% ({label.en})"
            )
        return found

    def coverage(self, code: str, band: str | None) -> tuple[Cover, ...]:
        """The coverage rules whose code and band fit a line, in order: the first whose
        condition holds decides who pays. A rule whose condition is empty ends the list."""
        key = (code, band)
        found = self._coverage.get(key)
        if found is None:
            sep = self.contract.catalogue.separator
            fits: list[Cover] = []
            for n, rule in enumerate(self.contract.coverage):
                if rule.matches(code, sep, band):
                    # The explanation names a rule when it sends a line to the
                    # beneficiary or when its condition decided.
                    told = rule.payer is Payer.BENEFICIARY or bool(rule.when)
                    fits.append(Cover(n, rule, rule.payer, rule.payer.value, told))
                    if not rule.when:
                        break  # it always holds: no later rule is ever reached
            found = self._coverage[key] = tuple(fits)
        return found

    def holiday(self, day: date) -> Text | None:
        names = self._holidays.get(day.year)
        if names is None:
            contract = self.contract
            names = self.holiday_names(
                contract.holiday_country, contract.holiday_subdivision, day.year
            )
            if len(self._holidays) < 64:  # a mission's year is any year: keep a few
                self._holidays[day.year] = names
        return names.get(day)


_plans: dict[int, tuple[Contract, Plan]] = {}


def plan_of(contract: Contract) -> Plan:
    """The contract's plan, made on its first valuation."""
    held = _plans.get(id(contract))
    if held is not None and held[0] is contract:
        return held[1]
    plan = Plan(contract)
    if len(_plans) >= MAX_PLANS:
        _plans.clear()  # rare: start again (one statement, safe between threads)
    _plans[id(contract)] = (contract, plan)
    return plan


def no_price(contract: Contract, list_name: str, code: str) -> ValuationRefused:
    return ValuationRefused(
        f"Aucun prix pour {code} dans la liste « {list_name} » de la convention "
        f"{contract.id} v{contract.version} : erreur de paramétrage à corriger.",
        f"No price for {code} in price list '{list_name}' of contract "
        f"{contract.id} v{contract.version}: a configuration error to fix.",
    )


def use_holiday_names(contract: Contract, names: calendar.HolidayNames) -> None:
    """Value `contract` with the public holidays `names` gives (country, subdivision,
    year → each day's name) instead of asking the `holidays` library. They must be the
    library's own names (the tablet keeps what it computed: fieldclient/holiday_table.py):
    the explanation and digest are then those of the library's."""
    plan_of(contract).holiday_names = names
