"""How long a beneficiary has to pay, and when the office reminds them
(docs/customer-debts.md "Terms").

One versioned document per tenant (`server.office.office_settings`, name `debt_terms`):

    {"payment_days": 0,                       invoice date + days = due date
     "customers": {"GARAGE-DUPONT": 30},      a customer's own terms (its key)
     "reminder_days": [15, 30, 45],           a letter this many days after the due date
     "letter_lang": "fr",                     the letters' language…
     "languages": {"GARAGE-DUPONT": "en"}}    …or a customer's own

Without a document the defaults apply: payable on receipt (as the beneficiary's invoice
says), reminders 15, 30 and 45 days late, in French. A customer is named by its key
(`server.office.customers.customer_key`): the contract's customer id, or
`plate:<plate>` for a private motorist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from server.office import office_settings
from shared.errors import InvalidDocument, Problem
from shared.i18n import LANGS, Text

NAME = "debt_terms"
TERMS = Text("Conditions de paiement invalides", "Invalid payment terms")
MAX_DAYS = 365
MAX_REMINDERS = 5
MAX_CUSTOMERS = 2000
KEY_MAX = 160
FIELDS = ("payment_days", "customers", "reminder_days", "letter_lang", "languages")


@dataclass(frozen=True, slots=True)
class DebtTerms:
    payment_days: int = 0
    customers: Mapping[str, int] = field(default_factory=dict)
    reminder_days: tuple[int, ...] = (15, 30, 45)
    letter_lang: str = "fr"
    languages: Mapping[str, str] = field(default_factory=dict)
    version: int = 0  # 0: the defaults, never set

    def days_for(self, customer: str) -> int:
        return int(self.customers.get(customer, self.payment_days))

    def due_on(self, customer: str, issued_on: date) -> date:
        return issued_on + timedelta(days=self.days_for(customer))

    def lang_for(self, customer: str) -> str:
        return str(self.languages.get(customer, self.letter_lang))

    def document(self) -> dict[str, Any]:
        return {
            "payment_days": self.payment_days,
            "customers": dict(sorted(self.customers.items())),
            "reminder_days": list(self.reminder_days),
            "letter_lang": self.letter_lang,
            "languages": dict(sorted(self.languages.items())),
        }


DEFAULT = DebtTerms()


def _days(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DAYS


def _key(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= KEY_MAX and value == value.strip()


def validate(data: Mapping[str, Any]) -> DebtTerms:
    """The terms, or `InvalidDocument` naming every problem. Missing fields keep their
    defaults."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise InvalidDocument(TERMS, [Problem("", Text("un objet JSON", "a JSON object"))])
    for key in sorted(set(data) - set(FIELDS)):
        problems.append(Problem(key, Text("champ inconnu", "unknown field")))
    days_text = Text(
        f"un nombre entier de jours entre 0 et {MAX_DAYS}",
        f"a whole number of days from 0 to {MAX_DAYS}",
    )
    payment_days = data.get("payment_days", DEFAULT.payment_days)
    if not _days(payment_days):
        problems.append(Problem("payment_days", days_text))
    customers = data.get("customers", {})
    if not isinstance(customers, Mapping) or len(customers) > MAX_CUSTOMERS:
        problems.append(Problem("customers", Text("un objet client → jours", "customer → days")))
        customers = {}
    for name, days in customers.items():
        if not _key(name):
            problems.append(Problem(f"customers.{name}", Text("clé de client", "customer key")))
        elif not _days(days):
            problems.append(Problem(f"customers.{name}", days_text))
    reminders = data.get("reminder_days", list(DEFAULT.reminder_days))
    if (
        not isinstance(reminders, list)
        or not 0 < len(reminders) <= MAX_REMINDERS
        or not all(_days(d) and d > 0 for d in reminders)
        or any(b <= a for a, b in pairwise(reminders))
    ):
        problems.append(
            Problem(
                "reminder_days",
                Text(
                    f"de 1 à {MAX_REMINDERS} délais croissants, en jours après l'échéance "
                    "(par exemple [15, 30, 45])",
                    f"1 to {MAX_REMINDERS} increasing delays, in days after the due date "
                    "(for example [15, 30, 45])",
                ),
            )
        )
    lang_text = Text("« fr » ou « en »", '"fr" or "en"')
    letter_lang = data.get("letter_lang", DEFAULT.letter_lang)
    if letter_lang not in LANGS:
        problems.append(Problem("letter_lang", lang_text))
    languages = data.get("languages", {})
    if not isinstance(languages, Mapping) or len(languages) > MAX_CUSTOMERS:
        problems.append(Problem("languages", Text("un objet client → langue", "customer → lang")))
        languages = {}
    for name, chosen in languages.items():
        if not _key(name) or chosen not in LANGS:
            problems.append(Problem(f"languages.{name}", lang_text))
    if problems:
        raise InvalidDocument(TERMS, problems)
    return DebtTerms(
        payment_days=int(payment_days),
        customers={str(k): int(v) for k, v in customers.items()},
        reminder_days=tuple(int(d) for d in reminders),
        letter_lang=str(letter_lang),
        languages={str(k): str(v) for k, v in languages.items()},
    )


def current(conn: sa.Connection, tenant_id: str) -> DebtTerms:
    """The terms in force (the defaults, version 0, until the office sets them)."""
    found = office_settings.latest(conn, tenant_id, NAME)
    if found is None:
        return DEFAULT
    terms = validate(found["document"])
    return DebtTerms(
        terms.payment_days,
        terms.customers,
        terms.reminder_days,
        terms.letter_lang,
        terms.languages,
        version=found["version"],
    )


def set_terms(
    conn: sa.Connection, tenant_id: str, data: Mapping[str, Any], *, actor: str, now: datetime
) -> DebtTerms:
    """Check and store new terms (a new version; the same terms again add nothing)."""
    terms = validate(data)
    stored = office_settings.store(conn, tenant_id, NAME, terms.document(), actor=actor, now=now)
    return DebtTerms(
        terms.payment_days,
        terms.customers,
        terms.reminder_days,
        terms.letter_lang,
        terms.languages,
        version=stored["version"],
    )


def to_wire(terms: DebtTerms) -> dict[str, Any]:
    return {"version": terms.version, **terms.document()}
