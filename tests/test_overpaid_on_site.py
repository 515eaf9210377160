"""An invoice overpaid on site is the customer's credit, on SQLite and PostgreSQL: shown
in the account and the ageing, refunded by the office in signed entries (never beyond
what it holds), counted in the closings as money out; a collection the office voided
gives its money back and is no credit. The month is tests/debts_support.py's:
F2026-000007 (EF-456-GH, 180.00 paid by card on site) then gets a credit note of 30.00.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import customer_debts, decisions, invoicing, office_payments
from server.platform.errors import Conflict
from server.platform.tables import journal_entries
from tests.debts_support import END, KEY, TENANT, at, build
from tests.invoicing_support import field_entry
from tests.storage import engine  # noqa: F401 - the fixture

CUSTOMER = "plate:EF-456-GH"


@pytest.fixture
def month(engine):  # noqa: F811
    made = build(engine)
    with engine.begin() as conn:
        invoicing.credit_note(
            conn, TENANT, made.numbers["M-P-0003"], amount="30.00", reason="Geste commercial",
            key=KEY, actor="bureau", now=at(3, 30),
        )  # fmt: skip
    return engine, made.numbers["M-P-0003"]


def account(eng):
    with eng.connect() as conn:
        return customer_debts.account(conn, TENANT, CUSTOMER, END)


def refund(eng, invoice, **kw):
    with eng.begin() as conn:
        return office_payments.refund_overpayment(
            conn, TENANT, invoice, key=KEY, actor="bureau", now=at(3, 31), **kw
        )


def test_the_overpayment_is_the_customers_credit_in_the_account_and_the_ageing(month):
    eng, invoice = month
    mine = account(eng)
    [row] = mine["invoices"]
    assert (row["number"], row["overpaid"], row["credit"]) == (invoice, "30.00", "30.00")
    assert mine["totals"]["credit"] == "30.00"
    with eng.connect() as conn:
        ageing = customer_debts.ageing(conn, TENANT, END)
    [listed] = [c for c in ageing["customers"] if c["customer"] == CUSTOMER]
    assert (listed["credit"], listed["total"]) == ("30.00", "0.00")
    assert ageing["totals"]["credit"] == "40.00"  # 10.00 left on R2026-000003, and this


def test_refunding_it_records_a_signed_entry_and_never_more_than_it_holds(month):
    eng, invoice = month
    done = refund(eng, invoice, reference="VIR REMB EF456", amount="20.00")
    assert (done["act"], done["amount"], done["customer"]) == (
        "overpayment_refunded",
        "20.00",
        CUSTOMER,
    )
    assert done["balance"]["credit"] == "10.00"
    assert done["balance"]["overpaid"] == "30.00"  # what was paid beyond: a fact, kept
    with eng.connect() as conn:
        body = conn.execute(
            sa.select(journal_entries.c.body, journal_entries.c.mission_id).where(
                journal_entries.c.device_id == f"server:{TENANT}",
                journal_entries.c.seq == done["journal_seq"],
            )
        ).one()
    assert body.mission_id == "M-P-0003"
    assert json.loads(body.body)["payload"]["invoice"] == invoice
    with pytest.raises(Conflict) as refused:
        refund(eng, invoice, reference="VIR 2", amount="15.00")
    assert refused.value.code == "refund_exceeds_credit"
    assert "10,00" in refused.value.text("fr") and "10.00" in refused.value.text("en")
    refund(eng, invoice, reference="VIR 3")  # the rest
    with pytest.raises(Conflict) as empty:
        refund(eng, invoice, reference="VIR 4")
    assert empty.value.code == "no_credit_left"
    mine = account(eng)
    assert mine["invoices"][0]["credit"] == "0.00"
    assert mine["totals"]["credit"] == "0.00"
    refunds = [h for h in mine["history"] if h["event"] == "overpayment_refunded"]
    assert [(h["amount"], h["reference"]) for h in refunds] == [
        ("20.00", "VIR REMB EF456"),
        ("10.00", "VIR 3"),
    ]


def test_a_refused_refund_writes_nothing(month):
    eng, invoice = month

    def count():
        with eng.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(journal_entries)).scalar()

    before = count()
    for kw, code in (
        ({"reference": " "}, "reference_missing"),
        ({"reference": "X", "amount": "-1"}, "amount_invalid"),
        ({"reference": "X", "amount": "31.00"}, "refund_exceeds_credit"),
    ):
        with pytest.raises(Exception) as refused:
            refund(eng, invoice, **kw)
        assert refused.value.code == code
    with pytest.raises(Exception) as paid:
        refund(eng, "F2026-000006", reference="X")  # paid exactly: no credit
    assert paid.value.code == "no_credit_left"
    assert count() == before


def test_a_voided_collection_gives_its_money_back_and_is_no_credit(month):
    eng, invoice = month
    with eng.begin() as conn:  # charged twice on site: 50.00 more in cash
        field_entry(
            conn, TENANT, "collection",
            {"mission_id": "M-P-0003", "method": "cash", "amount": "50.00"},
            ref="col-p3-twice", seq=50,
        )  # fmt: skip
    assert account(eng)["invoices"][0]["credit"] == "80.00"
    with eng.begin() as conn:
        decisions.void_collection(
            conn, TENANT, "dev_a", 50, "encaissé deux fois", actor="bureau", now=at(3, 31)
        )
    [row] = account(eng)["invoices"]
    assert (row["voided_pending"], row["credit"]) == ("50.00", "30.00")
    with eng.begin() as conn:  # the tablet's reversal arrives: counted once
        field_entry(
            conn, TENANT, "reversal",
            {"mission_id": "M-P-0003", "method": "cash", "amount": "50.00",
             "reverses": {"device_id": "dev_a", "seq": 50, "hash": "col-p3-twice"}},
            ref="rev-p3", seq=51,
        )  # fmt: skip
    [row] = account(eng)["invoices"]
    assert (row["voided_pending"], row["overpaid"], row["credit"]) == ("0.00", "30.00", "30.00")
    with pytest.raises(Conflict):
        refund(eng, invoice, reference="VIR", amount="30.01")


def test_the_command_line_refunds_it(month, tmp_path):
    eng, invoice = month
    if eng.dialect.name != "sqlite":
        pytest.skip("the command line is the same on both databases")
    from server.cli.main import main

    var = tmp_path / "var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    common = ["--database", eng.url.render_as_string(hide_password=False)]
    runner = CliRunner()
    done = runner.invoke(
        main,
        ["debts", "refund-overpaid", TENANT, invoice, "--reference", "VIR REMB", "--amount",
         "12.50", "--var-dir", str(var), *common, "--lang", "en"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"Refunded 12.50 of invoice {invoice}'s credit (ref. VIR REMB); credit left 17.50." in (
        done.output
    )
    too_much = runner.invoke(
        main,
        ["debts", "refund-overpaid", TENANT, invoice, "--reference", "X", "--amount", "99.00",
         "--var-dir", str(var), *common],
    )  # fmt: skip
    assert too_much.exit_code == 3
    shown = runner.invoke(main, ["debts", "account", TENANT, CUSTOMER, "--json", *common])
    assert json.loads(shown.output)["totals"]["credit"] == "17.50"
    helped = runner.invoke(main, ["debts", "refund-overpaid", "--help"])
    assert "towline-server debts refund-overpaid demo F2026-000004" in helped.output


# --- the desk and the API (SQLite: the pages are the same on both databases) -----------------


def test_the_desk_and_the_api_show_and_refund_it(engine, tmp_path, monkeypatch):  # noqa: F811
    if engine.dialect.name != "sqlite":
        pytest.skip("the pages are the same on both databases")
    from server.people import hashing
    from tests.desk_support import post
    from tests.test_debts_pages import Office, flat

    monkeypatch.setattr(hashing, "N", 2**8)
    office = Office(engine, tmp_path, build(engine))
    invoice = office.month.numbers["M-P-0003"]
    with engine.begin() as conn:
        invoicing.credit_note(
            conn, TENANT, invoice, amount="30.00", reason="Geste commercial",
            key=KEY, actor="bureau", now=at(3, 30),
        )  # fmt: skip
    client = office.app.test_client()
    bureau = office.api("bureau")
    shown = client.get(f"/api/v1/customers/{CUSTOMER}/account", headers=bureau).get_json()
    assert shown["invoices"][0]["credit"] == "30.00" and shown["totals"]["credit"] == "30.00"
    path = f"/api/v1/customer-debts/invoices/{invoice}/refund"
    refused = client.post(path, json={"reference": "X", "amount": "40.00"}, headers=bureau)
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "refund_exceeds_credit"
    done = client.post(path, json={"reference": "VIR API", "amount": "10.00"}, headers=bureau)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["balance"]["credit"] == "20.00"
    desk = office.desk()
    page = flat(desk.get(f"/desk/debts/customers/{CUSTOMER}"))
    assert "Trop-perçus sur place" in page and f'data-refund-invoice="{invoice}"' in page
    assert "Trop-perçu remboursé" in page  # the API's refund, on the history
    answer = post(
        desk, f"/desk/debts/invoices/{invoice}/refund", {"customer": CUSTOMER, "reference": "VIR D"}
    )
    assert answer.status_code == 302
    after = flat(desk.get(answer.headers["Location"]))
    assert f"Facture {invoice} : 20,00 € remboursés, avoir restant 0,00 €." in after
    assert "Trop-perçus sur place" not in after


def test_the_refund_is_money_out_in_the_closing_and_verifies_clean(month):
    from server.office import closing, integrity
    from tests.closing_support import SERVER_HEX

    eng, invoice = month
    refund(eng, invoice, reference="VIR REMB", amount="25.00")
    with eng.begin() as conn:
        made = closing.run_closings(conn, TENANT, key=KEY, now=at(4, 2))
    [day] = [c for c in made if c.period.key == "2026-03-31"]
    assert (day.office.refunded, day.office.count) == (Decimal("25.00"), 0)
    with eng.connect() as conn:
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    # The month's tablet entries are unsigned stand-ins (tests/invoicing_support.py), so
    # the collections' totals cannot verify here; the office's payments must.
    assert findings and not [f for f in findings if "office_payments" in f.message("en")]
