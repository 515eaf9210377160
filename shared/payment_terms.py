"""What a contract says about how the beneficiary pays: when (seed 004's payment
preferences), with which methods, and whether a deposit is required."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from shared.money import ZERO


class PayWhen(StrEnum):
    """The mission step the field gate guards (or none: paid on invoice)."""

    AT_ORDER = "at_order"
    BEFORE_DEPARTURE = "before_departure"  # before leaving the scene
    AT_DELIVERY = "at_delivery"
    ON_INVOICE = "on_invoice"  # no field gate


class Method(StrEnum):
    CASH = "cash"
    CARD = "card"
    CHEQUE = "cheque"
    TRANSFER = "transfer"
    PAYMENT_LINK = "payment_link"


class DepositWhen(StrEnum):
    AT_ORDER = "at_order"
    BEFORE_DEPARTURE = "before_departure"
    EXEMPT = "exempt"


@dataclass(frozen=True, slots=True)
class DepositTerms:
    when: DepositWhen = DepositWhen.EXEMPT
    amount: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    beneficiary_pays: PayWhen = PayWhen.BEFORE_DEPARTURE
    methods: frozenset[Method] = field(default_factory=lambda: frozenset(Method))
    deposit: DepositTerms = field(default_factory=DepositTerms)
