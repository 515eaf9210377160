"""The manager's numbers beyond the first tables (docs/reports.md), on SQLite and
PostgreSQL, on the month of tests/manager_support.py: what caps and deductibles shifted
to beneficiaries (an exclusion is not), profitability per ordering party against the
costs the company records, the cost per km as versioned data, and the PDF downloads.
Every figure is worked out by hand in the support's docstring and below, and checked
again by recomputing it from the documents with none of the report's code."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pypdf
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main
from server.office import commissions, cost_settings, invoicing
from server.parties import party_report, profitability
from server.people import hashing
from server.platform.tables import documents, missions, office_settings, valuations
from shared.errors import InvalidDocument
from tests.debts_support import TENANT, at
from tests.desk_support import post
from tests.invoicing_support import KEY
from tests.manager_support import build_month
from tests.storage import engine  # noqa: F401

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture
def month(engine):  # noqa: F811
    return build_month(engine)


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")


def test_caps_and_deductibles_shifted_to_beneficiaries_exclusions_apart(engine, month):  # noqa: F811
    with engine.connect() as conn:
        found = party_report.report(conn, TENANT, *MARCH)
    rows = {r["party_id"]: r for r in found["parties"]}
    # ASSIST-A: the mission cap sent every line of the beneficiary's 136.67 to them.
    assert rows["ASSIST-A"]["shifted_by_caps"] == "136.67" == rows["ASSIST-A"]["beneficiary_share"]
    b = rows["ASSIST-B"]
    # The beneficiary's invoice: 12.40 toll + 31.33 tow by the deductible, 45.00 km by
    # the exclusion (not shifted); the credit note (44.37 of 88.73 excl.) takes back
    # round(43.73 × 44.37 / 88.73) = 21.87.
    assert b["beneficiary_share"] == "44.36"  # 88.73 − 44.37
    assert b["shifted_by_caps"] == "21.86"  # 43.73 − 21.87
    assert b["revenue"] == "133.03"  # 88.67 + 88.73 − 44.37
    assert rows[None]["shifted_by_caps"] == "0.00"
    assert found["totals"]["shifted_by_caps"] == "158.53"
    # In April nothing was issued: nothing shifted.
    with engine.connect() as conn:
        april = party_report.report(conn, TENANT, date(2026, 4, 1), date(2026, 4, 30))
    assert april["totals"]["shifted_by_caps"] == "0.00"


def test_a_full_credit_note_takes_back_exactly_what_was_shifted(engine, month):  # noqa: F811
    from server.office import invoicing
    from tests.debts_support import at
    from tests.invoicing_support import KEY

    _, numbers = month
    with engine.begin() as conn:
        invoicing.credit_note(
            conn, TENANT, numbers["beneficiary"], reason="Annulation", key=KEY,
            actor="bureau", now=at(3, 30),
        )  # fmt: skip
    with engine.connect() as conn:
        found = party_report.report(conn, TENANT, *MARCH)
    b = next(r for r in found["parties"] if r["party_id"] == "ASSIST-B")
    assert b["beneficiary_share"] == "0.00" and b["shifted_by_caps"] == "0.00"


def test_profitability_per_party_by_hand(engine, month):  # noqa: F811
    with engine.connect() as conn:
        found = profitability.report(conn, TENANT, *MARCH)
    assert found["cost_per_km"] == {"version": 1, "per_km": {"VL": "0.5"}}
    rows = {r["party_id"]: r for r in found["parties"]}
    assert rows["ASSIST-B"] == {
        "party_id": "ASSIST-B",
        "name": "Assistance B",
        "missions": 1,
        "km": "92",  # 12 en route + 80 loaded
        "invoiced": "177.40",  # 88.67 to the party + 88.73 to the beneficiary
        "credit_notes": "44.37",
        "revenue": "133.03",
        # Karim: 10 % of 88.67 (8.87) + 5.00 per mission + 10 % of 31.33 (3.13), then
        # the credit note takes back round(3.13 × 44.37 / 88.73) = 1.57.
        "commissions": "15.43",
        "at_cost": "12.40",  # the toll
        "km_cost": "46.00",  # 92 km × 0.50
        "costs": "73.83",
        "margin": "59.20",
    }
    assist_a = rows["ASSIST-A"]
    assert (assist_a["revenue"], assist_a["km_cost"], assist_a["margin"]) == (
        "345.00",
        "46.00",
        "299.00",
    )
    # Private customers: M-D-0001 and M-D-0002 were never valued (no tablet synced
    # them): no kilometres; P-0001, P-0003, P-0004 and P-0006 drove 138 km.
    assert (rows[None]["missions"], rows[None]["km"], rows[None]["km_cost"]) == (7, "138", "69.00")
    assert found["totals"]["margin"] == "951.44"
    assert found["unattributed_commissions"] == "0.00"


def test_a_credit_note_of_a_later_month_counts_for_its_missions_party(engine, month):  # noqa: F811
    # April has no mission of its own: its credit note on a March invoice of ASSIST-B's
    # is ASSIST-B's, read from the mission called in March.
    with engine.begin() as conn:
        [number] = conn.execute(
            sa.select(documents.c.number)
            .join(
                missions,
                sa.and_(
                    missions.c.tenant_id == documents.c.tenant_id,
                    missions.c.id == documents.c.mission_id,
                ),
            )
            .where(
                documents.c.tenant_id == TENANT,
                documents.c.kind == "invoice",
                documents.c.recipient_kind == "ordering_party",
                missions.c.ordering_party_id == "ASSIST-B",
            )
        ).scalars()
        invoicing.credit_note(
            conn, TENANT, number, amount="12.00", reason="Geste", key=KEY, actor="u",
            now=at(4, 2),
        )  # fmt: skip
        found = profitability.report(conn, TENANT, date(2026, 4, 1), date(2026, 4, 30))
    rows = {r["party_id"]: r for r in found["parties"]}
    assert set(rows) == {"ASSIST-B"}
    assert (rows["ASSIST-B"]["missions"], rows["ASSIST-B"]["credit_notes"]) == (0, "10.00")
    assert rows["ASSIST-B"]["revenue"] == "-10.00"  # 12.00 incl. 20 % VAT


def test_every_profitability_figure_recomputed_from_the_documents(engine, month):  # noqa: F811
    """Independently: documents' totals, the invoices' at-cost lines, the commission
    lines summed per mission, the missions' legs × the stored rate."""
    with engine.connect() as conn:
        found = profitability.report(conn, TENANT, *MARCH)
        docs = conn.execute(sa.select(documents).where(documents.c.tenant_id == TENANT)).all()
        rows = conn.execute(sa.select(missions).where(missions.c.tenant_id == TENANT)).all()
        valued = set(
            conn.execute(
                sa.select(valuations.c.mission_id).where(
                    valuations.c.tenant_id == TENANT, valuations.c.source == "server"
                )
            ).scalars()
        )
        lines = commissions.report(conn, TENANT, *MARCH)["lines"]
        rate = conn.execute(
            sa.select(office_settings.c.document).where(
                office_settings.c.tenant_id == TENANT, office_settings.c.name == "cost_per_km"
            )
        ).scalar_one()["per_km"]["VL"]
    party = {}
    for m in rows:
        party[m.id] = m.ordering_party_id or json.loads(m.document).get("ordering_party")
    for row in found["parties"]:
        mine = {mid for mid, p in party.items() if p == row["party_id"]}
        march = [
            d
            for d in docs
            if d.mission_id in mine and d.issued_at.month == 3 and d.issued_at.year == 2026
        ]
        invoiced = sum(d.total_excl_cents for d in march if d.kind == "invoice")
        credited = sum(d.total_excl_cents for d in march if d.kind == "credit_note")
        at_cost = sum(
            round(Decimal(line["excl_vat"]) * 100)
            for d in march
            if d.kind == "invoice"
            for line in d.lines
            if line["kind"] == "at_cost"
        )
        earned = sum(
            round(Decimal(x["commission"]) * 100) for x in lines if x["mission_id"] in mine
        )
        km_cost = 0
        for m in rows:
            document = json.loads(m.document)
            if m.id in mine and m.id in valued and document["times"]["call"].startswith("2026-03"):
                km = sum(Decimal(v) for v in document.get("distance_km", {}).values())
                km_cost += int((km * Decimal(rate) * 100).quantize(Decimal(1), ROUND_HALF_UP))
        margin = invoiced - credited - earned - at_cost - km_cost
        assert [
            row[k]
            for k in ("invoiced", "credit_notes", "commissions", "at_cost", "km_cost", "margin")
        ] == [
            f"{Decimal(c) / 100:.2f}"
            for c in (invoiced, credited, earned, at_cost, km_cost, margin)
        ], row["party_id"]


