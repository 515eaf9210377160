"""The accountant's files through the API, the desk and the command line, on the month of
tests/debts_support.py: the FEC downloaded under its legal name and read clean by
tests/fec_reader.py, the sales journal CSV, the per-account summary whose debit equals its
credit, the chart of accounts read by the office and replaced only by an administrator;
a bad period is refused, a tenant without a SIREN gets no FEC."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli.main import main
from server.people import identity
from tests.debts_support import TENANT, at
from tests.desk_support import post
from tests.fec_reader import read
from tests.invoicing_support import SIREN
from tests.server_support import PASSWORD
from tests.storage import engine  # noqa: F401
from tests.test_debts_pages import Office, flat, office  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
NAME = f"{SIREN}FEC20260331.txt"
MARCH = "from=2026-03-01&to=2026-03-31"


def filename(answer) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'filename="([^"]+)"', answer.headers["Content-Disposition"])
    assert found
    return found.group(1)


def test_the_api_gives_the_fec_under_its_legal_name_and_the_sales_journal(office):  # noqa: F811
    client = office.app.test_client()
    bureau = office.api("bureau")
    answer = client.get(f"/api/v1/exports/fec?{MARCH}", headers=bureau)
    assert answer.status_code == 200
    assert filename(answer) == NAME
    assert "iso-8859-15" in answer.headers["Content-Type"]
    parsed = read(NAME, answer.data)
    assert parsed.problems == [] and len(parsed.rows) > 20
    year = client.get("/api/v1/exports/fec?year=2026", headers=bureau)
    assert filename(year) == f"{SIREN}FEC20261231.txt"
    assert read(filename(year), year.data).problems == []
    for bad in ("year=2026&from=2026-03-01&to=2026-03-31", "from=2026-03-31&to=2026-03-01", ""):
        refused = client.get(f"/api/v1/exports/fec?{bad}", headers=bureau)
        assert refused.status_code == 422, bad
    sales = client.get(f"/api/v1/exports/sales-journal?{MARCH}", headers=bureau)
    rows = list(csv.DictReader(io.StringIO(sales.data.decode()), delimiter=";"))
    assert len(rows) == 8  # seven March lines (one document at two rates) and a credit note
    assert client.get("/api/v1/exports/fec?year=2026").status_code == 401


def test_the_chart_is_read_by_the_office_and_set_by_an_administrator(office):  # noqa: F811
    client = office.app.test_client()
    shown = client.get("/api/v1/accounts", headers=office.api("bureau")).get_json()
    assert shown["version"] == 0 and shown["receivable"] == "411000"
    assert shown["vat"]["20"] == "445712" and shown["methods"]["cash"] == "530000"
    refused = client.put("/api/v1/accounts", json={"bank": "512100"}, headers=office.api("bureau"))
    assert refused.status_code == 403
    with office.engine.begin() as conn:
        identity.create_user(
            conn, TENANT, "admin", "Admin", PASSWORD, "admin", actor="t", now=at(1, 1)
        )
    admin = office.api("admin")
    bad = client.put("/api/v1/accounts", json={"bank": "612000"}, headers=admin)
    assert bad.status_code == 422
    made = client.put("/api/v1/accounts", json={"bank": "512100"}, headers=admin)
    assert made.status_code == 200 and made.get_json()["version"] == 1
    fec = client.get(f"/api/v1/exports/fec?{MARCH}", headers=admin)
    assert "512100" in {r["CompteNum"] for r in read(NAME, fec.data).rows}


def test_the_desk_sums_the_period_per_account_and_downloads_both_files(office):  # noqa: F811
    desk = office.desk()
    page = flat(desk.get(f"/desk/accounting?{MARCH}"))
    debit = re.search(r'data-total="debit">([^<]+)<', page)
    credit = re.search(r'data-total="credit">([^<]+)<', page)
    assert debit and credit and debit.group(1) == credit.group(1)
    assert 'data-account="445711"' in page and "TVA collectée 10 %" in page
    fec = desk.get(f"/desk/accounting/fec?{MARCH}")
    assert filename(fec) == NAME and read(NAME, fec.data).problems == []
    sales = desk.get(f"/desk/accounting/sales-journal.csv?{MARCH}")
    assert sales.mimetype == "text/csv" and b"A2026-000001" in sales.data
    assert desk.get("/desk/accounting?year=1999").status_code == 400
    assert "Enregistrer une nouvelle version" not in page  # the office does not set the chart
    assert office.desk("gerant").get("/desk/accounting").status_code == 200
    english = flat(desk.get(f"/desk/accounting?{MARCH}&lang=en"))
    assert "Download the FEC" in english


def test_an_administrator_replaces_the_chart_from_the_desk(office):  # noqa: F811
    with office.engine.begin() as conn:
        identity.create_user(
            conn, TENANT, "admin", "Admin", PASSWORD, "admin", actor="t", now=at(1, 1)
        )
    desk = office.desk("admin")
    refused = post(desk, "/desk/accounting/chart", {"chart": '{"revenue": "606"}'})
    assert refused.status_code == 422 and "revenue" in flat(refused)
    done = post(
        desk, "/desk/accounting/chart", {"chart": json.dumps({"journals": {"sales": "VT"}})}
    )
    assert done.status_code == 302
    assert "(version 1)" in flat(desk.get("/desk/accounting"))


def test_the_command_line_writes_the_fec_under_its_name(office, tmp_path):  # noqa: F811
    url = office.engine.url.render_as_string(hide_password=False)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, [*args, "--database", url])

    out = tmp_path / "exports"
    made = run(
        "export",
        "fec",
        TENANT,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--out",
        str(out),
        "--json",
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["file_name"] == NAME
    assert read(NAME, (out / NAME).read_bytes()).problems == []
    assert run("export", "fec", TENANT).exit_code == 2  # no period
    assert run("export", "fec", TENANT, "--year", "2026", "--from", "2026-01-01").exit_code == 2
    assert run("export", "fec", "nobody", "--year", "2026").exit_code == 3
    sales = run("export", "sales-journal", TENANT, "--year", "2026", "--out", str(out))
    assert sales.exit_code == 0 and Path(sales.output.strip()).exists()
    shown = run("accounts", TENANT)
    assert json.loads(shown.output)["revenue"] == "706000"
    for command in (("export", "fec"), ("export", "sales-journal"), ("accounts",)):
        helped = CliRunner().invoke(main, [*command, "--help"])
        assert "Example:" in helped.output and "Exit codes" in helped.output
