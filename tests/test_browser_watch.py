"""The driver's screen in a real browser: the office assigns a mission while Karim's
missions list is open and online; it appears within seconds, with no click."""

from __future__ import annotations

import pytest

from fieldclient.screen import create_app
from tests.browser import PHONE, LiveServer, new_page
from tests.desk_support import post
from tests.desk_support import sign_in as desk_sign_in
from tests.dispatch_support import take_call
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_browser_driver import sign_in
from tests.watch_support import GetThrough, watching_client

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_a_new_assignment_appears_on_the_open_list_by_itself(browser, world, tmp_path):  # noqa: F811
    link = GetThrough(world.app)
    home = tmp_path / "tablet"
    karim = world.tablet(home, "d1", "1111")
    world.sync(karim)
    karim.close()
    app = create_app(
        home, clock=world.clock, sync_client=lambda t, _l: watching_client(world, link, t)
    )
    live = LiveServer(app)
    page = None
    try:
        page = new_page(browser, PHONE)
        sign_in(page, live.url, "d1", "1111")
        office = world.app.test_client()
        assert desk_sign_in(office, "bureau").status_code == 302
        mission = take_call(office, plate="JK-321-LM", caller_name="Anne Roux")
        assert page.locator(f"a[data-mission='{mission}']").count() == 0
        assert (
            post(office, f"/desk/dispatch/{mission}/assign", {"driver_id": "d1"}).status_code == 302
        )
        # no click: the list's watch asks, syncs and reloads (every 5 s)
        page.locator(f"a[data-mission='{mission}']").wait_for(state="visible", timeout=15_000)
        assert any(status == 200 for _path, status in link.gets)
    finally:
        if page is not None:
            page.context.close()
        live.close()
