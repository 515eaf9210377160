"""Administering office users and enrolment codes (issue 14), over the API on SQLite and
PostgreSQL: an admin unlocks a locked account, resets a password (the user must replace
it; their sessions end), deactivates and reactivates a user (sessions end at once,
nothing deleted); unused enrolment codes are listed and withdrawn. Nobody acts on a user
with rights above their own, nor deactivates themselves or the last administrator."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server import demo
from server.cli.main import main
from server.people import hashing, user_admin
from server.platform.errors import Conflict
from server.platform.public_ids import ENROLMENT_CODE
from server.platform.tables import audit_log, enrolment_codes, users
from tests.browser import LiveServer, new_page, screenshot
from tests.desk_support import post, sign_in
from tests.office_world import World, world  # noqa: F401
from tests.public_refs import public_ref, row_id_of
from tests.storage import engine  # noqa: F401

NEW = "une-nouvelle-phrase"


def login(w: World, who: str, password: str = demo.PASSWORD):
    return w.office.post(
        "/api/v1/auth/login", json={"tenant": "demo", "login": who, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def uid(w: World, who: str) -> str:
    with w.engine.connect() as conn:
        return user_admin.user_id_by_login(conn, "demo", who)


def accounts(w: World) -> dict[str, dict]:
    answer = w.office.get("/api/v1/users", headers=w.as_user("admin"))
    assert answer.status_code == 200, answer.get_json()
    return {a["login"]: a for a in answer.get_json()}


def actions(w: World, target: str) -> list[str]:
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log.c.action)
                .where(audit_log.c.target == target)
                .order_by(audit_log.c.id)
            ).scalars()
        )


def test_a_locked_account_is_unlocked_by_an_admin_and_signs_in_at_once(world):  # noqa: F811
    for _ in range(5):
        login(world, "bureau", "wrong password!")
    assert login(world, "bureau").status_code == 429
    assert accounts(world)["bureau"]["locked_until"] is not None
    bureau = uid(world, "bureau")
    done = world.office.post(f"/api/v1/users/{bureau}/unlock", headers=world.as_user("admin"))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["locked_until"] is None
    assert login(world, "bureau").status_code == 200
    again = world.office.post(f"/api/v1/users/{bureau}/unlock", headers=world.as_user("admin"))
    assert (again.status_code, again.get_json()["code"]) == (409, "user_not_locked")
    assert actions(world, bureau).count("user.unlock") == 1


def test_a_reset_password_ends_sessions_and_must_be_replaced(world):  # noqa: F811
    token = login(world, "bureau").get_json()["token"]
    assert world.office.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    bureau = uid(world, "bureau")
    world.clock.advance(seconds=1)
    reset = world.office.post(
        f"/api/v1/users/{bureau}/password-reset", json={}, headers=world.as_user("admin")
    )
    assert reset.status_code == 200, reset.get_json()
    temporary = reset.get_json()["temporary_password"]
    assert len(temporary) == 14 and reset.get_json()["user"]["password_change_required"]
    # the token issued before the reset is over; the old password no longer opens
    assert world.office.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert login(world, "bureau").status_code == 401
    world.clock.advance(seconds=30)
    refused = login(world, "bureau", temporary)
    assert (refused.status_code, refused.get_json()["code"]) == (403, "password_change_required")
    change = {"tenant": "demo", "login": "bureau", "password": temporary}
    same = world.office.post("/api/v1/auth/password", json={**change, "new_password": temporary})
    assert (same.status_code, same.get_json()["code"]) == (422, "password_unchanged")
    changed = world.office.post("/api/v1/auth/password", json={**change, "new_password": NEW})
    assert changed.status_code == 200, changed.get_json()
    assert login(world, "bureau", temporary).status_code == 401
    fresh = login(world, "bureau", NEW)
    assert fresh.status_code == 200
    assert world.office.get("/api/v1/auth/me", headers=bearer(fresh.get_json()["token"])).json[
        "login"
    ] == ("bureau")
    assert accounts(world)["bureau"]["password_change_required"] is False
    assert actions(world, bureau)[-2:] == ["user.password_reset", "user.password_change"]
    with world.engine.connect() as conn:
        details = conn.execute(sa.select(audit_log.c.detail)).scalars().all()
    assert temporary not in json.dumps(details)  # never on the log in clear


def test_an_admin_may_type_the_temporary_password_but_not_a_short_one(world):  # noqa: F811
    bureau = uid(world, "bureau")
    path = f"/api/v1/users/{bureau}/password-reset"
    short = world.office.post(path, json={"password": "court"}, headers=world.as_user("admin"))
    assert short.status_code == 422
    assert login(world, "bureau").status_code == 200  # nothing changed
    typed = world.office.post(
        path, json={"password": "provisoire-123"}, headers=world.as_user("admin")
    )
    assert typed.get_json()["temporary_password"] == "provisoire-123"
    assert login(world, "bureau", "provisoire-123").get_json()["code"] == (
        "password_change_required"
    )


def test_a_deactivated_user_cannot_sign_in_and_their_token_ends_at_once(world):  # noqa: F811
    token = login(world, "gerant").get_json()["token"]
    gerant = uid(world, "gerant")
    world.clock.advance(seconds=1)
    path = f"/api/v1/users/{gerant}"
    empty = world.office.post(
        f"{path}/deactivate", json={"reason": "  "}, headers=world.as_user("admin")
    )
    assert empty.status_code == 422
    assert world.office.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    done = world.office.post(
        f"{path}/deactivate", json={"reason": "Départ"}, headers=world.as_user("admin")
    )
    assert done.status_code == 200 and done.get_json()["active"] is False
    assert world.office.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    refused = login(world, "gerant")
    assert (refused.status_code, refused.get_json()["code"]) == (403, "account_deactivated")
    # a wrong password says nothing about the account's state
    assert login(world, "gerant", "not the password").get_json()["code"] == "login_failed"
    twice = world.office.post(
        f"{path}/deactivate", json={"reason": "Départ"}, headers=world.as_user("admin")
    )
    assert (twice.status_code, twice.get_json()["code"]) == (409, "user_already_deactivated")
    back = world.office.post(f"{path}/reactivate", headers=world.as_user("admin"))
    assert back.status_code == 200 and back.get_json()["active"] is True
    assert world.office.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    world.clock.advance(seconds=1)
    fresh = login(world, "gerant").get_json()["token"]
    assert world.office.get("/api/v1/auth/me", headers=bearer(fresh)).status_code == 200
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(users.c.login).where(users.c.id == gerant)).scalar() == (
            "gerant"
        )
    assert actions(world, gerant)[-2:] == ["user.deactivate", "user.reactivate"]


def test_nobody_deactivates_themselves_or_the_last_admin(world):  # noqa: F811
    admin = uid(world, "admin")
    own = world.office.post(
        f"/api/v1/users/{admin}/deactivate", json={"reason": "x"}, headers=world.as_user("admin")
    )
    assert (own.status_code, own.get_json()["code"]) == (403, "own_account")
    with world.engine.begin() as conn, pytest.raises(Conflict) as last:
        user_admin.deactivate_user(conn, "demo", admin, actor=None, now=world.clock(), reason="x")
    assert last.value.code == "last_admin"
    second = world.office.post(
        "/api/v1/users",
        json={"login": "admin2", "name": "Second", "password": "long enough pw", "role": "admin"},
        headers=world.as_user("admin"),
    )
    assert second.status_code == 201
    done = world.office.post(
        f"/api/v1/users/{second.get_json()['id']}/deactivate",
        json={"reason": "doublon"},
        headers=world.as_user("admin"),
    )
    assert done.status_code == 200
    # the second admin deactivated, the first is the last again
    with world.engine.begin() as conn, pytest.raises(Conflict):
        user_admin.deactivate_user(conn, "demo", admin, actor=None, now=world.clock(), reason="x")


def test_nobody_acts_on_a_user_with_rights_above_their_own(world):  # noqa: F811
    admin = world.as_user("admin")
    for role, rights in (("rh", ["manage_users"]), ("stage", [])):
        made_role = world.office.put(
            f"/api/v1/roles/{role}", json={"rights": rights}, headers=admin
        )
        assert made_role.status_code == 200, made_role.get_json()
    for who, role in (("rh", "rh"), ("stagiaire", "stage")):
        made = world.office.post(
            "/api/v1/users",
            json={"login": who, "name": who, "password": demo.PASSWORD, "role": role},
            headers=admin,
        )
        assert made.status_code == 201, made.get_json()
    rh = world.as_user("rh")
    for target in ("admin", "bureau"):
        refused = world.office.post(
            f"/api/v1/users/{uid(world, target)}/deactivate", json={"reason": "x"}, headers=rh
        )
        assert (refused.status_code, refused.get_json()["code"]) == (403, "user_above_yours")
        reset = world.office.post(
            f"/api/v1/users/{uid(world, target)}/password-reset", json={}, headers=rh
        )
        assert reset.status_code == 403
    assert login(world, "bureau").status_code == 200  # untouched
    allowed = world.office.post(
        f"/api/v1/users/{uid(world, 'stagiaire')}/deactivate", json={"reason": "fin"}, headers=rh
    )
    assert allowed.status_code == 200
    clerk = world.office.post(
        f"/api/v1/users/{uid(world, 'stagiaire')}/reactivate", headers=world.as_user("bureau")
    )
    assert clerk.status_code == 403  # no manage_users


def test_another_tenants_user_is_not_found(world):  # noqa: F811
    with world.engine.begin() as conn:
        from server.people.identity import create_tenant, create_user

        create_tenant(conn, "autre", "Autre", payments_enabled=False, now=world.clock())
        other = create_user(
            conn, "autre", "x", "X", "long enough pw", "office", actor="t", now=world.clock()
        )
    for act in ("unlock", "reactivate"):
        answer = world.office.post(
            f"/api/v1/users/{other.id}/{act}", headers=world.as_user("admin")
        )
        assert answer.status_code == 404


def test_an_unused_enrolment_code_is_listed_withdrawn_and_then_refused(world):  # noqa: F811
    admin = world.as_user("admin")
    listed = world.office.get("/api/v1/enrolment-codes/open", headers=admin).get_json()
    assert sorted(c["driver_ids"][0] for c in listed) == ["d1", "d2", "d3"]
    assert all("code" not in c for c in listed)
    d1 = next(c for c in listed if c["driver_ids"] == ["d1"])
    gone = world.office.post(f"/api/v1/enrolment-codes/{d1['id']}/withdraw", headers=admin)
    assert gone.status_code == 204
    after = world.office.get("/api/v1/enrolment-codes/open", headers=admin).get_json()
    assert sorted(c["driver_ids"][0] for c in after) == ["d2", "d3"]
    enrol = world.office.post(
        "/api/v1/devices/enrol",
        json={"code": world.code("d1"), "public_key": "ab" * 32, "label": "x"},
    )
    assert (enrol.status_code, enrol.get_json()["code"]) == (401, "enrolment_code_withdrawn")
    again = world.office.post(f"/api/v1/enrolment-codes/{d1['id']}/withdraw", headers=admin)
    assert (again.status_code, again.get_json()["code"]) == (409, "enrolment_code_closed")
    unknown = world.office.post("/api/v1/enrolment-codes/999999/withdraw", headers=admin)
    assert unknown.status_code == 404
    with world.engine.connect() as conn:
        row = conn.execute(
            sa.select(enrolment_codes.c.withdrawn_by, enrolment_codes.c.used_at).where(
                enrolment_codes.c.id == row_id_of(world.app, ENROLMENT_CODE, d1["id"])
            )
        ).first()
        logged = conn.execute(
            sa.select(audit_log.c.action).where(audit_log.c.action == "enrolment_code.withdraw")
        ).all()
    assert row is not None and row.withdrawn_by == uid(world, "admin") and row.used_at is None
    assert len(logged) == 1


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_command_line_administers_users_and_codes(world, monkeypatch):  # noqa: F811
    monkeypatch.setattr(hashing, "N", 2**8)
    url = str(world.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, [*args, "--database", url])

    reset = run("users", "reset-password", "demo", "bureau", "--json")
    assert reset.exit_code == 0, reset.output
    temporary = json.loads(reset.output)["temporary_password"]
    assert login(world, "bureau", temporary).get_json()["code"] == "password_change_required"
    assert run("users", "deactivate", "demo", "gerant", "--reason", " ").exit_code == 2
    assert run("users", "deactivate", "demo", "gerant", "--reason", "Départ").exit_code == 0
    assert login(world, "gerant").status_code == 403
    last = run("users", "deactivate", "demo", "admin", "--reason", "x", "--lang", "en")
    assert last.exit_code == 3 and "last active user" in last.output
    assert run("users", "unlock", "demo", "gerant").exit_code == 3  # not locked
    assert run("users", "reactivate", "demo", "gerant").exit_code == 0
    assert run("users", "reactivate", "demo", "nobody").exit_code == 3
    listed = json.loads(run("users", "list", "demo", "--json").output)
    assert {u["login"]: u["password_change_required"] for u in listed}["bureau"] is True
    # the command line reads the real clock: a code made now is the one still open
    made = run("enroll-code", "demo", "--driver", "d2", "--label", "Camion CLI")
    assert made.exit_code == 0, made.output
    codes = json.loads(run("devices", "codes", "demo", "--json").output)
    mine = [c for c in codes if c["label"] == "Camion CLI"]
    assert len(mine) == 1 and mine[0]["driver_ids"] == ["d2"]
    assert run("devices", "withdraw-code", "demo", str(mine[0]["id"])).exit_code == 0
    assert run("devices", "withdraw-code", "demo", str(mine[0]["id"])).exit_code == 3
    after = json.loads(run("devices", "codes", "demo", "--json").output)
    assert all(c["label"] != "Camion CLI" for c in after)


# --- the desk ----------------------------------------------------------------------

TEMPORARY = re.compile(r"<p class=\"temporary\" data-temporary>([0-9A-Z-]+)</p>")


def desk_client(w: World, who: str = "admin", password: str = demo.PASSWORD):
    client = w.app.test_client()
    assert sign_in(client, who, password=password).status_code == 302
    return client


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_desk_resets_a_password_shown_once_and_the_user_chooses_a_new_one(world):  # noqa: F811
    admin = desk_client(world)
    clerk = desk_client(world, "bureau")
    assert clerk.get("/desk/").status_code == 200
    bureau = uid(world, "bureau")
    world.clock.advance(seconds=1)
    unconfirmed = post(admin, f"/desk/users/{bureau}/password", {}, token_from="/desk/users")
    assert unconfirmed.status_code == 400
    assert login(world, "bureau").status_code == 200  # nothing changed
    done = post(
        admin, f"/desk/users/{bureau}/password", {"confirm": "yes"}, token_from="/desk/users"
    )
    assert done.status_code == 302
    page = admin.get("/desk/users").get_data(as_text=True)
    shown = TEMPORARY.search(page)
    assert shown is not None
    temporary = shown.group(1)
    assert TEMPORARY.search(admin.get("/desk/users").get_data(as_text=True)) is None  # once
    # the clerk's open desk session is over
    assert clerk.get("/desk/").status_code == 302
    world.clock.advance(seconds=5)
    again = sign_in(world.app.test_client(), "bureau", password=temporary)
    assert again.status_code == 302 and again.headers["Location"].startswith("/desk/password")
    fresh = world.app.test_client()
    form = {"tenant": "demo", "login": "bureau", "password": temporary}
    differ = post(
        fresh,
        "/desk/password",
        {**form, "new_password": NEW, "confirm": NEW + "x"},
        token_from="/desk/password",
    )
    assert differ.status_code == 400 and "diffèrent" in differ.get_data(as_text=True)
    changed = post(
        fresh,
        "/desk/password",
        {**form, "new_password": NEW, "confirm": NEW},
        token_from="/desk/password",
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)
    assert sign_in(world.app.test_client(), "bureau", password=NEW).status_code == 302


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_desk_deactivates_unlocks_reactivates_and_withdraws_a_code(world):  # noqa: F811
    admin = desk_client(world)
    manager = desk_client(world, "gerant")
    gerant = uid(world, "gerant")
    no_reason = post(
        admin, f"/desk/users/{gerant}/deactivate", {"confirm": "yes"}, token_from="/desk/users"
    )
    assert no_reason.status_code == 400 and "motif" in no_reason.get_data(as_text=True)
    done = post(
        admin,
        f"/desk/users/{gerant}/deactivate",
        {"confirm": "yes", "reason": "Départ"},
        token_from="/desk/users",
    )
    assert done.status_code == 302
    assert manager.get("/desk/").status_code == 302  # ended at once
    row = admin.get("/desk/users").get_data(as_text=True)
    assert "désactivé" in row and f"/desk/users/{gerant}/reactivate" in row
    own = post(
        admin,
        f"/desk/users/{uid(world, 'admin')}/deactivate",
        {"confirm": "yes", "reason": "x"},
        token_from="/desk/users",
    )
    assert own.status_code == 403
    assert (
        post(admin, f"/desk/users/{gerant}/reactivate", {}, token_from="/desk/users").status_code
        == 302
    )
    for _ in range(5):
        sign_in(world.app.test_client(), "gerant", password="wrong password!")
    page = admin.get("/desk/users").get_data(as_text=True)
    assert f"/desk/users/{gerant}/unlock" in page
    assert (
        post(admin, f"/desk/users/{gerant}/unlock", {}, token_from="/desk/users").status_code == 302
    )
    assert sign_in(world.app.test_client(), "gerant").status_code == 302
    # enrolment codes
    devices_page = admin.get("/desk/devices").get_data(as_text=True)
    with world.engine.connect() as conn:
        first_id = conn.execute(sa.select(sa.func.min(enrolment_codes.c.id))).scalar_one()
    first = public_ref(world.app, ENROLMENT_CODE, first_id)  # the page's number, not the row's
    assert f'id="code-{first}"' in devices_page
    gone = post(admin, f"/desk/devices/codes/{first}/withdraw", {}, token_from="/desk/devices")
    assert gone.status_code == 302
    assert f'id="code-{first}"' not in admin.get("/desk/devices").get_data(as_text=True)
    twice = post(admin, f"/desk/devices/codes/{first}/withdraw", {}, token_from="/desk/devices")
    assert twice.status_code == 409
    assert actions(world, gerant)[-4:] == [
        "user.deactivate",
        "user.reactivate",
        "user.locked",
        "user.unlock",
    ]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_user_administration_in_a_browser(world, browser):  # noqa: F811
    server = LiveServer(world.app)
    try:
        admin = new_page(browser, {"width": 768, "height": 1000})
        admin.goto(server.url + "/desk/login?next=/desk/users")
        admin.fill("input[name=tenant]", "demo")
        admin.fill("input[name=login]", "admin")
        admin.fill("input[name=password]", demo.PASSWORD)
        admin.click("button[type=submit]")
        admin.wait_for_url("**/desk/users")
        row = admin.locator("tr#user-bureau")
        row.locator("summary", has_text="Réinitialiser le mot de passe").click()
        row.locator("input[name=confirm]").first.check()
        row.locator("button", has_text="Réinitialiser").click()
        admin.wait_for_url("**/desk/users")
        temporary = admin.locator("p.temporary").inner_text()
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", temporary)
        screenshot(admin, "desk-users-reset-768")
        # the clerk signs in with it, is asked for a new one, then signs in with that
        clerk = new_page(browser)
        clerk.goto(server.url + "/desk/login")
        clerk.fill("input[name=tenant]", "demo")
        clerk.fill("input[name=login]", "bureau")
        clerk.fill("input[name=password]", temporary)
        clerk.click("button[type=submit]")
        clerk.wait_for_url("**/desk/password?**")
        assert clerk.locator("input[name=login]").input_value() == "bureau"
        clerk.fill("input[name=password]", temporary)
        clerk.fill("input[name=new_password]", NEW)
        clerk.fill("input[name=confirm]", NEW)
        clerk.click("button[type=submit]")
        clerk.wait_for_url("**/desk/login**")
        assert "Mot de passe changé" in clerk.content()
        clerk.fill("input[name=login]", "bureau")
        clerk.fill("input[name=password]", NEW)
        clerk.click("button[type=submit]")
        clerk.wait_for_url("**/desk/")
        # the admin deactivates the manager, and withdraws an enrolment code
        admin.goto(server.url + "/desk/users")
        row = admin.locator("tr#user-gerant")
        row.locator("summary", has_text="Désactiver").click()
        row.locator("input[name=reason]").fill("Départ")
        row.locator("details.danger input[name=confirm]").check()
        row.locator("button", has_text="Désactiver le compte").click()
        admin.wait_for_url("**/desk/users")
        assert "désactivé" in admin.locator("tr#user-gerant td.account").inner_text()
        admin.goto(server.url + "/desk/devices")
        before = admin.locator("#open-codes tbody tr").count()
        admin.locator("#open-codes tbody tr").first.locator("button").click()
        admin.wait_for_url("**/desk/devices")
        assert admin.locator("#open-codes tbody tr").count() == before - 1
        admin.context.close()
        clerk.context.close()
    finally:
        server.close()
    assert login(world, "gerant").get_json()["code"] == "account_deactivated"
