"""The registers pages: every session per driver and day, one session's entries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest

from server.people import hashing, identity
from server.platform.db import make_engine, upgrade
from tests.browser import DESKTOP, PHONE, LiveServer, new_page, screenshot
from tests.desk_support import sign_in
from tests.office_world import World
from tests.test_desk_glance import Day, a_day, money


@pytest.fixture(scope="module")
def shared_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Day]]:
    tmp = tmp_path_factory.mktemp("day")
    eng = make_engine(f"sqlite:///{tmp / 'towline.db'}")
    upgrade(eng)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashing, "N", 2**8)
        w = World(eng, tmp)
        yield w, a_day(w, tmp)
    eng.dispose()


def bureau(world: World) -> Any:
    client = world.app.test_client()
    sign_in(client, "bureau")
    return client


def rows(html: str) -> list[list[str]]:
    """The cells' text of the page's table (what a phone shows instead left out)."""
    html = re.sub(r'<span class="narrow[^"]*">.*?</span>', "", html, flags=re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body, "no table"
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def test_every_session_with_its_figures(shared_day):
    world, _ = shared_day
    html = bureau(world).get("/desk/registers").get_data(as_text=True)
    assert '<th class="num">Espèces</th>' in html and '<th class="num">Carte bancaire</th>' in html
    assert "Chèque" not in html  # no column for a method nobody used
    # opened, driver, tablet, status, float, cash, card, deposits, expected, counted, variance
    assert sorted(rows(html), key=lambda r: r[1]) == [
        [
            "10/03/2026 08:30",  # 07:30 UTC, in Paris
            "Julie",
            "Tablette d2",
            "Fermée",
            money("20.00"),
            money("0.00"),
            money("0.00"),
            money("0.00"),
            money("20.00"),
            money("15.00"),
            "-" + money("5.00"),
        ],
        [
            "10/03/2026 08:30",  # 07:30 UTC, in Paris
            "Karim",
            "Tablette d1",
            "Ouverte",
            money("50.00"),
            money("40.00"),
            money("96.00"),
            money("0.00"),
            money("90.00"),
            "—",
            "—",
        ],
    ]


def test_a_variance_is_highlighted_and_links_to_its_anomaly(shared_day):
    world, _ = shared_day
    client = bureau(world)
    anomaly = client.get(
        "/api/v1/anomalies?kind=register_variance", headers=world.as_user("bureau")
    ).get_json()
    assert [a["driver_id"] for a in anomaly] == ["d2"]
    html = client.get("/desk/registers?driver=d2").get_data(as_text=True)
    cell = re.search(r'<td class="num bad"><a class="bad" href="([^"]+)"', html)
    assert cell, "the variance is not highlighted"
    link = cell.group(1).replace("&amp;", "&")
    assert link in (
        f"/desk/anomalies/{anomaly[0]['id']}",
        "/desk/anomalies?kind=register_variance&driver_id=d2",
    )
    assert [r[1] for r in rows(html)] == ["Julie"]


def test_filters_by_day_and_driver(shared_day):
    world, _ = shared_day
    client = bureau(world)
    assert len(rows(client.get("/desk/registers?day=2026-03-10").get_data(as_text=True))) == 2
    karim = client.get("/desk/registers?driver=d1&day=2026-03-10").get_data(as_text=True)
    assert [r[1] for r in rows(karim)] == ["Karim"]
    other_day = client.get("/desk/registers?day=2026-03-09").get_data(as_text=True)
    assert "Aucune caisse pour ces critères." in other_day
    bad = client.get("/desk/registers?day=hier")
    assert bad.status_code == 400 and "Date invalide" in bad.get_data(as_text=True)
    unknown = client.get("/desk/registers?driver=d9")
    assert unknown.status_code == 400 and "Chauffeur inconnu" in unknown.get_data(as_text=True)


def detail_path(html: str, driver: str) -> str:
    found = re.search(rf'href="(/desk/registers/{driver}/[^"]+)"', html)
    assert found, f"no link to {driver}'s session"
    return found.group(1)


def test_a_sessions_entries(shared_day):
    world, _ = shared_day
    client = bureau(world)
    path = detail_path(client.get("/desk/registers").get_data(as_text=True), "d2")
    html = client.get(path).get_data(as_text=True)
    assert "Caisse de Julie" in html
    # seq, time, entry, mission, method, amount
    entries = rows(html)
    assert [(r[2], r[3], r[4], r[5]) for r in entries] == [
        ("Ouverture de caisse", "—", "—", money("20.00")),
        ("Encaissement", "M-B-0002", "Espèces", money("25.00")),
        ("Annulation d'encaissement", "M-B-0002", "Espèces", "−" + money("25.00")),
        ("Fermeture de caisse", "—", "—", money("15.00")),
    ]
    assert [int(r[0]) for r in entries] == sorted(int(r[0]) for r in entries)
    assert {r[1] for r in entries} == {"08:30"}  # the day is the title's; Paris time
    english = client.get(path + "?lang=en").get_data(as_text=True)
    assert "Register of Julie" in english and "Expected cash" in english and "€20.00" in english


def test_another_drivers_or_tenants_session_is_not_found(shared_day):
    world, _ = shared_day
    client = bureau(world)
    path = detail_path(client.get("/desk/registers").get_data(as_text=True), "d2")
    assert client.get(path).status_code == 200
    assert client.get(path.replace("/d2/", "/d1/")).status_code == 404
    assert client.get(path.rsplit("/", 1)[0] + "/999").status_code == 404
    with world.engine.begin() as conn:
        identity.create_tenant(
            conn, "autre", "Autre Dépannage", payments_enabled=True, now=world.clock.now
        )
        identity.create_user(
            conn, "autre", "chef", "Chef", "autre-pass", "office", actor="t", now=world.clock.now
        )
    other = world.app.test_client()
    sign_in(other, "chef", tenant="autre", password="autre-pass")
    refused = other.get(path)
    assert refused.status_code == 404 and "Julie" not in refused.get_data(as_text=True)
    assert "Aucune caisse" in other.get("/desk/registers").get_data(as_text=True)


def test_the_registers_need_the_reconcile_right(shared_day):
    world, _ = shared_day
    with world.engine.begin() as conn:
        identity.create_user(
            conn, "demo", "stagiaire", "Stan", "stan-pass", "driver", actor="t", now=world.clock.now
        )
    client = world.app.test_client()
    sign_in(client, "stagiaire", password="stan-pass")
    answer = client.get("/desk/registers")
    assert answer.status_code == 403 and "rapprocher les caisses" in answer.get_data(as_text=True)


def test_pages_look_right_on_a_phone_and_a_desktop(shared_day, browser):
    world, _ = shared_day
    server = LiveServer(world.app)
    try:
        page = new_page(browser, PHONE)
        page.goto(server.url + "/desk/login")
        page.fill("input[name=tenant]", "demo")
        page.fill("input[name=login]", "bureau")
        page.fill("input[name=password]", "demo-towline")
        page.click("button[type=submit]")
        page.wait_for_url("**/desk/")
        assert page.locator("svg#chart-methods rect").count() == 2
        # The days' chart opens on its right end: today's columns are in view.
        today = page.locator('svg#chart-days rect[data-key="2026-03-10"]').first.bounding_box()
        first = page.locator('svg#chart-days rect[data-key="2026-02-25"]').first.bounding_box()
        assert today and 0 < today["x"] < PHONE["width"] - today["width"]
        assert first and first["x"] < 0  # scrolled out, to the left
        screenshot(page, "desk-glance-phone")
        page.set_viewport_size(DESKTOP)
        screenshot(page, "desk-glance-desktop")
        page.set_viewport_size(PHONE)
        page.goto(server.url + "/desk/registers")
        assert page.locator("td.bad").count() == 1
        screenshot(page, "desk-registers-phone")
        page.click('a[href^="/desk/registers/d2/"]')
        assert "Caisse de Julie" in page.inner_text("h1")
        screenshot(page, "desk-register-day-phone")
        page.context.close()
    finally:
        server.close()
