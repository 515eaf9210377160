"""Taking an order on the phone at the desk (/desk/calls/new): the plate checked and
written as a French plate, the ordering party's call made an order like its system's
(cleaning, the coverage looked up from its contract, the file's `order` event), the
price shown before saving and nothing written by the preview; a refused form keeps what
was typed; the same call posted twice makes one mission; a caller who still owes money
is flagged. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.platform.tables import audit_log, changes, file_events, missions, orders, phone_orders
from tests.desk_support import post, sign_in
from tests.dispatch_support import (
    CALL,
    call_id_of,
    on_tablet,
    preview_call,
    save_previewed,
    take_call,
    text,
    unpaid_invoice,
)
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

PARTY_CALL = {
    **CALL,
    "party_id": "ASSIST-B",
    "file_number": "B-2026-0777",
    "reference": "AS-77-1234",
    "coverage_mission_cap": "250,00",
    "coverage_deductible": "50,00",
}

PARTY_ONLY = {k: v for k, v in PARTY_CALL.items() if CALL.get(k) != v}


def counts(w: World) -> tuple[int, ...]:
    with w.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (missions, orders, phone_orders, file_events, changes, audit_log)
        )


def desk(w: World) -> object:
    client = w.app.test_client()
    assert sign_in(client, "bureau").status_code == 302
    return client


def test_the_price_and_the_coverage_show_before_saving_and_the_preview_writes_nothing(world):  # noqa: F811
    client = desk(world)
    before = counts(world)
    priced = preview_call(client, PARTY_CALL)
    assert priced.status_code == 200
    page = text(priced)
    assert "Avant d'enregistrer : mission ASSIST-B.B-2026-0777.1" in page
    assert "Convention ASSIST-B version 1" in page
    # the contract's terms, and where the party's words differ from them
    assert "franchise 50,00 €" in page and "50 km inclus" in page
    assert "L'ordre et la convention ASSIST-B v1 diffèrent" in page
    # ASSIST-B: 120.00 excl. VAT for the tow, the 50.00 deductible left to the customer
    assert "À encaisser auprès du client 50,00 € TTC" in page
    assert "Remorquage 1 120,00 €" in page
    assert counts(world) == before


def test_an_ordering_partys_call_becomes_its_order_its_mission_and_its_file(world, tmp_path):  # noqa: F811
    client = desk(world)
    mission = take_call(client, **PARTY_ONLY, driver_id="d2")
    assert mission == "ASSIST-B.B-2026-0777.1"
    with world.engine.connect() as conn:
        order = conn.execute(sa.select(orders).where(orders.c.mission_id == mission)).one()
        call = conn.execute(sa.select(phone_orders)).one()
        logged = conn.execute(
            sa.select(file_events.c.event, file_events.c.state_after)
            .where(file_events.c.file_number == "B-2026-0777")
            .order_by(file_events.c.id)
        ).all()
        row = conn.execute(sa.select(missions).where(missions.c.id == mission)).one()
    assert order.message_id == f"desk:{call.id}"
    cleaned = order.cleaned
    assert '"plate":"AB-123-CD"' in cleaned and '"id":"AS-77-1234"' in cleaned
    assert (call.plate, call.plate_key, call.phone_key) == ("AB-123-CD", "AB123CD", "0612345678")
    assert (call.caller_name, call.note) == ("Claire Martin", "Batterie à plat au parking")
    assert call.places["from"] == {
        "address": "12 rue de la Gare",
        "postcode": "69007",
        "city": "Lyon",
    }
    assert [e.event for e in logged] == ["order", "mission_created"]
    assert logged[0].state_after == "not_integrated"
    assert (row.driver_id, row.status) == ("d2", "assigned")
    assert '"warning"' in row.document  # the coverage block, as for the party's own orders
    julie = world.tablet(tmp_path / "julie", "d2", "2222")
    world.sync(julie)
    assert on_tablet(julie)[mission] == "assigned"


def test_a_private_customers_call_is_a_mission_with_its_own_id(world):  # noqa: F811
    client = desk(world)
    mission = take_call(client, customer="GARAGE-DUPONT")
    assert re.fullmatch(r"TEL-260310-[0-9A-F]{6}", mission)
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(missions).where(missions.c.id == mission)).one()
    assert (row.ordering_party_id, row.source, row.status) == (None, "phone", "new")
    assert '"customer":"GARAGE-DUPONT"' in row.document
    assert '"call":"2026-03-10T09:40:00+01:00"' in row.document  # typed in Paris time


def test_the_same_call_posted_twice_makes_one_mission(world):  # noqa: F811
    client = desk(world)
    priced = preview_call(client, CALL)
    first = save_previewed(client, priced, CALL)
    assert first.status_code == 302
    before = counts(world)
    again = save_previewed(client, priced, CALL)  # a reload, a double click
    assert again.status_code == 302
    assert "Appel déjà enregistré" in text(client.get("/desk/dispatch"))
    assert counts(world) == before


def test_saving_what_was_not_priced_prices_it_first(world):  # noqa: F811
    client = desk(world)
    priced = preview_call(client, CALL)
    changed = {**CALL, "km_loaded": "60"}
    answer = save_previewed(client, priced, changed)  # the digest is of 12 km, not 60
    assert answer.status_code == 200
    assert "Avant d'enregistrer" in text(answer)
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(phone_orders)).scalar_one() == 0


def test_a_refused_call_names_each_field_keeps_what_was_typed_and_stores_nothing(world):  # noqa: F811
    client = desk(world)
    before = counts(world)
    typed = {
        **CALL,
        "plate": "ai-123-cd",
        "caller_phone": "12 34",
        "party_id": "ASSIST-B",
        "file_number": "",
        "service_TOW": "",
        "note": "Le client attend devant la barrière",
    }
    posted = client.get("/desk/calls/new").get_data(as_text=True)
    refused = preview_call(client, {**typed, "call_id": call_id_of(posted)})
    # Post/Redirect/Get: the refusal sends the browser to the form, which a reload shows
    # again without posting anything.
    assert refused.status_code == 303
    assert refused.headers["Location"] == "/desk/calls/new?refused=1"
    for _ in range(2):  # the page, then a reload
        shown = client.get(refused.headers["Location"])
        assert shown.status_code == 200
        page = text(shown)
        assert "Plaque : les lettres I, O et U ne figurent jamais sur une plaque française" in page
        assert "Téléphone : numéro de téléphone non reconnu" in page
        assert "N° de dossier : le numéro de dossier du donneur d'ordre" in page
        assert "Prestations : au moins une prestation" in page
        html = shown.get_data(as_text=True)
        assert 'value="ai-123-cd"' in html and 'value="12 34"' in html
        assert "Le client attend devant la barrière</textarea>" in html
        assert '<option value="ASSIST-B" selected>' in html
        assert call_id_of(html) == call_id_of(posted)  # the same call once corrected
        assert counts(world) == before
    # A new call (the form without the mark) starts blank.
    fresh = client.get("/desk/calls/new").get_data(as_text=True)
    assert "ai-123-cd" not in fresh and "au moins une prestation" not in fresh
    assert call_id_of(fresh) != call_id_of(posted)


def test_a_file_sequence_already_taken_is_refused_with_the_next_free_one(world):  # noqa: F811
    client = desk(world)
    take_call(client, **PARTY_ONLY)
    again = preview_call(client, {**PARTY_CALL, "plate": "EF-456-GH"})
    assert again.status_code == 303
    shown = client.get(again.headers["Location"])
    assert "pour une nouvelle mission du dossier, prenez le n° 2" in text(shown)
    assert 'value="EF-456-GH"' in shown.get_data(as_text=True)
    second = take_call(client, **PARTY_ONLY, file_sequence="2")
    assert second == "ASSIST-B.B-2026-0777.2"


def test_a_caller_who_still_owes_money_is_flagged_on_the_form(world):  # noqa: F811
    number = unpaid_invoice(world, "M-OLD-1", "AB-123-CD")
    client = desk(world)
    priced = preview_call(client, CALL)  # "ab 123 cd" again
    page = text(priced)
    assert "Ce client doit encore 180,00 €" in page
    assert f"{number} · Client (véhicule AB-123-CD) · 180,00 €" in page
    assert 'href="/desk/lookup/vehicle/AB123CD"' in priced.get_data(as_text=True)
    clean = preview_call(client, {**CALL, "plate": "EF-456-GH", "caller_phone": ""})
    assert "Ce client doit encore" not in text(clean)


def test_a_clerk_without_the_right_to_manage_missions_cannot_take_calls(world):  # noqa: F811
    from server.people import identity
    from tests.office_world import START

    with world.engine.begin() as conn:
        identity.create_user(
            conn,
            "demo",
            "chauffeur",
            "Chauffeur",
            "pass-chauffeur-1",
            "driver",
            actor="t",
            now=START,
        )
    client = world.app.test_client()
    sign_in(client, "chauffeur", password="pass-chauffeur-1")
    assert client.get("/desk/calls/new").status_code == 403
    assert post(client, "/desk/calls/new", {**CALL, "action": "save"}).status_code == 403
