"""The mission page: the facts, the server's valuation explained rule by rule, who pays
what, the tablets' journal, the office's decisions, invoices and credit notes, open
anomalies and the file's other missions; and the search by mission or file number."""

from __future__ import annotations

import copy
import html
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fieldclient.tablet import Tablet
from server.people import identity
from tests.conftest import example
from tests.desk_support import post, sign_in
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

D = Decimal
MISSION = "M-A-0004"  # the demo's winching after a breakdown, Karim's
FILE = "ASSIST-A-2026-0004"


def text(answer: Any) -> str:
    """The page as a person reads it: entities decoded, spaces made plain."""
    return html.unescape(answer.get_data(as_text=True)).replace("\u00a0", " ")


def disputed_day(w: World, tmp_path: Path) -> Tablet:
    """Karim winches a broken-down car: the customer pays 96.00 by card for the winching,
    which ASSIST-A's contract (version 1) leaves to the beneficiary; the mission is
    closed and invoiced; Karim disputes the price ("the assistance covers winching").
    A second mission of the same file (the tow home) is on the way. The office then
    publishes version 2 of the contract, which covers winching."""
    home = copy.deepcopy(example("missions", "a-tuesday-winching-breakdown"))
    home.update({"id": f"{MISSION}-R", "file_sequence": 2, "services": [{"code": "TOW"}]})
    made = w.office.post(
        "/api/v1/missions",
        json={"document": home, "driver_id": "d2"},
        headers=w.as_user("bureau"),
    )
    assert made.status_code == 201, made.get_json()
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step(MISSION, step)
    karim.collect(MISSION, "card", "96.00", {"terminal_ref": "AUT-9"})
    for step in ("departed", "delivered", "closed"):
        karim.step(MISSION, step)
    karim.dispute(MISSION, "L'assistance couvre le treuillage selon le client")
    w.sync(karim)
    corrected = copy.deepcopy(example("contracts", "assist-a"))
    corrected["version"] = 2
    corrected["coverage"] = [c for c in corrected["coverage"] if c["code"] != "WIN"]
    published = w.office.post(
        "/api/v1/contracts", json={"document": corrected}, headers=w.as_user("admin")
    )
    assert published.status_code == 201, published.get_json()
    return karim


def open_anomaly(w: World, kind: str) -> int:
    rows = w.office.get(
        f"/api/v1/anomalies?status=open&kind={kind}", headers=w.as_user("bureau")
    ).get_json()
    assert len(rows) == 1, rows
    return int(rows[0]["id"])


def resolve_in_desk(client: Any, anomaly_id: int, action: str, reason: str) -> Any:
    path = f"/desk/anomalies/{anomaly_id}/resolve"
    asked = post(client, path, {"action": action, "reason": reason})
    assert asked.status_code == 200, text(asked)
    done = post(client, path, {"action": action, "reason": reason, "confirm": "1"})
    assert done.status_code == 302, text(done)
    return done


@pytest.fixture
def karim(world, tmp_path):  # noqa: F811
    return disputed_day(world, tmp_path)


