"""The month of tests/debts_support.py and tests/test_reports.py's drivers' work, plus an
assisted mission where a deductible and an exclusion both send lines to the beneficiary,
for the manager's numbers (shifted by caps, profitability, commissions):

    M-B-0001  ASSIST-B (deductible 50.00 incl. VAT; extra km excluded), called 10/03,
              driven by Karim (d1): tow 120.00 + toll 12.40 at cost (0 %) + 30 extra km
              45.00. The party pays 106.40 incl. (88.67 excl.); the beneficiary 104.00
              incl. (88.73 excl.): toll 12.40 and tow 31.33 by the deductible, km 45.00
              by the exclusion. Invoiced 11/03; 52.00 incl. credited to the beneficiary
              on 18/03 (6.20 at 0 % + 45.80 at 20 %: 44.37 excl.).

M-B-0001 was taken on the phone by Sonia (login `standard`, an office user: `numbers`
["dispatcher"] is her id); she has no commission rules unless a test gives her some.
Karim's rules (set 1 March): 10 % on TOW, 5.00 per mission. Costs per km (set 1 April,
the first version: a report of March uses it): VL 0.50.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.office import commissions, contracts, cost_settings, invoicing, missions
from server.people import identity, ordering_parties
from tests.conftest import example
from tests.debts_support import TENANT, Month, at, build
from tests.invoicing_support import KEY, store_valuation
from tests.test_reports import add_drivers_work

ASSIST_B = example("contracts", "assist-b")


def b_mission() -> dict[str, Any]:
    document = example("missions", "b-tuesday-80km")
    return {**document, "services": [{"code": "TOW"}, {"code": "TOLL", "amount": "12.40"}]}


def build_month(engine: sa.Engine) -> tuple[Month, dict[str, str]]:
    """The month; returns it and the numbers of M-B-0001's documents by role."""
    month = build(engine)
    add_drivers_work(engine)
    numbers: dict[str, str] = {}
    with engine.begin() as conn:
        ordering_parties.create_party(
            conn, TENANT, "ASSIST-B", "Assistance B", actor="t", now=at(3, 1)
        )
        contracts.publish(conn, TENANT, ASSIST_B, actor="t", now=at(3, 1))
        sonia = identity.create_user(
            conn, TENANT, "standard", "Sonia", "standard-pass", "office", actor="t", now=at(3, 1)
        )
        numbers["dispatcher"] = sonia.id
        missions.create(conn, TENANT, b_mission(), "d1", actor=sonia.id, now=at(3, 10))
        store_valuation(conn, TENANT, b_mission(), ASSIST_B, now=at(3, 10))
        commissions.set_rules(
            conn, TENANT, "d1", {"percent": {"TOW": "10"}, "per_mission": "5.00"},
            actor="gerant", now=at(3, 1),
        )  # fmt: skip
    with engine.begin() as conn:
        for doc in invoicing.issue_for_mission(
            conn, TENANT, "M-B-0001", key=KEY, actor="u1", now=at(3, 11)
        ):
            numbers[doc["recipient_kind"]] = doc["number"]
    with engine.begin() as conn:
        made = invoicing.credit_note(
            conn, TENANT, numbers["beneficiary"], amount="52.00", reason="Geste commercial",
            key=KEY, actor="bureau", now=at(3, 18),
        )  # fmt: skip
        numbers["credit_note"] = made["number"]
        cost_settings.set_costs(
            conn, TENANT, {"per_km": {"VL": "0.50"}}, actor="gerant", now=at(4, 1)
        )
    return month, numbers
