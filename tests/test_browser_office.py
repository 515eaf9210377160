"""The office in a real browser (Chromium): a day synced from the tablets, the clerk
accepts a driver's price dispute (the invoices are credited and issued anew), finds the
collection that is now an over-collection in the anomaly list, voids it in one action (reason,
then confirmation) and sees the credit note and the void on the mission page; the void
reaches the tablet at its next sync. Another company's user cannot open these pages; the
list filtered by driver shows that driver only. SQLite only: the browser is the subject."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from server import demo
from server.people import identity
from tests.browser import DESKTOP, LiveServer, new_page, screenshot
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_desk_mission import MISSION, disputed_day
from tests.test_office_day import forged, value_first

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

D = Decimal


def julies_discount(w: World, tmp_path: Path) -> None:
    """Julie grants a discount citing a code nobody issued: an anomaly of hers."""
    julie = w.tablet(tmp_path / "julie", "d2", "2222")
    w.sync(julie)
    julie.register_open(D("20.00"))
    value_first(julie, "M-A-0002")
    forged(
        julie, "discount", {"mission_id": "M-A-0002", "amount": "15.00", "approval_ref": "1:0000"}
    )
    w.sync(julie)


def sign_in(page: Any, url: str, login: str, password: str, tenant: str = "demo") -> None:
    page.goto(f"{url}/desk/login")
    page.fill("input[name=tenant]", tenant)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{url}/desk/")


def resolve(page: Any, action: str, reason: str, question: str) -> None:
    """Fill the action's form, check the confirmation sentence, confirm."""
    form = page.locator(f"#action-{action} form")
    form.locator("textarea[name=reason]").fill(reason)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".confirm")
    assert page.locator(".confirm h2").inner_text() == question


def test_the_clerk_voids_an_over_collection_and_sees_the_credit_note(
    browser,
    world,  # noqa: F811
    tmp_path,
):
    karim = disputed_day(world, tmp_path)
    julies_discount(world, tmp_path)
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "autre", "Autre SARL", payments_enabled=True, now=START)
        identity.create_user(
            conn, "autre", "chef", "Chef Autre", "pass-autre-1", "admin", actor="t", now=START
        )
    live = LiveServer(world.app)
    try:
        page = new_page(browser, DESKTOP)
        sign_in(page, live.url, "bureau", demo.PASSWORD)

        # The driver's dispute first: accepted, the mission is valued with version 2.
        page.click("header nav >> text=Anomalies")
        page.locator("tr[data-kind=dispute_raised] a.button").click()
        resolve(
            page,
            "accept_dispute",
            "Treuillage couvert (convention v2)",
            f"Confirmer : revaloriser la mission {MISSION} avec les conventions actuelles et"
            " corriger ses factures ?",
        )
        page.click(".confirm button[type=submit]")
        page.wait_for_url(f"{live.url}/desk/missions/{MISSION}")
        flash = page.locator(".flash.ok").inner_text()
        assert "contestation acceptée" in flash
        assert "A2026-000002 (avoir, 96,00\u00a0€)" in flash

        # The 96.00 the customer paid is no longer due: an over-collection to refund.
        page.click("header nav >> text=Anomalies")
        page.locator("ul.counts a[data-kind=over_collection]").click()
        rows = page.locator("table.anomalies tbody tr[data-anomaly]")
        assert rows.count() == 1
        row_text = rows.first.inner_text()
        assert "Trop encaissé" in row_text and "96,00\u00a0€" in row_text
        assert "Karim" in row_text and MISSION in row_text
        screenshot(page, "desk-anomalies")
        anomaly_url = f"{live.url}/desk/anomalies/{rows.first.get_attribute('data-anomaly')}"

        rows.first.locator("a.button").click()
        assert page.locator("#action-void").is_visible()
        actions = page.locator("form input[name=action]")  # only what fits an over-collection
        assert [actions.nth(i).get_attribute("value") for i in range(actions.count())] == [
            "void",
            "acknowledge",
        ]
        resolve(
            page,
            "void",
            "Remboursé au client : treuillage pris en charge",
            # The dispute's credit note left nothing billed: the void gives a refund receipt.
            "Confirmer : annuler l'encaissement de 96,00\u00a0€ de Karim ? Le client reçoit un"
            " reçu de remboursement.",
        )
        screenshot(page, "desk-anomaly-resolve")
        page.click(".confirm button[type=submit]")
        page.wait_for_url(f"{live.url}/desk/missions/{MISSION}")
        flash = page.locator(".flash.ok").inner_text()
        assert "Trop encaissé) résolue : encaissement annulé." in flash
        assert "Décision envoyée à la tablette de Karim (dec_" in flash

        # The mission page: the credit note on the beneficiary's invoice, its PDF, the void.
        credit = page.locator("tr[data-document='A2026-000002']")
        assert "Avoir" in credit.inner_text() and "corrige F2026-000002" in credit.inner_text()
        assert "96,00\u00a0€" in credit.inner_text()
        pdf = page.request.get(live.url + credit.locator("a.pdf").get_attribute("href"))
        assert pdf.status == 200
        assert pdf.headers["content-type"].startswith("application/pdf")
        assert pdf.body().startswith(b"%PDF")
        collection = page.locator("tr[data-type=collection]")
        assert "annulé par le bureau" in collection.inner_text()

        # The tablet records the reversal at its next sync; the page follows.
        report = world.sync(karim)
        assert report.decisions == 1
        assert [r.type for r in karim.ledger().rows()][-1] == "reversal"
        page.reload()
        assert "appliquée" in page.locator("tr[data-decision]").inner_text()
        assert page.locator("tr[data-type=reversal]").count() == 1
        screenshot(page, "desk-mission")

        # A driver's data: the list filtered by Julie shows hers only.
        page.goto(f"{live.url}/desk/anomalies?status=all")
        page.select_option("select[name=driver_id]", "d2")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r".*driver_id=d2.*"))
        drivers = page.locator("table.anomalies td.driver").all_inner_texts()
        assert drivers and set(drivers) == {"Julie"}

        # Another company's user: neither the mission nor the anomaly exists for them.
        other = new_page(browser, DESKTOP)
        sign_in(other, live.url, "chef", "pass-autre-1", tenant="autre")
        for url in (f"{live.url}/desk/missions/{MISSION}", anomaly_url):
            answer = other.goto(url)
            assert answer is not None and answer.status == 404
            assert "GH-482-KL" not in other.content() and "Karim" not in other.content()
        other.goto(f"{live.url}/desk/anomalies?status=all")
        assert other.locator("tr[data-anomaly]").count() == 0
        other.context.close()
        page.context.close()
    finally:
        live.close()