def test_the_mission_page_tells_the_whole_story(world, karim):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    answer = client.get(f"/desk/missions/{MISSION}")
    assert answer.status_code == 200
    page = text(answer)
    # The facts.
    assert "Assistance A (ASSIST-A)" in page and FILE in page
    assert "Karim (d1)" in page and "GH-482-KL" in page
    assert "Dernière étape (tablette)</dt><dd>clôturée" in page
    # The server's valuation, rule by rule, with its contract and version.
    assert "Convention <strong>ASSIST-A</strong>\n    version <strong>1</strong>" in page
    assert "Convention ASSIST-A version 1, valable le 10/03/2026." in page
    assert "WIN.VL.P à la charge du bénéficiaire, règle n° 2." in page
    # Who pays what.
    assert re.search(r"Donneur d'ordre \(facturé\)<b>144,00 €</b>", page)
    assert re.search(r"Bénéficiaire \(sur place\)<b>96,00 €</b>", page)
    # The tablet's journal: the card collection, not voided.
    row = re.search(r'data-type="collection">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "96,00 €" in row.group(1) and "Carte bancaire" in row.group(1)
    assert "AUT-9" in row.group(1) and "non" in row.group(1)
    # Invoices with their PDF links, the open dispute, the file's other mission.
    assert re.findall(r'data-document="([^"]+)"', page) == ["F2026-000001", "F2026-000002"]
    assert 'href="/desk/documents/F2026-000002.pdf"' in page
    assert "Prix contesté n°" in page
    assert f'href="/desk/missions/{MISSION}-R"' in page


def test_after_the_dispute_and_the_void_the_page_follows(world, karim):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    dispute = open_anomaly(world, "dispute_raised")
    done = resolve_in_desk(client, dispute, "accept_dispute", "Treuillage couvert (v2)")
    assert done.headers["Location"] == f"/desk/missions/{MISSION}"
    page = text(client.get(done.headers["Location"]))
    assert "Mission revalorisée : convention ASSIST-A version 2, bénéficiaire 0,00 €" in page
    assert "Documents émis : A2026-000001 (avoir, 144,00 €), A2026-000002 (avoir, 96,00 €)," in page
    assert "F2026-000003 (facture, 240,00 €)" in page
    assert "Convention ASSIST-A version 2, valable le 10/03/2026." in page
    assert "Valorisations successives" in page
    assert re.findall(r'data-document="([^"]+)"', page) == [
        "F2026-000001",
        "F2026-000002",
        "A2026-000001",
        "A2026-000002",
        "F2026-000003",
    ]
    assert 'href="/desk/documents/A2026-000002.pdf"' in page
    # The 96.00 is no longer due: after the accepted dispute it is money to refund.
    assert "Trop encaissé n°" in page and "Encaissement fictif" not in page

    over = open_anomaly(world, "over_collection")
    resolve_in_desk(client, over, "void", "Remboursé au client")
    page = text(client.get(f"/desk/missions/{MISSION}"))
    decision = re.search(r'data-decision="(dec_\w+)">(.*?)</tr>', page, re.S)
    assert decision is not None and "à la prochaine synchronisation" in decision.group(2)
    assert "annulé par le bureau" in page and "Trop encaissé n°" not in page

    world.sync(karim)  # the tablet records the reversal
    page = text(client.get(f"/desk/missions/{MISSION}"))
    decision = re.search(r'data-decision="(dec_\w+)">(.*?)</tr>', page, re.S)
    assert decision is not None and "appliquée" in decision.group(2)
    collection = re.search(r'<tr class="voided"[^>]*data-type="collection">(.*?)</tr>', page, re.S)
    assert collection is not None and "annulé" in collection.group(1)
    assert 'data-type="reversal"' in page


def test_english_on_request(world, karim):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    page = text(client.get(f"/desk/missions/{MISSION}?lang=en"))
    assert "The server's valuation" in page
    assert "Contract ASSIST-A version 1, valid on 10 Mar 2026." in page  # words, not ISO
    assert "WIN.VL.P paid by the beneficiary, rule no. 2." in page
    assert "€96.00" in page and "Price disputed no." in page


def test_search_by_file_number_or_mission_id(world, karim):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    by_file = text(client.get(f"/desk/missions?q={FILE}"))
    assert f'href="/desk/missions/{MISSION}"' in by_file
    assert f'href="/desk/missions/{MISSION}-R"' in by_file
    one = client.get(f"/desk/missions?q={MISSION.lower()}-r")
    assert one.status_code == 302 and one.headers["Location"] == f"/desk/missions/{MISSION}-R"
    none = text(client.get("/desk/missions?q=ZZZ"))
    assert "Aucune mission ne commence par « ZZZ »." in none
    assert client.get("/desk/missions?q=" + "x" * 65).status_code == 400


def test_an_unknown_or_another_tenants_mission_is_not_found(world, karim):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    assert client.get("/desk/missions/NOPE").status_code == 404
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "autre", "Autre SARL", payments_enabled=True, now=START)
        identity.create_user(
            conn, "autre", "chef", "Chef Autre", "pass-autre-1", "admin", actor="t", now=START
        )
    other = world.app.test_client()
    sign_in(other, "chef", tenant="autre", password="pass-autre-1")
    answer = other.get(f"/desk/missions/{MISSION}")
    assert answer.status_code == 404 and "GH-482-KL" not in text(answer)
    assert MISSION not in text(other.get(f"/desk/missions?q={FILE}"))
