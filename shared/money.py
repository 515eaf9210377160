"""Money: Decimal amounts, quantized to the cent with ROUND_HALF_UP, never floats.

Amounts are `decimal.Decimal` in code, strings on the wire ("12.50") and integer cents
in databases. Every rounding names its mode; nothing relies on the thread's decimal
context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

_AMOUNT_TEXT = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")


class FloatRefused(TypeError):
    """A binary float reached code that handles money."""

    def __init__(self, value: float) -> None:
        super().__init__(
            f'{value!r} is a binary float; write money as a decimal string such as "12.50"'
        )


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(value: object) -> Decimal:
    """Read an amount from the wire: a string with at most two decimals, or an int.

    Floats are refused outright: they cannot hold 0.10 exactly.
    """
    if isinstance(value, float):
        raise FloatRefused(value)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, int):
        return cents(Decimal(value))
    if isinstance(value, Decimal):
        if not value.is_finite() or value != cents(value):
            raise ValueError(f"{value} is not an amount in cents")
        return cents(value)
    if isinstance(value, str) and _AMOUNT_TEXT.match(value):
        return cents(Decimal(value))
    raise ValueError(f'{value!r} is not an amount such as "12.50"')


# Rates, distances and quantities beyond these bounds are typing mistakes; left in, they
# overflow the decimal context when valued ("1E+999999" parses, then cannot be rounded).
DECIMAL_LIMIT = Decimal("1e12")
DECIMAL_DIGITS = 24
DECIMAL_PLACES = 12


class OutOfRange(ValueError):
    """A number that parses but is too large or too precise to be a real quantity."""


def amount_cents(value: object) -> int:
    """An amount of the wire (`parse_amount`'s rules) as integer cents. The usual text
    ("12.50") is read with integer arithmetic, not Decimal: a reconciliation reads every
    amount of a tenant's year."""
    if type(value) is str and _AMOUNT_TEXT.match(value):
        text = value.rstrip("\n")  # `$` lets one trailing newline through, as Decimal does
        units, _, part = text.lstrip("-").partition(".")
        whole = int(units) * 100 + int(part.ljust(2, "0") if part else 0)
        return -whole if text[0] == "-" else whole
    return int(parse_amount(value) * HUNDRED)


def parse_decimal(value: object) -> Decimal:
    """Read a non-money decimal (a rate, a distance, a quantity). Floats are refused, and
    so are numbers of 10¹² or more, with more than 24 significant digits or more than 12
    decimal places."""
    if isinstance(value, float):
        raise FloatRefused(value)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        result = Decimal(value) if isinstance(value, int | str | Decimal) else None
    except InvalidOperation:
        result = None
    if result is None or not result.is_finite():
        raise ValueError(f'{value!r} is not a decimal number such as "1.5"')
    shape = result.as_tuple()
    places = -int(shape.exponent)  # finite, so the exponent is an int
    if (
        abs(result) >= DECIMAL_LIMIT
        or len(shape.digits) > DECIMAL_DIGITS
        or places > DECIMAL_PLACES
    ):
        raise OutOfRange(f"{value!r} is out of range")
    return result


def to_cents(amount: Decimal) -> int:
    """The integer number of cents stored in databases."""
    return int(cents(amount) * HUNDRED)


def from_cents(value: int) -> Decimal:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer number of cents")
    return (Decimal(value) / HUNDRED).quantize(CENT)


def wire(amount: Decimal) -> str:
    """The wire form of an amount: always two decimals."""
    return str(cents(amount))


def format_amount(amount: Decimal, lang: str = "fr", currency: str = "EUR") -> str:
    """An amount for people: "1 234,50 €" in French, "€1,234.50" in English."""
    text = f"{cents(amount):,.2f}"
    symbol = "€" if currency == "EUR" else currency
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
        return f"{text}\u00a0{symbol}"
    if amount < 0:
        return f"-{symbol}{text[1:]}"
    return f"{symbol}{text}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Adding two currencies is an error; `sum()` works."""

    amount: Decimal
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise FloatRefused(self.amount)
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money needs a Decimal, not {type(self.amount).__name__}")
        object.__setattr__(self, "amount", cents(self.amount))

    @classmethod
    def parse(cls, value: object, currency: str = "EUR") -> Money:
        return cls(parse_amount(value), currency)

    @classmethod
    def zero(cls, currency: str = "EUR") -> Money:
        return cls(ZERO, currency)

    @classmethod
    def from_cents(cls, value: int, currency: str = "EUR") -> Money:
        return cls(from_cents(value), currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __radd__(self, other: object) -> Money:
        if other == 0:  # sum() starts from the int 0
            return self
        if isinstance(other, Money):
            return other.__add__(self)
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def times(self, factor: Decimal) -> Money:
        """Multiply and round half up to the cent."""
        if isinstance(factor, float):
            raise FloatRefused(factor)
        return Money(cents(self.amount * factor), self.currency)

    @property
    def cents(self) -> int:
        return to_cents(self.amount)

    def is_zero(self) -> bool:
        return self.amount == 0

    def wire(self) -> str:
        return wire(self.amount)

    def format(self, lang: str = "fr") -> str:
        return format_amount(self.amount, lang, self.currency)

    def __str__(self) -> str:
        return f"{self.wire()} {self.currency}"
