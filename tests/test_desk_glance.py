"""Today at a glance: figures of a day produced by real tablets synced with the server.

The day is made once for the module (`shared_day`, on SQLite) and only read; the test
that closes a register and moves the clock makes its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from fieldclient.tablet import Tablet
from server.desk import charts
from server.people import hashing, identity
from server.platform.db import make_engine, upgrade
from tests.desk_support import sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
NB = "\u202f"  # French thousands separator
EUR = "\u00a0€"


@dataclass
class Day:
    karim: Tablet
    julie: Tablet
    marc: Tablet


def a_day(w: World, tmp_path: Path) -> Day:
    """Karim collects 96.00 by card (then finishes the mission: invoiced 144.00 + 96.00,
    and the office credits 20.00) and 40.00 cash; Julie collects 25.00 cash that the
    office voids; Marc's tablet is enrolled and never syncs. Karim's register stays open,
    Julie closes hers 5.00 short."""
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    julie = w.tablet(tmp_path / "julie", "d2", "2222")
    marc = w.tablet(tmp_path / "marc", "d3", "3333")
    w.sync(karim)
    w.sync(julie)
    karim.register_open(D("50.00"))
    julie.register_open(D("20.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    karim.collect("M-A-0004", "card", "96.00", {"terminal_ref": "AUT-96"})
    for step in ("departed", "delivered", "closed"):
        karim.step("M-A-0004", step)
    karim.step("M-P-0001", "en_route")
    karim.collect("M-P-0001", "cash", "40.00", {"tendered": "40.00"})
    julie.step("M-B-0002", "en_route")
    paid = julie.collect("M-B-0002", "cash", "25.00", {"tendered": "25.00"})
    w.sync(karim)
    w.sync(julie)
    voided = w.office.post(
        f"/api/v1/collections/{julie.device_id}/{paid.seq}/void",
        json={"reason": "Client remboursé"},
        headers=w.as_user("bureau"),
    )
    assert voided.status_code == 201, voided.get_json()
    w.sync(julie)  # the reversal reaches the tablet and comes back as its entry
    julie.register_close(D("15.00"))  # expected 20 + 25 − 25 = 20.00
    w.sync(julie)
    invoice = next(
        d
        for d in w.office.get("/api/v1/documents", headers=w.as_user("bureau")).get_json()
        if d["recipient_kind"] == "beneficiary"
    )
    credited = w.office.post(
        f"/api/v1/documents/{invoice['number']}/credit-note",
        json={"amount": "20.00", "reason": "Geste commercial"},
        headers=w.as_user("bureau"),
    )
    assert credited.status_code == 201, credited.get_json()
    return Day(karim, julie, marc)


@pytest.fixture(scope="module")
def shared_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Day]]:
    """One day for the module's read-only tests (a world costs a couple of seconds)."""
    tmp = tmp_path_factory.mktemp("day")
    eng = make_engine(f"sqlite:///{tmp / 'towline.db'}")
    upgrade(eng)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashing, "N", 2**8)  # as the `world` fixture: fast password hashes
        w = World(eng, tmp)
        yield w, a_day(w, tmp)
    eng.dispose()


def page(client: Any, path: str = "/desk/") -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return str(answer.get_data(as_text=True))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The cells' text of a table's rows (tags dropped), header row excluded."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table {table_id}"
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0), re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows[1:] if table_id == "chart-days-table" else rows


def bar_widths(html: str, chart_id: str) -> dict[str, int]:
    svg = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.S)
    assert svg, f"no chart {chart_id}"
    return {
        key: int(width)
        for key, width in re.findall(
            r'<rect[^>]*data-key="([^"]*)"[^>]*width="(\d+)"', svg.group(0)
        )
    }


def money(text: str) -> str:
    """ "1234.50" as the French page writes it."""
    units, cents = text.split(".")
    grouped = f"{int(units):,}".replace(",", NB)
    return f"{grouped},{cents}{EUR}"


def test_the_days_figures_from_real_tablets(shared_day):
    w, _ = shared_day
    client = w.app.test_client()
    sign_in(client, "bureau")
    html = page(client)
    # Collected today: 96 card + 40 cash + 25 cash − 25 reversed. Due on site: the
    # beneficiary's 96.00 minus the 20.00 credited; the assistance's 144.00, paid weeks
    # later, is not compared with what drivers collected.
    assert re.search(r'id="collected-today">136,00', html)
    assert re.search(r'id="due-today">76,00', html)
    assert table_rows(html, "chart-days-table")[:1] == [
        ["10/03/2026", money("136.00"), money("76.00"), money("60.00")]
    ]
    assert table_rows(html, "chart-methods-table") == [
        ["Espèces", money("40.00")],
        ["Carte bancaire", money("96.00")],
        ["Total", money("136.00")],
    ]
    assert table_rows(html, "chart-drivers-table") == [
        ["Karim", money("136.00")],
        ["Julie", money("0.00")],
        ["Total", money("136.00")],
    ]
    # The bars are proportional to the amounts: card 96 fills the plot, cash 40 is 40/96 of it.
    widths = bar_widths(html, "chart-methods")
    assert charts.BAR_PLOT == 200
    assert widths == {"card": 200, "cash": 83}  # 40/96 × 200 px, rounded half up
    days = re.search(r'<svg[^>]*id="chart-days".*?</svg>', html, re.S)
    assert days and 'role="img"' in days.group(0) and "<title>" in days.group(0)
    today = re.findall(r'data-key="2026-03-10" data-series="(\d)" data-cents="(-?\d+)"', html)
    assert today == [("0", "13600"), ("1", "7600")]


