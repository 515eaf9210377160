"""A mission's money state: what the beneficiary owes, folded from its journal events.

The tablet and the server build it the same way, from the same entries, so they agree on
the remaining amount to the cent. The fold does not depend on the order the entries come
in (a device journal and the office's journal interleave differently on each side) and a
retried entry counts once.

    remaining = due − collected + reversed − approved discounts − approved deferrals
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from shared.deposit import NO_DEPOSIT, Deposit
from shared.i18n import Text
from shared.money import ZERO, FloatRefused, cents, format_amount
from shared.payment_terms import Method


def _positive(value: Decimal, what: str) -> Decimal:
    if isinstance(value, float):
        raise FloatRefused(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{what} must be a Decimal, not {value!r}")
    if value <= 0 or value != cents(value):
        raise ValueError(f"{what} must be a positive amount in cents, not {value}")
    return value


@dataclass(frozen=True, slots=True)
class Collected:
    """Money taken from the beneficiary; `ref` is the hash of the entry that recorded it."""

    ref: str
    mission_id: str
    method: Method
    amount: Decimal
    vat: tuple[Mapping[str, str], ...] = ()  # the VAT split, as `shared.vat.vat_split` gives

    def __post_init__(self) -> None:
        _positive(self.amount, "a collected amount")


@dataclass(frozen=True, slots=True)
class Reversed:
    """A collection voided in full by a later entry naming it (`collection_ref`: its hash)."""

    ref: str
    mission_id: str
    collection_ref: str


@dataclass(frozen=True, slots=True)
class Discounted:
    """A discount the manager approved."""

    ref: str
    mission_id: str
    amount: Decimal

    def __post_init__(self) -> None:
        _positive(self.amount, "a discount")


@dataclass(frozen=True, slots=True)
class Deferred:
    """A "bill later" the manager approved: the rest goes on the beneficiary's invoice."""

    ref: str
    mission_id: str
    amount: Decimal

    def __post_init__(self) -> None:
        _positive(self.amount, "a deferral")


Event = Collected | Reversed | Discounted | Deferred

_E = TypeVar("_E", Collected, Reversed, Discounted, Deferred)


def _sorted_in(items: tuple[_E, ...], event: _E) -> tuple[_E, ...]:
    merged = list(items)
    merged.append(event)
    return tuple(sorted(merged, key=lambda e: e.ref))