def test_whoever_took_the_call_is_commissioned_beside_the_driver(engine, month):  # noqa: F811
    """Sonia took M-B-0001's call: 1 % of every invoice line and 2.00 per mission, her
    own reversal on the credit note; Karim's lines are unchanged."""
    from tests.debts_support import at

    _, numbers = month
    sonia = numbers["dispatcher"]
    with engine.begin() as conn:
        commissions.set_rules(
            conn, TENANT, sonia, {"percent": {"*": "1"}, "per_mission": "2.00"},
            actor="gerant", now=at(3, 1),
        )  # fmt: skip
        found = commissions.report(conn, TENANT, *MARCH)
        listed = {p["person"]: p for p in commissions.people(conn, TENANT)}
    mine = [x for x in found["lines"] if x["person"] == sonia]
    assert [(x["kind"], x["document"], x["base"], x["commission"]) for x in mine] == [
        ("percent", numbers["ordering_party"], "88.67", "0.89"),
        ("per_mission", numbers["ordering_party"], "0.00", "2.00"),
        ("percent", numbers["beneficiary"], "31.33", "0.31"),
        ("percent", numbers["beneficiary"], "12.40", "0.12"),
        ("percent", numbers["beneficiary"], "45.00", "0.45"),
        # 0.88 earned on the beneficiary's invoice; round(0.88 × 44.37 / 88.73) = 0.44
        ("reversal", numbers["credit_note"], "-44.37", "-0.44"),
    ]
    people = {p["person"]: p for p in found["people"]}
    assert people[sonia]["name"] == "Sonia" and people[sonia]["commission"] == "3.33"
    assert people["d1"]["commission"] == "15.43"  # as without Sonia's rules
    assert listed[sonia]["kind"] == "user" and listed[sonia]["version"] == 1
    with engine.connect() as conn:
        profit = profitability.report(conn, TENANT, *MARCH)
        _, pdf = commissions.statement(conn, TENANT, sonia, *MARCH, lang="fr", now=at(4, 1))
    b = next(r for r in profit["parties"] if r["party_id"] == "ASSIST-B")
    assert b["commissions"] == "18.76"  # 15.43 + 3.33: both are the company's costs
    assert "Sonia" in pdf_text(pdf) and "3,33" in pdf_text(pdf)


