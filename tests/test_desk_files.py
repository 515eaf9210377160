"""The desk's ordering-party files: the list with its filters and counts per state, the
warning in bold, one file with its whole log oldest first (the party's messages, the
cleaning corrections with their rule and version, the claim's actions, the payments),
its missions, documents and claims; cancelling by hand only where the lifecycle table
allows it (confirmed first, logged with who and why), its refusal sentence elsewhere.
Another company's file is a 404; the right `reconcile` is needed; English on request.

The data is made through the real modules: orders and messages (server.parties.orders), invoices
(the API), requirements (the API), a photo from Marc's tablet (its sync), claims acted
on in the desk and a payment file imported there."""

from __future__ import annotations

import html
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fieldclient import attachments as field_attachments
from fieldclient.tablet import Tablet
from server.parties import cleaning as cleaning_store
from server.parties import files as party_files
from server.parties import messages, orders
from server.people import identity
from server.platform.tables import file_events
from shared.file_lifecycle import Event
from tests.conftest import example
from tests.desk_support import post, sign_in
from tests.invoicing_support import store_valuation
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

DAY = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # the invoices' day (Monday)
MISSION, FILE = "M-A-0003", "ASSIST-A-2026-0003"  # Marc's; ASSIST-A pays 250.00
SECOND, SECOND_FILE = "M-A-0001", "ASSIST-A-2026-0001"  # Karim's; ASSIST-A pays 144.00
B_FILE = "B-2026-0101"  # ASSIST-B's order, cleaned by its rules
SD54 = "SD 54 Modification du dossier"


def text(answer: Any) -> str:
    """The page as a person reads it: entities decoded, spaces made plain."""
    return (
        html.unescape(answer.get_data(as_text=True)).replace("\u00a0", " ").replace("\u202f", " ")
    )


def png(width: int = 96, height: int = 64, rgb: tuple[int, int, int] = (200, 70, 40)) -> bytes:
    """A real (tiny, one-colour) PNG picture, as a tablet's camera would send one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Month:
    claim: str  # ASSIST-A's invoice for MISSION, 250.00
    second: str  # ASSIST-A's invoice for SECOND, 144.00
    marc: Tablet


def invoice(w: World, mission_id: str) -> str:
    answer = w.office.post(f"/api/v1/missions/{mission_id}/invoice", headers=w.as_user("bureau"))
    assert answer.status_code == 201, answer.get_json()
    return next(d["number"] for d in answer.get_json() if d["recipient_kind"] == "ordering_party")


def assistance_month(w: World, tmp_path: Path) -> Month:
    """ASSIST-A ordered MISSION and SECOND (the orders recorded on their files), both
    invoiced on DAY; it requires the invoice and a vehicle photo, and its SD 54 changed
    FILE after the invoice. ASSIST-B's order came in with its cleaning rules (v1)."""
    marc = w.tablet(tmp_path / "marc", "d3", "3333")  # enrolled while its code is fresh
    w.clock.now = DAY
    w.tokens.clear()
    w.sync(marc)
    with w.engine.begin() as conn:
        for file_number in (FILE, SECOND_FILE):
            party_files.record(
                conn,
                "demo",
                "ASSIST-A",
                file_number,
                Event.ORDER,
                source="party",
                actor="ASSIST-A",
                now=DAY,
                message_id=f"ordre-{file_number}",
            )
        for name in ("a-saturday-accident-winching", "a-tuesday-30km"):
            store_valuation(
                conn, "demo", example("missions", name), example("contracts", "assist-a")
            )
        cleaning_store.publish(
            conn, "demo", "ASSIST-B", example("orders", "cleaning-assist-b"), actor="t", now=DAY
        )
        orders.receive_order(
            conn, "demo", "ASSIST-B", example("orders", "assist-b-order"), actor="ASSIST-B", now=DAY
        )
    claim, second = invoice(w, MISSION), invoice(w, SECOND)
    kinds = w.office.put(
        "/api/v1/ordering-parties/ASSIST-A/claim-requirements",
        json={"kinds": ["invoice_pdf", "vehicle_photo"]},
        headers=w.as_user("admin"),
    )
    assert kinds.status_code == 200, kinds.get_json()
    with w.engine.begin() as conn:
        messages.receive_message(
            conn,
            "demo",
            "ASSIST-A",
            {"message_id": "SD54-77", "file_number": FILE, "kind": "follow_up", "name": SD54},
            actor="ASSIST-A",
            now=DAY,
        )
    return Month(claim, second, marc)


def take_photo(w: World, month: Month) -> str:
    """Marc photographs the vehicle; his next sync uploads it. Its attachment id."""
    found, _ = field_attachments.attach(month.marc, MISSION, "vehicle_photo", png())
    w.sync(month.marc)
    return found.id


def desk_client(w: World, login: str = "bureau", **kw: str) -> Any:
    client = w.app.test_client()
    assert sign_in(client, login, **kw).status_code == 302
    return client


