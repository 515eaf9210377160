"""The collection gate: a mission cannot move past the step its contract guards while the
beneficiary still owes money (seed 000).

The contract's payment preference (seed 004) names the guarded step; a deposit may guard
an earlier one. A refusal says, in words a driver understands, what is due, what was
collected, what remains and what to do about it. Cancelling and "gone on arrival" are
never gated: there is nobody to collect from, and reconciliation sees any balance left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from shared.balance import MissionMoney, summary
from shared.deposit import DepositSource
from shared.errors import Refused
from shared.i18n import Text
from shared.money import ZERO, format_amount, wire
from shared.payment_terms import DepositWhen, PayWhen
from shared.steps import PROGRESS, Step, check_transition

# The step each payment preference guards. The gate holds the transition that reaches it,
# or that skips past it (an on-site repair goes from `departed` straight to `closed`).
PAYMENT_STEP: Mapping[PayWhen, Step | None] = MappingProxyType(
    {
        PayWhen.AT_ORDER: Step.EN_ROUTE,  # paid before the truck sets off
        PayWhen.BEFORE_DEPARTURE: Step.DEPARTED,  # paid before leaving the scene
        PayWhen.AT_DELIVERY: Step.DELIVERED,  # paid before the vehicle is released
        PayWhen.ON_INVOICE: None,  # invoiced afterwards: no field gate
    }
)

DEPOSIT_STEP: Mapping[DepositWhen, Step | None] = MappingProxyType(
    {
        DepositWhen.AT_ORDER: Step.EN_ROUTE,
        DepositWhen.BEFORE_DEPARTURE: Step.DEPARTED,
        DepositWhen.EXEMPT: None,
    }
)

_BLOCKED: Mapping[Step, Text] = MappingProxyType(
    {
        Step.EN_ROUTE: Text("Impossible de prendre la route", "You cannot set off yet"),
        Step.DEPARTED: Text("Impossible de quitter les lieux", "You cannot leave the scene yet"),
        Step.DELIVERED: Text(
            "Impossible de livrer le véhicule", "You cannot release the vehicle yet"
        ),
        Step.CLOSED: Text("Impossible de clôturer la mission", "You cannot close the mission yet"),
    }
)

_WHAT_TO_DO = Text(
    "Encaissez-le, ou demandez au gérant une remise ou un « facturer plus tard ».",
    "Collect it, or ask the manager for a discount or to bill it later.",
)


def crosses(current: Step, target: Step, guarded: Step | None) -> bool:
    """Whether moving from `current` to `target` reaches or skips past `guarded`."""
    if guarded is None or current not in PROGRESS or target not in PROGRESS:
        return False
    return PROGRESS[current] < PROGRESS[guarded] <= PROGRESS[target]


def payment_gated(pays: PayWhen, current: Step, target: Step) -> bool:
    """Closing is gated too whenever the field collects: a mission is not done while owed."""
    if pays is PayWhen.ON_INVOICE:
        return False
    return target is Step.CLOSED or crosses(current, target, PAYMENT_STEP[pays])


def deposit_gated(money: MissionMoney, current: Step, target: Step) -> bool:
    return money.deposit.required and crosses(current, target, DEPOSIT_STEP[money.deposit.when])


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Open, or closed with what must still be collected and a sentence saying so."""

    open: bool
    owed: Decimal = ZERO
    reason: Text | None = None


OPEN = GateDecision(True)


def _payment_reason(money: MissionMoney, target: Step) -> Text:
    blocked = _BLOCKED[target]
    return Text(
        f"{blocked.fr} : le bénéficiaire doit encore payer. {summary(money).fr}"
        f" Montant restant à encaisser : {format_amount(money.remaining, 'fr')}."
        f" {_WHAT_TO_DO.fr}",
        f"{blocked.en}: the beneficiary still has to pay. {summary(money).en}"
        f" Remaining to collect: {format_amount(money.remaining, 'en')}. {_WHAT_TO_DO.en}",
    )


def _deposit_reason(money: MissionMoney, target: Step) -> Text:
    blocked = _BLOCKED[target]
    required = money.deposit_required
    by_office = money.deposit.source is DepositSource.OFFICE
    source = (
        Text("fixé par le bureau", "set by the office")
        if by_office
        else Text("prévu par le contrat", "under the contract")
    )
    return Text(
        f"{blocked.fr} : un acompte de {format_amount(required, 'fr')} est demandé"
        f" ({source.fr}). Déjà encaissé : {format_amount(money.net_collected, 'fr')}."
        f" Acompte restant à encaisser : {format_amount(money.deposit_outstanding, 'fr')}."
        f" {_WHAT_TO_DO.fr}",
        f"{blocked.en}: a deposit of {format_amount(required, 'en')} is required"
        f" ({source.en}). Collected so far: {format_amount(money.net_collected, 'en')}."
        f" Deposit still to collect: {format_amount(money.deposit_outstanding, 'en')}."
        f" {_WHAT_TO_DO.en}",
    )


def gate(money: MissionMoney, pays: PayWhen, current: Step, target: Step) -> GateDecision:
    """Whether the move from `current` to `target` may happen, money-wise.

    The full payment comes before the deposit: where both guard the same step, the
    stricter one speaks.
    """
    if payment_gated(pays, current, target):
        if money.remaining > 0:
            return GateDecision(False, money.remaining, _payment_reason(money, target))
        return OPEN
    if deposit_gated(money, current, target) and money.deposit_outstanding > 0:
        return GateDecision(False, money.deposit_outstanding, _deposit_reason(money, target))
    return OPEN


def check_gate(money: MissionMoney, pays: PayWhen, current: Step, target: Step) -> None:
    decision = gate(money, pays, current, target)
    if decision.reason is not None:
        raise Refused(decision.reason.fr, decision.reason.en)


def step_payload(money: MissionMoney, pays: PayWhen, current: Step, target: Step) -> dict[str, str]:
    """The `mission_step` entry's payload, once the move is legal and the gate is open.

    It records the remaining amount the tablet saw, so the office can check the gate was
    honoured (a cancellation may well leave money owed).
    """
    check_transition(current, target)
    check_gate(money, pays, current, target)
    return {
        "mission_id": money.mission_id,
        "from": current.value,
        "to": target.value,
        "remaining": wire(money.remaining),
    }
