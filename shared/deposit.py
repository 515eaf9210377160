"""The deposit a beneficiary pays before the work goes on (seed 004's "garantie").

A deposit is an advance on what the beneficiary owes, not a sum held back: it is part of
the remaining amount, only due earlier (at order, or before leaving the scene). A deposit
set by hand in the office always wins over the one the contract computes, so a
recomputation or a sync can never overwrite it: the office's value is an input here,
never an output that could be replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from shared.i18n import Text
from shared.money import ZERO, FloatRefused, cents, format_amount, parse_amount, wire
from shared.payment_terms import DepositTerms, DepositWhen, PayWhen


class DepositSource(StrEnum):
    CONTRACT = "contract"  # computed from the contract's terms
    OFFICE = "office"  # set by hand; never replaced by a recomputation


TIMING: Mapping[DepositWhen, Text] = MappingProxyType(
    {
        DepositWhen.AT_ORDER: Text("à la commande", "at order"),
        DepositWhen.BEFORE_DEPARTURE: Text(
            "avant de quitter les lieux", "before leaving the scene"
        ),
        DepositWhen.EXEMPT: Text("exempté", "exempt"),
    }
)


@dataclass(frozen=True, slots=True)
class Deposit:
    """The deposit in force for a mission, and why."""

    amount: Decimal
    when: DepositWhen
    source: DepositSource
    explanation: Text

    @property
    def required(self) -> bool:
        return self.when is not DepositWhen.EXEMPT and self.amount > 0


NO_DEPOSIT = Deposit(
    ZERO,
    DepositWhen.EXEMPT,
    DepositSource.CONTRACT,
    Text("Pas d'acompte.", "No deposit."),
)


def _amount(terms: DepositTerms) -> Decimal:
    """The terms' amount, checked: a Decimal in cents, not negative; zero when exempt."""
    value = terms.amount
    if isinstance(value, float):
        raise FloatRefused(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"a deposit amount must be a Decimal, not {value!r}")
    if value < 0:
        raise ValueError(f"a deposit cannot be negative: {value}")
    return ZERO if terms.when is DepositWhen.EXEMPT else cents(value)


def _describe(amount: Decimal, when: DepositWhen, lang: str) -> str:
    if when is DepositWhen.EXEMPT or amount == 0:
        return "pas d'acompte" if lang == "fr" else "no deposit"
    return f"{format_amount(amount, lang)} {TIMING[when](lang)}"


def resolve_deposit(computed: DepositTerms, manual: DepositTerms | None = None) -> Deposit:
    """The deposit in force: the office's hand-set one if there is one, else the contract's."""
    computed_amount = _amount(computed)
    if manual is None:
        if computed_amount == 0:
            explanation = Text("Pas d'acompte selon le contrat.", "No deposit under the contract.")
        else:
            fr = _describe(computed_amount, computed.when, "fr")
            en = _describe(computed_amount, computed.when, "en")
            explanation = Text(
                f"Acompte prévu par le contrat : {fr}.", f"Deposit under the contract: {en}."
            )
        when = computed.when if computed_amount else DepositWhen.EXEMPT
        return Deposit(computed_amount, when, DepositSource.CONTRACT, explanation)

    manual_amount = _amount(manual)
    was_fr = _describe(computed_amount, computed.when, "fr")
    was_en = _describe(computed_amount, computed.when, "en")
    if manual_amount == 0:
        explanation = Text(
            f"Acompte supprimé à la main par le bureau (calculé : {was_fr}).",
            f"Deposit waived by hand in the office (computed: {was_en}).",
        )
        return Deposit(ZERO, DepositWhen.EXEMPT, DepositSource.OFFICE, explanation)
    explanation = Text(
        f"Acompte fixé à la main par le bureau : {_describe(manual_amount, manual.when, 'fr')}"
        f" (calculé : {was_fr}).",
        f"Deposit set by hand in the office: {_describe(manual_amount, manual.when, 'en')}"
        f" (computed: {was_en}).",
    )
    return Deposit(manual_amount, manual.when, DepositSource.OFFICE, explanation)


