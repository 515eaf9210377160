"""Times in the tenant's time zone everywhere, stated as such (issue 14), on SQLite and
PostgreSQL: a mission finished at 23:30 UTC on 10 March is on 11 March in Paris (00:30)
and in Nouméa (10:30), and still on 10 March in Martinique (19:30). The desk's pages, the
day's figures ("Today at a glance"), the registers of a day, the invoice's PDF, the refund
receipt's PDF, the sales journal's CSV and the command line all name the tenant's day and
wall clock, and each page or document states the zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli import common
from server.cli.main import main
from server.office import refund_receipts
from server.people.tenant_time import day_words, when_words, zone_named, zone_words
from server.platform.tables import tenants
from tests.desk_support import sign_in
from tests.invoicing_support import pdf_text
from tests.office_world import World, world  # noqa: F401
from tests.party_month_support import database_url
from tests.storage import engine  # noqa: F401

D = Decimal
LATE = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)

# zone: (the local day and time of LATE, the words stating the zone in French)
ZONES = {
    "Europe/Paris": ("11/03/2026 00:30", "heure de Paris (Europe/Paris)"),
    "Pacific/Noumea": ("11/03/2026 10:30", "heure de Noumea (Pacific/Noumea)"),
    "America/Martinique": ("10/03/2026 19:30", "heure de Martinique (America/Martinique)"),
}


# --- the words, pure ----------------------------------------------------------------------------


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_an_instant_in_words_on_the_tenants_wall_clock(zone: str):
    shown, stated = ZONES[zone]
    assert when_words(LATE, zone_named(zone), "fr") == shown
    assert zone_words(zone_named(zone), "fr") == stated


def test_english_days_name_their_month_rather_than_an_iso_date():
    assert day_words(date(2026, 3, 1), "en") == "1 Mar 2026"
    assert when_words(LATE, zone_named("Europe/Paris"), "en") == "11 Mar 2026 00:30"
    assert zone_words(zone_named("America/Martinique"), "en") == (
        "Martinique time (America/Martinique)"
    )


def test_the_refund_receipt_pdf_dates_itself_on_the_tenants_clock():
    refund = {
        "number": "RR2026-000001",
        "issued_at": LATE.isoformat(),
        "amount": "40.00",
        "method": "card",
        "reason": "Payé deux fois",
        "mission_id": "M-A-0004",
    }
    paris = pdf_text(refund_receipts.pdf(refund, None, "fr", zone_named("Europe/Paris")))
    assert "11/03/2026 00:30 (heure de Paris (Europe/Paris))" in paris
    assert "UTC" not in paris
    there = pdf_text(refund_receipts.pdf(refund, None, "en", zone_named("America/Martinique")))
    assert "10 Mar 2026 19:30 (Martinique time (America/Martinique))" in there


# --- a late mission, seen the next morning ------------------------------------------------------


def set_zone(w: World, zone: str) -> None:
    with w.engine.begin() as conn:
        settings = conn.execute(
            sa.select(tenants.c.settings).where(tenants.c.id == "demo")
        ).scalar_one()
        conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == "demo")
            .values(settings={**(settings or {}), "timezone": zone})
        )


def late_mission(w: World, tmp_path: Path) -> None:
    """Karim's tablet, enrolled in the morning, opens its register, is paid 96.00 by card
    on M-A-0004 and closes the mission, all at 23:30 UTC on 10 March; the office looks at
    08:00 UTC the next day."""
    karim = w.tablet(tmp_path / "karim", "d1", "1111")  # the demo's codes expire by night
    w.sync(karim)
    w.clock.now = LATE
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    karim.collect("M-A-0004", "card", "96.00", {"terminal_ref": "AUT-96"})
    for step in ("departed", "delivered", "closed"):
        karim.step("M-A-0004", step)
    w.sync(karim)
    w.clock.now = NEXT_MORNING


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def get(client: Any, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return str(answer.get_data(as_text=True))


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_a_late_mission_shows_on_the_tenants_day_and_clock(
    world: World,  # noqa: F811
    tmp_path: Path,
    zone: str,
    monkeypatch: pytest.MonkeyPatch,
):
    set_zone(world, zone)
    late_mission(world, tmp_path)
    shown, stated = ZONES[zone]
    local_day = shown[:10]
    iso_day = "-".join(reversed(local_day.split("/")))
    next_day = local_day == "11/03/2026"
    client = world.app.test_client()
    assert sign_in(client, "admin").status_code == 302

    # Today at a glance: 08:00 UTC on the 11th is the 11th in all three zones; the money
    # taken at 23:30 UTC is today's in Paris and Nouméa, yesterday's in Martinique.
    glance = get(client, "/desk/")
    assert "· 11/03/2026</span></h1>" in glance
    collected = re.search(r'id="collected-today">([^<]*)<', glance)
    due = re.search(r'id="due-today">([^<]*)<', glance)
    assert collected and due
    today_amount = "96,00\u00a0€" if next_day else "0,00\u00a0€"
    assert (collected.group(1), due.group(1)) == (today_amount, today_amount)
    assert f'<tr data-day="{iso_day}"><td>{local_day}</td>' in glance
    assert stated in text_of(glance)  # stated once, in the page's frame
    assert text_of(glance).count(stated) == 1

    # The documents and the tablets: the local wall clock, no "UTC" left.
    for path in ("/desk/documents", "/desk/devices"):
        page = text_of(get(client, path))
        assert shown in page, path
        assert "10/03/2026 23:30" not in page and "UTC" not in page, path

    # The registers of a day are the tenant's day's.
    registers = text_of(get(client, f"/desk/registers?day={iso_day}"))
    assert f"Caisses ouvertes le {local_day}" in registers
    assert shown in registers
    other_day = "2026-03-10" if next_day else "2026-03-11"
    assert "Aucune caisse pour ces critères" in text_of(
        get(client, f"/desk/registers?day={other_day}")
    )

    # The invoice's PDF: issued on the tenant's day.
    invoice = next(
        d
        for d in world.office.get("/api/v1/documents", headers=world.as_user("bureau")).get_json()
        if d["recipient_kind"] == "beneficiary"
    )
    pdf = client.get(f"/desk/documents/{invoice['number']}.pdf")
    assert pdf.status_code == 200, pdf.status_code
    assert f"Date d'émission : {local_day}" in pdf_text(pdf.data)

    # The sales journal's CSV: the line falls on the tenant's day, not on the other.
    on_day = get(client, f"/desk/accounting/sales-journal.csv?from={iso_day}&to={iso_day}")
    assert f"{iso_day};{invoice['number']};" in on_day
    off_day = get(client, f"/desk/accounting/sales-journal.csv?from={other_day}&to={other_day}")
    assert invoice["number"] not in off_day

    # The command line: the list names the tenant's day; codes state their zone.
    url = database_url(world.engine)
    listed = CliRunner().invoke(main, ["documents", "list", "demo", "--database", url])
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if x.startswith(invoice["number"]))
    assert f" {local_day} " in line
    monkeypatch.setattr(common, "now", lambda: NEXT_MORNING)
    code = CliRunner().invoke(
        main, ["enroll-code", "demo", "--driver", "d2", "--database", url, "--lang", "fr"]
    )
    assert code.exit_code == 0, code.output
    until = {"Europe/Paris": "09:15", "Pacific/Noumea": "19:15", "America/Martinique": "04:15"}
    assert f"valable jusqu'à {until[zone]} ({stated})" in code.output  # 08:15 UTC
