"""`towline-server debts …` on the month of tests/debts_support.py: the ageing printed
and in JSON, a payment recorded with an invoice and an amount, its credit refunded, the
reminders listed then sent as PDF files, the terms set from a file; bad input exits 2
and changes nothing, an unknown tenant or payment exits 3; every command has --help with
an example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main
from server.platform.tables import office_payments
from tests.debts_support import TENANT, build
from tests.invoicing_support import pdf_text
from tests.storage import engine  # noqa: F401

SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def cli(engine, tmp_path):  # noqa: F811
    month = build(engine)
    url = engine.url.render_as_string(hide_password=False)

    def run(*args: str) -> object:
        return CliRunner().invoke(
            main, [*args, "--database", url], env={"TOWLINE_VAR_DIR": str(tmp_path / "var")}
        )

    return run, month, engine


def count(eng: sa.Engine) -> int:
    with eng.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(office_payments)).scalar_one()
        )


@pytest.mark.parametrize(
    "command",
    ["ageing", "invoices", "account", "pay", "apply", "refund", "payments", "remind", "terms"],
)
def test_every_debts_command_has_help_with_an_example(command):
    answer = CliRunner().invoke(main, ["debts", command, "--help"])
    assert answer.exit_code == 0 and "Example:" in answer.output
    assert "Exit codes" in answer.output


@SQLITE
def test_the_ageing_then_a_payment_then_its_credit_refunded(cli, tmp_path):
    run, month, _ = cli
    printed = run("debts", "ageing", TENANT, "--at", "2026-03-31", "--lang", "en")
    assert printed.exit_code == 0, printed.output
    total = next(line for line in printed.output.splitlines() if line.startswith("Total"))
    assert total.split() == [
        "Total",
        "130.60",
        "160.00",
        "0.00",
        "180.00",
        "0.00",
        "470.60",
        "10.00",
    ]
    late = month.numbers["M-P-0005"]
    paid = run(
        "debts", "pay", TENANT, "--amount", "190.00", "--method", "cheque",
        "--received-on", "2026-03-30", "--reference", "CHQ 42", "--invoice", f"{late}=180.00",
        "--by", "bureau", "--json",
    )  # fmt: skip
    assert paid.exit_code == 0, paid.output
    made = json.loads(paid.output)
    assert made["credit"] == "10.00" and made["uses"][0]["amount"] == "180.00"
    refunded = run("debts", "refund", TENANT, made["number"], "--reference", "VIR R", "--json")
    assert json.loads(refunded.output)["credit"] == "0.00"
    again = json.loads(run("debts", "ageing", TENANT, "--at", "2026-03-31", "--json").output)
    assert again["totals"]["total"] == "290.60"


@SQLITE
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--amount", "ten"], 2),
        (["--received-on", "31/03/2026"], 2),
        (["--invoice", "F2026-000001=1.234"], 2),
        (["--invoice", "F2026-000005"], 2),  # the ordering party's invoice
        (["--invoice", "F2026-000007"], 3),  # paid on site already
    ],
)
def test_a_bad_payment_exits_with_its_code_and_records_nothing(cli, args, code):
    run, _, eng = cli
    base = {
        "--amount": "20.00",
        "--method": "transfer",
        "--received-on": "2026-03-30",
        "--reference": "VIR",
        "--invoice": "F2026-000001",
    }
    given = dict(base)
    given.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = count(eng)
    answer = run("debts", "pay", TENANT, *[x for kv in given.items() for x in kv])
    assert answer.exit_code == code, answer.output
    assert count(eng) == before


@SQLITE
def test_unknown_tenant_or_payment_exits_3(cli):
    run, _, _ = cli
    assert run("debts", "ageing", "nobody").exit_code == 3
    assert run("debts", "refund", TENANT, "R2026-000099", "--reference", "x").exit_code == 3


@SQLITE
def test_reminders_listed_then_sent_as_pdf_files_and_terms_from_a_file(cli, tmp_path):
    run, month, _ = cli
    listed = run("debts", "remind", TENANT, "--at", "2026-03-31", "--json")
    assert [r["number"] for r in json.loads(listed.output)] == [
        month.numbers["M-P-0005"],
        month.numbers["M-P-0004"],
    ]
    out = tmp_path / "letters"
    sent = run("debts", "remind", TENANT, "--at", "2026-03-31", "--send", "--out", str(out))
    assert sent.exit_code == 0, sent.output
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"relance-{month.numbers[m]}-1.pdf" for m in ("M-P-0004", "M-P-0005"))
    english = pdf_text((out / f"relance-{month.numbers['M-P-0004']}-1.pdf").read_bytes())
    assert "Reminder: unpaid invoice" in english  # IJ-789-KL's letters are in English
    terms = Path(tmp_path / "terms.json")
    terms.write_text(json.dumps({"payment_days": 8, "reminder_days": [5, 50]}))
    answer = run("debts", "terms", TENANT, "--set", str(terms), "--json")
    assert json.loads(answer.output)["version"] == 2
    terms.write_text(json.dumps({"reminder_days": []}))
    refused = run("debts", "terms", TENANT, "--set", str(terms))
    assert refused.exit_code == 2 and "reminder_days" in refused.output
