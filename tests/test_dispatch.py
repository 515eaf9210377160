"""The dispatch board (/desk/dispatch and GET /api/v1/dispatch): the day's missions with
no driver, each driver's missions with the tablet's last step and last sync, due and
collected, in the tenant's time; assigning, reassigning and cancelling reach the tablets
at their next pull and go on the audit log and the ordering party's file; the status
shown follows what the tablets report. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import dispatch
from server.people import identity
from server.people.tenant_time import day_bounds, local_day
from server.platform.tables import audit_log, file_events, tenants
from tests.desk_support import post, sign_in
from tests.dispatch_support import api_order, on_tablet, party_key, take_call, text
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
PARIS = ZoneInfo("Europe/Paris")


def board(w: World, login: str = "bureau", day: str | None = None) -> dict:
    query = f"?day={day}" if day else ""
    answer = w.office.get(f"/api/v1/dispatch{query}", headers=w.as_user(login))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def column(found: dict, driver: str) -> dict:
    return next(d for d in found["drivers"] if d["id"] == driver)


def ids(missions: list[dict]) -> list[str]:
    return [m["id"] for m in missions]


def desk(w: World) -> object:
    client = w.app.test_client()
    assert sign_in(client, "bureau").status_code == 302
    return client


def test_the_board_shows_phone_and_api_orders_with_no_driver_in_local_time(world):  # noqa: F811
    client = desk(world)
    private = take_call(client)
    by_phone = take_call(
        client,
        party_id="ASSIST-B",
        file_number="B-2026-0500",
        plate="EF-456-GH",
        caller_name="Paul Leroy",
        caller_phone="07 98 76 54 32",
        call_at="2026-03-10T08:05",
    )
    from_api = api_order(
        world,
        party_key(world, "ASSIST-A"),
        message_id="A-MSG-1",
        file_number="A-2026-0900",
        plate="JK-321-LM",
    )
    found = board(world)
    assert (found["day"], found["timezone"]) == ("2026-03-10", "Europe/Paris")
    assert ids(found["unassigned"]) == [by_phone, from_api, private]  # by call time
    first = found["unassigned"][0]
    assert (first["status"], first["office_status"], first["plate"]) == ("new", "new", "EF-456-GH")
    assert first["call_at"] == "2026-03-10T08:05:00+01:00"  # as typed, in Paris time
    assert first["places"]["from"] == "12 rue de la Gare, 69007 Lyon"
    assert (first["places"]["caller"], first["places"]["phone"]) == ("Paul Leroy", "07 98 76 54 32")
    api = found["unassigned"][1]
    assert (api["ordering_party_name"], api["places"]["caller"]) == ("Assistance A", "Paul Durand")
    assert api["places"]["by_phone"] is False
    # the demo's missions of the day are each driver's
    assert ids(column(found, "d1")["missions"]) == ["M-A-0001", "M-A-0004", "M-P-0001"]
    assert column(found, "d1")["last_sync"] is None
    page = text(client.get("/desk/dispatch"))
    assert "Sans chauffeur 3" in page
    assert "08:05 ASSIST-B.B-2026-0500.1 nouvelle, sans chauffeur" in page
    assert "heure de Paris (Europe/Paris)" in page
    fragment = client.get("/desk/dispatch/board")
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)  # the board alone, for the refresh
    assert 'data-board-day="2026-03-10"' in fragment.get_data(as_text=True)


def test_assign_reassign_and_cancel_reach_the_tablets_and_the_logs(world, tmp_path):  # noqa: F811
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    julie = world.tablet(tmp_path / "julie", "d2", "2222")
    for tablet in (karim, julie):
        world.sync(tablet)
    client = desk(world)
    mission = take_call(client, party_id="ASSIST-B", file_number="B-2026-0501")
    other = take_call(client, plate="EF-456-GH", caller_name="Luc Petit")

    given = post(client, f"/desk/dispatch/{mission}/assign", {"driver_id": "d1", "day": ""})
    assert given.status_code == 302
    assert "attribuée à Karim" in text(client.get("/desk/dispatch"))
    world.sync(karim)
    assert mission in on_tablet(karim)

    moved = post(client, f"/desk/dispatch/{mission}/assign", {"driver_id": "d2"})
    assert moved.status_code == 302
    assert "retirée de la tablette de Karim" in text(client.get("/desk/dispatch"))
    for tablet in (karim, julie):
        world.sync(tablet)
    assert mission not in on_tablet(karim)
    assert on_tablet(julie)[mission] == "assigned"

    post(client, f"/desk/dispatch/{other}/assign", {"driver_id": "d1"})
    cancelled = post(client, f"/desk/dispatch/{other}/cancel", {"reason": "Client reparti seul"})
    assert cancelled.status_code == 302
    world.sync(karim)
    assert on_tablet(karim)[other] == "cancelled"

    found = board(world)
    assert mission in ids(column(found, "d2")["missions"])
    assert ids(found["cancelled"]) == [other]
    assert found["cancelled"][0]["cancel_reason"] == "Client reparti seul"
    assert column(found, "d1")["last_sync"] is not None
    with world.engine.connect() as conn:
        acts = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.target, audit_log.c.detail)
            .where(audit_log.c.action.in_(("mission.assign", "mission.cancel")))
            .where(audit_log.c.target.in_((mission, other)))
            .order_by(audit_log.c.id)
        ).all()
        logged = conn.execute(
            sa.select(file_events.c.event, file_events.c.detail, file_events.c.actor)
            .where(file_events.c.file_number == "B-2026-0501", file_events.c.source == "office")
            .order_by(file_events.c.id)
        ).all()
    assert [(a.action, a.target, a.detail["driver_id"]) for a in acts] == [
        ("mission.assign", mission, "d1"),
        ("mission.assign", mission, "d2"),
        ("mission.assign", other, "d1"),
        ("mission.cancel", other, "d1"),
    ]
    assert [
        (e.event, e.detail.get("driver_id"), e.detail.get("previous_driver_id")) for e in logged
    ] == [
        ("mission_assigned", "d1", None),
        ("mission_reassigned", "d2", "d1"),
    ]
    assert len({e.actor for e in logged}) == 1  # the clerk who did it


def test_the_status_shown_follows_the_tablet_and_a_finished_mission_stays_put(world, tmp_path):  # noqa: F811
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(karim)
    karim.register_open(D("0.00"))
    karim.step("M-A-0001", "en_route")
    karim.step("M-A-0001", "on_site")
    world.clock.advance(minutes=20)
    world.sync(karim)
    started = next(m for m in column(board(world), "d1")["missions"] if m["id"] == "M-A-0001")
    assert (started["status"], started["office_status"]) == ("on_site", "assigned")
    assert started["tablet_step"]["step"] == "on_site"
    client = desk(world)
    # started on the road: reassigning says so, keeps the choice, and waits for a yes
    refused = post(client, "/desk/dispatch/M-A-0001/assign", {"driver_id": "d2"})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "La tablette a commencé la mission M-A-0001" in text(refused)
    assert re.search(r'<option value="d2" selected>', page)
    for step in ("departed", "delivered", "closed"):
        karim.step("M-A-0001", step)
    world.sync(karim)
    closed = next(m for m in column(board(world), "d1")["missions"] if m["id"] == "M-A-0001")
    assert (closed["status"], closed["finished"]) == ("closed", True)
    assert "clôturée" in text(client.get("/desk/missions/M-A-0001"))
    late = world.office.post(
        "/api/v1/missions/M-A-0001/cancel", json={"reason": "x"}, headers=world.as_user("bureau")
    )
    assert (late.status_code, late.get_json()["code"]) == (409, "mission_finished")
    again = world.office.post(
        "/api/v1/missions/M-A-0001/assign",
        json={"driver_id": "d2", "started_ok": True},
        headers=world.as_user("bureau"),
    )
    assert (again.status_code, again.get_json()["code"]) == (409, "mission_finished")


def card_html(page: str, mission: str) -> str:
    found = re.search(rf'<article[^>]*data-mission="{re.escape(mission)}".*?</article>', page, re.S)
    assert found, f"no card for {mission}"
    return found.group(0)


def offered(html: str) -> list[str]:
    """The drivers an "assign to" list offers (its "—" left out)."""
    return re.findall(r'<option value="(d\d)"', html)


def test_the_board_lists_the_drivers_once_and_a_refused_card_lists_them_itself(world):  # noqa: F811
    """Each card's list is filled from the board's one list by dispatch.js (a list in every
    card made a day of 200 trucks 30 MB); without the script, "Assign" with no driver
    chosen shows the board again with that card's list filled."""
    client = desk(world)
    calls = [take_call(client, plate=p) for p in ("EF-456-GH", "JK-321-LM", "NP-654-QR")]
    post(client, f"/desk/dispatch/{calls[0]}/assign", {"driver_id": "d1"})
    page = client.get("/desk/dispatch").get_data(as_text=True)
    cards = re.findall(r"<article[^>]*data-mission=", page)
    assert len(cards) >= 4  # the three calls and the demo's own missions
    listed = re.search(r'<template id="driver-choices">(.*?)</template>', page, re.S)
    assert listed and offered(listed.group(1)) == ["d1", "d2", "d3"]
    assert offered(page) == ["d1", "d2", "d3"]  # once on the whole board, in the template
    given = card_html(page, calls[0])
    assert 'data-choices="driver-choices" data-current="d1"' in given
    assert 'data-current=""' in card_html(page, calls[1])

    refused = post(client, f"/desk/dispatch/{calls[1]}/assign", {"driver_id": ""})
    assert refused.status_code == 400
    again = refused.get_data(as_text=True)
    assert "Choisissez un chauffeur" in text(refused)
    assert offered(card_html(again, calls[1])) == ["d1", "d2", "d3"]
    assert offered(card_html(again, calls[2])) == []
    # A refused reassignment lists every driver but the mission's own.
    refused = post(client, f"/desk/dispatch/{calls[0]}/assign", {"driver_id": ""})
    assert offered(card_html(refused.get_data(as_text=True), calls[0])) == ["d2", "d3"]


