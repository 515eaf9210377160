"""The tenant's chart of accounts for the accountant's export (docs/accounting.md).

One versioned document per tenant (`server.office.office_settings`, name `accounts`),
with sensible French defaults (plan comptable général):

- `receivable` 411000 Clients (each customer and ordering party an auxiliary account);
- `customer_credit` 419100 Clients - avances et acomptes reçus (overpayments kept);
- `revenue` 706000 Prestations de services;
- `vat` one account per rate: 445712 (20 %), 445711 (10 %), 445715 (5,5 %), 445716
  (2,1 %); `vat_other` 445710 for any other rate;
- `methods` what each payment method debits: cash 530000, cheque 511200, card 511500,
  transfer and payment link 512000; `bank` 512000 (ordering parties' payments, refunds);
- `journals` VE sales, CA cash, BQ bank, OD miscellaneous;
- `fiscal_year_end` the closing day of the fiscal year, MM-DD (12-31).

`labels` adds or renames account labels (`CompteLib` is mandatory in the FEC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from server.office import office_settings
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

NAME = "accounts"
CHART = Text("Plan comptable invalide", "Invalid chart of accounts")
ACCOUNT = re.compile(r"^[1-8][0-9]{2}[0-9A-Z]{0,17}$")
JOURNAL = re.compile(r"^[A-Z0-9]{1,6}$")
FISCAL_END = re.compile(r"^(0[1-9]|1[0-2])-([0-2][0-9]|3[01])$")
METHODS = ("cash", "card", "cheque", "transfer", "payment_link")
JOURNALS = ("sales", "cash", "bank", "misc")
FIELDS = (
    "receivable",
    "customer_credit",
    "revenue",
    "vat",
    "vat_other",
    "methods",
    "bank",
    "journals",
    "fiscal_year_end",
    "labels",
)

DEFAULT_LABELS: Mapping[str, str] = {
    "411000": "Clients",
    "419100": "Clients - avances et acomptes reçus",
    "706000": "Prestations de services",
    "445710": "TVA collectée",
    "445711": "TVA collectée 10 %",
    "445712": "TVA collectée 20 %",
    "445715": "TVA collectée 5,5 %",
    "445716": "TVA collectée 2,1 %",
    "511200": "Chèques à encaisser",
    "511500": "Cartes bancaires à encaisser",
    "512000": "Banque",
    "530000": "Caisse",
}
JOURNAL_LABELS: Mapping[str, str] = {
    "sales": "Ventes",
    "cash": "Caisse",
    "bank": "Banque",
    "misc": "Opérations diverses",
}


@dataclass(frozen=True, slots=True)
class Chart:
    receivable: str = "411000"
    customer_credit: str = "419100"
    revenue: str = "706000"
    vat: Mapping[str, str] = field(
        default_factory=lambda: {"20": "445712", "10": "445711", "5.5": "445715", "2.1": "445716"}
    )
    vat_other: str = "445710"
    methods: Mapping[str, str] = field(
        default_factory=lambda: {
            "cash": "530000",
            "card": "511500",
            "cheque": "511200",
            "transfer": "512000",
            "payment_link": "512000",
        }
    )
    bank: str = "512000"
    journals: Mapping[str, str] = field(
        default_factory=lambda: {"sales": "VE", "cash": "CA", "bank": "BQ", "misc": "OD"}
    )
    fiscal_year_end: str = "12-31"
    labels: Mapping[str, str] = field(default_factory=dict)
    version: int = 0

    def vat_account(self, rate: str) -> str:
        for known, account in self.vat.items():
            if Decimal(known) == Decimal(rate):
                return account
        return self.vat_other

    def label(self, account: str, rate: str | None = None) -> str:
        if account in self.labels:
            return self.labels[account]
        if account in DEFAULT_LABELS:
            return DEFAULT_LABELS[account]
        if rate is not None:
            return f"TVA collectée {_rate_text(rate)}"
        return f"Compte {account}"

    def journal(self, role: str) -> tuple[str, str]:
        """(code, label) of a journal: sales, cash, bank or misc."""
        return self.journals[role], JOURNAL_LABELS[role]

    def method_journal(self, method: str) -> str:
        return "cash" if method == "cash" else "bank"

    def year(self, year: int) -> tuple[date, date]:
        """The fiscal year closing in `year`: (first day, closing day)."""
        month, day = (int(x) for x in self.fiscal_year_end.split("-"))
        end = date(year, month, day)
        try:
            start = end.replace(year=year - 1) + timedelta(days=1)
        except ValueError:  # pragma: no cover - 02-29 is refused by validate
            start = date(year - 1, 3, 1)
        return start, end

    def document(self) -> dict[str, Any]:
        return {
            "receivable": self.receivable,
            "customer_credit": self.customer_credit,
            "revenue": self.revenue,
            "vat": dict(self.vat),
            "vat_other": self.vat_other,
            "methods": dict(self.methods),
            "bank": self.bank,
            "journals": dict(self.journals),
            "fiscal_year_end": self.fiscal_year_end,
            "labels": dict(self.labels),
        }


DEFAULT = Chart()


def _rate_text(rate: str) -> str:
    return f"{Decimal(rate):f}".replace(".", ",") + " %"


def validate(data: Mapping[str, Any]) -> Chart:
    """The chart (missing fields keep their defaults), or `InvalidDocument` naming every
    problem: account numbers of the plan comptable's classes (411/419… for customers, 70…
    for revenue, 4457… for VAT, 5… for money), journal codes of 1 to 6 capitals or
    digits, a real closing day."""
    if not isinstance(data, Mapping):
        raise InvalidDocument(CHART, [Problem("", Text("un objet JSON", "a JSON object"))])
    problems: list[Problem] = []
    for key in sorted(set(data) - set(FIELDS)):
        problems.append(Problem(key, Text("champ inconnu", "unknown field")))
    base = DEFAULT.document()

    def account(path: str, value: object, prefix: str) -> str:
        if not isinstance(value, str) or not ACCOUNT.match(value) or not value.startswith(prefix):
            problems.append(
                Problem(
                    path,
                    Text(
                        f"numéro de compte du plan comptable commençant par {prefix} "
                        "(chiffres, 3 à 20 caractères)",
                        f"an account number of the French chart starting with {prefix} "
                        "(digits, 3 to 20 characters)",
                    ),
                )
            )
            return ""
        return value

    receivable = account("receivable", data.get("receivable", base["receivable"]), "41")
    credit = account("customer_credit", data.get("customer_credit", base["customer_credit"]), "41")
    revenue = account("revenue", data.get("revenue", base["revenue"]), "70")
    vat_other = account("vat_other", data.get("vat_other", base["vat_other"]), "4457")
    bank = account("bank", data.get("bank", base["bank"]), "5")
    vat: dict[str, str] = {}
    given_vat = data.get("vat", base["vat"])
    if not isinstance(given_vat, Mapping):
        problems.append(Problem("vat", Text("un objet taux → compte", "rate → account")))
        given_vat = {}
    for rate, number in given_vat.items():
        try:
            ok = Decimal(str(rate)) >= 0 and str(rate) == str(rate).strip()
        except (InvalidOperation, ValueError):
            ok = False
        if not ok:
            problems.append(Problem(f"vat.{rate}", Text("taux inconnu", "not a rate")))
            continue
        vat[str(rate)] = account(f"vat.{rate}", number, "4457")
    methods: dict[str, str] = {}
    given_methods = {**base["methods"], **(data.get("methods") or {})}
    for name, number in given_methods.items():
        if name not in METHODS:
            problems.append(Problem(f"methods.{name}", Text("mode inconnu", "unknown method")))
            continue
        methods[name] = account(f"methods.{name}", number, "5")
    journals: dict[str, str] = {}
    given_journals = {**base["journals"], **(data.get("journals") or {})}
    for role, code in given_journals.items():
        if role not in JOURNALS:
            problems.append(Problem(f"journals.{role}", Text("journal inconnu", "unknown")))
        elif not isinstance(code, str) or not JOURNAL.match(code):
            problems.append(
                Problem(
                    f"journals.{role}",
                    Text("code de 1 à 6 majuscules ou chiffres", "1 to 6 capitals or digits"),
                )
            )
        else:
            journals[role] = code
    if len(set(journals.values())) != len(journals):
        problems.append(Problem("journals", Text("codes en double", "duplicate codes")))
    end = data.get("fiscal_year_end", base["fiscal_year_end"])
    if not isinstance(end, str) or not FISCAL_END.match(end) or end == "02-29" or not _real(end):
        problems.append(
            Problem("fiscal_year_end", Text("jour de clôture MM-JJ", "closing day MM-DD"))
        )
    labels = data.get("labels", {})
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and ACCOUNT.match(k) and isinstance(v, str) and 0 < len(v) <= 120
        for k, v in labels.items()
    ):
        problems.append(
            Problem("labels", Text("compte → libellé (120 caractères)", "account → label"))
        )
        labels = {}
    if problems:
        raise InvalidDocument(CHART, problems)
    return Chart(
        receivable=receivable,
        customer_credit=credit,
        revenue=revenue,
        vat=vat,
        vat_other=vat_other,
        methods=methods,
        bank=bank,
        journals=journals,
        fiscal_year_end=str(end),
        labels={str(k): " ".join(str(v).split()) for k, v in labels.items()},
    )


def _real(text: str) -> bool:
    month, day = (int(x) for x in text.split("-"))
    try:
        date(2025, month, day)
    except ValueError:
        return False
    return True


def current(conn: sa.Connection, tenant_id: str) -> Chart:
    """The chart in force (the defaults, version 0, until the office sets one)."""
    found = office_settings.latest(conn, tenant_id, NAME)
    if found is None:
        return DEFAULT
    chart = validate(found["document"])
    return Chart(**{**_fields(chart), "version": found["version"]})


def _fields(chart: Chart) -> dict[str, Any]:
    return {name: getattr(chart, name) for name in FIELDS}


def set_chart(
    conn: sa.Connection, tenant_id: str, data: Mapping[str, Any], *, actor: str, now: datetime
) -> Chart:
    """Check and store a new chart (a new version; the same again adds nothing)."""
    chart = validate(data)
    stored = office_settings.store(conn, tenant_id, NAME, chart.document(), actor=actor, now=now)
    return Chart(**{**_fields(chart), "version": stored["version"]})


def to_wire(chart: Chart) -> dict[str, Any]:
    return {"version": chart.version, **chart.document()}
