"""A dispatcher's morning in a real browser (Chromium): two orders arrive from an ordering
party's system, three calls are taken at the desk (priced, then saved), the five are
given to two drivers from the board, one is given to the other driver, one is cancelled
with a reason; the drivers' tablets (real field clients) then hold exactly their
missions; a step recorded on a tablet shows on the board after its sync, without
reloading the page; a lookup by a plate typed "ab 123 cd" opens the vehicle's history.
SQLite only: the browser is the subject."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from server import demo
from tests.browser import DESKTOP, LiveServer, new_page, screenshot
from tests.dispatch_support import api_order, on_tablet, party_key
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

D = Decimal
# The demo's own missions of each driver (server/demo.py gives them in turn).
DEMO = {
    "d1": {"M-A-0006", "M-A-0001", "M-A-0004", "M-P-0001"},
    "d2": {"M-A-0007", "M-A-0002", "M-B-0002"},
}


def sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/desk/login")
    page.fill("input[name=tenant]", "demo")
    page.fill("input[name=login]", "bureau")
    page.fill("input[name=password]", demo.PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{url}/desk/")


def take_call(page: Any, url: str, fields: dict[str, str], party: str = "") -> str:
    """The clerk types the call, asks for the price, reads it, saves."""
    page.goto(f"{url}/desk/dispatch")
    page.click("text=Prendre un appel")
    page.select_option("#f-party_id", party)
    page.select_option("#f-vehicle_class", "VL")
    for name, value in fields.items():
        page.fill(f"#f-{name}", value)
    page.click("button[value=preview]")
    preview = page.locator("#preview")
    assert "À encaisser auprès du client" in preview.inner_text()
    mission = preview.locator("h2").inner_text().rsplit(" ", 1)[-1]
    page.click("button[value=save]")
    page.wait_for_url(f"{url}/desk/dispatch")
    assert f"Appel enregistré : mission {mission}" in page.locator(".flash.ok").inner_text()
    return mission


def assign(page: Any, url: str, mission: str, driver: str, *, keyboard: bool = False) -> str:
    card = page.locator(f'article[data-mission="{mission}"]')
    choice = card.locator("form.assign select[name=driver_id]")
    assert choice.locator("option").count() == 1  # "—": the board lists its drivers once
    # The dispatcher reaches for the list, with the mouse or the keyboard (its focus):
    # dispatch.js fills it from the board's.
    if keyboard:
        choice.focus()
    else:
        choice.click()
    mine = card.locator("form.assign select").get_attribute("data-current")
    active = page.evaluate(
        "[...document.getElementById('driver-choices').content.children].map(o => o.value)"
    )
    assert active == ["d1", "d2", "d3"]
    assert choice.locator("option").evaluate_all("os => os.map(o => o.value)") == [
        "",
        *(d for d in active if d != mine),
    ]
    choice.select_option(driver)
    card.locator("form.assign button[type=submit]").click()
    page.wait_for_url(f"{url}/desk/dispatch")
    return str(page.locator(".flash.ok").inner_text())


def test_a_dispatchers_morning(browser, world, tmp_path):  # noqa: F811
    world.app.config["DESK_DISPATCH_REFRESH_SECONDS"] = 1
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    julie = world.tablet(tmp_path / "julie", "d2", "2222")
    for tablet in (karim, julie):
        world.sync(tablet)
    key = party_key(world, "ASSIST-A")
    from_api = [
        api_order(world, key, message_id="A-1", file_number="A-2026-0901", plate="JK-321-LM"),
        api_order(world, key, message_id="A-2", file_number="A-2026-0902", plate="NP-654-QR"),
    ]
    live = LiveServer(world.app)
    try:
        page = new_page(browser, DESKTOP)
        sign_in(page, live.url)
        page.click("header nav >> text=Répartition")
        assert page.locator("#unassigned article.mission").count() == 2

        where = {"from_address": "12 rue de la Gare", "from_city": "Lyon"}
        by_phone = [
            take_call(
                page,
                live.url,
                {**where, "plate": "ab 123 cd", "caller_name": "Claire Martin",
                 "caller_phone": "06 12 34 56 78", "km_loaded": "12"},
            ),
            take_call(
                page,
                live.url,
                {**where, "plate": "EF-456-GH", "file_number": "B-2026-0601",
                 "caller_name": "Paul Leroy", "km_loaded": "30"},
                party="ASSIST-B",
            ),
            take_call(
                page,
                live.url,
                {**where, "plate": "1234 ab 69", "caller_phone": "+33 7 00 11 22 33"},
            ),
        ]  # fmt: skip
        screenshot(page, "desk-dispatch-unassigned")
        assert page.locator("#unassigned article.mission").count() == 5

        morning = [*from_api, *by_phone]
        karims, julies = morning[:3], morning[3:]
        for mission in karims:
            assert "attribuée à Karim" in assign(page, live.url, mission, "d1")
        for mission in julies:
            assert "attribuée à Julie" in assign(page, live.url, mission, "d2", keyboard=True)
        moved = karims[2]  # Karim's third goes to Julie
        assert "retirée de la tablette de Karim" in assign(page, live.url, moved, "d2")
        cancelled = julies[0]
        card = page.locator(f'article[data-mission="{cancelled}"]')
        card.locator("details.cancel summary").click()
        card.locator("textarea[name=reason]").fill("Le client est reparti par ses moyens")
        card.locator("details.cancel button[type=submit]").click()
        page.wait_for_url(f"{live.url}/desk/dispatch")
        assert (
            "annulée : Le client est reparti par ses moyens"
            in page.locator(".flash.ok").inner_text()
        )
        assert page.locator("#unassigned article.mission").count() == 0
        assert page.locator(f'#cancelled article[data-mission="{cancelled}"]').count() == 1

        # The tablets get exactly their missions.
        for tablet in (karim, julie):
            world.sync(tablet)
        karim_has = {m for m, s in on_tablet(karim).items() if s != "cancelled"}
        julie_has = {m for m, s in on_tablet(julie).items() if s != "cancelled"}
        assert karim_has == DEMO["d1"] | {karims[0], karims[1]}
        assert julie_has == DEMO["d2"] | {moved, julies[1]}
        assert on_tablet(julie)[cancelled] == "cancelled"

        # Karim sets off: the board follows after his sync, by itself.
        page.evaluate("window.notReloaded = true")
        karim.register_open(D("50.00"))
        karim.step(karims[0], "en_route")
        world.clock.advance(minutes=12)
        world.sync(karim)
        page.wait_for_selector(
            f'#driver-d1 article[data-mission="{karims[0]}"][data-status="en_route"]'
        )
        assert page.evaluate("window.notReloaded") is True
        assert (
            "Tablette : en route"
            in page.locator(f'article[data-mission="{karims[0]}"]').inner_text()
        )
        screenshot(page, "desk-dispatch")

        # A caller reads out a plate: the vehicle's whole history.
        page.fill("header form.lookup input[name=q]", "ab 123 cd")
        page.click("header form.lookup button[type=submit]")
        page.wait_for_url(f"{live.url}/desk/lookup/vehicle/AB123CD")
        assert page.locator("h1").inner_text() == "Véhicule AB-123-CD"
        rows = page.locator("#history-missions tbody tr[data-mission]")
        assert rows.count() == 1
        assert by_phone[0] in rows.first.inner_text() and "Julie" in rows.first.inner_text()
        assert "Claire Martin (06 12 34 56 78)" in page.locator("main").inner_text()
        screenshot(page, "desk-lookup")
    finally:
        live.close()
