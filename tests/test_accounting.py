"""The accountant's export on SQLite and PostgreSQL: the FEC of the month of
tests/debts_support.py — plus an ordering party's payment advice (one line paid, one
too much), a card collection voided (twice: counted once) — read the way the
administration's tool reads it (tests/fec_reader.py): file name, ISO 8859-15, the 18
columns, dates, decimal comma, no empty mandatory field, every entry balanced, debit
total = credit total; VAT per rate equal to the invoices' VAT minus the credit notes';
revenue likewise; receipts equal to the collections (net of voids) plus the office's
payments plus the payments matched to claims; a chart of accounts of the tenant's own.
And the plain sales journal CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.office import accounts, fec, ledger, sales_journal
from server.parties import payments as payments_in
from server.platform.errors import Conflict
from server.platform.tables import documents, journal_entries
from shared.errors import InvalidDocument
from shared.money import from_cents, parse_amount, to_cents
from tests.debts_support import TENANT, Month, at, build
from tests.fec_reader import read
from tests.invoicing_support import SIREN, field_entry, set_up
from tests.storage import engine  # noqa: F401

D = Decimal
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture
def books(engine) -> Month:  # noqa: F811
    month = build(engine)
    with engine.begin() as conn:
        advice = (
            "reference;amount;date;party\n"
            "F2026-000005;250,00;2026-03-30;ASSIST-A\n"  # the ordering party's invoice: paid
            "F2026-000005;10,00;2026-03-30;ASSIST-A\n"  # nothing left: not booked
        )
        payments_in.import_file(
            conn, TENANT, "advice", "avis.csv", advice.encode(), actor="bureau", now=at(3, 30)
        )
        void = {"mission_id": "M-P-0003", "reverses": {"hash": "col-p3"}, "amount": "180.00"}
        field_entry(conn, TENANT, "reversal", {**void, "method": "card"}, ref="rev-1", seq=50)
        field_entry(conn, TENANT, "reversal", {**void, "method": "card"}, ref="rev-2", seq=51)
    return month


def fec_of(eng: sa.Engine, start: date, end: date) -> fec.FecFile:
    with eng.connect() as conn:
        return fec.build(conn, TENANT, start, end)


def documents_by_rate(eng: sa.Engine, start: date, end: date, column: str) -> dict[str, D]:
    """Σ invoices − Σ credit notes per VAT rate, read from the documents themselves."""
    out: dict[str, D] = {}
    with eng.connect() as conn:
        rows = conn.execute(sa.select(documents).where(documents.c.tenant_id == TENANT)).all()
    for row in rows:
        day = row.issued_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).date()
        if not start <= day <= end:
            continue
        sign = -1 if row.kind == "credit_note" else 1
        for r in row.by_rate:
            out[str(r["rate"])] = out.get(str(r["rate"]), D(0)) + sign * parse_amount(r[column])
    return out


def test_the_months_fec_reads_as_the_administration_reads_it(engine, books):  # noqa: F811
    made = fec_of(engine, *MARCH)
    assert made.name == f"{SIREN}FEC20260331.txt"
    parsed = read(made.name, made.content)
    assert parsed.problems == []
    assert parsed.siren == SIREN and parsed.closing == date(2026, 3, 31)
    debit = sum(parsed.amount(r, "Debit") for r in parsed.rows)
    credit = sum(parsed.amount(r, "Credit") for r in parsed.rows)
    assert debit == credit == from_cents(made.debit) == from_cents(made.credit)
    assert {r["JournalCode"] for r in parsed.rows} == {"VE", "CA", "BQ", "OD"}
    assert all(r["EcritureDate"][:6] == "202603" for r in parsed.rows)
    # accented French survives ISO 8859-15
    assert any(r["CompteLib"] == "TVA collectée 20 %" for r in parsed.rows)


def test_vat_and_revenue_per_rate_are_the_invoices_minus_the_credit_notes(engine, books):  # noqa: F811
    parsed = read(*_named(fec_of(engine, *MARCH)))
    chart = accounts.DEFAULT
    vat = documents_by_rate(engine, *MARCH, "vat")
    assert vat == {"20": D("193.27"), "10": D("4.09")}  # the March documents, by hand below
    for rate, expected in vat.items():
        assert parsed.balance(chart.vat_account(rate)) == expected, rate
    excl = documents_by_rate(engine, *MARCH, "excl_vat")
    assert parsed.balance("706") == sum(excl.values())
    # by hand: F2026-000002…7 issued in March at 20 %, minus the credit note A2026-000001
    by_hand = D("35.10") + D("30.00") + D("32.50") + D("41.67") + D("27.33") + D("30.00")
    assert vat["20"] == by_hand - D("3.33")
    assert parsed.balance(chart.vat_account("10")) == D("4.09")  # F2026-000004's storage


def _named(made: fec.FecFile) -> tuple[str, bytes]:
    return made.name, made.content


def test_receipts_are_the_collections_plus_the_offices_payments_plus_the_claims_paid(engine, books):  # noqa: F811
    made = fec_of(engine, *MARCH)
    parsed = read(made.name, made.content)
    with engine.connect() as conn:
        entries = ledger.entries(conn, TENANT, *MARCH, accounts.DEFAULT)
    kinds = {e.kind: 0 for e in entries}
    for e in entries:
        kinds[e.kind] += 1
    assert kinds["reversal"] == 1  # voided twice, counted once
    assert kinds["party_payment"] == 1  # the 10.00 beyond what was owed is not booked
    money_accounts = ("530", "5112", "5115", "512")
    received = -sum((parsed.balance(a) for a in money_accounts), D(0))  # debit − credit
    collections = D("100.00") + D("180.00") - D("180.00")  # cash, card, the card voided
    office = D("50.00") + D("64.00") + D("300.00")
    refunds = D("20.00")
    claims = D("250.00")
    assert received == collections + office + claims - refunds
    assert -parsed.balance("530") == D("100.00")  # the cash drawer
    # the customer credit account holds what the office keeps: 60.00 − 30.00 − 20.00
    assert parsed.balance("4191") == D("10.00")


def test_the_year_and_the_months_agree_and_the_january_invoice_is_in_the_year(engine, books):  # noqa: F811
    with engine.connect() as conn:
        start, end = fec.year_bounds(conn, TENANT, 2026)
    assert (start, end) == (date(2026, 1, 1), date(2026, 12, 31))
    year = read(*_named(fec_of(engine, start, end)))
    january = read(*_named(fec_of(engine, date(2026, 1, 1), date(2026, 1, 31))))
    march = read(*_named(fec_of(engine, *MARCH)))
    assert year.problems == january.problems == []
    assert len(year.rows) == len(january.rows) + len(march.rows)
    assert year.balance("706") == january.balance("706") + march.balance("706")
    assert {r["PieceRef"] for r in january.rows} == {"F2026-000001"}


def test_a_chart_of_the_tenants_own_names_the_accounts_and_is_checked(engine, books):  # noqa: F811
    with engine.begin() as conn:
        with pytest.raises(InvalidDocument) as refused:
            accounts.set_chart(
                conn,
                TENANT,
                {"revenue": "606000", "journals": {"sales": "ve"}, "fiscal_year_end": "02-30"},
                actor="comptable",
                now=at(3, 31),
            )
        assert {p.path for p in refused.value.problems} == {
            "revenue",
            "journals.sales",
            "fiscal_year_end",
        }
        accounts.set_chart(
            conn,
            TENANT,
            {
                "revenue": "706100",
                "vat": {"20": "44571200", "10": "44571100"},
                "journals": {"sales": "VT"},
                "labels": {"706100": "Dépannages et remorquages"},
            },
            actor="comptable",
            now=at(3, 31),
        )
    parsed = read(*_named(fec_of(engine, *MARCH)))
    assert parsed.problems == []
    assert "VT" in {r["JournalCode"] for r in parsed.rows}
    assert {r["CompteLib"] for r in parsed.rows if r["CompteNum"] == "706100"} == {
        "Dépannages et remorquages"
    }
    assert parsed.balance("44571200") == D("193.27")


def test_no_fec_without_the_sellers_siren(engine):  # noqa: F811
    with engine.begin() as conn:
        set_up(conn, "bare", with_seller=False)
    with engine.connect() as conn, pytest.raises(Conflict) as refused:
        fec.build(conn, "bare", *MARCH)
    assert refused.value.code == "seller_identity_missing"


def test_the_sales_journal_csv_nets_to_the_documents(engine, books):  # noqa: F811
    with engine.connect() as conn:
        data = sales_journal.build(conn, TENANT, *MARCH)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8")), delimiter=";"))
    assert rows[0].keys() == set(sales_journal.HEADER)
    assert [r["number"] for r in rows if r["kind"] == "credit_note"] == ["A2026-000001"]
    credit_note = next(r for r in rows if r["kind"] == "credit_note")
    assert credit_note["incl_vat"] == "-20.00" and credit_note["corrects"] == "F2026-000003"
    total = sum(to_cents(parse_amount(r["incl_vat"])) for r in rows)
    with engine.connect() as conn:
        field_total = conn.execute(
            sa.select(sa.func.count()).select_from(journal_entries)
        ).scalar_one()
    assert field_total > 0
    assert total == 21060 + 18000 + 24000 + 25000 + 16400 + 18000 - 2000
