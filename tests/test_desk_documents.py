"""The desk's invoices and credit notes: the list narrowed by its filters with its totals,
credit notes naming the invoice they correct, the PDF and the Factur-X XML served exactly
as stored, each tenant seeing only its own, the right `reconcile`, English on request."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from server.demo import PASSWORD
from server.office import issued_documents
from server.people import identity
from tests.browser import DESKTOP, PHONE, LiveServer, new_page, screenshot
from tests.conftest import example
from tests.desk_support import sign_in
from tests.invoicing_support import NOW, set_up, store_valuation
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

# Page tests run on SQLite; those of the list's own queries (filters, totals) on both.
SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
BOTH = pytest.mark.parametrize("engine", ["sqlite", "postgresql"], indirect=True)

NUMBER = re.compile(r'href="/desk/documents/([AF]\d{4}-\d{6})"><b>')


def invoice(w: World, mission_id: str, who: str = "bureau") -> list[dict]:
    w.tokens.clear()  # the clock moved past the API token's life
    answer = w.office.post(f"/api/v1/missions/{mission_id}/invoice", headers=w.as_user(who))
    assert answer.status_code == 201, answer.get_json()
    return list(answer.get_json())


@pytest.fixture
def docs(world):  # noqa: F811
    """Demo documents on three days (UTC): 11/03 the private tow M-P-0001 (beneficiary,
    180.00), 15/03 M-A-0003 (ASSIST-A 250.00, beneficiary 164.00), 16/03 a 20.00 credit
    note on ASSIST-A's invoice."""
    with world.engine.begin() as conn:
        store_valuation(
            conn, "demo", example("missions", "private-tow"), example("contracts", "private")
        )
        store_valuation(
            conn,
            "demo",
            example("missions", "a-saturday-accident-winching"),
            example("contracts", "assist-a"),
        )
    world.clock.now = START + timedelta(days=1)
    private = invoice(world, "M-P-0001")
    world.clock.now = START + timedelta(days=5)
    assist = invoice(world, "M-A-0003")
    world.clock.now = START + timedelta(days=6)
    op = next(d for d in assist if d["recipient_kind"] == "ordering_party")
    world.tokens.clear()
    credit = world.office.post(
        f"/api/v1/documents/{op['number']}/credit-note",
        json={"amount": "20.00", "reason": "Geste commercial"},
        headers=world.as_user("bureau"),
    )
    assert credit.status_code == 201, credit.get_json()
    issued = {
        "private": private[0],
        "op": op,
        "beneficiary": next(d for d in assist if d["recipient_kind"] == "beneficiary"),
        "credit": credit.get_json(),
    }
    # The answers came before the PDFs were made (after each request): read them again.
    world.tokens.clear()
    shown = {}
    for key, doc in issued.items():
        again = world.office.get(
            f"/api/v1/documents/{doc['number']}", headers=world.as_user("bureau")
        )
        assert again.status_code == 200 and again.get_json()["files"] == "ready"
        shown[key] = again.get_json()
    return shown


def client_for(w: World, login: str = "bureau", **kw: str):
    client = w.app.test_client()
    assert sign_in(client, login, **kw).status_code == 302
    return client


def listed(client, query: str = "") -> list[str]:
    page = client.get("/desk/documents" + query)
    assert page.status_code == 200, page.get_data(as_text=True)
    return NUMBER.findall(page.get_data(as_text=True))


