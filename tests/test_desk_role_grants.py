"""The desk gives roles as the API does (tests/test_role_grants.py): nobody gives an office
user a role with a right their own role lacks, the refusal names those rights, and
switching the payments module off blocks nobody. (The desk creates no drivers: the API
and the command line do.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.demo import PASSWORD
from server.people import identity
from server.platform.tables import audit_log, users
from tests.desk_support import post, sign_in
from tests.invoicing_support import NOW
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

NEW_PASSWORD = "une-phrase-de-passe"


def client_for(w, login="admin"):
    client = w.app.test_client()
    assert sign_in(client, login).status_code == 302
    return client


def count(w, table, **where):
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with w.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def create(client, login, role):
    return post(
        client,
        "/desk/users/new",
        {"login": login, "name": login.title(), "role": role, "password": NEW_PASSWORD},
        token_from="/desk/users",
    )


def test_the_desk_refuses_a_role_above_the_creators_and_names_the_rights(world):  # noqa: F811
    with world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "demo")
        identity.set_role(conn, tenant, "rh", {"manage_users"}, actor="t", now=NOW)
        identity.create_user(conn, "demo", "rh1", "Rose RH", PASSWORD, "rh", actor="t", now=NOW)
    client = client_for(world, "rh1")
    before = count(world, audit_log)
    refused = create(client, "paul", "driver")  # the demo's driver role gives "collect"
    assert refused.status_code == 422
    assert "Le rôle driver donne des droits que vous n&#39;avez pas (« encaisser »)" in (
        refused.get_data(as_text=True)
    )
    assert count(world, users, login="paul") == 0 and count(world, audit_log) == before


def test_with_payments_off_the_admin_still_gives_roles_holding_payment_rights(world):  # noqa: F811
    with world.engine.begin() as conn:
        identity.set_payments(conn, "demo", False, now=NOW)
    client = client_for(world)
    made = create(client, "paul", "office")  # office stores void and credit-note rights
    assert made.status_code == 302, made.get_data(as_text=True)
    assert count(world, users, login="paul") == 1
    with world.engine.connect() as conn:
        paul = conn.execute(sa.select(users.c.id).where(users.c.login == "paul")).scalar_one()
    moved = post(client, f"/desk/users/{paul}/role", {"role": "manager"}, token_from="/desk/users")
    assert moved.status_code == 302, moved.get_data(as_text=True)
