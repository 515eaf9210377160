"""Rows numbered by one counter for every tenant are shown by ref, each kind under its own
key (server/platform/public_ids.py), on SQLite and PostgreSQL: enrolment codes (listed,
withdrawn by the API and the desk), card settlement imports, a file's and a claim's log
entries. The row id, a forged ref, a ref beyond the 32-bit columns and another tenant's
ref are all a 404 that names the number asked for, and change nothing."""

from __future__ import annotations

import sqlalchemy as sa

from server.api.claims import LogEntryOut
from server.parties import files as party_files
from server.people import identity
from server.platform import public_ids
from server.platform.public_ids import ENROLMENT_CODE, FILE_EVENT, SETTLEMENT
from server.platform.tables import card_settlements, enrolment_codes, file_events
from shared.file_lifecycle import Event
from tests.desk_support import post, sign_in
from tests.office_world import START, world  # noqa: F401
from tests.public_refs import public_ref, row_id_of
from tests.storage import engine  # noqa: F401

FILE = "ASSIST-A-2026-0002"


def _withdrawn(w) -> list[int]:
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(enrolment_codes.c.id).where(enrolment_codes.c.withdrawn_at.isnot(None))
            ).scalars()
        )


def test_an_enrolment_code_is_listed_and_withdrawn_by_its_ref(world):  # noqa: F811
    admin = world.as_user("admin")
    made = world.office.post(
        "/api/v1/enrolment-codes", json={"driver_ids": ["d1"], "label": "Camion"}, headers=admin
    )
    assert made.status_code == 201, made.get_json()
    listed = world.office.get("/api/v1/enrolment-codes/open", headers=admin).get_json()
    (code,) = [c for c in listed if c["label"] == "Camion"]
    with world.engine.connect() as conn:
        row_id = conn.execute(
            sa.select(enrolment_codes.c.id).where(enrolment_codes.c.label == "Camion")
        ).scalar_one()
    assert code["id"] == public_ref(world.app, ENROLMENT_CODE, row_id) != row_id
    for number in (row_id, code["id"] ^ 1, public_ids.LIMIT - 1):
        answer = world.office.post(f"/api/v1/enrolment-codes/{number}/withdraw", headers=admin)
        assert answer.status_code == 404, answer.get_json()
        assert answer.get_json()["message"] == f"Code d'enrôlement introuvable : {number}"
    assert _withdrawn(world) == []
    gone = world.office.post(f"/api/v1/enrolment-codes/{code['id']}/withdraw", headers=admin)
    assert gone.status_code == 204
    assert _withdrawn(world) == [row_id]


def test_another_tenants_code_ref_is_not_found_on_the_api_nor_the_desk(world):  # noqa: F811
    made = world.office.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": ["d1"], "label": "Camion"},
        headers=world.as_user("admin"),
    )
    assert made.status_code == 201
    with world.engine.begin() as conn:
        row_id = conn.execute(
            sa.select(enrolment_codes.c.id).where(enrolment_codes.c.label == "Camion")
        ).scalar_one()
        identity.create_tenant(conn, "autre", "Autre SARL", payments_enabled=True, now=START)
        identity.create_user(
            conn, "autre", "chef", "Chef Autre", "pass-autre-1", "admin", actor="t", now=START
        )
    ref = public_ref(world.app, ENROLMENT_CODE, row_id)
    desk = world.app.test_client()
    sign_in(desk, "chef", tenant="autre", password="pass-autre-1")
    answer = post(desk, f"/desk/devices/codes/{ref}/withdraw", {}, token_from="/desk/devices")
    assert answer.status_code == 404
    assert _withdrawn(world) == []
    mine = world.app.test_client()
    sign_in(mine, "admin")
    page = mine.get("/desk/devices").get_data(as_text=True)
    assert f'id="code-{ref}"' in page and f"/desk/devices/codes/{ref}/withdraw" in page
    assert f"/desk/devices/codes/{row_id}/withdraw" not in page
    done = post(mine, f"/desk/devices/codes/{ref}/withdraw", {}, token_from="/desk/devices")
    assert done.status_code == 302 and _withdrawn(world) == [row_id]


def test_a_settlement_import_answers_its_ref(world):  # noqa: F811
    answer = world.office.post(
        "/api/v1/settlements",
        json={"file_name": "remises.csv", "content": "date;reference;amount\n2026-03-10;A1;9.00\n"},
        headers=world.as_user("bureau"),
    )
    assert answer.status_code == 201, answer.get_json()
    with world.engine.connect() as conn:
        row_id = conn.execute(sa.select(card_settlements.c.id)).scalar_one()
    assert answer.get_json()["id"] == public_ref(world.app, SETTLEMENT, row_id) != row_id
    assert row_id_of(world.app, SETTLEMENT, answer.get_json()["id"]) == row_id


def test_a_files_log_entries_are_shown_by_ref(world):  # noqa: F811
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
        row_ids = list(
            conn.execute(sa.select(file_events.c.id).order_by(file_events.c.id)).scalars()
        )
    answer = world.office.get(f"/api/v1/files/ASSIST-A/{FILE}", headers=world.as_user("gerant"))
    assert answer.status_code == 200, answer.get_json()
    shown = [e["id"] for e in answer.get_json()["history"]]
    assert shown == [public_ref(world.app, FILE_EVENT, i) for i in row_ids]
    assert not set(shown) & set(row_ids)
    with world.app.app_context():  # a claim's log, the same table: the same refs
        dumped = LogEntryOut().dump({"id": row_ids[0], "event": "order"})
    assert dumped["id"] == shown[0]


def test_each_kind_has_its_own_key(world):  # noqa: F811
    kinds = (public_ids.ANOMALY, ENROLMENT_CODE, SETTLEMENT, FILE_EVENT)
    refs = {public_ref(world.app, kind, 7) for kind in kinds}
    assert len(refs) == len(kinds)
    assert all(row_id_of(world.app, kind, public_ref(world.app, kind, 7)) == 7 for kind in kinds)
