"""Commissions on SQLite and PostgreSQL: a month with two drivers under different rules
— Karim 10 % on tows, 5 % on everything else and 5,00 € per mission, then 12 % on tows
from 15 March (a new version); Marc 8 % on everything with a 2 % monthly tier from
300,00 € — and credit notes: a partial one on Marc's invoice, a total one on Karim's.
Every line is recomputed from the documents themselves; a total credit note takes back
exactly what its invoice earned. Then the rules checked and versioned, the statement
PDF, and the same through the API, the desk and the command line."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main
from server.office import commissions, driver_report, invoicing, missions
from server.people import hashing, identity
from server.people.drivers import create_driver
from server.platform.errors import NotFound
from server.platform.tables import documents
from shared.errors import InvalidDocument
from tests.debts_support import PRIVATE, at, private
from tests.invoicing_support import KEY, pdf_text, set_up, store_valuation
from tests.server_support import PASSWORD, Clock
from tests.storage import engine  # noqa: F401

TENANT = "acme"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
D = Decimal
KARIM = {"percent": {"TOW": "10", "*": "5"}, "per_mission": "5.00"}
KARIM_2 = {"percent": {"TOW": "12", "*": "5"}, "per_mission": "5.00"}
MARC = {"percent": {"*": "8"}, "tiers": [{"from": "300.00", "percent": "2"}]}
JOBS = (  # mission, plate, call, driver, issue day
    ("M-C-0001", "AA-001-AA", "2026-03-03T09:00:00+01:00", "d1", 3),
    ("M-C-0002", "AA-002-AA", "2026-03-04T09:00:00+01:00", "d2", 4),
    ("M-C-0003", "AA-003-AA", "2026-03-05T09:00:00+01:00", "d2", 5),
    ("M-C-0004", "AA-004-AA", "2026-03-16T09:00:00+01:00", "d1", 16),
)


def month_of_work(eng: sa.Engine) -> dict[str, str]:
    """Invoices of the four jobs (tow + winching: 150.00 + 95.00 excl. VAT each)."""
    numbers = {}
    with eng.begin() as conn:
        set_up(conn, TENANT, valued=False)
        create_driver(conn, TENANT, "d1", "Karim", "1111", "driver", actor="t", now=at(1, 1))
        create_driver(conn, TENANT, "d2", "Marc", "2222", "driver", actor="t", now=at(1, 1))
        commissions.set_rules(conn, TENANT, "d1", KARIM, actor="gerant", now=at(3, 1))
        commissions.set_rules(conn, TENANT, "d2", MARC, actor="gerant", now=at(3, 1))
        for mission_id, plate, call, driver, _ in JOBS:
            job = private(mission_id, plate, call, services=[{"code": "TOW"}, {"code": "WIN"}])
            missions.create(conn, TENANT, job, driver, actor="t", now=at(3, 1))
            store_valuation(conn, TENANT, job, PRIVATE)
    for mission_id, _, _, _, day in JOBS:
        if day == 16:
            with eng.begin() as conn:
                commissions.set_rules(conn, TENANT, "d1", KARIM_2, actor="gerant", now=at(3, 15))
        with eng.begin() as conn:
            [made] = invoicing.issue_for_mission(
                conn, TENANT, mission_id, key=KEY, actor="u", now=at(3, day)
            )
            numbers[mission_id] = made["number"]
    with eng.begin() as conn:
        invoicing.credit_note(
            conn, TENANT, numbers["M-C-0002"], amount="60.00", reason="Geste", key=KEY,
            actor="u", now=at(3, 20),
        )  # fmt: skip
        invoicing.credit_note(
            conn, TENANT, numbers["M-C-0001"], reason="Annulée", key=KEY, actor="u",
            now=at(3, 21),
        )  # fmt: skip
    return numbers


@pytest.fixture
def work(engine) -> dict[str, str]:  # noqa: F811
    return month_of_work(engine)


def share(base: str, rate: str) -> Decimal:
    return (D(base) * D(rate) / 100).quantize(D("0.01"), rounding=ROUND_HALF_UP)


def test_every_line_is_recomputed_from_its_document(engine, work):  # noqa: F811
    with engine.connect() as conn:
        found = commissions.report(conn, TENANT, *MARCH)
        docs = {
            r.number: r
            for r in conn.execute(sa.select(documents).where(documents.c.tenant_id == TENANT))
        }
    for line in found["lines"]:
        if line["kind"] == "percent":
            invoice = docs[line["document"]]
            [item] = [i for i in invoice.lines if i["code"] == line["code"]]
            assert line["base"] == item["excl_vat"]
            family = line["code"].split(".")[0]
            rules = {"d1": KARIM if line["rules_version"] == 1 else KARIM_2, "d2": MARC}
            percent = rules[line["person"]]["percent"]
            assert line["rate"] == percent.get(family, percent.get("*"))
            assert D(line["commission"]) == share(line["base"], line["rate"])
        if line["kind"] == "reversal":
            note = docs[line["document"]]
            assert note.kind == "credit_note" and note.corrects == line["code"]
            assert D(line["base"]) == -D(note.total_excl_cents) / 100
    by_kind = [(x["person"], x["kind"], x["document"], x["commission"]) for x in found["lines"]]
    n = work
    assert by_kind == [
        ("d1", "percent", n["M-C-0001"], "15.00"),  # 150.00 tow at 10 %
        ("d1", "percent", n["M-C-0001"], "4.75"),  # 95.00 winching at 5 %
        ("d1", "per_mission", n["M-C-0001"], "5.00"),
        ("d2", "percent", n["M-C-0002"], "12.00"),
        ("d2", "percent", n["M-C-0002"], "7.60"),
        ("d2", "percent", n["M-C-0003"], "12.00"),
        ("d2", "percent", n["M-C-0003"], "7.60"),
        ("d1", "percent", n["M-C-0004"], "18.00"),  # the new version: 12 % on tows
        ("d1", "percent", n["M-C-0004"], "4.75"),
        ("d1", "per_mission", n["M-C-0004"], "5.00"),
        ("d2", "reversal", "A2026-000001", "-4.00"),  # 50.00 of 245.00 credited: 19.60 × 50/245
        ("d1", "reversal", "A2026-000002", "-24.75"),  # all of it: 15.00 + 4.75 + 5.00
        ("d2", "tier", None, "8.80"),  # 245 + 245 − 50 = 440.00 ≥ 300.00: 2 %
    ]
    totals = {p["person"]: p["commission"] for p in found["people"]}
    assert totals == {"d1": "27.75", "d2": "44.00"}  # 18 + 4.75 + 5; 39.20 − 4 + 8.80
    assert found["total"] == "71.75"
    with engine.connect() as conn:
        drivers = driver_report.report(conn, TENANT, *MARCH)
    assert {d["driver_id"]: d["commission"] for d in drivers["drivers"]} == totals
    assert drivers["totals"]["commission"] == "71.75"


def test_later_months_take_back_net_of_what_earlier_credit_notes_took(
    engine,  # noqa: F811
    work,
):
    # A month reads, for the missions it credits, their earlier invoices and credit notes:
    # what a credit note takes back is net of what earlier ones took, and the last one of
    # an invoice takes back its fixed amount too.
    def credit(number: str, day: tuple[int, int], amount: str | None = None) -> str:
        with engine.begin() as conn:
            made = invoicing.credit_note(
                conn, TENANT, number, amount=amount, reason="Geste", key=KEY, actor="u",
                now=at(*day),
            )  # fmt: skip
        return str(made["number"])

    second = credit(work["M-C-0002"], (4, 2), "60.00")
    whole = credit(work["M-C-0003"], (4, 3))
    part = credit(work["M-C-0004"], (4, 4), "60.00")  # 50.00 of 245.00 excl. VAT
    rest = credit(work["M-C-0004"], (5, 4))
    with engine.connect() as conn:
        april = commissions.report(conn, TENANT, date(2026, 4, 1), date(2026, 4, 30))
        may = commissions.report(conn, TENANT, date(2026, 5, 1), date(2026, 5, 31))
    lines = [(x["person"], x["kind"], x["document"], x["code"], x["commission"])
             for x in april["lines"] + may["lines"]]  # fmt: skip
    assert lines == [
        # 19.60 earned on 245.00; March took 4.00 for 50.00, April 4.00 more for 50.00
        ("d2", "reversal", second, work["M-C-0002"], "-4.00"),
        ("d2", "reversal", whole, work["M-C-0003"], "-19.60"),  # 12.00 + 7.60, all of it
        ("d1", "reversal", part, work["M-C-0004"], "-4.64"),  # 22.75 × 50/245
        # credited in full in May: 22.75 + the 5.00 per mission, less April's 4.64
        ("d1", "reversal", rest, work["M-C-0004"], "-23.11"),
    ]


def test_one_persons_report_and_an_unknown_person(engine, work):  # noqa: F811
    with engine.connect() as conn:
        marc = commissions.report(conn, TENANT, *MARCH, person="d2")
        with pytest.raises(NotFound):
            commissions.report(conn, TENANT, *MARCH, person="nobody")
        february = commissions.report(conn, TENANT, date(2026, 2, 1), date(2026, 2, 28))
    assert {x["person"] for x in marc["lines"]} == {"d2"} and marc["total"] == "44.00"
    assert february["lines"] == [] and february["total"] == "0.00"


def test_rules_are_checked_and_versioned(engine, work):  # noqa: F811
    with engine.begin() as conn:
        with pytest.raises(InvalidDocument) as refused:
            commissions.set_rules(
                conn, TENANT, "d2",
                {"percent": {"tow": "8", "WIN": "150", "*": 8.0}, "per_mission": "-1",
                 "tiers": [{"from": "300.00"}], "bonus": 1},
                actor="g", now=at(3, 31),
            )  # fmt: skip
        paths = {p.path for p in refused.value.problems}
        assert paths == {
            "percent.tow",
            "percent.WIN",
            "percent.*",
            "per_mission",
            "tiers.0",
            "bonus",
        }
        same = commissions.set_rules(conn, TENANT, "d2", MARC, actor="g", now=at(3, 31))
        with pytest.raises(NotFound):
            commissions.set_rules(conn, TENANT, "nobody", MARC, actor="g", now=at(3, 31))
    assert same["version"] == 1  # the same rules again add no version
    with engine.connect() as conn:
        assert commissions.rules_of(conn, TENANT, "d1")["version"] == 2


def test_the_statement_pdf(engine, work):  # noqa: F811
    with engine.connect() as conn:
        name, pdf = commissions.statement(conn, TENANT, "d2", *MARCH, lang="fr", now=at(4, 1))
        _, english = commissions.statement(conn, TENANT, "d2", *MARCH, lang="en", now=at(4, 1))
    text = pdf_text(pdf)
    assert name == "commissions-d2-2026-03-01-2026-03-31.pdf"
    assert "Relevé de commissions" in text and "Marc" in text and "mars 2026" in text
    assert "44,00 €" in text and "Palier mensuel" in text and "A2026-000001" in text
    assert "Commission statement" in pdf_text(english) and "€44.00" in pdf_text(english)


SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@SQLITE
def test_commissions_through_the_api_the_desk_and_the_command_line(
    engine,  # noqa: F811
    work,
    tmp_path,
    monkeypatch,
):
    from server.app import create_app
    from tests.desk_support import post, sign_in

    monkeypatch.setattr(hashing, "N", 2**8)
    with engine.begin() as conn:
        for login, role in (("admin", "admin"), ("gerant", "manager")):
            identity.create_user(
                conn, TENANT, login, login, PASSWORD, role, actor="t", now=at(1, 1)
            )
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "t",
         "CLOCK": Clock(at(4, 1))}
    )  # fmt: skip
    client = app.test_client()

    def token(login: str) -> dict[str, str]:
        answer = client.post(
            "/api/v1/auth/login", json={"tenant": TENANT, "login": login, "password": PASSWORD}
        )
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    manager = token("gerant")
    found = client.get("/api/v1/commissions?month=2026-03", headers=manager).get_json()
    assert found["total"] == "71.75" and len(found["lines"]) == 13
    sheet = client.get("/api/v1/commissions?month=2026-03&format=csv&person=d1", headers=manager)
    assert sheet.data.decode().splitlines()[0].startswith("person;kind;day")
    pdf = client.get("/api/v1/commissions/d2/statement?month=2026-03&lang=en", headers=manager)
    assert pdf.mimetype == "application/pdf" and "€44.00" in pdf_text(pdf.data)
    refused = client.put("/api/v1/commissions/rules/d2", json=MARC, headers=manager)
    assert refused.status_code == 403
    admin = token("admin")
    made = client.put(
        "/api/v1/commissions/rules/d2",
        json={"percent": {"*": "9"}, "tiers": [{"from": "500.00", "percent": "3"}]},
        headers=admin,
    )
    assert made.status_code == 200 and made.get_json()["version"] == 2
    people = client.get("/api/v1/commissions/rules", headers=manager).get_json()
    drivers = [(p["person"], p["version"]) for p in people if p["kind"] == "driver"]
    assert drivers == [("d1", 2), ("d2", 2)]
    assert {p["kind"] for p in people[2:]} == {"user"}  # the office users, on calls taken

    desk = app.test_client()
    assert sign_in(desk, "gerant", tenant=TENANT, password=PASSWORD).status_code == 302
    page = desk.get("/desk/reports/commissions?month=2026-03").get_data(as_text=True)
    assert 'data-total="commission">71,75' in page and "Reprise sur avoir" in page
    assert "Enregistrer une nouvelle version" not in page
    statement = desk.get("/desk/reports/commissions/d1.pdf?month=2026-03")
    assert statement.mimetype == "application/pdf"
    assert desk.get("/desk/reports/commissions/nobody.pdf?month=2026-03").status_code == 404
    boss = app.test_client()
    assert sign_in(boss, "admin", tenant=TENANT, password=PASSWORD).status_code == 302
    bad = post(boss, "/desk/reports/commissions/d1/rules", {"rules": '{"percent": {"*": "x"}}'})
    assert bad.status_code == 422
    good = post(boss, "/desk/reports/commissions/d1/rules", {"rules": json.dumps(KARIM)})
    assert good.status_code == 302

    url = engine.url.render_as_string(hide_password=False)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, [*args, "--database", url])

    printed = run("commissions", "report", TENANT, "--month", "2026-03", "--json")
    assert json.loads(printed.output)["total"] == "71.75"
    written = run(
        "commissions", "statement", TENANT, "d1", "--month", "2026-03", "--out", str(tmp_path)
    )
    assert (
        written.exit_code == 0 and (tmp_path / "commissions-d1-2026-03-01-2026-03-31.pdf").exists()
    )
    assert run("commissions", "statement", TENANT, "nobody", "--month", "2026-03").exit_code == 3
    assert run("commissions", "report", TENANT).exit_code == 2
    rules = tmp_path / "marc.json"
    rules.write_text(json.dumps({"percent": {"*": "abc"}}))
    assert run("commissions", "rules", TENANT, "d2", "--set", str(rules)).exit_code == 2
    for command in ("rules", "report", "statement"):
        helped = CliRunner().invoke(main, ["commissions", command, "--help"])
        assert "Example:" in helped.output and "Exit codes" in helped.output
