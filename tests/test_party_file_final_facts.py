"""The ordering party's file shows the final facts, as the server values them, on SQLite
and PostgreSQL, with the real field client syncing with the app: Julie finds 12 km more
and winching on M-A-0002 (ASSIST-A: beyond what she may change alone) and records them
with the manager's code → the office's file view and the party's own API show 92 km and
the winching beside the order's 80 km, and the claim's amount is the invoice's, made on
them. A fact kept for the office (no code) is not in the final facts until the office
approves it."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from fieldclient.site_facts import ApprovalNeeded
from server.office import site_facts
from server.parties import api_keys, claim_reading
from server.parties import files as party_files
from server.platform.tables import anomalies
from shared.file_lifecycle import Event
from shared.site_facts_found import Found
from tests.anomaly_refs import anomaly_ref
from tests.desk_support import sign_in
from tests.office_world import START, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0002"  # Julie's: 80 km loaded ordered, ASSIST-A
FILE = "ASSIST-A-2026-0002"
FOUND = Found(distance_km={"loaded": D("92")}, add_services=("WIN",))


@pytest.fixture
def party(world):  # noqa: F811
    """ASSIST-A sent the file's order, and has an API key: its headers."""
    with world.engine.begin() as conn:
        party_files.record(
            conn,
            "demo",
            "ASSIST-A",
            FILE,
            Event.ORDER,
            source="party",
            actor="ASSIST-A",
            now=START,
            message_id=f"order-{FILE}",
        )
        made = api_keys.create_key(conn, "demo", "ASSIST-A", "Plateforme", actor="t", now=START)
    return {"Authorization": f"Bearer {made['key']}"}


def _on_site(world, tmp_path):  # noqa: F811
    julie = world.tablet(tmp_path / "julie", "d2", "2222")
    world.sync(julie)
    for step in ("en_route", "on_site"):
        julie.step(MISSION, step)
    return julie


def _office_view(world) -> dict:  # noqa: F811
    answer = world.office.get(f"/api/v1/files/ASSIST-A/{FILE}", headers=world.as_user("gerant"))
    assert answer.status_code == 200, answer.get_json()
    (mission,) = answer.get_json()["missions"]
    assert mission["id"] == MISSION
    return mission["final_facts"]


def _party_view(world, headers) -> dict:  # noqa: F811
    answer = world.office.get(f"/api/v1/party/files/{FILE}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    (mission,) = answer.get_json()["missions"]
    assert mission["id"] == MISSION
    return mission["final_facts"]


def _desk_page(world) -> str:  # noqa: F811
    desk = world.app.test_client()
    sign_in(desk, "gerant")
    answer = desk.get(f"/desk/files/ASSIST-A/{FILE}?lang=en")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _fact(final: dict, fact: str, key: str | None = None) -> dict:
    return next(f for f in final["facts"] if f["fact"] == fact and f["key"] == key)


def test_facts_recorded_with_a_code_are_the_files_final_facts_and_the_claims(
    world,  # noqa: F811
    party,
    tmp_path,
):
    julie = _on_site(world, tmp_path)
    with pytest.raises(ApprovalNeeded) as needed:
        julie.record_site_facts(MISSION, FOUND)
    code = world.approval(julie, MISSION, "site_facts", str(needed.value.total))
    julie.record_site_facts(MISSION, FOUND, code=code)
    world.sync(julie)
    assert site_facts.BEYOND not in world.anomaly_kinds()

    for final in (_office_view(world), _party_view(world, party)):
        km = _fact(final, "distance", "loaded")
        assert (km["order"], km["final"], km["changed"]) == ("80", "92", True)
        assert km["final_text"] == {"fr": "92 km", "en": "92 km"}
        assert _fact(final, "distance", "en_route")["changed"] is False
        services = _fact(final, "services")
        assert (services["order"], services["final"]) == (["TOW"], ["TOW", "WIN"])
        assert _fact(final, "accident")["final"] is False
        assert final["digest"] == julie.view(MISSION).valuation.digest
    office = _office_view(world)
    assert office["held_for_office"] == []
    assert "held_for_office" not in _party_view(world, party)

    issued = world.office.post(
        f"/api/v1/missions/{MISSION}/invoice", headers=world.as_user("gerant")
    )
    assert issued.status_code in (200, 201), issued.get_json()
    invoice = next(d for d in issued.get_json() if d["recipient_kind"] == "ordering_party")
    with world.engine.connect() as conn:
        claim = claim_reading.get_claim(conn, "demo", invoice["number"])
    assert claim["file_number"] == FILE
    assert claim["amount"] == invoice["total"]["incl_vat"] == office["ordering_party_due"]
    assert invoice["valuation_digest"] == office["digest"]


def test_a_fact_kept_for_the_office_counts_once_the_office_approves_it(
    world,  # noqa: F811
    party,
    tmp_path,
):
    julie = _on_site(world, tmp_path)
    julie.record_site_facts(MISSION, FOUND, for_office=True)
    world.sync(julie)

    before = _office_view(world)
    assert _fact(before, "distance", "loaded")["final"] == "80"
    assert _fact(before, "services")["final"] == ["TOW"]
    assert not any(f["changed"] for f in before["facts"])
    held = {(h["fact"], h["key"]): h["found"] for h in before["held_for_office"]}
    assert held == {("distance", "loaded"): "92", ("services", None): ["TOW", "WIN"]}
    assert _fact(_party_view(world, party), "distance", "loaded")["final"] == "80"
    page = _desk_page(world)
    assert f'data-held-facts="{MISSION}"' in page and "92 km" in page
    assert 'data-changed="yes"' not in page

    with world.engine.connect() as conn:
        anomaly = conn.execute(
            sa.select(anomalies.c.id).where(anomalies.c.kind == site_facts.BEYOND)
        ).scalar_one()
    approved = world.office.post(
        f"/api/v1/anomalies/{anomaly_ref(world.app, anomaly)}/approve-site-facts",
        json={"reason": "Accord d'Assistance A au téléphone"},
        headers=world.as_user("gerant"),
    )
    assert approved.status_code == 200, approved.get_json()

    after = _office_view(world)
    assert _fact(after, "distance", "loaded")["final"] == "92"
    assert _fact(after, "services")["final"] == ["TOW", "WIN"]
    assert after["held_for_office"] == []
    assert after["digest"] != before["digest"]
    page = _desk_page(world)
    assert 'data-final="distance:loaded" data-changed="yes"' in page
    assert 'data-final="services" data-changed="yes"' in page
    assert "data-held-facts" not in page
    mine = _party_view(world, party)
    assert _fact(mine, "distance", "loaded")["final"] == "92"
    assert mine["ordering_party_due"] == after["ordering_party_due"]