def test_a_refused_cancel_keeps_what_was_typed_and_changes_nothing(world):  # noqa: F811
    client = desk(world)
    empty = post(client, "/desk/dispatch/M-A-0001/cancel", {"reason": "   "})
    assert empty.status_code == 422
    assert "Indiquez le motif de l'annulation" in text(empty)
    long = "x" * 501
    too_long = post(client, "/desk/dispatch/M-A-0001/cancel", {"reason": long})
    assert too_long.status_code == 422
    assert long in too_long.get_data(as_text=True)  # kept in its textarea
    unknown = post(client, "/desk/dispatch/M-A-0001/assign", {"driver_id": "nobody"})
    assert unknown.status_code == 422
    found = next(m for m in column(board(world), "d1")["missions"] if m["id"] == "M-A-0001")
    assert (found["office_status"], found["driver_id"]) == ("assigned", "d1")


def test_the_board_and_its_acts_need_the_right_to_manage_missions(world):  # noqa: F811
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
    assert sign_in(client, "chauffeur", password="pass-chauffeur-1").status_code == 302
    assert client.get("/desk/dispatch").status_code == 403
    assert client.get("/desk/dispatch/board").status_code == 403
    assert post(client, "/desk/dispatch/M-A-0001/cancel", {"reason": "x"}).status_code == 403
    assert "Répartition" not in text(client.get("/desk/"))
    token = world.office.post(
        "/api/v1/auth/login",
        json={"tenant": "demo", "login": "chauffeur", "password": "pass-chauffeur-1"},
    ).get_json()["token"]
    denied = world.office.get("/api/v1/dispatch", headers={"Authorization": f"Bearer {token}"})
    assert (denied.status_code, denied.get_json()["code"]) == (403, "right_missing")
    assert board(world)["drivers"][0]["missions"][0]["driver_id"] == "d1"  # unchanged


