"""Cash at the office adds the cash the drivers took on site for the same debt (Code
monétaire et financier art. D112-3 limits paying one debt in cash, however it is split):
on SQLite and PostgreSQL. The month is tests/debts_support.py's; F2026-000001 (180.00,
M-P-0005) gets 60.00 in cash on site, and the tenant's limit is 100.00."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from server.office import cash_limits, office_payments
from server.office.office_payments import Use
from server.platform.errors import Unprocessable
from server.platform.tables import journal_entries
from tests.debts_support import TENANT, at, build
from tests.invoicing_support import KEY, field_entry
from tests.storage import engine  # noqa: F401


@pytest.fixture
def invoice(engine):  # noqa: F811
    month = build(engine)
    with engine.begin() as conn:
        cash_limits.set_limits(conn, TENANT, {"resident": "100.00"}, actor="g", now=at(3, 29))
        field_entry(
            conn, TENANT, "collection",
            {"mission_id": "M-P-0005", "method": "cash", "amount": "60.00"},
            ref="col-p5-cash", seq=70,
        )  # fmt: skip
    return month.numbers["M-P-0005"]


def _pay(engine, amount, invoice):  # noqa: F811
    with engine.begin() as conn:
        return office_payments.record(
            conn, TENANT, amount=amount, method="cash", received_on=date(2026, 3, 30),
            reference=None, uses=[Use(invoice)], key=KEY, actor="bureau", now=at(3, 30),
        )  # fmt: skip


def _count(engine):  # noqa: F811
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(journal_entries)).scalar_one()


def test_the_cash_taken_on_site_counts_towards_the_debts_limit(engine, invoice):  # noqa: F811
    before = _count(engine)
    with pytest.raises(Unprocessable) as refused:
        _pay(engine, "50.00", invoice)  # 60.00 on site + 50.00 > 100.00
    assert refused.value.code == "cash_limit_exceeded"
    fr = refused.value.message("fr").replace("\u202f", " ").replace("\xa0", " ")
    assert f"facture {invoice}" in fr and "60,00 € au chauffeur sur place" in fr
    assert "0,00 € au bureau" in fr
    assert "to the driver on site" in refused.value.message("en")
    assert _count(engine) == before
    done = _pay(engine, "40.00", invoice)  # 60.00 + 40.00: at the limit
    assert [(u["invoice"], u["amount"]) for u in done["uses"]] == [(invoice, "40.00")]
    with pytest.raises(Unprocessable) as again:
        _pay(engine, "0.01", invoice)  # on site and at the office together
    assert again.value.code == "cash_limit_exceeded"


def test_a_reversed_collection_no_longer_counts(engine, invoice):  # noqa: F811
    with engine.begin() as conn:
        field_entry(
            conn, TENANT, "reversal",
            {"mission_id": "M-P-0005", "method": "cash", "amount": "60.00",
             "reverses": {"hash": "col-p5-cash"}},
            ref="rev-p5-cash", seq=71,
        )  # fmt: skip
    done = _pay(engine, "100.00", invoice)
    assert [(u["invoice"], u["amount"]) for u in done["uses"]] == [(invoice, "100.00")]
