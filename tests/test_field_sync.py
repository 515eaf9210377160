"""The field client against the real server (the Flask app in process, on SQLite and
PostgreSQL), through a link that fails: an offline day synced on reconnect, dropped
connections, answers lost after the server committed, duplicated and reordered batches,
a pull cut in the middle, and an office decision that reaches the tablet's register."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from fieldclient import syncing
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from server.platform.tables import devices, missions
from sync.client import ServerUnreachable, SyncClient
from tests.office_world import START, World, assert_in_agreement, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.wsgi_faults import URL, WsgiFaults, session

D = Decimal


def test_an_offline_day_reaches_the_server_once_through_a_failing_link(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    first = world.sync(tablet)
    assert first.changes > 0
    assert {r["id"] for r in tablet.mission_rows(day=START.date())} >= {"M-A-0004", "M-A-0001"}

    world.link.inject("cut")  # the truck leaves the depot: no network all day
    tablet.register_open(D("50.00"))
    for step in ("en_route", "on_site"):
        tablet.step("M-A-0004", step)
    tablet.collect("M-A-0004", "cash", "50.00", {"tendered": "50.00"})
    world.clock.advance(minutes=5)
    code = world.approval(tablet, "M-A-0004", "discount", "46.00")
    world.clock.advance(minutes=2)
    tablet.discount("M-A-0004", "46.00", code)
    for step in ("departed", "delivered", "closed"):
        tablet.step("M-A-0004", step)
    tablet.dispute("M-A-0001", "Le client dit que le péage était inclus")
    made = tablet.new_mission(
        {
            "id": "ROAD-1",
            "vehicle": {"plate": "AB-123-CD", "class": "VL"},
            "times": {"call": (world.clock.now).isoformat()},
            "services": [{"code": "TOW"}],
            "distance_km": {"loaded": "12"},
        }
    )
    due = tablet.view("ROAD-1").money.remaining
    assert made.seq > 0 and due > 0
    tablet.collect("ROAD-1", "card", str(due), {"terminal_ref": "AUT-1"})
    tablet.step("ROAD-1", "en_route")
    _, closing = tablet.register_close(D("99.00"))
    assert closing["variance"] == "-1.00"
    with pytest.raises(ServerUnreachable):  # tried during the day: nothing lost
        world.sync(tablet)
    waiting = tablet.pending_count()
    assert waiting == len(list(tablet.ledger().rows())) > 10

    # Back at the depot. The link still misbehaves: a dropped request, an answer lost
    # after the server committed, a batch delivered twice, an old batch replayed late.
    world.link.heal()
    world.link.inject(None, "drop", "lose", "dup", "replay", "lose", None)  # session, then push
    report = world.sync(tablet, batch_size=3)
    assert report.pushed == waiting
    held = assert_in_agreement(world, tablet)
    faults = [fault for _, fault, _ in world.link.log]
    assert {"drop", "lose", "dup", "replay"} <= set(faults)

    # The server valued every mission again and agrees to the cent; the road mission exists.
    kinds = world.anomaly_kinds()
    assert "valuation_mismatch" not in kinds and not [k for k in kinds if "journal" in k]
    with world.engine.connect() as conn:
        road = conn.execute(
            sa.select(missions.c.source, missions.c.driver_id).where(missions.c.id == "ROAD-1")
        ).one()
    assert tuple(road) == ("device", "d1")
    assert sum(1 for e in held if e.entry.type == "collection") == 2


def test_a_pull_cut_in_the_middle_resumes_without_loss_or_duplicate(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "julie", "d2", "2222")
    world.link.inject(None, None, "cut")  # the head probe and the first page arrive, not the 2nd
    with pytest.raises(ServerUnreachable):
        world.sync(tablet, page_size=2)
    partial = int(tablet.meta("pull_cursor") or 0)
    assert partial > 0  # the first page and its cursor were kept together
    world.link.heal()
    report = world.sync(tablet, page_size=2)
    assert report.cursor > partial
    counted = tablet.db.execute("SELECT COUNT(*) FROM contracts").fetchone()[0]
    assert counted == 3
    with world.engine.connect() as conn:
        theirs = set(
            conn.execute(sa.select(missions.c.id).where(missions.c.driver_id == "d2")).scalars()
        )
    assert {r[0] for r in tablet.db.execute("SELECT id FROM missions")} == theirs
    again = world.sync(tablet)
    assert again.changes == 0  # nothing new, nothing applied twice


def test_the_office_voids_a_fictitious_collection_and_the_tablet_register_follows(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    tablet.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        tablet.step("M-A-0004", step)
    cash = tablet.collect("M-A-0004", "cash", "96.00", {"tendered": "96.00"})
    world.sync(tablet)
    assert tablet.register("d1").expected_cash == D("96.00")

    voided = world.office.post(
        f"/api/v1/collections/{tablet.device_id}/{cash.seq}/void",
        json={"reason": "Le client n'a rien payé : encaissement fictif"},
        headers=world.as_user("bureau"),
    )
    assert voided.status_code in (200, 201), voided.get_json()
    report = world.sync(tablet)
    assert (report.decisions, report.pushed) == (1, 1)  # the reversal went straight back
    reversal = [r for r in tablet.ledger().rows() if r.type == "reversal"]
    assert len(reversal) == 1 and reversal[0].payload["reverses"]["hash"] == cash.hash
    assert tablet.register("d1").expected_cash == D("0.00")
    assert tablet.view("M-A-0004").money.remaining == D("96.00")
    held = assert_in_agreement(world, tablet)  # the reversal reached the server, once
    assert [e.entry.type for e in held].count("reversal") == 1
    assert world.sync(tablet).decisions == 0


def test_the_tablet_learns_its_clock_offset_from_the_server(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "marc", "d3", "3333")
    tablet._clock = lambda: world.clock.now - timedelta(days=40)  # a tablet months off
    world.sync(tablet)
    assert abs((tablet.now() - world.clock.now).total_seconds()) <= 2


def test_an_enrolment_whose_answer_was_lost_is_retried_with_the_same_key(world, tmp_path):  # noqa: F811
    from sync.protocol import ENROL_PATH

    link = WsgiFaults(world.app, paths=(ENROL_PATH,))
    link.inject("lose")  # the server enrols the tablet, the answer never arrives
    client = SyncClient(URL, session=session(link), retries=2, backoff=0.0, sleep=lambda _s: None)
    tablet = Tablet(Home(tmp_path / "lost"), clock=world.clock)
    answer = syncing.enroll(tablet, URL, world.code("d1"), client=client)
    with world.engine.connect() as conn:
        enrolled = conn.execute(sa.select(devices.c.id)).scalars().all()
    assert enrolled == [answer["device_id"]]  # one device, the one the tablet now holds
    assert [fault for _, fault, _ in link.log] == ["lose", None]
    tablet.login("d1", "1111")
    assert world.sync(tablet).changes > 0  # its key opens sessions: the same enrolment

    # The same code with another key is still refused: the code was spent.
    other = Tablet(Home(tmp_path / "thief"), clock=world.clock)
    with pytest.raises(Exception, match="déjà servi"):
        syncing.enroll(other, URL, world.code("d1"), client=world.client())
