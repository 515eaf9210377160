"""The driver's cash register (caisse), a frozen value folded from its events.

    expected cash = float + cash collected − cash reversed − bank deposits

Only cash moves the drawer; card, cheque, transfer and payment-link collections are
totalled per method so the evening report shows everything taken, but the driver does
not hold that money. Closing compares the counted cash with the expected cash: the
variance (counted − expected) is what the office reconciles. A closed register records
nothing more; the next day opens a new session with its own float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from shared.errors import Refused
from shared.money import ZERO, FloatRefused, cents, format_amount, parse_amount, wire
from shared.payment_terms import Method


class Status(StrEnum):
    NEVER_OPENED = "never_opened"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Opened:
    float_amount: Decimal  # the change the driver starts the day with


@dataclass(frozen=True, slots=True)
class Collected:
    method: Method
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Reversed:
    """A collection voided (by the office, reaching the tablet at sync): money given back."""

    method: Method
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Deposited:
    """Cash taken out of the drawer and paid into the bank."""

    amount: Decimal


@dataclass(frozen=True, slots=True)
class Closed:
    counted: Decimal  # the cash the driver counted in the drawer


Event = Opened | Collected | Reversed | Deposited | Closed


def _by_method(pairs: tuple[tuple[Method, Decimal], ...], method: Method) -> Decimal:
    return dict(pairs).get(method, ZERO)


def _add(
    pairs: tuple[tuple[Method, Decimal], ...], method: Method, amount: Decimal
) -> tuple[tuple[Method, Decimal], ...]:
    totals = dict(pairs)
    totals[method] = totals.get(method, ZERO) + amount
    return tuple(sorted(totals.items()))


@dataclass(frozen=True, slots=True)
class Register:
    """One session of a register, from opening to closing."""

    status: Status = Status.NEVER_OPENED
    session: int = 0  # how many times it was opened
    float_amount: Decimal = ZERO
    collected: tuple[tuple[Method, Decimal], ...] = ()
    reversed: tuple[tuple[Method, Decimal], ...] = ()
    deposited: Decimal = ZERO
    counted: Decimal | None = None

    def collected_by(self, method: Method) -> Decimal:
        return _by_method(self.collected, method)

    def reversed_by(self, method: Method) -> Decimal:
        return _by_method(self.reversed, method)

    def net_by(self, method: Method) -> Decimal:
        return self.collected_by(method) - self.reversed_by(method)

    @property
    def net_by_method(self) -> Mapping[Method, Decimal]:
        """What the session took, per method, net of reversals (for the evening report)."""
        methods = {m for m, _ in self.collected} | {m for m, _ in self.reversed}
        return {m: self.net_by(m) for m in sorted(methods)}

    @property
    def expected_cash(self) -> Decimal:
        return (
            self.float_amount
            + self.collected_by(Method.CASH)
            - self.reversed_by(Method.CASH)
            - self.deposited
        )

    @property
    def variance(self) -> Decimal | None:
        """Counted − expected once closed: negative means cash is missing."""
        return None if self.counted is None else self.counted - self.expected_cash


def apply(register: Register, event: Event) -> Register:
    """The register after one event, or `Refused` saying why the event cannot be recorded."""
    if isinstance(event, Opened):
        if register.status is Status.OPEN:
            raise Refused(
                "La caisse est déjà ouverte : fermez-la avant de la rouvrir.",
                "The register is already open: close it before opening it again.",
            )
        amount = _amount(event.float_amount, allow_zero=True)
        if amount < 0:
            raise Refused(
                "Le fond de caisse ne peut pas être négatif.", "The float cannot be negative."
            )
        return Register(Status.OPEN, register.session + 1, amount)

    if register.status is not Status.OPEN:
        if register.status is Status.CLOSED:
            raise Refused(
                "La caisse est fermée : ouvrez une nouvelle caisse pour enregistrer.",
                "The register is closed: open a new one to record anything.",
            )
        raise Refused(
            "La caisse n'est pas ouverte : ouvrez-la avec son fond de caisse.",
            "The register is not open: open it with its float.",
        )

    if isinstance(event, Collected):
        amount = _amount(event.amount)
        return replace(register, collected=_add(register.collected, Method(event.method), amount))
    if isinstance(event, Reversed):
        amount = _amount(event.amount)
        return replace(register, reversed=_add(register.reversed, Method(event.method), amount))
    if isinstance(event, Deposited):
        amount = _amount(event.amount)
        held = register.expected_cash
        if amount > held:
            raise Refused(
                f"Dépôt de {format_amount(amount, 'fr')} refusé : la caisse ne contient que"
                f" {format_amount(held, 'fr')} en espèces.",
                f"Deposit of {format_amount(amount, 'en')} refused: the register holds only"
                f" {format_amount(held, 'en')} in cash.",
            )
        return replace(register, deposited=register.deposited + amount)
    counted = _amount(event.counted, allow_zero=True)
    if counted < 0:
        raise Refused(
            "Le montant compté ne peut pas être négatif.", "The counted cash cannot be negative."
        )
    return replace(register, status=Status.CLOSED, counted=counted)


def replay(events: Iterable[Event], start: Register | None = None) -> Register:
    """Fold events in journal order; the first refused event stops the fold."""
    register = start if start is not None else Register()
    for event in events:
        register = apply(register, event)
    return register


def _amount(value: Decimal, allow_zero: bool = False) -> Decimal:
    if isinstance(value, float):
        raise FloatRefused(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value != cents(value):
        raise ValueError(f"{value!r} is not an amount in cents")
    if value < 0 and allow_zero:
        return value  # the caller words the refusal
    if value < 0 or (value == 0 and not allow_zero):
        raise Refused("Le montant doit être positif.", "The amount must be positive.")
    return cents(value)


# Journal payloads. Collections and reversals are written by `shared.payments`; the
# register reads the same `method` and `amount` fields.

OPENED, CLOSED, DEPOSIT = "register_opened", "register_closed", "bank_deposit"


def opened_payload(float_amount: Decimal) -> dict[str, str]:
    return {"float": wire(float_amount)}


def deposit_payload(amount: Decimal, reference: str) -> dict[str, str]:
    """`reference`: the bank's deposit slip number, so the office can match the statement."""
    return {"amount": wire(amount), "reference": reference}


def closed_payload(register: Register, counted: Decimal) -> dict[str, object]:
    """The `register_closed` payload: the count, and the figures it was compared with."""
    closed = apply(register, Closed(counted))
    return {
        "counted": wire(counted),
        "expected": wire(closed.expected_cash),
        "variance": wire(closed.variance or ZERO),
        "by_method": {m.value: wire(a) for m, a in closed.net_by_method.items()},
    }


def event_from_entry(entry_type: str, payload: Mapping[str, object]) -> Event | None:
    """The register event a journal entry holds, or None for entries that do not touch it."""
    if entry_type == OPENED:
        return Opened(parse_amount(payload["float"]))
    if entry_type == "collection":
        return Collected(Method(str(payload["method"])), parse_amount(payload["amount"]))
    if entry_type == "reversal":
        return Reversed(Method(str(payload["method"])), parse_amount(payload["amount"]))
    if entry_type == DEPOSIT:
        return Deposited(parse_amount(payload["amount"]))
    if entry_type == CLOSED:
        return Closed(parse_amount(payload["counted"]))
    return None
