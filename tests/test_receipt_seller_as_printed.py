"""The receipt the server makes again prints the company as the tablet printed it at the
roadside, not as it is now (issue 13), on SQLite and PostgreSQL with the real field client:
the company moves after a collection was synced → that receipt's PDF, on the server and
read back on the tablet, still shows the old address; a collection made once the tablet
learnt the move shows the new one. A collection naming no identity prints today's (as
before), one naming an identity the server cannot find prints today's with a note."""

from __future__ import annotations

import io
from decimal import Decimal

import pypdf

from fieldclient import receipts
from server import demo
from server.office import seller
from shared.receipt import seller_digest
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0004"  # Karim's: the beneficiary pays the winching, 96,00 €
OLD = demo.SELLER["address"]  # 8 avenue des Remorqueurs
NEW = "12 quai des Dépanneurs"


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages)


def test_a_receipt_keeps_the_address_printed_at_the_roadside(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    tablet.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        tablet.step(MISSION, step)
    first = tablet.collect(MISSION, "card", "50.00", {"terminal_ref": "AUT-1"})
    named = first.payload["receipt"]["seller"]
    with world.engine.connect() as conn:
        assert named["digest"] == seller_digest(seller.get_seller(conn, "demo"))
    assert named["version"] == 1
    world.sync(tablet)

    moved = world.office.put(
        "/api/v1/tenant/seller",
        json={**demo.SELLER, "address": NEW},
        headers=world.as_user("admin"),
    )
    assert moved.status_code == 200, moved.get_json()
    world.sync(tablet)  # the tablet learns the new address
    assert receipts.seller(tablet.db)["address"] == NEW
    second = tablet.collect(MISSION, "card", "46.00", {"terminal_ref": "AUT-2"})
    assert second.payload["receipt"]["seller"]["version"] == 2
    world.sync(tablet)

    office = world.as_user("bureau")

    def pdf(number: int) -> str:
        answer = world.office.get(
            f"/api/v1/receipts/{tablet.device_id}/{number}/pdf", headers=office
        )
        assert answer.status_code == 200
        return pdf_text(answer.get_data())

    old_pdf, new_pdf = pdf(1), pdf(2)
    assert OLD in old_pdf and NEW not in old_pdf
    assert NEW in new_pdf and OLD not in new_pdf
    assert "inconnue du serveur" not in old_pdf + new_pdf
    as_json = world.office.get(f"/api/v1/receipts/{tablet.device_id}/1", headers=office)
    assert as_json.get_json()["seller"]["address"] == OLD
    assert as_json.get_json()["seller_note"] is None
    # The tablet reads its first receipt back with the identity it printed, too.
    again = receipts.receipt(
        tablet.db,
        device_id=tablet.device_id,
        timezone=tablet.timezone,
        mission_id=MISSION,
        number=1,
    )
    assert again.seller is not None and again.seller["address"] == OLD
    assert again.to_json() == as_json.get_json()


def test_no_identity_named_prints_todays_an_unknown_one_says_so(world):  # noqa: F811
    with world.engine.connect() as conn:
        current = seller.get_seller(conn, "demo")
        assert seller.as_printed(conn, "demo", None) == (current, None)  # older entries
        shown, note = seller.as_printed(conn, "demo", "0" * 64)
    assert shown == current and note is not None
    assert "inconnue du serveur" in note.fr and "unknown to the server" in note.en
