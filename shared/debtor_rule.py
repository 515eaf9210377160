""" "Bill later" for a customer who still owes money (seed 003: warn or block;
docs/customer-debts.md "Bill later for a debtor").

The tenant chooses what happens when a deferral is asked for a customer with open
invoices: `warn` (the default: allowed, with a visible warning) or `block` (refused, with
a sentence naming what is owed). The same function decides at the phone call (the
server), on the tablet (fed with the flag and the setting the pull carried) and in
reconciliation (a deferral recorded by a tablet that did not know): so all three agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.i18n import Text
from shared.money import ZERO, format_amount, parse_amount, wire

WARN = "warn"
BLOCK = "block"
SETTINGS = (WARN, BLOCK)
DEFAULT = WARN


@dataclass(frozen=True, slots=True)
class DebtorFlag:
    """What a customer (a plate or an account, as people read it) owes on open invoices."""

    customer: str
    owed: Decimal
    invoices: int = 0

    @property
    def flagged(self) -> bool:
        return self.owed > ZERO


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    text: Text | None  # the warning (allowed) or the refusal (not allowed); None: nothing owed


def check_setting(value: object) -> str:
    """The setting, or ValueError naming the two choices."""
    if value not in SETTINGS:
        raise ValueError(value)
    return str(value)


def owed_sentence(flag: DebtorFlag) -> Text:
    count = flag.invoices
    fr_inv = f" sur {count} facture{'s' if count > 1 else ''} impayée{'s' if count > 1 else ''}"
    en_inv = f" on {count} unpaid invoice{'s' if count > 1 else ''}"
    return Text(
        f"Le client {flag.customer} doit déjà {format_amount(flag.owed, 'fr')}"
        + (fr_inv if count else ""),
        f"Customer {flag.customer} already owes {format_amount(flag.owed, 'en')}"
        + (en_inv if count else ""),
    )


def check_deferral(flag: DebtorFlag | None, setting: str) -> Verdict:
    """May this customer's payment be deferred ("bill later")? `flag` None or owing
    nothing: yes, silently."""
    if flag is None or not flag.flagged:
        return Verdict(True, None)
    owed = owed_sentence(flag)
    if setting == BLOCK:
        return Verdict(
            False,
            Text(
                f"{owed.fr} : la société refuse de facturer plus tard un client débiteur. "
                "Faites régler sur place, ou demandez au bureau de régler la dette d'abord.",
                f"{owed.en}: the company refuses to bill a customer who owes money later. "
                "Collect on site, or ask the office to settle the debt first.",
            ),
        )
    return Verdict(
        True,
        Text(
            f"Attention : {owed.fr}. Facturer plus tard reste permis ; le bureau est prévenu.",
            f"Warning: {owed.en}. Billing later is still allowed; the office is told.",
        ),
    )


def flag_to_wire(flag: DebtorFlag) -> dict[str, Any]:
    return {"customer": flag.customer, "owed": wire(flag.owed), "invoices": flag.invoices}


def flag_from_wire(data: Mapping[str, Any]) -> DebtorFlag:
    """The flag a `debtor` change carries; KeyError/ValueError/TypeError when unreadable."""
    customer = data["customer"]
    invoices = data.get("invoices", 0)
    if not isinstance(customer, str) or type(invoices) is not int or invoices < 0:
        raise ValueError(data)
    owed = parse_amount(data["owed"])
    if owed < ZERO:
        raise ValueError(data)
    return DebtorFlag(customer, owed, invoices)