def test_days_are_the_tenants_days(world):  # noqa: F811
    start, end = day_bounds(date(2026, 3, 29), PARIS)  # the clocks go forward that night
    assert (end - start).total_seconds() == 23 * 3600
    assert local_day(datetime(2026, 3, 9, 23, 30, tzinfo=UTC), PARIS) == date(2026, 3, 10)
    client = desk(world)
    late = take_call(client, call_at="2026-03-10T00:30", plate="EF-456-GH")  # 23:30 UTC the 9th
    assert late in ids(board(world)["unassigned"])
    with world.engine.begin() as conn:
        conn.execute(sa.update(tenants).values(settings={"timezone": "America/New_York"}))
    with world.engine.connect() as conn:
        in_new_york = dispatch.board(
            conn, "demo", date(2026, 3, 9), ZoneInfo("America/New_York"), date(2026, 3, 10)
        )
    assert late in [m.id for m in in_new_york.unassigned]
    assert board(world, day="2026-03-09")["timezone"] == "America/New_York"


def test_today_shows_yesterdays_open_missions_and_every_one_waiting_for_a_driver(world):  # noqa: F811
    key = party_key(world, "ASSIST-A")
    tomorrow = api_order(
        world,
        key,
        message_id="A-T",
        file_number="A-2026-0950",
        plate="JK-321-LM",
        call="2026-03-11T07:00:00+01:00",
    )
    yesterday = api_order(
        world,
        key,
        message_id="A-Y",
        file_number="A-2026-0951",
        plate="NP-654-QR",
        call="2026-03-09T18:00:00+01:00",
    )
    assert ids(board(world)["unassigned"]) == [yesterday, tomorrow]
    assert ids(board(world, day="2026-03-11")["unassigned"]) == [tomorrow]
    assert "appel du 11/03/2026" in text(desk(world).get("/desk/dispatch"))
    for mission in (tomorrow, yesterday):
        given = world.office.post(
            f"/api/v1/missions/{mission}/assign",
            json={"driver_id": "d3"},
            headers=world.as_user("bureau"),
        )
        assert given.status_code == 200, given.get_json()
    today = board(world)
    assert today["unassigned"] == []
    marc = ids(column(today, "d3")["missions"])
    assert yesterday in marc and tomorrow not in marc  # tomorrow's is on tomorrow's board
    assert tomorrow in ids(column(board(world, day="2026-03-11"), "d3")["missions"])
    assert yesterday not in ids(column(board(world, day="2026-03-08"), "d3")["missions"])
