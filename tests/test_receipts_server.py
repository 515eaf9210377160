"""The receipt at the scene, after sync (issue 13): the tablet learns the company's identity
from the pull feed; the office lists a mission's receipts and downloads each as a PDF,
made again from the signed entries, equal to what the customer was shown; the
beneficiary the driver captured is named, with their address, on their invoice. On SQLite
and PostgreSQL."""

from __future__ import annotations

import io
from decimal import Decimal

import pypdf
import sqlalchemy as sa

from fieldclient import receipts
from server.platform.tables import changes, tenants
from tests.desk_support import sign_in
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0004"  # d1's: the beneficiary pays the winching, 96,00 €


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages)


def test_the_office_gets_the_receipt_the_customer_was_shown_and_the_invoice_names_them(
    world,  # noqa: F811
    tmp_path,
):
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    known = receipts.seller(tablet.db)
    assert known is not None and known["siret"] and tablet.timezone == "Europe/Paris"

    tablet.register_open(D("0.00"))
    tablet.record_beneficiary(
        MISSION,
        {"name": "Marie Dupont", "address": "4 rue Neuve", "postcode": "69003", "city": "Lyon"},
        place="Route de Vienne, Lyon",
    )
    for step in ("en_route", "on_site"):
        tablet.step(MISSION, step)
    tablet.collect(MISSION, "card", "96.00", {"terminal_ref": "AUT-4411"})
    for step in ("departed", "delivered", "closed"):
        tablet.step(MISSION, step)
    shown = receipts.receipt(
        tablet.db, device_id=tablet.device_id, timezone=tablet.timezone, mission_id=MISSION
    )
    world.sync(tablet)

    office = world.as_user("bureau")
    listed = world.office.get(f"/api/v1/missions/{MISSION}/receipts", headers=office)
    assert listed.status_code == 200
    assert [(r["device_id"], r["number"], r["amount"], r["method"]) for r in listed.get_json()] == [
        (tablet.device_id, 1, "96.00", "card")
    ]
    one = world.office.get(f"/api/v1/receipts/{tablet.device_id}/1", headers=office)
    assert one.get_json() == shown.to_json()  # the same receipt, from the same entries

    pdf = world.office.get(f"/api/v1/receipts/{tablet.device_id}/1/pdf", headers=office)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.get_data())
    for mention in (
        f"Reçu n° {tablet.device_id}-000001",
        known["name"],
        "Marie Dupont",
        "4 rue Neuve",
        "Route de Vienne, Lyon",
        "AUT-4411",
        "96,00",
        "83-50/A",
        "heure de Paris (Europe/Paris)",  # the time written, with its zone
    ):
        assert mention in text, mention
    english = world.office.get(f"/api/v1/receipts/{tablet.device_id}/1/pdf?lang=en", headers=office)
    in_english = pdf_text(english.get_data())
    assert f"Receipt no. {tablet.device_id}-000001" in in_english
    assert "Paris time (Europe/Paris)" in in_english  # the PDF names the zone as the tablet
    missing = world.office.get(f"/api/v1/receipts/{tablet.device_id}/2/pdf", headers=office)
    assert missing.status_code == 404

    documents = world.office.get(f"/api/v1/documents?mission_id={MISSION}", headers=office)
    invoice = next(d for d in documents.get_json() if d["recipient_kind"] == "beneficiary")
    assert invoice["recipient"]["name"] == "Marie Dupont"
    assert invoice["recipient"]["address"] == ["4 rue Neuve", "69003 Lyon"]
    printed = world.office.get(f"/api/v1/documents/{invoice['number']}/pdf", headers=office)
    assert "4 rue Neuve" in pdf_text(printed.get_data())


def test_an_identity_set_before_tablets_learnt_it_is_announced_once_at_the_next_push(
    world,  # noqa: F811
    tmp_path,
):
    with world.engine.begin() as conn:
        settings = dict(conn.execute(sa.select(tenants.c.settings)).scalar_one())
        settings.pop("seller_announced")
        conn.execute(sa.update(tenants).values(settings=settings))

    def announcements() -> int:
        with world.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(changes.c.kind == "seller")
                ).scalar_one()
            )

    before = announcements()
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    tablet.register_open(D("0.00"))
    world.sync(tablet)
    assert announcements() == before + 1
    tablet.register_close(D("0.00"))
    world.sync(tablet)
    assert announcements() == before + 1


def test_the_mission_page_of_the_desk_lists_the_receipts_with_their_pdf(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    tablet.register_open(D("0.00"))
    tablet.collect(MISSION, "cash", "50.00", {"tendered": "50.00"})
    world.sync(tablet)
    desk = world.app.test_client()
    assert sign_in(desk, "bureau").status_code == 302
    page = desk.get(f"/desk/missions/{MISSION}").get_data(as_text=True)
    ident = f"{tablet.device_id}-000001"
    assert f'data-receipt="{ident}"' in page
    pdf = desk.get(f"/desk/receipts/{tablet.device_id}/1.pdf")
    assert pdf.status_code == 200 and f"Reçu n° {ident}" in pdf_text(pdf.get_data())