def test_due_on_site_is_the_beneficiaries_shares_not_every_invoice(shared_day):
    """Recomputed from the documents themselves: the assistance's invoice (the larger
    part of the mission) is left out, the beneficiary's invoice and its credit note in."""
    w, _ = shared_day
    listed = w.office.get("/api/v1/documents", headers=w.as_user("bureau")).get_json()
    sign = {"invoice": 1, "credit_note": -1}
    cents = {
        kind: sum(
            sign[d["kind"]] * int(D(d["total"]["incl_vat"]) * 100)
            for d in listed
            if d["recipient_kind"] == kind
        )
        for kind in ("beneficiary", "ordering_party")
    }
    assert cents["ordering_party"] == 14400 > cents["beneficiary"] == 7600
    client = w.app.test_client()
    sign_in(client, "bureau")
    html = page(client)
    due = re.search(r'id="due-today">([^<]+)<', html)
    assert due and unescape(due.group(1)) == money(f"{cents['beneficiary'] / 100:.2f}")
    assert "Dû sur place" in html and "Facturé" not in html


def test_open_anomalies_by_kind_and_driver_link_to_the_anomalies_page(shared_day):
    w, _ = shared_day
    client = w.app.test_client()
    sign_in(client, "bureau")
    html = page(client)
    by_kind = re.search(r'id="anomalies-by-kind">(.*?)</ul>', html, re.S)
    assert by_kind
    assert (
        '<a href="/desk/anomalies?status=open&amp;kind=register_variance">Écart de caisse <b>1</b>'
        in by_kind.group(1)
    )
    by_driver = re.search(r'id="anomalies-by-driver">(.*?)</ul>', html, re.S)
    assert by_driver and '<a href="/desk/anomalies?status=open&amp;driver_id=d2">Julie <b>' in (
        by_driver.group(1)
    )


def test_a_never_synced_tablet_and_the_unclosed_register_are_listed(shared_day):
    w, day = shared_day
    client = w.app.test_client()
    sign_in(client, "bureau")
    html = page(client)
    stale = re.search(r'id="stale">(.*?)</section>', html, re.S)
    assert stale and re.findall(r'data-device="([^"]+)"', stale.group(1)) == [day.marc.device_id]
    assert "Jamais" in stale.group(1) and "Marc" in stale.group(1)
    unclosed = re.search(r'id="unclosed">(.*?)</section>', html, re.S)
    assert unclosed
    rows = re.findall(r'<tr data-driver="(\w+)">(.*?)</tr>', unclosed.group(1), re.S)
    assert [driver for driver, _ in rows] == ["d1"]  # Julie closed hers
    assert "Tablette d1" in rows[0][1] and "10/03/2026 08:30" in rows[0][1]  # Paris time
    assert money("90.00") in rows[0][1]  # 50.00 float + 40.00 cash


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_register_leaves_the_list_once_closed_and_synced(world, tmp_path):  # noqa: F811
    day = a_day(world, tmp_path)
    client = world.app.test_client()
    sign_in(client, "bureau")
    assert 'data-driver="d1"' in page(client)
    day.karim.register_close(D("90.00"))
    assert 'data-driver="d1"' in page(client)  # not synced yet: the office cannot know
    world.sync(day.karim)
    html = page(client)
    assert 'data-driver="d1"' not in html
    assert "Toutes les caisses synchronisées sont fermées." in html
    # A day later, Karim's and Julie's tablets have been silent for more than 24 h.
    world.clock.advance(hours=25)
    world.sync(day.julie)
    sign_in(client, "bureau")  # the session expired meanwhile
    stale = re.search(r'id="stale">(.*?)</section>', page(client), re.S)
    assert stale
    assert re.findall(r'data-device="([^"]+)"', stale.group(1)) == [
        day.marc.device_id,
        day.karim.device_id,
    ]
    world.app.config["DESK_STALE_DEVICE_HOURS"] = 48
    stale = re.search(r'id="stale">(.*?)</section>', page(client), re.S)
    assert stale and re.findall(r'data-device="([^"]+)"', stale.group(1)) == [day.marc.device_id]


