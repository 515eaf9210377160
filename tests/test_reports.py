"""The manager's numbers on SQLite and PostgreSQL, on the month of tests/debts_support.py
plus two drivers' work, an ordering party's payment advice and a card collection voided
(twice): per ordering party (missions, revenue excl. VAT, paid by the party and by the
beneficiaries, credit notes, days to pay, still owed) and per driver (missions, collected
per method net of voids, register variances, anomalies), every figure worked out by hand
below; then the same through the API (JSON and CSV), the desk (chart, exact table, CSV)
and the command line."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main
from server.office import driver_report, missions
from server.office.anomalies import open_anomaly
from server.parties import party_report
from server.parties import payments as payments_in
from server.people import hashing
from server.people.drivers import create_driver
from server.platform.tables import journal_entries
from tests.debts_support import TENANT, Month, at, build, private
from tests.invoicing_support import field_entry
from tests.storage import engine  # noqa: F401

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def entry(
    conn: sa.Connection, type_: str, payload: dict, *, ref: str, seq: int, driver: str
) -> None:  # type: ignore[type-arg]
    """A tablet's stored entry, as the push leaves it, for `driver` on tablet dev_b."""
    conn.execute(
        sa.insert(journal_entries).values(
            device_id="dev_b",
            seq=seq,
            tenant_id=TENANT,
            type=type_,
            at="2026-03-12T11:00:00.000Z",
            driver_id=driver,
            mission_id=payload.get("mission_id"),
            hash=ref,
            prev_hash="0" * 64,
            sig="0" * 128,
            body=json.dumps({"type": type_, "payload": payload}),
            received_at=at(3, 12),
        )
    )


def add_drivers_work(eng: sa.Engine) -> None:
    with eng.begin() as conn:
        create_driver(conn, TENANT, "d1", "Karim", "1111", "driver", actor="t", now=at(1, 1))
        create_driver(conn, TENANT, "d2", "Marc", "2222", "driver", actor="t", now=at(1, 1))
        missions.create(
            conn, TENANT, private("M-D-0001", "QR-111-ST", "2026-03-10T08:00:00+01:00"), "d1",
            actor="t", now=at(3, 10),
        )  # fmt: skip
        missions.create(
            conn, TENANT, private("M-D-0002", "UV-222-WX", "2026-03-12T08:00:00+01:00"), "d2",
            actor="t", now=at(3, 12),
        )  # fmt: skip
        # the month's collections are d1's (tests/debts_support.py): 100.00 cash, 180.00 card
        void = {"mission_id": "M-P-0003", "reverses": {"hash": "col-p3"}, "amount": "180.00"}
        field_entry(conn, TENANT, "reversal", {**void, "method": "card"}, ref="rev-1", seq=50)
        field_entry(conn, TENANT, "reversal", {**void, "method": "card"}, ref="rev-2", seq=51)
        closed = {"counted": "95.00", "expected": "100.00", "variance": "-5.00", "by_method": {}}
        field_entry(conn, TENANT, "register_closed", closed, ref="close-1", seq=52)
        pay = {"mission_id": "M-D-0002", "method": "cheque", "amount": "50.00"}
        entry(conn, "collection", pay, ref="col-d2", seq=1, driver="d2")
        even = {"counted": "0.00", "expected": "0.00", "variance": "0.00", "by_method": {}}
        entry(conn, "register_closed", even, ref="close-2", seq=2, driver="d2")
        open_anomaly(
            conn, tenant_id=TENANT, kind="register_variance", detail={}, now=at(3, 14),
            driver_id="d1",
        )  # fmt: skip
        open_anomaly(
            conn, tenant_id=TENANT, kind="fictitious_collection", detail={}, now=at(3, 12),
            driver_id="d2",
        )  # fmt: skip
        open_anomaly(
            conn, tenant_id=TENANT, kind="register_variance", detail={}, now=at(4, 2),
            driver_id="d1",
        )  # April: not in March  # fmt: skip
        advice = "reference;amount;date;party\nF2026-000005;250,00;2026-03-30;ASSIST-A\n"
        payments_in.import_file(
            conn, TENANT, "advice", "avis.csv", advice.encode(), actor="bureau", now=at(3, 30)
        )


