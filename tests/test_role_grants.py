"""Nobody gives a driver, or an office user, a role with a right their own role lacks
(the API; the desk's side is tests/test_desk_role_grants.py). Payment rights count
whether the payments module is on or not, so switching it off blocks nobody."""

from __future__ import annotations

from server.people import identity
from server.platform.tables import audit_log, drivers
from tests.server_support import PASSWORD, START, world  # noqa: F401
from tests.storage import engine  # noqa: F401


def hr_headers(w, rights=("manage_users",)):
    """A user whose role gives `rights` only (acme has the payments module on)."""
    with w.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(conn, tenant, "hr", list(rights), actor="t", now=START)
        identity.set_role(conn, tenant, "trainee", [], actor="t", now=START)
        identity.create_user(conn, "acme", "rose", "Rose", PASSWORD, "hr", actor="t", now=START)
    return {"Authorization": f"Bearer {w.login('acme', 'rose').json['token']}"}


def new_driver(w, headers, role, driver_id="D7"):
    return w.client.post(
        "/api/v1/drivers",
        json={"id": driver_id, "name": "Noé", "pin": "2468", "role": role},
        headers=headers,
    )


def test_nobody_creates_a_driver_with_a_role_above_their_own(world):  # noqa: F811
    headers = hr_headers(world)
    before = world.count(audit_log)
    above = new_driver(world, headers, "driver")  # the driver role gives "collect"
    assert (above.status_code, above.json["code"]) == (422, "role_above_yours")
    assert "« encaisser »" in above.json["message"]
    english = world.client.post(
        "/api/v1/drivers",
        json={"id": "D7", "name": "Noé", "pin": "2468", "role": "manager"},
        headers={**headers, "Accept-Language": "en"},
    )
    assert english.json["message"].startswith("Role manager gives rights you do not have (")
    assert "'approve a discount'" in english.json["message"]
    assert world.count(drivers, id="D7") == 0 and world.count(audit_log) == before

    within = new_driver(world, headers, "trainee")  # no right at all: within anyone's
    assert within.status_code == 201, within.json
    assert world.count(drivers, id="D7") == 1


def test_an_admin_creates_drivers_with_any_role_they_hold(world):  # noqa: F811
    for n, role in enumerate(("driver", "manager", "admin")):
        made = new_driver(world, world.auth("acme.admin"), role, f"D{n + 7}")
        assert (made.status_code, made.json["role"]) == (201, role)


def test_switching_payments_off_blocks_no_one_from_creating_drivers_or_users(world):  # noqa: F811
    with world.engine.begin() as conn:
        identity.set_payments(conn, "acme", False, now=START)
    # The driver role still stores "collect", the admin role every payment right.
    made = new_driver(world, world.auth("acme.admin"), "driver")
    assert made.status_code == 201, made.json
    user = world.client.post(
        "/api/v1/users",
        json={"login": "marie", "name": "Marie", "password": PASSWORD, "role": "office"},
        headers=world.auth("acme.admin"),
    )
    assert user.status_code == 201, user.json


def test_payment_rights_count_while_the_module_is_off(world):  # noqa: F811
    headers = hr_headers(world)
    with world.engine.begin() as conn:
        identity.set_payments(conn, "acme", False, now=START)
    # "collect" does nothing while the module is off, but would once it is back on.
    above = new_driver(world, headers, "driver")
    assert (above.status_code, above.json["code"]) == (422, "role_above_yours")
    assert world.count(drivers, id="D7") == 0
