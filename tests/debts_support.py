"""A month of money owed by beneficiaries, for the customer-debts, accounting and
report tests: one tenant ("acme", Lyon time), six beneficiary invoices issued from
January to March 2026 — billed later, collected short, collected in full, two rates —
then what the office records in March: a partial transfer, a cheque that settles, a
transfer beyond what is owed (a credit: 30.00 applied, 20.00 refunded, 10.00 kept) and
a credit note. Terms: payable on receipt, GARAGE-DUPONT at 30 days; reminders 10, 20
and 30 days late.

    invoice        mission   customer         issued  total   on site       office
    F2026-000001   M-P-0005  MN-321-OP        10/01   180.00  —             —
    F2026-000002   M-P-0001  GARAGE-DUPONT    02/03   210.60  billed later  50.00 + 30.00 credit
    F2026-000003   M-P-0004  IJ-789-KL        03/03   180.00  —             credit note 20.00
    F2026-000004   M-P-0006  AB-123-CD        05/03   240.00  billed later  300.00 received
    F2026-000005   M-A-0003  (Assistance A)   14/03   250.00  the ordering party's
    F2026-000006   M-A-0003  GH-482-KL        14/03   164.00  100.00 cash   64.00 cheque
    F2026-000007   M-P-0003  EF-456-GH        20/03   180.00  180.00 card   —

At 31/03: 180.00 open 80 days late, 160.00 open 28 days late, 130.60 not due yet,
10.00 of credit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from server.office import (
    debt_terms,
    invoicing,
    missions,
    office_payments,
)
from server.office.office_payments import Use
from tests.conftest import example
from tests.invoicing_support import (
    KEY,
    PRIVATE_TTC,
    TWO_RATES,
    field_entry,
    set_up,
    store_valuation,
)

TENANT = "acme"
PRIVATE = example("contracts", "private")
ASSIST_A = example("contracts", "assist-a")
TERMS = {
    "payment_days": 0,
    "customers": {"GARAGE-DUPONT": 30},
    "reminder_days": [10, 20, 30],
    "letter_lang": "fr",
    "languages": {"plate:IJ-789-KL": "en"},
}
END = date(2026, 3, 31)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def private(mission_id: str, plate: str, call: str, **extra: Any) -> dict[str, Any]:
    base = example("missions", "private-tow")
    return {
        **base,
        "id": mission_id,
        "file_number": "P-" + mission_id,
        "vehicle": {"plate": plate, "class": "VL"},
        "times": {"call": call},
        **extra,
    }


@dataclass
class Month:
    numbers: dict[str, str] = field(default_factory=dict)  # mission → beneficiary invoice
    payments: list[dict[str, Any]] = field(default_factory=list)
    credit_notes: list[dict[str, Any]] = field(default_factory=list)


def _issue(conn: sa.Connection, mission_id: str, now: datetime, month: Month) -> None:
    for doc in invoicing.issue_for_mission(conn, TENANT, mission_id, key=KEY, actor="u1", now=now):
        if doc["recipient_kind"] == "beneficiary":
            month.numbers[mission_id] = doc["number"]


def build(engine: sa.Engine) -> Month:
    """The whole month, each act in its own transaction as the office would."""
    month = Month()
    with engine.begin() as conn:
        set_up(conn, TENANT, valued=False)
        debt_terms.set_terms(conn, TENANT, TERMS, actor="gerant", now=at(1, 2))
        made = [
            (private("M-P-0005", "MN-321-OP", "2026-01-09T15:00:00+01:00"), PRIVATE),
            (
                private(
                    "M-P-0001", "GH-000-AA", "2026-03-01T09:00:00+01:00", customer="GARAGE-DUPONT"
                ),
                PRIVATE,
            ),
            (private("M-P-0004", "IJ-789-KL", "2026-03-02T09:00:00+01:00"), PRIVATE),
            (
                {**TWO_RATES, "id": "M-P-0006", "vehicle": {"plate": "AB-123-CD", "class": "VL"}},
                PRIVATE_TTC,
            ),
            (private("M-P-0003", "EF-456-GH", "2026-03-19T09:00:00+01:00"), PRIVATE),
        ]
        for document, contract in made:
            missions.create(conn, TENANT, document, None, actor="t", now=at(1, 2))
            store_valuation(conn, TENANT, document, contract)
        store_valuation(conn, TENANT, example("missions", "a-saturday-accident-winching"), ASSIST_A)
    for mission_id, moment in (
        ("M-P-0005", at(1, 10)),
        ("M-P-0001", at(3, 2)),
        ("M-P-0004", at(3, 3)),
        ("M-P-0006", at(3, 5)),
        ("M-A-0003", at(3, 14)),
        ("M-P-0003", at(3, 20)),
    ):
        with engine.begin() as conn:
            _issue(conn, mission_id, moment, month)
    with engine.begin() as conn:
        seq = iter(range(1, 100))
        field_entry(
            conn, TENANT, "deferral", {"mission_id": "M-P-0001", "amount": "117.00"},
            ref="def-p1", seq=next(seq),
        )  # fmt: skip
        field_entry(
            conn, TENANT, "deferral", {"mission_id": "M-P-0006", "amount": "240.00"},
            ref="def-p2", seq=next(seq),
        )  # fmt: skip
        field_entry(
            conn, TENANT, "collection",
            {"mission_id": "M-A-0003", "method": "cash", "amount": "100.00"},
            ref="col-a3", seq=next(seq),
        )  # fmt: skip
        field_entry(
            conn, TENANT, "collection",
            {"mission_id": "M-P-0003", "method": "card", "amount": "180.00"},
            ref="col-p3", seq=next(seq),
        )  # fmt: skip
    n = month.numbers

    def pay(**kw: Any) -> dict[str, Any]:
        moment = kw.pop("now")
        with engine.begin() as conn:
            made = office_payments.record(conn, TENANT, key=KEY, actor="bureau", now=moment, **kw)
        month.payments.append(made)
        return made

    pay(
        amount="50.00", method="transfer", received_on=date(2026, 3, 20),
        reference="VIR 2026-03-20 DUPONT", uses=[Use(n["M-P-0001"])], now=at(3, 20, 15),
    )  # fmt: skip
    pay(
        amount="64.00", method="cheque", received_on=date(2026, 3, 24),
        reference="CHQ 1234567", uses=[Use(n["M-A-0003"])], now=at(3, 25),
    )  # fmt: skip
    big = pay(
        amount="300.00", method="transfer", received_on=date(2026, 3, 26),
        reference="VIR AB123CD", uses=[Use(n["M-P-0006"])], now=at(3, 26),
    )  # fmt: skip
    with engine.begin() as conn:
        office_payments.apply_credit(
            conn, TENANT, big["number"], n["M-P-0001"], amount="30.00",
            key=KEY, actor="bureau", now=at(3, 27),
        )  # fmt: skip
        office_payments.refund(
            conn, TENANT, big["number"], amount="20.00", reference="VIR REMB 0328",
            key=KEY, actor="bureau", now=at(3, 28),
        )  # fmt: skip
        month.credit_notes.append(
            invoicing.credit_note(
                conn, TENANT, n["M-P-0004"], amount="20.00", reason="Geste commercial",
                key=KEY, actor="bureau", now=at(3, 29),
            )
        )  # fmt: skip
    return month
