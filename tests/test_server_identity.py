"""Office users, roles and rights, drivers' PINs: sign-in, lock-out, tenant isolation."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from server.people import identity
from server.people.drivers import create_driver, driver_transaction_rights
from server.people.rights import DEFAULT_ROLES, PAYMENT_RIGHTS, may_record_transactions
from server.platform.tables import changes, drivers, users
from tests.server_support import PASSWORD, START, world  # noqa: F401
from tests.storage import engine  # noqa: F401


def test_signing_in_gives_a_token_naming_the_user_and_the_rights(world):  # noqa: F811
    answer = world.login("acme", "admin")
    assert answer.json["expires_in"] == 1800
    me = world.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {answer.json['token']}"}
    )
    assert me.json["login"] == "admin" and me.json["tenant_id"] == "acme"
    assert "manage_users" in me.json["rights"] and "collect" in me.json["rights"]


def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(world):  # noqa: F811
    wrong = world.login("acme", "admin", "not the password")
    unknown = world.login("acme", "nobody", "not the password")
    other_tenant = world.login("nowhere", "admin")
    assert wrong.status_code == unknown.status_code == other_tenant.status_code == 401
    assert wrong.json == unknown.json == other_tenant.json


def test_five_failures_lock_the_account_for_fifteen_minutes(world):  # noqa: F811
    for _ in range(4):
        assert world.login("acme", "admin", "wrong password").status_code == 401
    fifth = world.login("acme", "admin", "wrong password")
    assert (fifth.status_code, fifth.json["code"]) == (429, "account_locked")
    locked = world.login("acme", "admin")
    assert (locked.status_code, locked.json["code"]) == (429, "account_locked")
    assert world.login("acme", "clerk").status_code == 200  # only that account
    world.clock.advance(minutes=15)
    assert world.login("acme", "admin").status_code == 200


def test_a_successful_sign_in_resets_the_failure_count(world):  # noqa: F811
    for _ in range(4):
        world.login("acme", "admin", "wrong password")
    assert world.login("acme", "admin").status_code == 200
    for _ in range(4):
        world.login("acme", "admin", "wrong password")
    assert world.login("acme", "admin").status_code == 200


def test_an_expired_or_altered_user_token_is_refused(world):  # noqa: F811
    token = world.tokens["acme.admin"]
    payload, mac = token.split(".")
    altered = world.client.get(
        "/api/v1/users", headers={"Authorization": f"Bearer {payload}x.{mac}"}
    )
    assert (altered.status_code, altered.json["code"]) == (401, "token_invalid")
    missing = world.client.get("/api/v1/users")
    assert (missing.status_code, missing.json["code"]) == (401, "unauthenticated")
    world.clock.advance(minutes=30)
    expired = world.client.get("/api/v1/users", headers=world.auth("acme.admin"))
    assert (expired.status_code, expired.json["code"]) == (401, "token_expired")


def test_passwords_are_stored_as_scrypt_hashes(world):  # noqa: F811
    with world.engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.password_hash)).scalars().all()
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in stored)


# --- rights and the payments module (seed 004) -----------------------------------


def test_nobody_may_record_a_transaction_until_payments_are_on_and_a_role_has_the_right():
    assert not may_record_transactions(False, {"collect"})
    assert not may_record_transactions(True, set())
    assert may_record_transactions(True, {"collect"})
    assert all(not (rights & PAYMENT_RIGHTS) for rights in DEFAULT_ROLES.values())


def test_a_new_tenant_without_payments_gives_no_role_a_payment_right(engine):  # noqa: F811
    with engine.begin() as conn:
        identity.create_tenant(conn, "t", "T", payments_enabled=False, now=START)
        create_driver(conn, "t", "D1", "Luc", "1234", "driver", actor="t", now=START)
        roles = dict(identity.list_roles(conn, "t"))
        enabled, rights = driver_transaction_rights(conn, "t", "D1")
    assert all(not set(r) & PAYMENT_RIGHTS for r in roles.values())
    assert not may_record_transactions(enabled, rights)


def test_payment_rights_cannot_be_granted_before_the_module_is_on(engine):  # noqa: F811
    with engine.begin() as conn:
        tenant = identity.create_tenant(conn, "t", "T", payments_enabled=False, now=START)
    with pytest.raises(identity.Conflict), engine.begin() as conn:
        identity.set_role(conn, tenant, "driver", ["collect"], actor="t", now=START)
    with engine.begin() as conn:
        identity.set_payments(conn, "t", True, now=START)
        tenant = identity.get_tenant(conn, "t")
        identity.set_role(conn, tenant, "driver", ["collect"], actor="t", now=START)
        create_driver(conn, "t", "D1", "Luc", "1234", "driver", actor="t", now=START)
        assert may_record_transactions(*driver_transaction_rights(conn, "t", "D1"))


def test_a_user_cannot_grant_a_right_they_do_not_have(world):  # noqa: F811
    with world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(conn, tenant, "hr", ["manage_users"], actor="t", now=START)
        identity.create_user(conn, "acme", "hr", "HR", PASSWORD, "hr", actor="t", now=START)
    token = world.login("acme", "hr").json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    grant = world.client.put(
        "/api/v1/roles/driver", json={"rights": ["manage_devices"]}, headers=headers
    )
    assert (grant.status_code, grant.json["code"]) == (403, "right_missing")
    above = world.client.post(
        "/api/v1/users",
        json={"login": "boss", "name": "Boss", "password": PASSWORD, "role": "admin"},
        headers=headers,
    )
    assert (above.status_code, above.json["code"]) == (422, "role_above_yours")
    assert world.count(users, login="boss") == 0


# --- users ------------------------------------------------------------------------


def test_an_admin_creates_and_lists_users_of_their_own_tenant_only(world):  # noqa: F811
    made = world.client.post(
        "/api/v1/users",
        json={"login": "marie", "name": "Marie", "password": PASSWORD, "role": "office"},
        headers=world.auth("acme.admin"),
    )
    assert made.status_code == 201 and "password" not in made.json
    listed = world.client.get("/api/v1/users", headers=world.auth("acme.admin")).json
    assert [u["login"] for u in listed] == ["admin", "clerk", "marie"]
    theirs = world.client.get("/api/v1/users", headers=world.auth("other.admin")).json
    assert [u["login"] for u in theirs] == ["admin", "clerk"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"login": "m", "name": "M", "password": "short", "role": "office"}, "password"),
        ({"login": "m", "name": "M", "password": PASSWORD, "role": "office", "x": 1}, "x"),
        ({"login": "m", "name": "M", "password": 1234567890123, "role": "office"}, "password"),
        ({"login": "m", "name": "", "password": PASSWORD, "role": "office"}, "name"),
    ],
)
def test_a_bad_user_is_refused_with_its_path_and_nothing_stored(world, body, path):  # noqa: F811
    answer = world.client.post("/api/v1/users", json=body, headers=world.auth("acme.admin"))
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == [path]
    assert world.count(users, login="m") == 0


def test_a_taken_login_and_an_unknown_role_are_refused(world):  # noqa: F811
    body = {"login": "admin", "name": "A", "password": PASSWORD, "role": "office"}
    taken = world.client.post("/api/v1/users", json=body, headers=world.auth("acme.admin"))
    assert (taken.status_code, taken.json["code"]) == (409, "login_taken")
    body = {"login": "new", "name": "A", "password": PASSWORD, "role": "king"}
    role = world.client.post("/api/v1/users", json=body, headers=world.auth("acme.admin"))
    assert (role.status_code, role.json["code"]) == (422, "role_unknown")


# --- drivers ----------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", 1234, "", None])
def test_a_pin_is_four_to_eight_digits_as_a_string(world, pin):  # noqa: F811
    answer = world.client.post(
        "/api/v1/drivers",
        json={"id": "D9", "name": "New", "pin": pin},
        headers=world.auth("acme.admin"),
    )
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["pin"]
    assert world.count(drivers, id="D9") == 0


def test_a_new_driver_reaches_only_their_own_tablets_with_a_hashed_pin(world):  # noqa: F811
    answer = world.client.post(
        "/api/v1/drivers",
        json={"id": "D9", "name": "New", "pin": "00421"},
        headers=world.auth("acme.admin"),
    )
    assert answer.status_code == 201 and "pin" not in answer.json
    with world.engine.connect() as conn:
        change = conn.execute(
            sa.select(changes).where(changes.c.tenant_id == "acme", changes.c.entity_id == "D9")
        ).one()
    data = json.loads(change.data)
    assert (change.kind, change.scope) == ("driver", "D9")
    assert data["pin_hash"].startswith("scrypt$") and "00421" not in data["pin_hash"]


def test_setting_a_pin_is_announced_and_scoped_to_the_tenant(world):  # noqa: F811
    ok = world.client.put(
        "/api/v1/drivers/D1/pin", json={"pin": "9876"}, headers=world.auth("acme.admin")
    )
    assert ok.status_code == 204
    assert world.count(changes, tenant_id="acme", entity_id="D1") == 2
    foreign = world.client.put(
        "/api/v1/drivers/D1/pin", json={"pin": "9876"}, headers=world.auth("other.admin")
    )
    assert (foreign.status_code, foreign.json["code"]) == (404, "not_found")
    listed = world.client.get("/api/v1/drivers", headers=world.auth("other.admin")).json
    assert [d["id"] for d in listed] == ["X1"]
