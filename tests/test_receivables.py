"""Receivables on SQLite and PostgreSQL: what each ordering party still owes (amount −
credited − paid), aged by the invoice's date in 0–30, 31–60, 61–90 and over 90 days at a
given date, with totals; through the function, the API and the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from server.cli import main as cli  # noqa: F401  # first: server.cli.main registers cli_claims
from server.cli.payments import receivables_command
from server.parties import claim_reading, receivables
from server.parties import payments as payments_in
from tests.invoicing_support import NOW
from tests.storage import engine  # noqa: F401
from tests.test_claims import api, credit, issue, shop  # noqa: F401  # fixtures
from tests.test_payments_in import database_url

AT = date(2026, 6, 25)


@pytest.mark.parametrize(
    ("age", "bucket"),
    [
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "over_90"),
        (4000, "over_90"),
    ],
)
def test_each_age_falls_in_one_bucket(age, bucket):
    assert receivables.bucket_of(age) == bucket


def test_a_negative_age_is_a_bug():
    with pytest.raises(ValueError, match="-1 days"):
        receivables.bucket_of(-1)


def aged(eng):
    """ASSIST-A's four claims issued over three months, one partly paid, one partly
    credited; other's one claim. At 2026-06-25 their ages are 103, 63, 23 and 3 days."""
    issue(eng, "M-A-0003", now=NOW)  # F2026-000001 250.00, 2026-03-14
    issue(eng, "M-A-0001", now=NOW + timedelta(days=40))  # F2026-000003 144.00, 04-23
    issue(eng, "M-A-0002", now=NOW + timedelta(days=80))  # F2026-000004 198.00, 06-02
    issue(eng, "M-A-0005", now=NOW + timedelta(days=100))  # F2026-000005 216.00, 06-22
    issue(eng, "M-A-0003", tenant="other", now=NOW)
    with eng.begin() as conn:
        payments_in.import_file(
            conn,
            "acme",
            "advice",
            "avis.csv",
            b"reference;amount;date\nF2026-000003;44.00;2026-05-02\n",
            actor="t",
            now=NOW + timedelta(days=50),
        )
    credit(eng, "F2026-000005", "16.00", now=NOW + timedelta(days=101))
    return eng


def at(eng, day, tenant="acme", **kw):
    with eng.connect() as conn:
        return receivables.receivables(conn, tenant, day, **kw)


def test_open_amounts_are_aged_by_invoice_date(shop):  # noqa: F811
    aged(shop)
    report = at(shop, AT)
    assert report["at"] == "2026-06-25"
    [party] = report["parties"]
    assert (party["party_id"], party["name"], party["claims"]) == ("ASSIST-A", "Assistance A", 4)
    assert party["oldest_invoice"] == "2026-03-14"
    assert party["buckets"] == {
        "0-30": "398.00",  # 198.00 + (216.00 − 16.00 credited)
        "31-60": "0.00",
        "61-90": "100.00",  # 144.00 − 44.00 paid
        "over_90": "250.00",
    }
    assert party["total"] == "748.00"
    assert report["totals"] == {"claims": 4, "buckets": party["buckets"], "total": "748.00"}
    # every euro: the total owed is the claims' open amounts
    with shop.connect() as conn:
        owed = sum(a.open for a in claim_reading.all_accounts(conn, "acme").values())
    assert owed == 74800
    # earlier, the last invoice did not exist yet and the others were younger
    before = at(shop, date(2026, 6, 10))
    assert before["totals"]["buckets"] == {
        "0-30": "198.00",
        "31-60": "100.00",
        "61-90": "250.00",
        "over_90": "0.00",
    }
    assert before["totals"]["claims"] == 3
    # a tenant sees only its own
    other = at(shop, AT, "other")
    assert other["totals"]["buckets"]["over_90"] == "250.00"
    assert other["totals"]["total"] == "250.00"
    assert at(shop, AT, party_id="IMA")["parties"] == []


def test_paid_and_cancelled_claims_owe_nothing(shop):  # noqa: F811
    aged(shop)
    with shop.begin() as conn:
        payments_in.import_file(
            conn,
            "acme",
            "advice",
            "avis2.csv",
            b"reference;amount;date\nF2026-000001;250.00;2026-06-20\n",
            actor="t",
            now=NOW + timedelta(days=99),
        )
    credit(shop, "F2026-000004", now=NOW + timedelta(days=102))  # all of it
    report = at(shop, AT)
    assert report["totals"]["claims"] == 2
    assert report["totals"]["buckets"] == {
        "0-30": "200.00",
        "31-60": "0.00",
        "61-90": "100.00",
        "over_90": "0.00",
    }


def test_the_api_and_the_command_line_age_at_the_clocks_day_or_the_one_given(api):  # noqa: F811
    aged(api.engine)
    office = api.auth("acme.office")
    given = api.client.get("/api/v1/receivables?at=2026-06-25", headers=office)
    assert given.status_code == 200, given.json
    assert given.json["totals"]["total"] == "748.00"
    api.clock.now = datetime(2026, 6, 25, 21, 30, tzinfo=UTC)  # 23:30 in Paris: still the 25th
    office = {"Authorization": "Bearer " + api.login("acme", "office").json["token"]}
    today = api.client.get("/api/v1/receivables", headers=office)
    assert today.json["at"] == "2026-06-25" and today.json == given.json
    api.clock.now = datetime(2026, 6, 25, 22, 30, tzinfo=UTC)  # 00:30 on the 26th in Paris
    office = {"Authorization": "Bearer " + api.login("acme", "office").json["token"]}
    assert api.client.get("/api/v1/receivables", headers=office).json["at"] == "2026-06-26"
    assert api.client.get("/api/v1/receivables?at=25/06/2026", headers=office).status_code == 422
    clerk = {"Authorization": "Bearer " + api.login("acme", "clerk").json["token"]}
    assert api.client.get("/api/v1/receivables", headers=clerk).status_code == 403
    other_admin = {"Authorization": "Bearer " + api.login("other", "admin").json["token"]}
    other = api.client.get("/api/v1/receivables?at=2026-06-25", headers=other_admin)
    assert other.json["totals"]["total"] == "250.00"

    url = database_url(api.engine)
    run = CliRunner().invoke(
        receivables_command, ["acme", "--at", "2026-06-25", "--database", url, "--lang", "en"]
    )
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    assert lines[0] == "Receivables at 2026-06-25"
    assert lines[2].split() == ["ASSIST-A", "398.00", "0.00", "100.00", "250.00", "748.00"]
    unknown = CliRunner().invoke(receivables_command, ["nobody", "--database", url])
    assert unknown.exit_code == 3