def test_costs_per_km_are_versioned_and_checked(engine, month):  # noqa: F811
    from tests.debts_support import at

    with engine.begin() as conn:
        assert cost_settings.current(conn, TENANT)["version"] == 1
        again = cost_settings.set_costs(
            conn, TENANT, {"per_km": {"VL": "0.5"}}, actor="t", now=at(4, 2)
        )
        assert again["version"] == 1  # the same rates: no new version
        made = cost_settings.set_costs(
            conn, TENANT, {"per_km": {"VL": "0.60", "*": "1"}}, actor="t", now=at(4, 3)
        )
        assert made == {"version": 2, "per_km": {"*": "1", "VL": "0.6"}}
        # March still uses version 1: the first version, as none was in force then.
        assert profitability.report(conn, TENANT, *MARCH)["cost_per_km"]["version"] == 1
        with pytest.raises(InvalidDocument) as refused:
            cost_settings.set_costs(
                conn, TENANT, {"per_km": {"vl": "0.5", "PL": 1.2, "TC": "-1"}, "x": 1},
                actor="t", now=at(4, 4),
            )  # fmt: skip
        assert [p.path for p in refused.value.problems] == [
            "x",
            "per_km.vl",
            "per_km.PL",
            "per_km.TC",
        ]
        assert cost_settings.current(conn, TENANT)["version"] == 2


SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@SQLITE
def test_the_new_tables_through_the_api_the_desk_and_the_command_line(
    engine,  # noqa: F811
    month,
    tmp_path,
    monkeypatch,
):
    from tests.test_debts_pages import Office, flat

    monkeypatch.setattr(hashing, "N", 2**8)
    office = Office(engine, tmp_path, month[0])
    client = office.app.test_client()
    bureau = office.api("bureau")
    parties = client.get("/api/v1/reports/parties?month=2026-03", headers=bureau).get_json()
    assert parties["totals"]["shifted_by_caps"] == "158.53"
    # PDF: by format=pdf, or by Accept; French by default, English on request.
    pdf = client.get("/api/v1/reports/parties?month=2026-03&format=pdf", headers=bureau)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert "Assistance B" in text and "21,86" in text and "Par donneur d'ordre" in text
    english = client.get(
        "/api/v1/reports/drivers?month=2026-03&lang=en",
        headers={**bureau, "Accept": "application/pdf"},
    )
    assert english.mimetype == "application/pdf"
    assert "Per driver" in pdf_text(english.data) and "Karim" in pdf_text(english.data)
    assert (
        client.get("/api/v1/reports/parties?month=2026-03&format=xls", headers=bureau).status_code
        == 422
    )
    profit = client.get("/api/v1/reports/profitability?month=2026-03", headers=bureau).get_json()
    assert profit["totals"]["margin"] == "951.44"
    sheet = client.get("/api/v1/reports/profitability?month=2026-03&format=csv", headers=bureau)
    assert sheet.data.decode().splitlines()[0].startswith("party_id;name;missions;km;invoiced")
    # Costs: read with `reconcile`, set with `edit_contracts` (the office, not the manager).
    assert client.get("/api/v1/reports/costs", headers=bureau).get_json()["version"] == 1
    gerant = office.api("gerant")
    new = {"per_km": {"VL": "0.70"}}
    assert client.put("/api/v1/reports/costs", json=new, headers=gerant).status_code == 403
    bad = client.put("/api/v1/reports/costs", json={"per_km": {"VL": "cher"}}, headers=bureau)
    assert bad.status_code == 422 and "per_km.VL" in json.dumps(bad.get_json())
    done = client.put("/api/v1/reports/costs", json=new, headers=bureau)
    assert done.status_code == 200 and done.get_json() == {"version": 2, "per_km": {"VL": "0.7"}}

    desk = office.desk("bureau")
    page = flat(desk.get("/desk/reports/parties?month=2026-03"))
    assert 'data-col="shifted_by_caps">21,86 €' in page
    assert "/desk/reports/parties.pdf?" in page
    download = desk.get("/desk/reports/parties.pdf?month=2026-03&lang=en")
    assert download.mimetype == "application/pdf" and "Per ordering party" in pdf_text(
        download.data
    )
    profit_page = flat(desk.get("/desk/reports/profitability?month=2026-03&lang=fr"))
    # Version 2 was set on the office's clock, 31 March: in force at March's end, 0.70 a
    # km: 133.03 − 15.43 − 12.40 − 64.40.
    assert 'data-party="ASSIST-B"' in profit_page and "40,80 €" in profit_page
    refused = post(desk, "/desk/reports/costs", {"costs": '{"per_km": {"VL": "x"}}'})
    assert refused.status_code == 422 and "Rien n'a été enregistré" in flat(refused)
    saved = post(desk, "/desk/reports/costs?month=2026-03", {"costs": '{"per_km": {"VL": "0.80"}}'})
    assert saved.status_code == 302
    with engine.connect() as conn:
        assert cost_settings.current(conn, TENANT) == {"version": 3, "per_km": {"VL": "0.8"}}

    url = engine.url.render_as_string(hide_password=False)
    out = tmp_path / "parties.pdf"
    printed = CliRunner().invoke(
        main,
        ["report", "parties", TENANT, "--month", "2026-03", "--pdf", str(out), "--database", url],
    )
    assert printed.exit_code == 0, printed.output
    assert "21,86" in pdf_text(out.read_bytes())
    shown = CliRunner().invoke(
        main, ["report", "profitability", TENANT, "--month", "2026-03", "--json", "--database", url]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["cost_per_km"]["version"] == 3
    bad_file = tmp_path / "costs.json"
    bad_file.write_text('{"per_km": {"VL": 2}}', encoding="utf-8")
    set_bad = CliRunner().invoke(
        main, ["report", "costs", TENANT, "--set", str(bad_file), "--database", url]
    )
    assert set_bad.exit_code == 2
    for command in (("report", "profitability"), ("report", "costs")):
        helped = CliRunner().invoke(main, [*command, "--help"])
        assert "Example:" in helped.output and "Exit codes" in helped.output