def log_events(w: World, file_number: str = FILE, party: str = "ASSIST-A") -> list[str]:
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(file_events.c.event)
                .where(file_events.c.party_id == party, file_events.c.file_number == file_number)
                .order_by(file_events.c.id)
            ).scalars()
        )


@pytest.fixture
def month(world, tmp_path):  # noqa: F811
    return assistance_month(world, tmp_path)


# --- the list ---------------------------------------------------------------------------------


def listed(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-file="([^"]+)" data-state="([^"]+)"', page)


def test_the_list_shows_states_as_badges_the_warning_in_bold_and_counts(world, month):  # noqa: F811
    client = desk_client(world)
    answer = client.get("/desk/files")
    assert answer.status_code == 200
    page = text(answer)
    assert sorted(listed(page)) == [
        (SECOND_FILE, "integrated"),
        (FILE, "integrated"),
        (B_FILE, "not_integrated"),
    ]
    assert f"<strong>Des changements sont intervenus sur le dossier : {SD54}</strong>" in page
    row = re.search(rf'data-file="{SECOND_FILE}".*?</tr>', page, re.S)
    assert row is not None and "<strong>" not in row.group(0).split("warning", 1)[1]
    assert re.search(r'data-state="integrated">Intégré <b>2</b>', page)
    assert re.search(r'data-state="not_integrated">Non intégré <b>1</b>', page)
    assert "Tous les états <b>3</b>" in page
    # The filters narrow it; the counts follow the party.
    only_b = text(client.get("/desk/files?party=ASSIST-B"))
    assert listed(only_b) == [(B_FILE, "not_integrated")]
    assert "Tous les états <b>1</b>" in only_b
    integrated = text(client.get("/desk/files?state=integrated"))
    assert sorted(f for f, _ in listed(integrated)) == [SECOND_FILE, FILE]
    refused = client.get("/desk/files?state=lost")
    assert refused.status_code == 400 and "État de dossier inconnu" in text(refused)


# --- one file ---------------------------------------------------------------------------------


def test_the_file_page_tells_the_whole_story_oldest_first(world, month):  # noqa: F811
    take_photo(world, month)
    client = desk_client(world)
    for action in ("create", "submit"):
        done = post(client, f"/desk/claims/{month.claim}/act", {"action": action})
        assert done.status_code == 302, text(done)
    imported = post(
        client,
        "/desk/payments/import",
        {
            "source": "advice",
            "content": f"reference;amount;date\n{month.claim};250,00;2026-03-30\n",
        },
    )
    assert imported.status_code == 302, text(imported)

    answer = client.get(f"/desk/files/ASSIST-A/{FILE}")
    assert answer.status_code == 200
    page = text(answer)
    assert re.search(r'data-state="done">Terminé</span>', page)
    # Every entry, oldest first, with who wrote it.
    assert re.findall(r'<tr data-event="([^"]+)" data-source="([^"]+)"', page) == [
        ("order", "party"),
        ("claim_opened", "claim"),
        ("used_in_document", "office"),
        ("follow_up", "party"),
        ("claim_create", "claim"),
        ("document_sent", "claim"),
        ("claim_submit", "claim"),
        ("payment_matched", "payment"),
        ("payment_advice", "payment"),
    ]
    assert f"« {SD54} »" in page
    assert f'<strong class="warn">Des changements sont intervenus sur le dossier : {SD54}' in page
    assert "Intégré → Envoyé" in page and "Envoyé → Terminé" in page
    assert "Pièces vérifiées : la facture (PDF), photo du véhicule (exigences v1)" in page
    assert "Béatrice Bureau" in page  # the clerk who submitted, by name
    assert "Montant 250,00 € · Restait dû 250,00 € · Payé au total 250,00 €" in page
    # Its mission, documents and claim.
    mission_row = re.search(rf'<tr data-mission="{MISSION}">(.*?)</tr>', page, re.S)
    assert mission_row is not None
    assert "attribuée" in mission_row.group(1) and "Marc (d3)" in mission_row.group(1)
    assert f'href="/desk/missions/{MISSION}"' in mission_row.group(1)
    assert re.findall(r'data-document="([^"]+)"', page) == [month.claim, "F2026-000002"]
    assert f'href="/desk/documents/{month.claim}.pdf"' in page
    claim_row = re.search(rf'data-claim="{month.claim}">(.*?)</tr>', page, re.S)
    assert claim_row is not None and "Payée" in claim_row.group(1)
    # A done file cannot be cancelled: the table's sentence, no button.
    assert "Ce dossier est déjà terminé par le donneur d'ordre : il n'y a rien à annuler." in page
    assert 'action="/desk/files/cancel"' not in page


def test_cleaning_corrections_show_their_rule_and_version(world, month):  # noqa: F811
    page = text(desk_client(world).get(f"/desk/files/ASSIST-B/{B_FILE}"))
    assert "Correction automatique (règle de nettoyage)" in page
    assert "Règle codes-maison (version 1) : services.0.code « REMORQ » → « TOW »" in page
    assert "Assistance B envoie ses propres codes de prestation" in page
    assert "Règles de nettoyage version 1" in page
    assert "Réception des ordres" in page  # who: the intake


def test_a_file_on_an_invoice_cannot_be_cancelled_and_says_why(world, month):  # noqa: F811
    client = desk_client(world)
    page = text(client.get(f"/desk/files/ASSIST-A/{FILE}"))
    sentence = (
        "Ce dossier figure sur une facture : annulez-la d'abord par un avoir, puis annulez"
        " le dossier."
    )
    assert sentence in page and 'action="/desk/files/cancel"' not in page
    before = log_events(world)
    forced = post(
        client,
        "/desk/files/cancel",
        {"party_id": "ASSIST-A", "file_number": FILE, "reason": "Doublon", "confirm": "1"},
    )
    assert forced.status_code == 409 and sentence in text(forced)
    assert log_events(world) == before
    with world.engine.connect() as conn:
        assert party_files.state_of(conn, "demo", "ASSIST-A", FILE).value == "integrated"


def test_cancelling_by_hand_asks_first_then_logs_who_and_why(world, month):  # noqa: F811
    client = desk_client(world)
    path = f"/desk/files/ASSIST-B/{B_FILE}"
    assert 'action="/desk/files/cancel"' in text(client.get(path))
    fields = {"party_id": "ASSIST-B", "file_number": B_FILE}
    empty = post(client, "/desk/files/cancel", {**fields, "reason": "  "})
    assert empty.status_code == 422 and "Indiquez le motif" in text(empty)
    asked = post(client, "/desk/files/cancel", {**fields, "reason": "Client dépanné par un tiers"})
    assert asked.status_code == 200
    assert f"Confirmer : annuler à la main le dossier {B_FILE} ?" in text(asked)
    assert "cancelled_by_hand" not in log_events(world, B_FILE, "ASSIST-B")  # not yet
    done = post(
        client,
        "/desk/files/cancel",
        {**fields, "reason": "Client dépanné par un tiers", "confirm": "1"},
    )
    assert done.status_code == 302 and done.headers["Location"] == path
    page = text(client.get(path))
    assert f"Dossier {B_FILE} annulé à la main : « Annulé »" in page
    assert re.search(r'data-state="cancelled">Annulé</span>', page)
    row = re.search(
        r'<tr data-event="cancelled_by_hand" data-source="office">(.*?)</tr>', page, re.S
    )
    assert row is not None
    assert "Béatrice Bureau" in row.group(1) and "Motif : Client dépanné par un tiers" in row.group(
        1
    )
    assert "Non intégré → Annulé" in row.group(1)
    # Cancelled already: the table now refuses, in its own words.
    assert "Ce dossier est déjà annulé." in page


def test_another_companys_file_is_a_404_and_the_right_reconcile_is_needed(world, month):  # noqa: F811
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "autre", "Autre SARL", payments_enabled=True, now=DAY)
        identity.create_user(
            conn, "autre", "chef", "Chef", "autre-pass", "office", actor="t", now=DAY
        )
        identity.create_user(
            conn, "demo", "stagiaire", "Stan", "stan-pass", "driver", actor="t", now=DAY
        )
    other = desk_client(world, "chef", tenant="autre", password="autre-pass")
    theirs = other.get(f"/desk/files/ASSIST-A/{FILE}")
    assert theirs.status_code == 404 and SD54 not in text(theirs)
    assert FILE not in text(other.get("/desk/files"))
    cancel = post(
        other,
        "/desk/files/cancel",
        {"party_id": "ASSIST-B", "file_number": B_FILE, "reason": "x", "confirm": "1"},
    )
    assert cancel.status_code == 404
    with world.engine.connect() as conn:
        assert party_files.state_of(conn, "demo", "ASSIST-B", B_FILE).value == "not_integrated"
    assert desk_client(world).get("/desk/files/ASSIST-A/NO-SUCH-FILE").status_code == 404

    intern = desk_client(world, "stagiaire", password="stan-pass")
    for path in ("/desk/files", f"/desk/files/ASSIST-A/{FILE}"):
        answer = intern.get(path)
        assert answer.status_code == 403 and "rapprocher les caisses" in text(answer)
    assert "/desk/files" not in text(intern.get("/desk/"))  # nor in the menu
    assert 'href="/desk/files"' in text(desk_client(world).get("/desk/"))


def test_the_file_pages_in_english(world, month):  # noqa: F811
    client = desk_client(world)
    listing = text(client.get("/desk/files?lang=en"))
    assert "Ordering parties' files" in listing and "Integrated <b>2</b>" in listing
    assert f"<strong>The file has changed: {SD54}</strong>" in listing
    page = text(client.get(f"/desk/files/ASSIST-A/{FILE}"))  # the cookie remembers
    assert "The file's history" in page and "Mission order" in page
    assert "An invoice holds this file: cancel it with a credit note first" in page
