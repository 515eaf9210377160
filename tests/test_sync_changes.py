"""'Anything new for me?' (GET /api/v1/sync/changes): an assignment is news for the
assigned tablet only, not after its pull, never a write; the field client's watch syncs
when there is news and only then; the screen's watch answers the page's script. On
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fieldclient import change_watch
from fieldclient.screen import create_app
from fieldclient.tablet import Tablet
from server.platform.tables import changes, tenants
from tests.desk_support import post
from tests.desk_support import sign_in as desk_sign_in
from tests.dispatch_support import on_tablet, take_call
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.watch_support import GetThrough, watching_client

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def desk(w: World) -> Any:
    client = w.app.test_client()
    assert desk_sign_in(client, "bureau").status_code == 302
    return client


def session_token(w: World, tablet: Tablet) -> str:
    client = w.client(tablet)
    client.open_session(tablet.private_key())
    assert client.token
    return client.token


def ask(w: World, token: str, since: int | str) -> Any:
    return w.office.get(
        f"/api/v1/sync/changes?since={since}", headers={"Authorization": f"Bearer {token}"}
    )


def cursor_of(tablet: Tablet) -> int:
    return int(tablet.meta("pull_cursor") or 0)


def feed_state(w: World) -> tuple[int, int]:
    with w.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(changes)).scalar_one()
        seq = conn.execute(sa.select(tenants.c.change_seq).where(tenants.c.id == "demo"))
        return int(rows), int(seq.scalar_one())


def test_an_assignment_is_news_for_its_tablet_only_until_it_pulls(world, tmp_path):  # noqa: F811
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    julie = world.tablet(tmp_path / "julie", "d2", "2222")
    for tablet in (karim, julie):
        world.sync(tablet)
    k_token, j_token = session_token(world, karim), session_token(world, julie)
    mission = take_call(desk(world), party_id="ASSIST-B", file_number="B-2026-0777")
    before = cursor_of(karim)
    assert ask(world, k_token, before).status_code == 204  # an unassigned mission: no one's
    assert ask(world, j_token, cursor_of(julie)).status_code == 204

    assigned = post(desk(world), f"/desk/dispatch/{mission}/assign", {"driver_id": "d1"})
    assert assigned.status_code == 302
    state = feed_state(world)
    news = ask(world, k_token, before)
    assert news.status_code == 200
    _, last = state
    assert news.get_json() == {"changed": True, "cursor": last}
    assert news.headers["Towline-Cursor"] == str(last)
    quiet = ask(world, j_token, cursor_of(julie))
    assert (quiet.status_code, quiet.get_data()) == (204, b"")
    assert quiet.headers["Towline-Cursor"] == str(last)  # Julie skips Karim's change next time
    assert ask(world, j_token, last).status_code == 204
    assert feed_state(world) == state  # asking wrote nothing

    world.sync(karim)
    assert mission in on_tablet(karim)
    assert cursor_of(karim) == last
    assert ask(world, k_token, cursor_of(karim)).status_code == 204

    # reassigned: news for both (Julie gets it, Karim loses it)
    post(desk(world), f"/desk/dispatch/{mission}/assign", {"driver_id": "d2"})
    assert ask(world, k_token, cursor_of(karim)).status_code == 200
    assert ask(world, j_token, last).status_code == 200


def test_a_bad_question_is_refused_and_a_tablet_must_be_signed_in(world, tmp_path):  # noqa: F811
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    token = session_token(world, karim)
    for bad in ("-1", "abc"):
        answer = ask(world, token, bad)
        assert answer.status_code == 422, answer.get_json()
    missing = world.office.get("/api/v1/sync/changes", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 422
    assert world.office.get("/api/v1/sync/changes?since=0").status_code == 401
    user = world.office.get("/api/v1/sync/changes?since=0", headers=world.as_user("bureau"))
    assert user.status_code == 401  # an office user's token is not a tablet's


def test_the_watch_syncs_only_when_there_is_news(world, tmp_path):  # noqa: F811
    link = GetThrough(world.app)
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(karim)
    client = watching_client(world, link, karim)
    watch = change_watch.Watch()
    assert change_watch.check(karim, client, watch) == change_watch.Outcome(False)
    pulls = len(link.sent.get("/api/v1/sync/pull", []))
    assert pulls == 0  # no news: no sync

    mission = take_call(desk(world), plate="EF-456-GH", caller_name="Luc Petit")
    post(desk(world), f"/desk/dispatch/{mission}/assign", {"driver_id": "d1"})
    outcome = change_watch.check(karim, client, watch)
    assert outcome.changed and outcome.changes >= 1
    assert on_tablet(karim)[mission] == "assigned"
    assert watch.since == cursor_of(karim)
    assert change_watch.check(karim, client, watch) == change_watch.Outcome(False)
    assert [status for _path, status in link.gets] == [204, 200, 204]

    link.down = True  # the network goes: the question fails at once, nothing changes
    with pytest.raises(change_watch.ServerUnreachable):
        change_watch.check(karim, client, watch)
    assert watch.since == cursor_of(karim)


def test_the_screens_watch_brings_a_new_mission_to_the_list(world, tmp_path: Path):  # noqa: F811
    link = GetThrough(world.app)
    home = tmp_path / "tablet"
    karim = world.tablet(home, "d1", "1111")
    world.sync(karim)
    karim.close()
    screen = create_app(
        home, clock=world.clock, sync_client=lambda t, _l: watching_client(world, link, t)
    )
    screen.testing = True
    browser = screen.test_client()
    login = TOKEN.search(browser.get("/login").get_data(as_text=True))
    assert login
    signed = browser.post(
        "/login", data={"csrf_token": login.group(1), "driver": "d1", "pin": "1111"}
    )
    assert signed.status_code == 302
    listing = browser.get("/missions")
    page = listing.get_data(as_text=True)
    assert 'data-watch-url="/sync/watch"' in page and "watch.js" in page
    assert "script-src 'self';" in listing.headers["Content-Security-Policy"]
    token = TOKEN.search(page)
    assert token

    def watch() -> dict[str, Any]:
        answer = browser.post("/sync/watch", data={"csrf_token": token.group(1)})
        assert answer.status_code == 200
        return dict(answer.get_json())

    assert watch() == {"changed": False, "changes": 0, "online": True, "every": 5, "stop": False}
    mission = take_call(desk(world), plate="JK-321-LM", caller_name="Anne Roux")
    post(desk(world), f"/desk/dispatch/{mission}/assign", {"driver_id": "d1"})
    said = watch()
    assert said["changed"] is True and said["changes"] >= 1
    assert f'data-mission="{mission}"' in browser.get("/missions").get_data(as_text=True)
    link.down = True
    assert watch() == {"changed": False, "online": False, "every": 30, "stop": False}
    refused = browser.post("/sync/watch", data={})  # no CSRF token: refused, nothing asked
    assert refused.status_code == 400