@pytest.fixture
def month(engine) -> Month:  # noqa: F811
    made = build(engine)
    add_drivers_work(engine)
    return made


def test_per_ordering_party_every_figure_by_hand(engine, month):  # noqa: F811
    with engine.connect() as conn:
        found = party_report.report(conn, TENANT, *MARCH)
    rows = {r["party_id"]: r for r in found["parties"]}
    assert set(rows) == {"ASSIST-A", None}
    assist = rows["ASSIST-A"]
    assert assist == {
        "party_id": "ASSIST-A",
        "name": "Assistance A",
        "missions": 1,  # M-A-0003, called on Saturday 14 March
        "revenue": "345.00",  # 208.33 to the party + 136.67 to the beneficiary
        "beneficiary_share": "136.67",  # above the 250.00 cap
        "shifted_by_caps": "136.67",  # all of it: the mission cap (no line excluded)
        "credit_notes": "0.00",
        "credit_notes_count": 0,
        "paid_by_party": "250.00",  # the advice of 30 March
        "paid_by_beneficiaries": "164.00",  # 100.00 cash on the spot + 64.00 cheque
        "owed_by_party": "0.00",
        "owed_by_beneficiaries": "0.00",
        "owed": "0.00",
        "days_to_pay": "16.0",  # invoiced 14 March, paid 30 March
        "invoices_paid": 1,
    }
    private_ = rows[None]
    assert private_["missions"] == 7  # P-0001, 0002, 0003, 0004, 0006, D-0001, D-0002
    # F2026-000002 175.50 + …3 150.00 + …4 203.41 + …7 150.00 − A2026-000001 16.67
    assert private_["revenue"] == "662.24" == private_["beneficiary_share"]
    assert private_["shifted_by_caps"] == "0.00"  # no cap on a private customer
    assert (private_["credit_notes"], private_["credit_notes_count"]) == ("20.00", 1)
    # on the spot: 180.00 card voided, 50.00 cheque (d2); office: 50.00 + 240.00 + 30.00
    assert private_["paid_by_beneficiaries"] == "370.00"
    # today: F…1 180.00, F…2 130.60, F…3 160.00, F…7 180.00 (its card payment voided)
    assert private_["owed_by_beneficiaries"] == "650.60" == private_["owed"]
    assert private_["days_to_pay"] is None
    totals = found["totals"]
    assert totals["revenue"] == "1007.24" and totals["owed"] == "650.60"
    assert totals["missions"] == 8 and totals["days_to_pay"] == "16.0"
    with engine.connect() as conn:
        january = party_report.report(conn, TENANT, date(2026, 1, 1), date(2026, 1, 31))
    [jan] = january["parties"]
    assert (jan["missions"], jan["revenue"]) == (1, "150.00")  # M-P-0005, F2026-000001


def test_per_driver_every_figure_by_hand(engine, month):  # noqa: F811
    with engine.connect() as conn:
        found = driver_report.report(conn, TENANT, *MARCH)
    rows = {r["driver_id"]: r for r in found["drivers"]}
    assert set(rows) == {"d1", "d2"}
    karim = rows["d1"]
    assert karim["name"] == "Karim" and karim["missions"] == 1
    assert karim["collected"] == {
        "cash": "100.00",
        "card": "0.00",  # 180.00 collected, voided (twice: counted once)
        "cheque": "0.00",
        "transfer": "0.00",
        "payment_link": "0.00",
    }
    assert karim["collected_total"] == "100.00"
    assert (karim["closings"], karim["unbalanced"], karim["variance"]) == (1, 1, "-5.00")
    assert karim["anomalies"] == 1 and karim["anomalies_by_kind"] == {"register_variance": 1}
    marc = rows["d2"]
    assert marc["collected"]["cheque"] == "50.00" and marc["collected_total"] == "50.00"
    assert (marc["closings"], marc["unbalanced"], marc["variance"]) == (1, 0, "0.00")
    assert marc["anomalies_by_kind"] == {"fictitious_collection": 1}
    assert found["totals"]["collected_total"] == "150.00"
    assert found["totals"]["commission"] == "0.00"  # no rules: no commission
    assert found["totals"]["anomalies"] == 2
    rows_csv = driver_report.csv_rows(found)
    assert rows_csv[-1][0] == "TOTAL" and rows_csv[-1][-2:] == ["2", "0.00"]


SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@SQLITE
def test_the_reports_through_the_api_the_desk_and_the_command_line(
    engine,  # noqa: F811
    month,
    tmp_path,
    monkeypatch,
):
    from tests.test_debts_pages import Office, flat

    monkeypatch.setattr(hashing, "N", 2**8)
    office = Office(engine, tmp_path, month)
    client = office.app.test_client()
    bureau = office.api("bureau")
    answer = client.get("/api/v1/reports/parties?month=2026-03", headers=bureau).get_json()
    assert answer["totals"]["revenue"] == "1007.24"
    sheet = client.get(
        "/api/v1/reports/drivers?from=2026-03-01&to=2026-03-31&format=csv", headers=bureau
    )
    assert sheet.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(sheet.data.decode()), delimiter=";"))
    assert table[0][0] == "driver_id" and [r[0] for r in table[1:]] == ["d1", "d2", "TOTAL"]
    assert client.get("/api/v1/reports/parties?month=2026-13", headers=bureau).status_code == 422
    assert client.get("/api/v1/reports/parties", headers=bureau).status_code == 422
    stranger = office.api("bureau", "other")
    theirs = client.get("/api/v1/reports/parties?month=2026-03", headers=stranger).get_json()
    assert theirs["totals"]["revenue"] == "0.00"  # its own two missions, nothing invoiced
    assert theirs["totals"]["paid_by_beneficiaries"] == "0.00"

    desk = office.desk("gerant")
    page = flat(desk.get("/desk/reports/parties?month=2026-03"))
    assert 'data-party="ASSIST-A"' in page and "345,00 €" in page and "16,0" in page
    assert "<svg" in page and 'data-cents="34500"' in page
    drivers_page = flat(desk.get("/desk/reports/drivers?month=2026-03"))
    assert "Karim" in drivers_page and "-5,00 €" in drivers_page
    download = desk.get("/desk/reports/parties.csv?month=2026-03")
    assert b"ASSIST-A" in download.data and download.mimetype == "text/csv"
    assert desk.get("/desk/reports/parties?month=2026-3x").status_code == 400
    english = flat(desk.get("/desk/reports/drivers?month=2026-03&lang=en"))
    assert "What each driver did" in english and "€150.00" in english

    url = engine.url.render_as_string(hide_password=False)
    out = tmp_path / "parties.csv"
    printed = CliRunner().invoke(
        main,
        ["report", "parties", TENANT, "--month", "2026-03", "--csv", str(out), "--database", url],
    )
    assert printed.exit_code == 0, printed.output
    assert "1007.24" in printed.output and out.read_text(encoding="utf-8").startswith("party_id;")
    assert CliRunner().invoke(main, ["report", "drivers", TENANT, "--database", url]).exit_code == 2
    drivers = CliRunner().invoke(
        main, ["report", "drivers", TENANT, "--month", "2026-03", "--json", "--database", url]
    )
    assert json.loads(drivers.output)["totals"]["collected_total"] == "150.00"
    for command in (("report", "parties"), ("report", "drivers")):
        helped = CliRunner().invoke(main, [*command, "--help"])
        assert "Example:" in helped.output and "Exit codes" in helped.output