def deposit_set_payload(mission_id: str, manual: DepositTerms) -> dict[str, str]:
    """The `deposit_set` entry's payload: the office sets (or waives) a mission's deposit.

    The latest such entry in the office's journal is the `manual` argument of
    `resolve_deposit`; nothing that recomputes the contract's deposit writes one.
    """
    _mission(mission_id)
    amount = _amount(manual)
    when = manual.when if amount else DepositWhen.EXEMPT
    return {"mission_id": mission_id, "when": when.value, "amount": wire(amount)}


def manual_deposit_from_payload(payload: Mapping[str, object]) -> DepositTerms:
    """Read back a `deposit_set` payload as the terms the office chose."""
    return DepositTerms(DepositWhen(str(payload["when"])), parse_amount(payload["amount"]))


@dataclass(frozen=True, slots=True)
class OfficeTerms:
    """What the office set by hand for one mission (None: the contract's word stands).

    The fold of the mission's `deposit_set` entries in the server's journal, latest last:
    a deposit and a payment moment chosen by a person, that no recomputation, site fact
    or sync ever writes, so none can replace them.
    """

    deposit: DepositTerms | None = None
    pays: PayWhen | None = None

    def payment_moment(self, contract: PayWhen) -> PayWhen:
        return contract if self.pays is None else self.pays


NO_OFFICE_TERMS = OfficeTerms()


def office_terms_payload(
    mission_id: str,
    *,
    deposit: DepositTerms | None = None,
    pays: PayWhen | None = None,
    reason: str,
) -> dict[str, str]:
    """A `deposit_set` entry's payload: the office sets a mission's deposit, its payment
    moment, or both, and says why. The deposit keys are `deposit_set_payload`'s."""
    if deposit is None and pays is None:
        raise ValueError("set a deposit, a payment moment or both")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a reason is required")
    payload = (
        deposit_set_payload(mission_id, deposit)
        if deposit is not None
        else {"mission_id": _mission(mission_id)}
    )
    if pays is not None:
        payload["pays"] = PayWhen(pays).value
    payload["reason"] = reason
    return payload


def _mission(mission_id: str) -> str:
    if not isinstance(mission_id, str) or not mission_id:
        raise ValueError("a mission id is required")
    return mission_id


def fold_office_terms(payloads: Iterable[Mapping[str, object]]) -> OfficeTerms:
    """The terms in force after the mission's `deposit_set` payloads, in journal order:
    each part keeps the latest value the office gave it."""
    deposit: DepositTerms | None = None
    pays: PayWhen | None = None
    for payload in payloads:
        if "when" in payload:
            deposit = manual_deposit_from_payload(payload)
        if "pays" in payload:
            pays = PayWhen(str(payload["pays"]))
    return OfficeTerms(deposit, pays)


def office_terms_wire(terms: OfficeTerms) -> dict[str, object]:
    """The terms as the pull feed's `mission_terms` change carries them."""
    deposit = None
    if terms.deposit is not None:
        amount = _amount(terms.deposit)
        when = terms.deposit.when if amount else DepositWhen.EXEMPT
        deposit = {"when": when.value, "amount": wire(amount)}
    return {"deposit": deposit, "pays": None if terms.pays is None else terms.pays.value}


def office_terms_from_wire(data: Mapping[str, object]) -> OfficeTerms:
    """Read a `mission_terms` change back; raises ValueError/KeyError on a bad one."""
    deposit = data.get("deposit")
    pays = data.get("pays")
    return OfficeTerms(
        None if deposit is None else manual_deposit_from_payload(_mapping(deposit)),
        None if pays is None else PayWhen(str(pays)),
    )


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"a deposit must be an object, not {value!r}")
    return value