def test_a_user_without_reconcile_sees_no_money(shared_day):
    w, _ = shared_day
    with w.engine.begin() as conn:
        identity.create_user(
            conn,
            "demo",
            "guichet",
            "Gaston Guichet",
            "guichet-pass",
            "driver",
            actor="test",
            now=w.clock.now,
        )
    client = w.app.test_client()
    sign_in(client, "guichet", password="guichet-pass")
    html = page(client)
    assert "€" not in html
    assert "collected-today" not in html and "<svg" not in html
    assert "réservés aux utilisateurs" in html
    assert 'data-driver="d1"' in html  # the open register, without its cash
    assert "Écart de caisse <b>1</b>" in html  # counts, not links to a page it may not open
    assert "/desk/anomalies?" not in html


def test_english_on_request(shared_day):
    w, _ = shared_day
    client = w.app.test_client()
    sign_in(client, "bureau")
    html = page(client, "/desk/?lang=en")
    assert "<h1>Today" in html and 'lang="en"' in html
    assert "Collected today per payment method" in html
    assert re.search(r'id="collected-today">€136.00', html)
    assert table_rows(html, "chart-methods-table")[:2] == [["Cash", "€40.00"], ["Card", "€96.00"]]
    assert "Register variance <b>1</b>" in html and "Never" in html


def test_another_tenants_data_never_shows(shared_day):
    w, _ = shared_day
    with w.engine.begin() as conn:
        identity.create_tenant(
            conn, "autre", "Autre Dépannage", payments_enabled=True, now=w.clock.now
        )
        identity.create_user(
            conn,
            "autre",
            "chef",
            "Chef Autre",
            "autre-pass",
            "office",
            actor="test",
            now=w.clock.now,
        )
    client = w.app.test_client()
    sign_in(client, "chef", tenant="autre", password="autre-pass")
    html = page(client)
    assert re.search(r'id="collected-today">0,00', html)
    assert re.search(r'id="due-today">0,00', html)
    for theirs in ("Karim", "Julie", "Marc", "Tablette d", "Écart de caisse"):
        assert theirs not in html


# --- the charts' geometry, on known figures ---------------------------------------------------


def test_bar_lengths_are_proportional_to_the_amounts_rounded_half_up():
    assert charts.length(4000, 9600, 200) == 83  # 83.33…
    assert charts.length(2500, 10000, 2) == 1  # 0.5 → 1: half up, not to even
    assert charts.length(-4000, 8000, 200) == 100  # a length is never negative
    assert charts.length(123, 0, 200) == 0
    chart = charts.bars([("cash", "Espèces", 4000), ("card", "Carte", 9600)])
    cash, card = chart.bars
    assert (card.rect.x, card.rect.width) == (0, charts.BAR_PLOT)  # the largest fills the plot
    assert (cash.rect.x, cash.rect.width) == (0, 83)
    assert cash.amount_x == 83 + 6 and card.rect.y == cash.rect.y + charts.BAR_ROW
    assert chart.width == charts.BAR_PLOT + charts.BAR_AMOUNT and chart.height == 2 * charts.BAR_ROW


def test_a_negative_bar_goes_left_of_the_zero_line():
    chart = charts.bars([("d1", "Karim", 15000), ("d2", "Julie", -5000)])
    karim, julie = chart.bars
    assert chart.zero == 50  # 5 000 of the 20 000 cents spanned, on 200 px
    assert (karim.rect.x, karim.rect.width) == (50, 150)
    assert (julie.rect.x, julie.rect.width) == (0, 50)
    assert julie.amount_x == 50 + 6  # its amount is written after the zero line


def test_the_axis_steps_are_round_amounts():
    assert charts.nice_step(0) == 100  # 1 €
    assert charts.nice_step(22000) == 10000  # 220 € in steps of 100 €: 3 steps
    assert charts.nice_step(40001) == 20000
    assert charts.nice_step(123456789) == 50000000


def test_day_columns_stand_on_the_zero_line_in_proportion():
    chart = charts.columns(
        [("2026-03-09", "09/03", (0, -2000)), ("2026-03-10", "10/03", (13600, 22000))]
    )
    # Steps of 100 €: 300 € above the zero line, 100 € below, over 200 px.
    assert [(t.value, t.y) for t in chart.ticks] == [
        (30000, charts.COL_TOP),
        (20000, charts.COL_TOP + 50),
        (10000, charts.COL_TOP + 100),
        (0, charts.COL_TOP + 150),
        (-10000, charts.COL_TOP + 200),
    ]
    zero = chart.zero
    assert zero == charts.COL_TOP + 150
    credited, (collected, invoiced) = chart.groups[0].columns[1], chart.groups[1].columns
    assert (collected.rect.y, collected.rect.height) == (zero - 68, 68)  # 136/400 × 200
    assert (invoiced.rect.y, invoiced.rect.height) == (zero - 110, 110)
    assert (credited.rect.y, credited.rect.height) == (zero, 10)  # −20 € hangs below
    assert invoiced.rect.x == collected.rect.x + charts.COL_BAR + charts.COL_GAP
    assert chart.groups[1].x - chart.groups[0].x == charts.COL_GROUP
    assert chart.width == chart.right + charts.COL_AXIS