@dataclass(frozen=True, slots=True)
class MissionMoney:
    """Everything the gate and the collection rules need to know about one mission's money.

    Events are kept sorted by their entry reference, so two folds of the same entries in
    any order are equal values.
    """

    mission_id: str
    due: Decimal  # the beneficiary's share including VAT, from the valuation
    deposit: Deposit = NO_DEPOSIT
    collections: tuple[Collected, ...] = ()
    reversals: tuple[Reversed, ...] = ()
    discounts: tuple[Discounted, ...] = ()
    deferrals: tuple[Deferred, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.mission_id, str) or not self.mission_id:
            raise ValueError("a mission id is required")
        if isinstance(self.due, float):
            raise FloatRefused(self.due)
        if not isinstance(self.due, Decimal) or not self.due.is_finite():
            raise TypeError(f"the amount due must be a Decimal, not {self.due!r}")
        if self.due < 0:
            raise ValueError(f"the beneficiary cannot owe a negative amount: {self.due}")
        object.__setattr__(self, "due", cents(self.due))

    def with_event(self, event: Event) -> MissionMoney:
        """The state after one more event; an entry already folded in counts once."""
        if event.mission_id != self.mission_id:
            raise ValueError(f"{event!r} belongs to another mission than {self.mission_id}")
        for known in self.events():
            if known.ref == event.ref:
                if known == event:
                    return self
                raise ValueError(f"two different events share the entry reference {event.ref}")
        if isinstance(event, Collected):
            return replace(self, collections=_sorted_in(self.collections, event))
        if isinstance(event, Reversed):
            return replace(self, reversals=_sorted_in(self.reversals, event))
        if isinstance(event, Discounted):
            return replace(self, discounts=_sorted_in(self.discounts, event))
        return replace(self, deferrals=_sorted_in(self.deferrals, event))

    def events(self) -> tuple[Event, ...]:
        return (*self.collections, *self.reversals, *self.discounts, *self.deferrals)

    def collection(self, ref: str) -> Collected | None:
        return next((c for c in self.collections if c.ref == ref), None)

    def is_reversed(self, collection_ref: str) -> bool:
        return any(r.collection_ref == collection_ref for r in self.reversals)

    @property
    def collected(self) -> Decimal:
        """Every collection, reversed or not (the formula adds reversals back)."""
        return sum((c.amount for c in self.collections), ZERO)

    @property
    def reversed(self) -> Decimal:
        """Collections voided, each counted once however many reversals name it."""
        return sum((c.amount for c in self.collections if self.is_reversed(c.ref)), ZERO)

    @property
    def net_collected(self) -> Decimal:
        return self.collected - self.reversed

    def net_collected_by(self, method: Method) -> Decimal:
        return sum(
            (
                c.amount
                for c in self.collections
                if c.method is method and not self.is_reversed(c.ref)
            ),
            ZERO,
        )

    @property
    def discounted(self) -> Decimal:
        return sum((d.amount for d in self.discounts), ZERO)

    @property
    def deferred(self) -> Decimal:
        return sum((d.amount for d in self.deferrals), ZERO)

    @property
    def balance(self) -> Decimal:
        """Signed: positive is still owed, negative is paid or granted beyond what was due."""
        return self.due - self.collected + self.reversed - self.discounted - self.deferred

    @property
    def remaining(self) -> Decimal:
        """What the driver must still collect; never negative."""
        return max(self.balance, ZERO)

    @property
    def overpaid(self) -> Decimal:
        return max(-self.balance, ZERO)

    @property
    def deposit_required(self) -> Decimal:
        """The deposit, capped at what the beneficiary owes once approvals are applied."""
        if not self.deposit.required:
            return ZERO
        owed = max(self.due - self.discounted - self.deferred, ZERO)
        return min(self.deposit.amount, owed)

    @property
    def deposit_outstanding(self) -> Decimal:
        """What is still missing from the deposit; the deposit counts toward the total."""
        return max(self.deposit_required - self.net_collected, ZERO)

    @property
    def issues(self) -> tuple[Text, ...]:
        """Inconsistencies in the entries themselves, as data for the office."""
        found: list[Text] = []
        known = {c.ref for c in self.collections}
        seen: set[str] = set()
        for r in self.reversals:
            if r.collection_ref not in known:
                found.append(
                    Text(
                        f"L'annulation {r.ref} vise un encaissement inconnu sur cette"
                        f" mission ({r.collection_ref}) : elle n'est pas comptée.",
                        f"Reversal {r.ref} names a collection unknown on this mission"
                        f" ({r.collection_ref}): it is not counted.",
                    )
                )
            elif r.collection_ref in seen:
                found.append(
                    Text(
                        f"L'encaissement {r.collection_ref} est annulé plusieurs fois"
                        f" ({r.ref}) : il n'est déduit qu'une fois.",
                        f"Collection {r.collection_ref} is reversed more than once"
                        f" ({r.ref}): it is taken off only once.",
                    )
                )
            seen.add(r.collection_ref)
        return tuple(found)


def summary(money: MissionMoney) -> Text:
    """Due, collected, and whatever was reversed, discounted or deferred, in one sentence."""

    def lines(lang: str) -> str:
        def f(amount: Decimal) -> str:
            return format_amount(amount, lang)

        if lang == "fr":
            parts = [f"Dû : {f(money.due)}", f"déjà encaissé : {f(money.net_collected)}"]
            if money.reversed:
                parts[-1] += f" (après annulation de {f(money.reversed)})"
            if money.discounted:
                parts.append(f"remise accordée : {f(money.discounted)}")
            if money.deferred:
                parts.append(f"facturé plus tard : {f(money.deferred)}")
            return " ; ".join(parts) + "."
        parts = [f"Due: {f(money.due)}", f"collected so far: {f(money.net_collected)}"]
        if money.reversed:
            parts[-1] += f" (after {f(money.reversed)} was reversed)"
        if money.discounted:
            parts.append(f"discount granted: {f(money.discounted)}")
        if money.deferred:
            parts.append(f"billed later: {f(money.deferred)}")
        return "; ".join(parts) + "."

    return Text(lines("fr"), lines("en"))


def fold(
    mission_id: str,
    due: Decimal,
    events: Iterable[Event],
    deposit: Deposit = NO_DEPOSIT,
) -> MissionMoney:
    """Build the money state of one mission from its events, in any order."""
    money = MissionMoney(mission_id, due, deposit)
    for event in events:
        money = money.with_event(event)
    return money
