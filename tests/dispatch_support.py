"""A dispatcher's morning, in parts: orders from ordering parties' systems (API key), calls
taken at the desk (the phone order form, priced then saved), and what a tablet holds.
Shared by the dispatch, phone order, lookup and browser tests."""

from __future__ import annotations

import html
import re
from typing import Any

from fieldclient.tablet import Tablet
from server.parties import api_keys
from tests.desk_support import post
from tests.office_world import START, World

# A call from a private motorist, as the clerk types it (tests change what they need).
CALL: dict[str, str] = {
    "party_id": "",
    "file_number": "",
    "file_sequence": "1",
    "caller_name": "Claire Martin",
    "caller_phone": "06 12 34 56 78",
    "plate": "ab 123 cd",
    "vehicle_class": "VL",
    "from_address": "12 rue de la Gare",
    "from_postcode": "69007",
    "from_city": "Lyon",
    "to_city": "Villeurbanne",
    "call_at": "2026-03-10T09:40",
    "km_en_route": "9",
    "km_loaded": "12",
    "service_TOW": "1",
    "note": "Batterie à plat au parking",
}


def text(answer: Any) -> str:
    """A page as a person reads it: tags out, entities decoded, spaces made plain."""
    body = answer.get_data(as_text=True) if hasattr(answer, "get_data") else str(answer)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", body)).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", plain)


def call_id_of(page: str) -> str:
    found = re.search(r'name="call_id" value="([^"]+)"', page)
    assert found, "no call id on the form"
    return found.group(1)


def preview_call(client: Any, fields: dict[str, str]) -> Any:
    """Open the form and ask for the price of the call: the answer is the priced form."""
    opened = client.get("/desk/calls/new").get_data(as_text=True)
    form = {**fields, "call_id": fields.get("call_id") or call_id_of(opened), "action": "preview"}
    return post(client, "/desk/calls/new", form, token_from="/desk/calls/new")


def save_previewed(client: Any, priced: Any, fields: dict[str, str]) -> Any:
    page = priced.get_data(as_text=True)
    digest = re.search(r'name="previewed" value="([^"]+)"', page)
    assert digest, text(priced)[:2000]
    form = {**fields, "call_id": call_id_of(page), "previewed": digest.group(1), "action": "save"}
    return post(client, "/desk/calls/new", form, token_from="/desk/calls/new")


def take_call(client: Any, **changes: str) -> str:
    """Take a call at the desk (priced, then saved); returns the mission it made."""
    fields = {**CALL, **changes}
    priced = preview_call(client, fields)
    assert priced.status_code == 200, text(priced)[:2000]
    saved = save_previewed(client, priced, fields)
    assert saved.status_code == 302, text(saved)[:2000]
    board = text(client.get(saved.headers["Location"]))  # the board, with the flash
    found = re.search(r"Appel enregistré : mission (\S+?),", board)
    assert found, board[:2000]
    return found.group(1)


def party_key(w: World, party: str) -> dict[str, str]:
    with w.engine.begin() as conn:
        made = api_keys.create_key(conn, "demo", party, "Plateforme", actor="admin", now=START)
    return {"Authorization": f"Bearer {made['key']}"}


def api_order(
    w: World,
    key: dict[str, str],
    *,
    message_id: str,
    file_number: str,
    plate: str,
    call: str = "2026-03-10T08:50:00+01:00",
    reference: str | None = None,
) -> str:
    """An order from the ordering party's own system; returns its mission."""
    order: dict[str, Any] = {
        "message_id": message_id,
        "file_number": file_number,
        "vehicle": {"plate": plate, "class": "VL"},
        "times": {"call": call},
        "distance_km": {"en_route": "10", "loaded": "20"},
        "facts": {"accident": False},
        "services": [{"code": "TOW"}],
        "beneficiary": {"name": "Paul Durand", "phone": "+33 7 11 22 33 44"},
        "places": {"from": {"address": "A7 sortie 12", "city": "Vienne"}},
    }
    if reference:
        order["id"] = reference
    answer = w.office.post("/api/v1/party/orders", json=order, headers=key)
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["mission_id"])


def on_tablet(tablet: Tablet) -> dict[str, str]:
    """{mission: the office's status as the tablet holds it}, reassigned ones left out."""
    rows = tablet.db.execute("SELECT id, office_status FROM missions").fetchall()
    return {str(i): str(s) for i, s in rows if s != "reassigned"}


def unpaid_invoice(w: World, mission_id: str, plate: str) -> str:
    """A private customer's earlier tow, billed later and never paid: an open invoice of
    180.00 on the vehicle's account (issued on the demo's first day)."""
    from server.office import invoicing, missions
    from tests.conftest import example
    from tests.invoicing_support import KEY, field_entry, store_valuation

    document = {
        **example("missions", "private-tow"),
        "id": mission_id,
        "file_number": "P-" + mission_id,
        "vehicle": {"plate": plate, "class": "VL"},
        "times": {"call": "2026-02-02T10:00:00+01:00"},
    }
    with w.engine.begin() as conn:
        missions.create(conn, "demo", document, None, actor="t", now=START)
        store_valuation(conn, "demo", document, example("contracts", "private"), now=START)
        field_entry(
            conn,
            "demo",
            "deferral",
            {"mission_id": mission_id, "amount": "180.00"},
            ref="def-" + mission_id,
            seq=1,
            device="dev_" + mission_id,
        )
        issued = invoicing.issue_for_mission(
            conn, "demo", mission_id, key=KEY, actor="t", now=START
        )
    return next(d["number"] for d in issued if d["recipient_kind"] == "beneficiary")
