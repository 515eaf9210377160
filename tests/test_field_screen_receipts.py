"""The receipt and the customer on the driver's screen (Flask's test client): a collection
opens its receipt full-screen, in French or in English for the customer whatever the
driver reads; who pays on site is captured on the mission page, and a field that does
not read is named and records nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.field_support import Clock, feed, offline_tablet
from tests.test_field_receipts import seller_change
from tests.test_field_screen import OWED, Screen, post, signed_in, text


@pytest.fixture
def screen(tmp_path: Path) -> Screen:
    clock = Clock()
    tablet = offline_tablet(tmp_path / "tablet", clock, signed_in=None)
    feed(tablet, [seller_change()])
    tablet.close()
    return Screen(tmp_path / "tablet", clock)


def test_a_collection_opens_its_receipt_full_screen_in_either_language(screen):
    client = signed_in(screen)
    post(client, "/register/open", {"float": "0"})
    paid = post(
        client, f"/missions/{OWED}/collect", {"method": "cash", "amount": "96", "tendered": "100"}
    )
    assert paid.headers["Location"] == f"/missions/{OWED}/receipts/1"
    page = client.get(f"/missions/{OWED}/receipts/1")
    shown = text(page)
    assert page.status_code == 200
    assert "Reçu n° dev_test_tablet-000001" in shown
    assert "Dépannage Acme SAS" in shown and "SIRET 73282932000017" in shown
    assert "Reçu ce jour 96,00 € (espèces)" in shown
    assert "Rendu 4,00 €" in shown and "Reste à votre charge 0,00 €" in shown
    assert 'class="tabs"' not in page.get_data(as_text=True)  # nothing but the receipt
    english = text(client.get(f"/missions/{OWED}/receipts/1?for=en"))
    assert "Receipt no. dev_test_tablet-000001" in english
    assert "Received today €96.00 (cash)" in english
    assert client.get(f"/missions/{OWED}/receipts/2").status_code == 404
    mission = text(client.get(f"/missions/{OWED}"))
    assert "Reçu n° dev_test_tablet-000001" in mission  # listed on the mission page


def test_the_customer_is_captured_checked_and_printed_on_the_next_receipt(screen):
    client = signed_in(screen)
    before = screen.journal()
    bad = post(
        client,
        f"/missions/{OWED}/beneficiary",
        {"name": "Marie Dupont", "phone": "12 34", "email": ""},
    )
    assert bad.status_code == 422
    assert "phone: numéro de téléphone non reconnu" in text(bad)
    assert 'value="Marie Dupont"' in bad.get_data(as_text=True)  # what was typed stays
    assert screen.journal() == before
    saved = post(
        client,
        f"/missions/{OWED}/beneficiary",
        {"name": "Marie Dupont", "address": "4 rue Neuve", "postcode": "69003", "city": "Lyon"},
    )
    assert saved.status_code == 302 and screen.journal() == before + 1
    assert "Client enregistré." in text(client.get(f"/missions/{OWED}"))
    post(client, "/register/open", {"float": "0"})
    post(
        client, f"/missions/{OWED}/collect", {"method": "card", "amount": "96", "terminal_ref": "A"}
    )
    shown = text(client.get(f"/missions/{OWED}/receipts/1"))
    assert "Marie Dupont 4 rue Neuve 69003 Lyon" in shown
