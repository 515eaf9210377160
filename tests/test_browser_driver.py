"""The driver's screen in a real browser on a phone-sized screen: a tablet enrolled with a
real office server for two drivers; Karim is stopped at the gate, collects by card, moves
on and syncs; Julie, signed in on the same tablet, cannot see his mission."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fieldclient import syncing
from fieldclient.home import Home
from fieldclient.screen import create_app
from fieldclient.tablet import Tablet
from server.devices import tablets as devices
from tests.browser import PHONE, LiveServer, new_page, screenshot
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.wsgi_faults import URL

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

MISSION = "M-A-0004"  # Karim's (demo): the customer owes 96,00 € before leaving the scene


def shared_tablet(world: World, home: Path) -> str:  # noqa: F811
    """A tablet the office enrolled for Karim (d1) and Julie (d2), with their missions."""
    with world.engine.begin() as conn:
        code = devices.create_enrolment_code(
            conn, "demo", ["d1", "d2"], "Camion 3", created_by="test", now=world.clock()
        )["code"]
    tablet = Tablet(Home(home), clock=world.clock)
    try:
        syncing.enroll(tablet, URL, code, label="Camion 3", client=world.client())
        world.sync(tablet)
        return tablet.device_id
    finally:
        tablet.close()


def words(locator: Any) -> str:
    """What the locator shows, with the narrow and no-break spaces of French amounts
    read as spaces."""
    return " ".join(locator.inner_text().replace("\u00a0", " ").replace("\u202f", " ").split())


def sign_in(page: Any, url: str, driver: str, pin: str) -> None:
    page.goto(url + "/login")
    page.check(f"input[name=driver][value={driver}]")
    page.fill("input[name=pin]", pin)
    page.click("form button[type=submit].primary")
    page.wait_for_url(url + "/missions")


def test_a_driver_is_stopped_at_the_gate_collects_by_card_moves_on_and_syncs(
    browser,
    world,  # noqa: F811
    tmp_path,
):
    device = shared_tablet(world, tmp_path / "tablet")
    app = create_app(
        tmp_path / "tablet", clock=world.clock, sync_client=lambda t, _lang: world.client(t)
    )
    live = LiveServer(app)
    karim = julie = None
    try:
        karim = new_page(browser, PHONE)
        sign_in(karim, live.url, "d1", "1111")
        card = karim.locator(f"a[data-mission={MISSION}]")
        assert "96,00 €" in words(card) and "à encaisser" in words(card)
        screenshot(karim, "driver-missions")

        card.click()
        karim.click("button[data-step=en_route]")
        karim.click("button[data-step=on_site]")
        leave = karim.locator("button[data-step=departed]")
        assert "Encaissez 96,00 € avant de quitter les lieux" in words(leave)
        leave.click()  # the driver tries to leave anyway
        stopped = words(karim.locator("#error"))
        assert "Impossible de quitter les lieux" in stopped
        assert "Montant restant à encaisser : 96,00 €" in stopped
        assert words(karim.locator(".hero .badge")) == "sur place"
        screenshot(karim, "driver-mission-gate-closed")

        karim.click("text=Ouvrir ma caisse")
        karim.fill("input[name=float]", "50,00")
        karim.click("form button[type=submit].primary")
        karim.wait_for_url(f"{live.url}/missions/{MISSION}")
        karim.click("a[data-method=card]")
        fields = karim.locator(".collect-form input:not([type=hidden])")
        assert sorted(fields.evaluate_all("els => els.map(e => e.name)")) == [
            "amount",
            "terminal_ref",
        ]
        assert karim.input_value("input[name=amount]") == "96,00"
        karim.fill("input[name=terminal_ref]", "AUT-7731")
        karim.evaluate("window.scrollTo(0, 0)")  # a full-page picture from the top
        screenshot(karim, "driver-collect-card")
        karim.click(".collect-form button[type=submit]")
        # The receipt opens full-screen, for the customer to read or photograph.
        karim.wait_for_url(re.compile(rf"/missions/{MISSION}/receipts/1(#.*)?$"))
        assert "Encaissé : 96,00 € (carte bancaire)" in words(karim.locator(".flash.ok"))
        assert words(karim.locator(".receipt h1")) == f"Reçu n° {device}-000001"
        assert "96,00 € (carte bancaire)" in words(karim.locator(".receipt tr.strong"))
        screenshot(karim, "driver-receipt")
        karim.click("a.back-to-mission")
        assert words(karim.locator(".big-amount")) == "0,00 €"

        karim.click("button[data-step=departed]")
        assert "Étape enregistrée : départ des lieux." in words(karim.locator(".flash.ok"))
        assert words(karim.locator(".hero .badge")) == "départ des lieux"
        screenshot(karim, "driver-mission-settled")

        karim.click("nav.tabs a[href='/sync']")
        assert words(karim.locator("#waiting")) == "6"
        karim.click("button:has-text('Synchroniser maintenant')")
        assert "Synchronisé : 6 entrée(s) envoyée(s)" in words(karim.locator(".flash.ok"))
        assert words(karim.locator("#waiting")) == "0"
        screenshot(karim, "driver-sync")
        held = world.server_chain(device)
        assert [e.entry.type for e in held] == [
            "valuation_recorded",
            "mission_step",
            "mission_step",
            "register_opened",
            "collection",
            "mission_step",
        ]
        collection = held[4].entry.payload
        assert (collection["amount"], collection["terminal_ref"]) == ("96.00", "AUT-7731")

        julie = new_page(browser, PHONE)
        sign_in(julie, live.url, "d2", "2222")
        listed = julie.locator("a[data-mission]").evaluate_all(
            "els => els.map(e => e.dataset.mission)"
        )
        assert listed and MISSION not in listed
        assert sorted(listed) == ["M-A-0002", "M-A-0007", "M-B-0002"]
        answer = julie.goto(f"{live.url}/missions/{MISSION}")
        assert answer is not None and answer.status == 404
    finally:
        for page in (karim, julie):
            if page is not None:
                page.context.close()
        live.close()
