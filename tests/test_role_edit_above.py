"""Nobody edits a role above their own (issue 16): a user holding `manage_users` cannot
shrink the admin role down to their own rights, though every right they would leave is
one they hold; and nobody takes `manage_users` away from the last role that gives it to
an active user. The API on both databases; the desk on SQLite."""

from __future__ import annotations

import pytest

from server.people import identity
from server.platform.tables import audit_log
from tests.desk_support import post, sign_in
from tests.invoicing_support import NOW
from tests.office_world import world as office_world  # noqa: F401
from tests.server_support import PASSWORD, START, world  # noqa: F401
from tests.storage import engine  # noqa: F401


def hr_headers(w):
    """rose: role hr, which gives `manage_users` and `reconcile` only."""
    with w.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(conn, tenant, "hr", ["manage_users", "reconcile"], actor="t", now=START)
        identity.set_role(conn, tenant, "trainee", [], actor="t", now=START)
        identity.create_user(conn, "acme", "rose", "Rose", PASSWORD, "hr", actor="t", now=START)
    return {"Authorization": f"Bearer {w.login('acme', 'rose').json['token']}"}


def stored(w, role):
    with w.engine.connect() as conn:
        return identity.role_rights(conn, "acme", role)


def test_a_user_cannot_edit_a_role_above_theirs_but_can_edit_one_below(world):  # noqa: F811
    headers = hr_headers(world)
    admin_before = stored(world, "admin")
    before = world.count(audit_log)
    shrink = world.client.put(
        "/api/v1/roles/admin", json={"rights": ["manage_users"]}, headers=headers
    )
    assert (shrink.status_code, shrink.json["code"]) == (403, "role_above_yours")
    assert shrink.json["message"].startswith("Le rôle admin a des droits que vous n'avez pas")
    english = world.client.put(
        "/api/v1/roles/admin",
        json={"rights": []},
        headers={**headers, "Accept-Language": "en"},
    )
    assert english.json["message"].startswith("Role admin has rights you do not have")
    assert stored(world, "admin") == admin_before and world.count(audit_log) == before

    below = world.client.put(
        "/api/v1/roles/trainee", json={"rights": ["reconcile"]}, headers=headers
    )
    assert below.status_code == 200, below.json
    assert stored(world, "trainee") == {"reconcile"}
    # Their own role holds nothing they lack: they may still edit it.
    own = world.client.put("/api/v1/roles/hr", json={"rights": ["manage_users"]}, headers=headers)
    assert own.status_code == 200, own.json
    assert stored(world, "hr") == {"manage_users"}


def test_the_admin_still_edits_every_role(world):  # noqa: F811
    hr_headers(world)
    answer = world.client.put(
        "/api/v1/roles/hr", json={"rights": ["reconcile"]}, headers=world.auth("acme.admin")
    )
    assert answer.status_code == 200, answer.json
    assert stored(world, "hr") == {"reconcile"}


def test_manage_users_stays_with_an_active_user(world):  # noqa: F811
    with world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(conn, tenant, "hr", ["manage_users"], actor="t", now=START)
    # hr gives the right to nobody: the admin role is the last one that gives it.
    with pytest.raises(identity.Conflict) as refused, world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(conn, tenant, "admin", ["reconcile"], actor="t", now=START)
    assert refused.value.code == "last_admin"
    assert "manage_users" in stored(world, "admin")
    with world.engine.begin() as conn:
        identity.create_user(conn, "acme", "rose", "Rose", PASSWORD, "hr", actor="t", now=START)
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(conn, tenant, "admin", ["reconcile"], actor="t", now=START)
    assert stored(world, "admin") == {"reconcile"}
    # Now hr is the last: rose, holding it, cannot take it from her role either.
    headers = {"Authorization": f"Bearer {world.login('acme', 'rose').json['token']}"}
    again = world.client.put("/api/v1/roles/hr", json={"rights": []}, headers=headers)
    assert (again.status_code, again.json["code"]) == (409, "own_role_rights")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_desk_refuses_editing_a_role_above_yours(office_world):  # noqa: F811
    w = office_world
    with w.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "demo")
        identity.set_role(conn, tenant, "rh", {"manage_users"}, actor="t", now=NOW)
        identity.create_user(conn, "demo", "rh1", "Rose RH", PASSWORD, "rh", actor="t", now=NOW)
        admin_before = identity.role_rights(conn, "demo", "admin")
    client = w.app.test_client()
    assert sign_in(client, "rh1", password=PASSWORD).status_code == 302
    refused = post(
        client, "/desk/roles", {"name": "admin", "rights": "manage_users"}, token_from="/desk/users"
    )
    assert refused.status_code == 403
    assert "Le rôle admin a des droits que vous n&#39;avez pas" in refused.get_data(as_text=True)
    with w.engine.connect() as conn:
        assert identity.role_rights(conn, "demo", "admin") == admin_before
