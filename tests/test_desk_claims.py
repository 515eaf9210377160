"""The desk's claims, receivables and payments back: the claims list with what is owed,
paid and open; a claim with its invoice, its required documents (ticked or missing), the
mission's photo and the actions its status allows — a submit refused while the photo is
missing says so and changes nothing, the photo from the tablet's sync lets it through;
a rejection needs its reasons; a payment file imported (matched, partial, unknown, a
second import refused); the ageing at the clock's date or another; the attachments on
the mission page. Another company sees none of it; the right `reconcile` is needed;
English on request. Then the same walk in a real browser."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
import sqlalchemy as sa

from server.people import identity
from server.platform.tables import attachments, file_events
from server.platform.tables import claims as claims_table
from tests.browser import DESKTOP, LiveServer, new_page, screenshot
from tests.desk_support import post
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_desk_files import (
    DAY,
    FILE,
    MISSION,
    SECOND,
    assistance_month,
    desk_client,
    png,
    take_photo,
    text,
)

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

PAYMENTS = (
    "reference;amount;date;party\n"
    "{claim};250,00;2026-03-30;ASSIST-A\n"  # exactly what is owed: paid
    "{second};100,00;2026-03-30;ASSIST-A\n"  # 44.00 short: a partial payment
    "F2026-000777;50,00;2026-03-30;ASSIST-A\n"  # no such invoice
)


@pytest.fixture
def month(world, tmp_path):  # noqa: F811
    return assistance_month(world, tmp_path)


def status_of(w: World, number: str) -> str:
    with w.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(claims_table.c.status).where(claims_table.c.invoice_number == number)
            ).scalar_one()
        )


def event_count(w: World) -> int:
    with w.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(file_events)).scalar_one())


def act(client: Any, number: str, action: str, **extra: str) -> Any:
    return post(client, f"/desk/claims/{number}/act", {"action": action, **extra})


def upload(client: Any, content: str, name: str = "avis-mars.csv", source: str = "advice") -> Any:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk/payments").text)
    assert token
    return client.post(
        "/desk/payments/import",
        data={
            "csrf_token": token.group(1),
            "source": source,
            "file": (io.BytesIO(content.encode()), name),
        },
        content_type="multipart/form-data",
    )


def figure(page: str, key: str) -> str:
    found = re.search(rf'data-(?:total|money|count|bucket)="{key}">(?:<strong>)?([^<]+)<', page)
    assert found, key
    return found.group(1)


# --- the claims list --------------------------------------------------------------------------


def test_the_list_shows_what_is_owed_paid_and_open_with_counts(world, month):  # noqa: F811
    client = desk_client(world)
    answer = client.get("/desk/claims")
    assert answer.status_code == 200
    page = text(answer)
    assert re.findall(r'<tr data-claim="([^"]+)" data-status="([^"]+)"', page) == [
        (month.claim, "to_create"),
        (month.second, "to_create"),
    ]
    assert (figure(page, "amount"), figure(page, "paid"), figure(page, "open")) == (
        "394,00 €",
        "0,00 €",
        "394,00 €",
    )
    assert re.search(r'data-status="to_create">À créer <b>2</b>', page)
    assert "16/03/2026" in page and "Assistance A" in page
    assert f'href="/desk/files/ASSIST-A/{FILE}"' in page  # the file Towline holds
    one = text(client.get(f"/desk/claims?file={FILE}"))
    assert re.findall(r'<tr data-claim="([^"]+)"', one) == [month.claim]
    assert figure(one, "open") == "250,00 €"
    assert re.findall(r'<tr data-claim="', text(client.get("/desk/claims?party=ASSIST-B"))) == []
    assert len(re.findall(r'<tr data-claim="', text(client.get("/desk/claims?status=open")))) == 2
    refused = client.get("/desk/claims?status=lost")
    assert refused.status_code == 400 and "Statut inconnu" in text(refused)


# --- one claim ----------------------------------------------------------------------------------


def test_a_submit_without_the_photo_is_refused_naming_it_and_changes_nothing(world, month):  # noqa: F811
    client = desk_client(world)
    page = text(client.get(f"/desk/claims/{month.claim}"))
    assert f'href="/desk/documents/{month.claim}.pdf"' in page
    assert figure(page, "amount") == "250,00 €" and figure(page, "open") == "250,00 €"
    assert re.findall(r'<form method="post" action="[^"]+" id="action-([a-z_]+)"', page) == [
        "create"
    ]
    assert act(client, month.claim, "create").status_code == 302
    page = text(client.get(f"/desk/claims/{month.claim}"))
    assert "Demande F2026-000001 : créer la demande — fait. Statut : « Créée »." in page
    assert re.findall(r'id="action-([a-z_]+)"', page) == ["attach_check", "submit"]
    assert re.search(r'<li class="present" data-kind="invoice_pdf">', page)
    assert re.search(r'<li class="missing" data-kind="vehicle_photo">', page)
    assert "Manque encore : photo du véhicule" in page

    before = event_count(world)
    refused = act(client, month.claim, "submit")
    assert refused.status_code == 409
    assert (
        f"Pièces manquantes pour la demande {month.claim} : photo du véhicule. Les photos et"
        " signatures arrivent avec la synchronisation de la tablette."
    ) in text(refused)
    assert status_of(world, month.claim) == "created" and event_count(world) == before

    photo = take_photo(world, month)  # Marc's tablet syncs
    page = text(client.get(f"/desk/claims/{month.claim}"))
    assert re.search(r'<li class="present" data-kind="vehicle_photo">', page)
    assert f'<img src="/desk/attachments/{photo}" alt="Photo du véhicule"' in page
    served = client.get(f"/desk/attachments/{photo}")
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert hashlib.sha256(served.data).digest() == hashlib.sha256(png()).digest()
    assert served.headers["X-Content-Type-Options"] == "nosniff"

    assert act(client, month.claim, "submit").status_code == 302
    assert status_of(world, month.claim) == "to_validate"
    page = text(client.get(f"/desk/claims/{month.claim}"))
    assert "Statut : « À valider par le donneur d'ordre »" in page
    assert f'href="/desk/files/ASSIST-A/{FILE}">{FILE}</a> · Envoyé' in page
    assert re.findall(r'id="action-([a-z_]+)"', page) == ["validate", "reject"]


def test_a_rejection_needs_its_reasons_and_shows_them(world, month):  # noqa: F811
    take_photo(world, month)
    client = desk_client(world)
    for action in ("create", "submit"):
        assert act(client, month.claim, action).status_code == 302
    empty = act(client, month.claim, "reject", reasons=" \n ")
    assert empty.status_code == 422 and "Indiquez le ou les motifs du rejet" in text(empty)
    assert status_of(world, month.claim) == "to_validate"
    done = act(client, month.claim, "reject", reasons="Photo floue\n  Km non justifiés ")
    assert done.status_code == 302
    page = text(client.get(f"/desk/claims/{month.claim}"))
    assert "<li>Photo floue</li><li>Km non justifiés</li>" in page
    assert "Saisi au bureau" in page
    assert re.findall(r'id="action-([a-z_]+)"', page) == ["resubmit"]
    assert "Motifs : Photo floue ; Km non justifiés" in page  # in its history
    # An action the status does not allow is refused by the table, in its words.
    late = act(client, month.claim, "validate")
    assert late.status_code == 409 and "est « Rejetée » : impossible de" in text(late)


# --- payments back and receivables ------------------------------------------------------------


def test_a_payment_file_is_matched_summarised_and_its_mismatches_listed(world, month):  # noqa: F811
    client = desk_client(world)
    content = PAYMENTS.format(claim=month.claim, second=month.second)
    done = upload(client, content)
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert (
        "avis-mars.csv importé : 3 paiement(s), 1 facture(s) réglée(s), 350,00 € appliqués."
        " À traiter : 1 montant(s) différent(s), 1 référence(s) inconnue(s), 0 déjà réglée(s)."
    ) in page
    counts = {
        k: figure(page, k) for k in ("lines", "matched", "amount_differs", "unknown_reference")
    }
    assert counts == {"lines": "3", "matched": "1", "amount_differs": "1", "unknown_reference": "1"}
    assert figure(page, "already_paid") == "0"
    rows = re.findall(r'<tr data-outcome="([^"]+)" data-line="(\d+)">(.*?)</tr>', page, re.S)
    assert [(o, n) for o, n, _ in rows] == [("amount_differs", "3"), ("unknown_reference", "4")]
    assert f'href="/desk/claims/{month.second}"' in rows[0][2]
    assert "reste <strong>44,00 €</strong>" in rows[0][2]
    assert "F2026-000777" in rows[1][2] and "demandez le détail" in rows[1][2]
    assert status_of(world, month.claim) == "paid"

    again = upload(client, content, name="le-meme.csv")
    assert again.status_code == 409
    assert "Ce fichier de paiements a déjà été importé (avis-mars.csv" in text(again)
    bad = upload(client, "reference;amount;date\nF2026-000003;douze;2026-03-30\n", name="x.csv")
    assert bad.status_code == 422
    assert "2: ligne illisible (montant)" in text(bad) and "Rien n'a été importé." in text(bad)

    listing = text(client.get("/desk/claims"))
    assert (figure(listing, "paid"), figure(listing, "open")) == ("350,00 €", "44,00 €")
    only_partial = text(client.get("/desk/payments?outcome=unknown_reference"))
    assert re.findall(r'<tr data-outcome="([^"]+)"', only_partial) == ["unknown_reference"]


def test_receivables_age_what_is_open_at_the_clock_date_or_another(world, month):  # noqa: F811
    client = desk_client(world)
    page = text(client.get("/desk/receivables"))
    assert "16/03/2026" in page  # the app clock's day
    assert figure(page, "total") == "394,00 €" and figure(page, "0-30") == "394,00 €"
    assert 'href="/desk/claims?party=ASSIST-A&amp;status=open"' in client.get(
        "/desk/receivables"
    ).get_data(as_text=True)
    upload(client, PAYMENTS.format(claim=month.claim, second=month.second))
    later = text(client.get("/desk/receivables?at=2026-05-01"))
    row = re.search(r'<tr data-party="ASSIST-A">(.*?)</tr>', later, re.S)
    assert row is not None
    assert re.search(r'data-bucket="0-30">0,00 €', row.group(1))
    assert re.search(r'data-bucket="31-60">44,00 €', row.group(1))  # 46 days old
    assert re.search(r'data-bucket="total"><strong>44,00 €', row.group(1))
    much_later = text(client.get("/desk/receivables?at=2026-07-01"))
    assert figure(much_later, "over_90") == "44,00 €" and figure(much_later, "31-60") == "0,00 €"
    before = text(client.get("/desk/receivables?at=2026-03-01"))  # before the invoices
    assert "Rien ne reste dû à cette date." in before
    bad = client.get("/desk/receivables?at=31/12/2026")
    assert bad.status_code == 400 and "Date illisible" in text(bad)


# --- the mission page -------------------------------------------------------------------------


def test_the_mission_page_shows_the_tablets_photos(world, month):  # noqa: F811
    photo = take_photo(world, month)
    with world.engine.begin() as conn:  # a signature still arriving
        conn.execute(
            sa.insert(attachments).values(
                tenant_id="demo",
                id="sig-partial",
                mission_id=MISSION,
                device_id=month.marc.device_id,
                kind="signature",
                content_type="image/png",
                size=1000,
                sha256="0" * 64,
                received=400,
                taken_at="2026-03-14T10:30:00Z",
                announced_at=DAY,
            )
        )
    client = desk_client(world)
    page = text(client.get(f"/desk/missions/{MISSION}"))
    assert f'<img src="/desk/attachments/{photo}" alt="Photo du véhicule"' in page
    assert "Signature du client · 400 / 1000 octets" in page
    pending = client.get("/desk/attachments/sig-partial")
    assert pending.status_code == 409 and "pas encore entièrement reçue" in text(pending)
    assert "Aucune pièce reçue" in text(client.get(f"/desk/missions/{SECOND}"))


# --- tenants, rights, language ----------------------------------------------------------------


def test_another_company_sees_none_of_it_and_reconcile_is_needed(world, month):  # noqa: F811
    photo = take_photo(world, month)
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "autre", "Autre SARL", payments_enabled=True, now=DAY)
        identity.create_user(
            conn, "autre", "chef", "Chef", "autre-pass", "office", actor="t", now=DAY
        )
        identity.create_user(
            conn, "demo", "stagiaire", "Stan", "stan-pass", "driver", actor="t", now=DAY
        )
    other = desk_client(world, "chef", tenant="autre", password="autre-pass")
    for path in (f"/desk/claims/{month.claim}", f"/desk/attachments/{photo}"):
        answer = other.get(path)
        assert answer.status_code == 404 and "250,00" not in text(answer)
    assert act(other, month.claim, "create").status_code == 404
    assert status_of(world, month.claim) == "to_create"
    assert month.claim not in text(other.get("/desk/claims"))
    assert "Rien ne reste dû à cette date." in text(other.get("/desk/receivables"))
    theirs = upload(other, PAYMENTS.format(claim=month.claim, second=month.second))
    assert theirs.status_code == 302  # imported in their company: it matches nothing of ours
    assert "0 facture(s) réglée(s)" in text(other.get(theirs.headers["Location"]))
    assert status_of(world, month.claim) == "to_create"

    intern = desk_client(world, "stagiaire", password="stan-pass")
    for path in (
        "/desk/claims",
        f"/desk/claims/{month.claim}",
        "/desk/receivables",
        "/desk/payments",
        f"/desk/attachments/{photo}",
    ):
        answer = intern.get(path)
        assert answer.status_code == 403 and "rapprocher les caisses" in text(answer), path
    assert act(intern, month.claim, "create").status_code == 403
    assert status_of(world, month.claim) == "to_create"


def test_the_claim_pages_in_english(world, month):  # noqa: F811
    client = desk_client(world)
    listing = text(client.get("/desk/claims?lang=en"))
    assert "Claims on ordering parties" in listing and "To create <b>2</b>" in listing
    assert figure(listing, "open") == "€394.00"
    act(client, month.claim, "create")
    refused = act(client, month.claim, "submit")
    assert f"Documents missing for claim {month.claim}: vehicle photo." in text(refused)
    assert "Vehicle photo — <strong>missing</strong>" in text(refused)
    ageing = text(client.get("/desk/receivables"))
    assert "31–60 days" in ageing and "16 Mar 2026" in ageing
    assert "Mismatches to work through" in text(client.get("/desk/payments"))


# --- in a real browser ------------------------------------------------------------------------


def test_the_clerk_chases_a_claim_from_the_list_to_the_money(browser, world, month, tmp_path):  # noqa: F811
    live = LiveServer(world.app)
    try:
        page = new_page(browser, DESKTOP)
        page.goto(f"{live.url}/desk/login")
        page.fill("input[name=tenant]", "demo")
        page.fill("input[name=login]", "bureau")
        page.fill("input[name=password]", "demo-towline")
        page.click("button[type=submit].primary")
        page.wait_for_url(f"{live.url}/desk/")

        page.click("header nav >> text=Créances")
        rows = page.locator("table.claims tbody tr[data-claim]")
        assert rows.count() == 2
        assert page.locator("[data-total=open]").inner_text() == "394,00\u00a0€"
        screenshot(page, "desk-claims")

        rows.first.locator("a.button").click()
        page.wait_for_url(f"{live.url}/desk/claims/{month.claim}")
        page.click("#action-create button")
        assert "Créée" in page.locator(".flash.ok").inner_text()
        page.click("#action-submit button")
        refusal = page.locator(".refused").inner_text()
        assert "Pièces manquantes" in refusal and "photo du véhicule" in refusal
        assert page.locator("li.missing[data-kind=vehicle_photo]").count() == 1

        take_photo(world, month)  # the tablet syncs the photo
        page.goto(f"{live.url}/desk/claims/{month.claim}")
        assert page.locator("li.present[data-kind=vehicle_photo]").count() == 1
        assert page.locator(".thumbs img").evaluate("img => img.naturalWidth") == 96
        page.click("#action-submit button")
        assert "À valider par le donneur d'ordre" in page.locator(".flash.ok").inner_text()
        screenshot(page, "desk-claim")

        page.click(".subnav >> text=Paiements reçus")
        csv = tmp_path / "avis-assist-a.csv"
        csv.write_text(PAYMENTS.format(claim=month.claim, second=month.second), "utf-8")
        page.set_input_files("input[name=file]", str(csv))
        page.click("form[enctype] button[type=submit]")
        assert "1 facture(s) réglée(s)" in page.locator(".flash.ok").inner_text()
        assert page.locator("tr[data-outcome]").count() == 2
        screenshot(page, "desk-payments")

        page.click(".subnav >> text=Balance âgée")
        assert page.locator("tr[data-party=ASSIST-A] [data-bucket=total]").inner_text() == (
            "44,00\u00a0€"
        )
        screenshot(page, "desk-receivables")
        page.click("tr[data-party=ASSIST-A] a.button")
        assert page.locator("table.claims tbody tr[data-claim]").count() == 1

        page.goto(f"{live.url}/desk/files/ASSIST-A/{FILE}")
        assert page.locator("h1 .badge").inner_text() == "Terminé"
        screenshot(page, "desk-file")
    finally:
        live.close()
