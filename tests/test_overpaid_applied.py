"""An invoice overpaid on site: its credit applied to the customer's next invoice, on
SQLite and PostgreSQL. The month is tests/debts_support.py's; EF-456-GH pays 200.00 by
card on site for F2026-000007 (180.00: 20.00 overpaid), then is towed again and billed
F2026-000008 (270.00 on a Saturday, nothing paid). Applying the 20.00: F2026-000007 holds no credit,
F2026-000008 owes 250.00 — in the account, the ageing, the invoice's own balance and
the FEC, which stays balanced.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import (
    accounts,
    customer_debts,
    customers,
    fec,
    invoicing,
    issued_documents,
    ledger,
    missions,
    office_payments,
)
from server.platform.tables import journal_entries
from tests.debts_support import END, KEY, PRIVATE, TENANT, at, build, private
from tests.fec_reader import read
from tests.invoicing_support import field_entry, store_valuation
from tests.storage import engine  # noqa: F401 - the fixture

CUSTOMER = "plate:EF-456-GH"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def _overpay_and_bill_again(engine):  # noqa: F811
    made = build(engine)
    with engine.begin() as conn:
        field_entry(
            conn, TENANT, "collection",
            {"mission_id": "M-P-0003", "method": "card", "amount": "20.00"},
            ref="col-p3-more", seq=60,
        )  # fmt: skip
        again = private("M-P-0008", "EF-456-GH", "2026-03-28T09:00:00+01:00")
        missions.create(conn, TENANT, again, None, actor="t", now=at(3, 28))
        store_valuation(conn, TENANT, again, PRIVATE)
    with engine.begin() as conn:
        docs = invoicing.issue_for_mission(
            conn, TENANT, "M-P-0008", key=KEY, actor="u1", now=at(3, 29)
        )
    [nxt] = [d["number"] for d in docs if d["recipient_kind"] == "beneficiary"]
    return made, made.numbers["M-P-0003"], nxt


@pytest.fixture
def month(engine):  # noqa: F811
    _, overpaid, nxt = _overpay_and_bill_again(engine)
    return engine, overpaid, nxt


def apply(eng, invoice, to, **kw):
    with eng.begin() as conn:
        return office_payments.apply_overpayment(
            conn, TENANT, invoice, to, key=KEY, actor="bureau", now=at(3, 31), **kw
        )


def by_number(eng):
    with eng.connect() as conn:
        mine = customer_debts.account(conn, TENANT, CUSTOMER, END)
    return mine, {i["number"]: i for i in mine["invoices"]}


def test_applying_the_overpayment_settles_both_balances_to_the_cent(month):
    eng, overpaid, nxt = month
    _, before = by_number(eng)
    assert (before[overpaid]["credit"], before[nxt]["open"]) == ("20.00", "270.00")
    done = apply(eng, overpaid, nxt, amount="20.00")
    assert (done["act"], done["invoice"], done["to"], done["amount"]) == (
        "overpayment_applied",
        overpaid,
        nxt,
        "20.00",
    )
    assert (done["balance"]["credit"], done["to_balance"]["open"]) == ("0.00", "250.00")
    mine, after = by_number(eng)
    assert after[overpaid]["credit"] == "0.00"
    assert after[overpaid]["overpaid"] == "20.00"  # what was paid beyond: a fact, kept
    assert (after[nxt]["open"], after[nxt]["paid_in_office"]) == ("250.00", "20.00")
    assert (mine["totals"]["open"], mine["totals"]["credit"]) == ("250.00", "0.00")
    [shown] = [h for h in mine["history"] if h["event"] == "overpayment_applied"]
    assert (shown["ref"], shown["invoice"], shown["amount"]) == (overpaid, nxt, "20.00")
    with eng.connect() as conn:
        ageing = customer_debts.ageing(conn, TENANT, END)
        alone = issued_documents.beneficiary_balance(conn, TENANT, nxt)
        body = conn.execute(
            sa.select(journal_entries.c.body, journal_entries.c.mission_id).where(
                journal_entries.c.device_id == f"server:{TENANT}",
                journal_entries.c.seq == done["journal_seq"],
            )
        ).one()
    [listed] = [c for c in ageing["customers"] if c["customer"] == CUSTOMER]
    assert (listed["total"], listed["credit"]) == ("250.00", "0.00")
    assert alone is not None and alone["open"] == "250.00"  # the invoice's own page agrees
    assert body.mission_id == "M-P-0003"  # the overpaid invoice's mission
    assert json.loads(body.body)["payload"]["to"] == nxt


def test_the_fec_books_it_on_the_customers_account_and_stays_balanced(month):
    eng, overpaid, nxt = month
    apply(eng, overpaid, nxt)  # as much as both allow: the 20.00
    with eng.connect() as conn:
        made = fec.build(conn, TENANT, *MARCH)
        entries = ledger.entries(conn, TENANT, *MARCH, accounts.DEFAULT)
    parsed = read(made.name, made.content)
    assert parsed.problems == []
    assert made.debit == made.credit
    [entry] = [e for e in entries if e.kind == "overpayment_applied"]
    assert entry.journal == "misc" and entry.debit == entry.credit == 2000
    aux = customers.label(CUSTOMER)
    assert {(line.account, line.aux) for line in entry.lines} == {
        (accounts.DEFAULT.receivable, aux)
    }
    # The customer's receivable in the books is what the invoices still owe: 250.00.
    rows = [r for r in parsed.rows if r["CompteNum"].startswith("411") and r["CompAuxNum"] == aux]
    owed = sum(parsed.amount(r, "Debit") - parsed.amount(r, "Credit") for r in rows)
    assert str(owed) == "250.00"


def test_refunding_after_an_application_refunds_only_what_is_left(month):
    eng, overpaid, nxt = month
    apply(eng, overpaid, nxt, amount="15.00")
    with eng.begin() as conn:
        done = office_payments.refund_overpayment(
            conn, TENANT, overpaid, reference="VIR REMB", key=KEY, actor="bureau", now=at(3, 31)
        )
    assert (done["amount"], done["balance"]["credit"]) == ("5.00", "0.00")
    with eng.connect() as conn:
        entries = ledger.entries(conn, TENANT, *MARCH, accounts.DEFAULT)
    [out] = [e for e in entries if e.kind == "overpayment_refund"]  # the bank pays it back
    bank = [line for line in out.lines if line.account == accounts.DEFAULT.bank]
    assert [(line.debit, line.credit) for line in bank] == [(0, 500)]


def test_refusals_write_nothing(month):
    eng, overpaid, nxt = month

    def count():
        with eng.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(journal_entries)).scalar()

    before = count()
    for args, kw, code in (
        ((overpaid, "F2026-000001"), {}, "customer_mismatch"),  # MN-321-OP's invoice
        ((overpaid, nxt), {"amount": "25.00"}, "apply_exceeds_credit"),
        ((overpaid, nxt), {"amount": "0"}, "amount_invalid"),
        ((overpaid, overpaid), {}, "invoice_twice"),
        ((nxt, overpaid), {}, "no_credit_left"),  # F2026-000008 was not overpaid
        ((overpaid, "X-1"), {}, "not_a_beneficiary_invoice"),
    ):
        with pytest.raises(Exception) as refused:
            apply(eng, *args, **kw)
        assert refused.value.code == code, code
        assert refused.value.text("fr") and refused.value.text("en")
    assert count() == before
    apply(eng, overpaid, nxt)
    with pytest.raises(Exception) as empty:
        apply(eng, overpaid, nxt)
    assert empty.value.code == "no_credit_left"


def test_the_api_the_desk_and_the_command_line_apply_it(engine, tmp_path, monkeypatch):  # noqa: F811
    if engine.dialect.name != "sqlite":
        pytest.skip("the pages and commands are the same on both databases")
    from server.cli.main import main
    from server.people import hashing
    from tests.desk_support import post
    from tests.test_debts_pages import Office, flat

    monkeypatch.setattr(hashing, "N", 2**8)
    made, overpaid, nxt = _overpay_and_bill_again(engine)
    office = Office(engine, tmp_path, made)
    client = office.app.test_client()
    path = f"/api/v1/customer-debts/invoices/{overpaid}/apply"
    refused = client.post(
        path, json={"invoice": nxt, "amount": "30.00"}, headers=office.api("bureau")
    )
    assert refused.status_code == 409 and refused.get_json()["code"] == "apply_exceeds_credit"
    done = client.post(path, json={"invoice": nxt, "amount": "5.00"}, headers=office.api("bureau"))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["to_balance"]["open"] == "265.00"
    desk = office.desk()
    page = flat(desk.get(f"/desk/debts/customers/{CUSTOMER}"))
    assert f'data-apply-invoice="{overpaid}"' in page and "Trop-perçu affecté" in page
    answer = post(
        desk,
        f"/desk/debts/invoices/{overpaid}/apply",
        {"customer": CUSTOMER, "invoice": nxt, "amount": "10,00"},
    )
    assert answer.status_code == 302
    after = flat(desk.get(answer.headers["Location"]))
    assert f"Facture {overpaid} : 10,00 € affectés à la facture {nxt} (reste dû 255,00 €)" in after
    var = tmp_path / "cli-var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    common = ["--database", engine.url.render_as_string(hide_password=False)]
    runner = CliRunner()
    ran = runner.invoke(
        main,
        ["debts", "apply-overpaid", TENANT, overpaid, nxt, "--var-dir", str(var), *common,
         "--lang", "en"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert f"Applied 5.00 of invoice {overpaid}'s credit to invoice {nxt}; credit left 0.00" in (
        ran.output
    )
    again = runner.invoke(
        main, ["debts", "apply-overpaid", TENANT, overpaid, nxt, "--var-dir", str(var), *common]
    )
    assert again.exit_code == 3
    helped = runner.invoke(main, ["debts", "apply-overpaid", "--help"])
    assert "towline-server debts apply-overpaid demo F2026-000007 F2026-000008" in helped.output