@SQLITE
def test_the_pdf_served_is_the_stored_document_byte_for_byte(world, docs):  # noqa: F811
    client = client_for(world)
    for doc in docs.values():
        answer = client.get(f"/desk/documents/{doc['number']}.pdf")
        assert answer.status_code == 200
        assert answer.mimetype == "application/pdf"
        assert answer.headers["Content-Disposition"].startswith("inline")
        assert answer.data.startswith(b"%PDF-")
        with world.engine.connect() as conn:
            record = issued_documents.get_document(conn, "demo", doc["number"])
        assert hashlib.sha256(answer.data).hexdigest() == record["pdf_sha256"]

    # The ordering party's Factur-X carries the CII XML; a beneficiary's has none.
    xml = client.get(f"/desk/documents/{docs['op']['number']}/facturx.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b"CrossIndustryInvoice" in xml.data and docs["op"]["number"].encode() in xml.data
    facturx = client.get(f"/desk/documents/{docs['op']['number']}/facturx.pdf")
    assert hashlib.sha256(facturx.data).hexdigest() == docs["op"]["facturx_sha256"]
    none = client.get(f"/desk/documents/{docs['beneficiary']['number']}/facturx.xml")
    assert none.status_code == 404
    assert "pas de version Factur-X" in none.get_data(as_text=True)


@BOTH
def test_filters_narrow_the_list(world, docs):  # noqa: F811
    client = client_for(world)
    numbers = {key: doc["number"] for key, doc in docs.items()}
    same_day = sorted([docs["op"], docs["beneficiary"]], key=lambda d: d["seq"], reverse=True)
    newest_first = [numbers["credit"], *(d["number"] for d in same_day), numbers["private"]]
    assert listed(client) == newest_first
    assert listed(client, "?kind=credit_note") == [numbers["credit"]]
    assert set(listed(client, "?kind=invoice")) == {
        numbers["op"],
        numbers["beneficiary"],
        numbers["private"],
    }
    assert set(listed(client, "?recipient=beneficiary")) == {
        numbers["beneficiary"],
        numbers["private"],
    }
    assert listed(client, "?mission=M-P-0001") == [numbers["private"]]
    assert listed(client, f"?number={numbers['op'].lower()}") == [numbers["op"]]
    assert set(listed(client, "?from=2026-03-15&to=2026-03-15")) == {
        numbers["op"],
        numbers["beneficiary"],
    }
    assert listed(client, "?from=2026-03-16") == [numbers["credit"]]
    assert listed(client, "?to=2026-03-11") == [numbers["private"]]
    assert listed(client, "?kind=invoice&recipient=ordering_party&mission=M-A-0003") == [
        numbers["op"]
    ]
    assert listed(client, "?mission=M-B-0001") == []


@BOTH
def test_totals_follow_the_filters(world, docs):  # noqa: F811
    client = client_for(world)
    private = docs["private"]["total"]["incl_vat"]
    assert private == "180.00"  # the example's private tow: 150.00 excl. VAT
    page = client.get("/desk/documents").get_data(as_text=True)
    # Invoices 180.00 + 250.00 + 164.00; one credit note of 20.00; net 574.00.
    assert "Factures (3)\n    <b>594,00\u00a0€</b>" in page
    assert "Avoirs (1)\n    <b>20,00\u00a0€</b>" in page
    assert "<b>574,00\u00a0€</b>" in page
    only = client.get("/desk/documents?recipient=beneficiary").get_data(as_text=True)
    assert "Factures (2)\n    <b>344,00\u00a0€</b>" in only and "Avoirs (0)" in only


@SQLITE
def test_a_credit_note_names_the_invoice_it_corrects_and_links_the_mission(world, docs):  # noqa: F811
    client = client_for(world)
    op, credit = docs["op"]["number"], docs["credit"]["number"]
    page = client.get("/desk/documents").get_data(as_text=True)
    assert f'Corrige <a href="/desk/documents/{op}">{op}</a>' in page
    assert f'Avoirs :\n        <a href="/desk/documents/{credit}">{credit}</a>' in page
    assert 'href="/desk/missions/M-A-0003"' in page
    assert "-20,00\u00a0€" in page  # a credit note counts against the invoice
    one = client.get(f"/desk/documents/{credit}").get_data(as_text=True)
    assert f'<a href="/desk/documents/{op}">{op}</a>' in one and "Geste commercial" in one
    invoice_page = client.get(f"/desk/documents/{op}").get_data(as_text=True)
    assert "Déjà crédité TTC</dt><dd>20,00\u00a0€" in invoice_page
    assert docs["op"]["pdf_sha256"] in invoice_page


@SQLITE
def test_a_bad_filter_shows_the_form_again_with_its_reason(world, docs):  # noqa: F811
    client = client_for(world)
    answer = client.get("/desk/documents?from=2026-13-01&kind=receipt")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Du : date attendue (AAAA-MM-JJ)." in page and "Type de document inconnu." in page
    assert NUMBER.findall(page) == []
    reversed_ = client.get("/desk/documents?from=2026-03-16&to=2026-03-11&lang=en")
    assert reversed_.status_code == 400
    assert "The end date is before the start." in reversed_.get_data(as_text=True)


@BOTH
def test_another_tenants_documents_never_show(world, docs):  # noqa: F811
    with world.engine.begin() as conn:
        set_up(conn, "other")  # its own invoices, numbered from 1 too
        identity.create_user(conn, "other", "boss", "Boss", PASSWORD, "admin", actor="t", now=NOW)
    world.clock.now = NOW
    token = world.office.post(
        "/api/v1/auth/login", json={"tenant": "other", "login": "boss", "password": PASSWORD}
    ).get_json()["token"]
    theirs = []
    for mission in ("M-A-0003", "M-P-0002"):
        made = world.office.post(
            f"/api/v1/missions/{mission}/invoice", headers={"Authorization": f"Bearer {token}"}
        )
        theirs += made.get_json()
    for _ in range(2):  # A2026-000001 and A2026-000002: the second exists only there
        world.office.post(
            f"/api/v1/documents/{theirs[0]['number']}/credit-note",
            json={"amount": "1.00", "reason": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
    client = client_for(world)
    page = client.get("/desk/documents").get_data(as_text=True)
    assert "Dépannage Acme" not in page and "M-P-0002" not in page
    assert len(NUMBER.findall(page)) == 4
    for path in (
        "/desk/documents/A2026-000002",
        "/desk/documents/A2026-000002.pdf",
        "/desk/documents/A2026-000002/facturx.xml",
    ):
        assert client.get(path).status_code == 404, path
    # The same number in both companies: each desk serves its own PDF.
    mine = client.get("/desk/documents/F2026-000001.pdf").data
    assert hashlib.sha256(mine).hexdigest() == docs["private"]["pdf_sha256"]
    other = client_for(world, "boss", tenant="other")
    first = world.office.get(  # the issue answer came before its PDF was made: read it now
        "/api/v1/documents/F2026-000001", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert (
        hashlib.sha256(other.get("/desk/documents/F2026-000001.pdf").data).hexdigest()
        == first["pdf_sha256"]
    )
    theirs_page = other.get("/desk/documents").get_data(as_text=True)
    assert "M-A-0003" in theirs_page and "M-P-0001" not in theirs_page


@SQLITE
def test_documents_need_the_right_reconcile(world, docs):  # noqa: F811
    with world.engine.begin() as conn:
        identity.create_user(
            conn, "demo", "stagiaire", "Stéphane Stagiaire", PASSWORD, "driver", actor="t", now=NOW
        )
    client = client_for(world, "stagiaire")
    for path in ("/desk/documents", f"/desk/documents/{docs['op']['number']}.pdf"):
        answer = client.get(path)
        assert answer.status_code == 403
        assert "rapprocher les caisses" in answer.get_data(as_text=True)
    anonymous = world.app.test_client().get(f"/desk/documents/{docs['op']['number']}.pdf")
    assert anonymous.status_code == 302 and "/desk/login" in anonymous.headers["Location"]


@SQLITE
def test_the_list_in_english(world, docs):  # noqa: F811
    client = client_for(world)
    page = client.get("/desk/documents?lang=en").get_data(as_text=True)
    assert "Invoices and credit notes" in page and "Credit note" in page
    assert f'Corrects <a href="/desk/documents/{docs["op"]["number"]}">' in page
    assert "€594.00" in page and "Ordering party" in page


@SQLITE
def test_the_list_looks_right_on_a_phone_and_a_desktop(world, docs, browser):  # noqa: F811
    server = LiveServer(world.app)
    try:
        page = new_page(browser, PHONE)
        page.goto(server.url + "/desk/login?next=/desk/documents")
        page.fill("input[name=tenant]", "demo")
        page.fill("input[name=login]", "bureau")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/desk/documents")
        assert page.locator("table.docs tbody tr").count() == 4
        screenshot(page, "desk-documents-phone")
        page.select_option("select[name=kind]", "credit_note")
        page.click("text=Filtrer")
        page.wait_for_url("**/desk/documents?kind=credit_note*")
        assert page.locator("table.docs tbody tr").count() == 1
        page.set_viewport_size(DESKTOP)
        page.goto(server.url + "/desk/documents")
        screenshot(page, "desk-documents-desktop")
        page.click(f"text={docs['op']['number']}")
        page.wait_for_url(f"**/desk/documents/{docs['op']['number']}")
        screenshot(page, "desk-document-desktop")
        page.context.close()
    finally:
        server.close()
