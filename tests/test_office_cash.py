"""Cash at the office (issue 15): the office records a cash payment within the legal
limit (Code monétaire et financier art. D112-3: 1,000 € for a payer domiciled in France
or acting for a business, 15,000 € for a private person not domiciled in France), a
tenant setting that may be stricter, never looser; beyond it, a sentence and nothing
written. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main
from server.office import cash_limits, office_payments
from server.office.office_payments import Use
from server.platform.errors import Unprocessable
from server.platform.tables import journal_entries
from server.platform.tables import office_payments as payments_table
from tests.debts_support import TENANT, Month, at, build
from tests.invoicing_support import KEY
from tests.storage import engine  # noqa: F401


@pytest.fixture
def month(engine) -> Month:  # noqa: F811
    return build(engine)


def _pay(engine, **kw):  # noqa: F811
    with engine.begin() as conn:
        return office_payments.record(
            conn, TENANT, method="cash", received_on=date(2026, 3, 30), reference=None,
            key=KEY, actor="bureau", now=at(3, 30), **kw,
        )  # fmt: skip


def _plain(text: str) -> str:
    """A sentence with ordinary spaces (amounts use non-breaking ones)."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _counts(engine):  # noqa: F811
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(payments_table)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(journal_entries)).scalar_one(),
        )


def test_cash_beyond_the_legal_limit_is_refused_with_the_law_and_changes_nothing(
    engine,  # noqa: F811
    month,
):
    before = _counts(engine)
    with pytest.raises(Unprocessable) as refused:
        _pay(engine, amount="1000.01", customer="plate:MN-321-OP")
    assert refused.value.code == "cash_limit_exceeded"
    said = _plain(refused.value.message("fr"))
    assert "art. D112-3" in said and "1 000,00" in said and "virement" in said
    assert "€1,000.00" in refused.value.message("en")
    assert _counts(engine) == before
    # At the limit it is accepted; a private person not domiciled in France goes further.
    at_limit = _pay(engine, amount="1000.00", customer="plate:MN-321-OP")
    assert at_limit["method"] == "cash" and at_limit["credit"] == "1000.00"
    far = _pay(engine, amount="1200.00", customer="plate:XY-1", cash_payer="non_resident")
    assert far["amount"] == "1200.00"
    with pytest.raises(Unprocessable) as beyond:
        _pay(engine, amount="15000.01", customer="plate:XY-1", cash_payer="non_resident")
    assert "15 000,00" in _plain(beyond.value.message("fr"))


def test_a_stricter_tenant_limit_holds_per_invoice_across_payments(engine, month):  # noqa: F811
    invoice = month.numbers["M-P-0005"]  # 180.00, nothing paid
    with engine.begin() as conn:
        with pytest.raises(Unprocessable) as looser:
            cash_limits.set_limits(conn, TENANT, {"resident": "1500.00"}, actor="g", now=at(3, 29))
        assert looser.value.code == "cash_limits_invalid"
        set_ = cash_limits.set_limits(
            conn, TENANT, {"resident": "100.00"}, actor="g", now=at(3, 29)
        )
    assert set_.cents == {"resident": 10_000, "non_resident": 1_500_000} and set_.version == 1
    first = _pay(engine, amount="100.00", uses=[Use(invoice)])
    assert first["uses"][0]["amount"] == "100.00"
    # The debt is not split to pass the limit: 100.00 already taken in cash on it.
    with pytest.raises(Unprocessable) as split:
        _pay(engine, amount="50.00", uses=[Use(invoice)])
    assert f"facture {invoice}" in split.value.message("fr") and "100,00" in split.value.message(
        "fr"
    )
    # The rest by cheque is fine.
    with engine.begin() as conn:
        rest = office_payments.record(
            conn, TENANT, amount="80.00", method="cheque", received_on=date(2026, 3, 30),
            reference="CHQ 9", uses=[Use(invoice)], key=KEY, actor="bureau", now=at(3, 30),
        )  # fmt: skip
    assert rest["credit"] == "0.00"


def test_a_cash_status_on_another_method_or_an_unknown_one_is_refused(engine, month):  # noqa: F811
    with engine.begin() as conn, pytest.raises(Unprocessable) as refused:
        office_payments.record(
            conn, TENANT, amount="10.00", method="transfer", received_on=date(2026, 3, 30),
            reference="VIR", customer="plate:MN-321-OP", cash_payer="non_resident",
            key=KEY, actor="bureau", now=at(3, 30),
        )  # fmt: skip
    assert refused.value.code == "cash_payer_not_cash"
    with pytest.raises(Unprocessable) as unknown:
        _pay(engine, amount="10.00", customer="plate:MN-321-OP", cash_payer="tourist")
    assert unknown.value.code == "cash_payer_invalid"


def test_the_command_line_shows_and_sets_the_limits(engine, month):  # noqa: F811
    if engine.dialect.name != "sqlite":
        pytest.skip("the command line opens the database by its URL: the SQLite file")
    url = str(engine.url)
    runner = CliRunner()
    shown = runner.invoke(main, ["cash-limits", TENANT, "--database", url, "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert "cash: 1000.00 (resident or business), 15000.00" in shown.output
    bad = runner.invoke(main, ["cash-limits", TENANT, "--resident", "2000", "--database", url])
    assert bad.exit_code == 2 and "la loi ne permet pas plus" in bad.output
    done = runner.invoke(
        main, ["cash-limits", TENANT, "--resident", "300.00", "--database", url, "--json"]
    )
    assert done.exit_code == 0 and '"resident": "300.00"' in done.output
