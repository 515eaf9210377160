"""The lookup at the call (/desk/lookup): one search box on every desk page finds a
vehicle by its plate however it is typed, a customer by phone, name or account, a
mission by its file number, the ordering party's reference or an invoice number, and
opens the whole history: missions, files, collections, invoices and credit notes,
claims, and the money still owed, flagged. The month of tests/debts_support.py
(tenant "acme", at 31/03/2026); another company's vehicles are never found. On SQLite
and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from server.app import create_app
from server.people import hashing, identity
from tests.debts_support import TENANT, at, build
from tests.desk_support import sign_in
from tests.dispatch_support import text
from tests.invoicing_support import set_up
from tests.server_support import PASSWORD, Clock
from tests.storage import engine  # noqa: F401


class Office:
    def __init__(self, engine: sa.Engine, tmp: Any) -> None:  # noqa: F811
        build(engine)
        self.app = create_app(
            {
                "ENGINE": engine,
                "VAR_DIR": str(tmp / "var"),
                "SECRET_KEY": "t",
                "CLOCK": Clock(at(3, 31, 16)),
            }
        )
        with engine.begin() as conn:
            for login, role in (("bureau", "office"), ("chauffeur", "driver")):
                identity.create_user(
                    conn, TENANT, login, login.title(), PASSWORD, role, actor="t", now=at(1, 1)
                )
            set_up(conn, "other")  # another company, with its own GH-482-KL mission
            identity.create_user(
                conn, "other", "bureau", "Autre", PASSWORD, "office", actor="t", now=at(1, 1)
            )

    def desk(self, login: str = "bureau", tenant: str = TENANT) -> Any:
        client = self.app.test_client()
        assert sign_in(client, login, tenant=tenant, password=PASSWORD).status_code == 302
        return client


@pytest.fixture
def office(engine, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(hashing, "N", 2**8)
    return Office(engine, tmp_path)


@pytest.mark.parametrize("typed", ["mn 321 op", "MN321OP", "mn-321-op", "  Mn 321-OP "])
def test_a_plate_typed_any_way_opens_the_vehicles_history_with_its_unpaid_invoice(office, typed):
    client = office.desk()
    found = client.get("/desk/lookup", query_string={"q": typed})
    assert (found.status_code, found.headers["Location"]) == (302, "/desk/lookup/vehicle/MN321OP")
    page = text(client.get(found.headers["Location"]))
    assert "Véhicule MN-321-OP" in page
    assert "Impayé : 180,00 € — dont 180,00 € échus" in page
    assert (
        "F2026-000001 Client (véhicule MN-321-OP) 10/01/2026 10/01/2026 en retard de 80 j" in page
    )
    assert "M-P-0005 MN-321-OP Client privé P-M-P-0005" in page
    assert "F2026-000001 Facture 10/01/2026 M-P-0005 Client · Client (véhicule MN-321-OP)" in page
    assert "à payer — reste 180,00 €" in page


def test_an_invoice_number_opens_the_vehicle_with_its_collections_claims_and_no_debt(office):
    client = office.desk()
    page = text(
        client.get("/desk/lookup", query_string={"q": "f2026-000006"}, follow_redirects=True)
    )
    assert "Véhicule GH-482-KL" in page
    assert "Rien : aucune facture de ce client ne reste à payer." in page
    assert "M-A-0003" in page and "Assistance A" in page
    assert "Espèces — 100,00 €" in page  # the cash taken on site
    assert "F2026-000005 Facture" in page and "F2026-000006 Facture" in page
    assert "payée" in page
    assert "F2026-000005 Assistance A" in page  # the claim on the ordering party


def test_a_customer_account_and_a_credit_note_show_on_the_customers_history(office):
    client = office.desk()
    page = text(client.get("/desk/lookup", query_string={"q": "garage"}, follow_redirects=True))
    assert "Compte client GARAGE-DUPONT" in page
    assert "Impayé : 130,60 €" in page and "échus" not in page  # due at 30 days: not late
    other = text(client.get("/desk/lookup", query_string={"q": "IJ-789-KL"}, follow_redirects=True))
    assert "Avoir (de F2026-000003)" in other and "Geste commercial" not in other.split("Avoir")[0]


def test_nothing_found_says_what_can_be_looked_up_and_another_company_is_never_found(office):
    client = office.desk()
    empty = client.get("/desk/lookup", query_string={"q": "ZZ-999-ZZ"})
    assert empty.status_code == 200
    assert "Rien ne correspond à « ZZ-999-ZZ »" in text(empty)
    theirs = office.desk(tenant="other")
    assert "Rien ne correspond" in text(theirs.get("/desk/lookup", query_string={"q": "MN 321 OP"}))
    assert theirs.get("/desk/lookup/vehicle/MN321OP").status_code == 404
    too_long = client.get("/desk/lookup", query_string={"q": "x" * 121})
    assert too_long.status_code == 400


def test_the_search_box_is_on_every_page_for_those_who_may_use_it(office):
    client = office.desk()
    for path in ("/desk/", "/desk/debts", "/desk/documents", "/desk/dispatch"):
        assert 'action="/desk/lookup"' in client.get(path).get_data(as_text=True), path
    driver = office.desk("chauffeur")
    assert 'action="/desk/lookup"' not in driver.get("/desk/").get_data(as_text=True)
    assert driver.get("/desk/lookup?q=MN321OP").status_code == 403
    assert driver.get("/desk/lookup/vehicle/MN321OP").status_code == 403


def test_the_history_speaks_english_too(office):
    client = office.desk()
    client.get("/desk/?lang=en")
    page = text(client.get("/desk/lookup/vehicle/MN321OP"))
    assert "Vehicle MN-321-OP" in page and "Unpaid: €180.00" in page
    assert "Paris time (Europe/Paris)" in page
