"""Helpers for the tests of one truth across tablets (no test here): a second tablet of
one driver. The push announces a mission's money itself
(`server.devices.ingest.entries_stored` calls `server.office.mission_money.entries_stored`).
"""

from __future__ import annotations

from pathlib import Path

from fieldclient import syncing
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from tests.office_world import URL, World


def another_tablet(world: World, path: Path, driver: str, pin: str, label: str) -> Tablet:
    """A further tablet for `driver`, with a code the office makes now."""
    made = world.office.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": [driver], "label": label},
        headers=world.as_user("admin"),
    )
    assert made.status_code == 201, made.get_json()
    tablet = Tablet(Home(path), clock=world.clock)
    syncing.enroll(tablet, URL, made.get_json()["code"], label=label, client=world.client())
    tablet.login(driver, pin)
    return tablet
