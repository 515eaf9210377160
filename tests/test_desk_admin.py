"""The desk's administration: an enrolment code made in the desk enrols a real tablet, a
tablet revoked in the desk can no longer sync, a user created in the desk signs in, a
role change or a role's new rights apply at the next page; nobody grants a right they
lack, payment rights only with the payments module, each tenant sees only its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from fieldclient import syncing
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from server.demo import PASSWORD
from server.devices import tablets as devices
from server.people import identity
from server.platform.tables import audit_log, enrolment_codes, users
from sync.errors import DeviceRevoked
from tests.browser import DESKTOP, PHONE, LiveServer, new_page, screenshot
from tests.desk_support import post, sign_in
from tests.invoicing_support import NOW
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.wsgi_faults import URL

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

CODE = re.compile(r"<p class=\"enrol-code\" data-code>([0-9A-Z-]+)</p>")
NEW_PASSWORD = "une-phrase-de-passe"


def client_for(w: World, login: str = "admin", **kw: str):
    client = w.app.test_client()
    assert sign_in(client, login, **kw).status_code == 302
    return client


def send(client, path: str, data: dict, page: str = "/desk/contracts"):
    return post(client, path, data, token_from=page)


def count(w: World, table: sa.Table) -> int:
    with w.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def last_audit(w: World) -> tuple:
    with w.engine.connect() as conn:
        row = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.target, audit_log.c.reason).order_by(
                audit_log.c.id.desc()
            )
        ).first()
    return tuple(row)  # type: ignore[arg-type]


def user_id(w: World, login: str, tenant: str = "demo") -> str:
    with w.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(users.c.id).where(users.c.tenant_id == tenant, users.c.login == login)
            ).scalar_one()
        )


# --- tablets ------------------------------------------------------------------------


def test_an_enrolment_code_made_in_the_desk_enrols_a_tablet(world, tmp_path: Path):  # noqa: F811
    client = client_for(world)
    made = send(
        client,
        "/desk/devices/codes",
        {"label": "Camion 7", "drivers": ["d1", "d3"], "ttl": "60"},
    )
    assert made.status_code == 302 and made.headers["Location"] == "/desk/devices"
    page = client.get("/desk/devices").get_data(as_text=True)
    found = CODE.search(page)
    assert found, page
    assert "jusqu’au <b>10/03/2026 09:30</b>" in page  # the clock's 07:30 UTC + 60 min, Paris
    assert "Chauffeurs : Karim, Marc." in page
    assert CODE.search(client.get("/desk/devices").get_data(as_text=True)) is None  # once
    assert last_audit(world)[0] == "enrolment_code.create"

    tablet = Tablet(Home(tmp_path / "camion7"), clock=world.clock)
    enrolled = syncing.enroll(tablet, URL, found.group(1), label="Camion 7", client=world.client())
    assert enrolled["tenant_id"] == "demo" and sorted(enrolled["drivers"]) == ["d1", "d3"]
    tablet.login("d3", "3333")
    assert world.sync(tablet).changes > 0  # Marc's missions and the contracts arrive
    listing = client.get("/desk/devices").get_data(as_text=True)
    row = re.search(rf'<tr class="" id="{tablet.device_id}">(.*?)</tr>', listing, re.S)
    assert row is not None and "Camion 7" in row.group(1) and "Karim, Marc" in row.group(1)
    assert "10/03/2026 08:30" in row.group(1)  # enrolled, last seen: world's clock, Paris


def test_a_bad_code_form_changes_nothing(world):  # noqa: F811
    client = client_for(world)
    before = count(world, enrolment_codes)
    empty = send(client, "/desk/devices/codes", {"label": " ", "ttl": "15"})
    assert empty.status_code == 400
    html = empty.get_data(as_text=True)
    assert "Nommez la tablette" in html and "Cochez au moins un chauffeur." in html
    unknown = send(client, "/desk/devices/codes", {"label": "X", "drivers": ["d9"], "ttl": "15"})
    assert unknown.status_code == 422
    assert "Chauffeur inconnu ou inactif : d9." in unknown.get_data(as_text=True)
    odd = send(client, "/desk/devices/codes", {"label": "X", "drivers": ["d1"], "ttl": "99999"})
    assert "Durée de validité invalide." in odd.get_data(as_text=True)
    assert count(world, enrolment_codes) == before


def test_a_revoked_tablet_can_no_longer_sync(world, tmp_path: Path):  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    client = client_for(world)
    path = f"/desk/devices/{tablet.device_id}/revoke"
    unconfirmed = send(client, path, {"reason": "Tablette perdue"})
    assert unconfirmed.status_code == 400
    assert "Cochez la confirmation pour révoquer." in unconfirmed.get_data(as_text=True)
    blank = send(client, path, {"reason": "  ", "confirm": "yes"})
    assert "Indiquez le motif de la révocation." in blank.get_data(as_text=True)
    world.sync(tablet)  # still allowed: nothing was changed

    done = send(client, path, {"reason": "Tablette perdue", "confirm": "yes"})
    assert done.status_code == 302
    page = client.get("/desk/devices").get_data(as_text=True)
    assert f"Tablette {tablet.device_id} révoquée" in page
    assert "Alice Admin : Tablette perdue" in page and "révoquée</span>" in page
    assert last_audit(world) == ("device.revoke", tablet.device_id, "Tablette perdue")
    with pytest.raises(DeviceRevoked):
        world.sync(tablet)
    again = send(client, path, {"reason": "encore", "confirm": "yes"})
    assert again.status_code == 409
    assert "est déjà révoquée" in again.get_data(as_text=True)


def test_tablets_need_the_right_manage_devices(world, tmp_path: Path):  # noqa: F811
    tablet = world.tablet(tmp_path / "julie", "d2", "2222")
    client = client_for(world, "bureau")  # office: no manage_devices
    assert client.get("/desk/devices").status_code == 403
    refused = send(
        client, f"/desk/devices/{tablet.device_id}/revoke", {"reason": "x", "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert send(client, "/desk/devices/codes", {"label": "X", "drivers": ["d1"]}).status_code == 403
    with world.engine.connect() as conn:
        assert devices.list_devices(conn, "demo")[0]["revoked_at"] is None


# --- users and roles ----------------------------------------------------------------


def test_a_user_created_in_the_desk_can_sign_in(world):  # noqa: F811
    client = client_for(world)
    made = send(
        client,
        "/desk/users/new",
        {"login": "marie", "name": "Marie Dupont", "role": "office", "password": NEW_PASSWORD},
    )
    assert made.status_code == 302
    assert "Utilisateur marie créé avec le rôle office." in client.get("/desk/users").get_data(
        as_text=True
    )
    assert last_audit(world)[:2] == ("user.create", user_id(world, "marie"))
    marie = world.app.test_client()
    assert sign_in(marie, "marie", password=NEW_PASSWORD).status_code == 302
    assert "Marie Dupont" in marie.get("/desk/contracts").get_data(as_text=True)
    assert marie.get("/desk/documents").status_code == 200  # office: reconcile
    assert marie.get("/desk/users").status_code == 403


def test_bad_user_input_shows_the_form_again_and_creates_nobody(world):  # noqa: F811
    client = client_for(world)
    before = count(world, users)
    short = send(
        client,
        "/desk/users/new",
        {"login": "paul", "name": "Paul", "role": "office", "password": "court"},
    )
    assert short.status_code == 400
    html = short.get_data(as_text=True)
    assert "password: mot de passe de 10 à 200 caractères" in html
    assert 'value="paul"' in html  # what was typed is kept, except the password
    spaced = send(
        client,
        "/desk/users/new",
        {"login": "paul dupont", "name": "P", "role": "office", "password": NEW_PASSWORD},
    )
    assert "login : lettres, chiffres" in spaced.get_data(as_text=True)
    taken = send(
        client,
        "/desk/users/new",
        {"login": "bureau", "name": "B", "role": "office", "password": NEW_PASSWORD},
    )
    assert taken.status_code == 409
    assert "L&#39;identifiant bureau est déjà utilisé." in taken.get_data(as_text=True)
    role = send(
        client,
        "/desk/users/new",
        {"login": "paul", "name": "P", "role": "chef", "password": NEW_PASSWORD},
    )
    assert role.status_code == 422 and "Rôle inconnu : chef." in role.get_data(as_text=True)
    assert count(world, users) == before


def test_a_role_change_takes_effect_at_the_next_page(world):  # noqa: F811
    bureau = client_for(world, "bureau")
    assert bureau.get("/desk/documents").status_code == 200
    admin = client_for(world)
    changed = send(admin, f"/desk/users/{user_id(world, 'bureau')}/role", {"role": "driver"})
    assert changed.status_code == 302
    assert "bureau a maintenant le rôle driver." in admin.get("/desk/users").get_data(as_text=True)
    assert last_audit(world)[:2] == ("user.role", user_id(world, "bureau"))
    assert bureau.get("/desk/documents").status_code == 403  # same session, next page
    own = send(admin, f"/desk/users/{user_id(world, 'admin')}/role", {"role": "office"})
    assert own.status_code == 403
    assert "Vous ne pouvez pas changer votre propre rôle" in own.get_data(as_text=True)


def test_a_roles_new_rights_apply_at_the_next_page(world):  # noqa: F811
    bureau = client_for(world, "bureau")
    assert bureau.get("/desk/documents").status_code == 200
    admin = client_for(world)
    kept = ["manage_missions", "edit_contracts", "void_collection", "issue_credit_note"]
    saved = send(admin, "/desk/roles", {"name": "office", "rights": kept})
    assert saved.status_code == 302
    with world.engine.connect() as conn:
        assert dict(identity.list_roles(conn, "demo"))["office"] == sorted(kept)
    assert last_audit(world)[:2] == ("role.set", "office")
    assert bureau.get("/desk/documents").status_code == 403
    assert bureau.get("/desk/contracts").status_code == 200


def test_nobody_grants_a_right_they_lack(world):  # noqa: F811
    with world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "demo")
        assert tenant is not None
        identity.set_role(conn, tenant, "rh", {"manage_users"}, actor="t", now=NOW)
        identity.create_user(conn, "demo", "rh1", "Rose RH", PASSWORD, "rh", actor="t", now=NOW)
    client = client_for(world, "rh1")
    page = client.get("/desk/users").get_data(as_text=True)
    assert "Ce rôle a des droits que vous n&#39;avez pas" in page  # admin, office…
    before = count(world, audit_log)
    grant = send(client, "/desk/roles", {"name": "rh", "rights": ["manage_users", "reconcile"]})
    assert grant.status_code == 403
    assert (
        "Vous ne pouvez pas donner un droit que vous n&#39;avez pas : rapprocher les caisses."
        in (grant.get_data(as_text=True))
    )
    above = send(client, f"/desk/users/{user_id(world, 'bureau')}/role", {"role": "rh"})
    assert above.status_code == 403 and "que vous n&#39;avez pas" in above.get_data(as_text=True)
    made = send(
        client,
        "/desk/users/new",
        {"login": "x1", "name": "X", "role": "admin", "password": NEW_PASSWORD},
    )
    assert "Le rôle admin donne des droits que vous n&#39;avez pas" in made.get_data(as_text=True)
    assert count(world, audit_log) == before
    with world.engine.connect() as conn:
        assert dict(identity.list_roles(conn, "demo"))["rh"] == ["manage_users"]


def test_payment_rights_only_with_the_payments_module(world):  # noqa: F811
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "nopay", "Sans paiements", payments_enabled=False, now=NOW)
        identity.create_user(conn, "nopay", "chef", "Chef", PASSWORD, "admin", actor="t", now=NOW)
    client = client_for(world, "chef", tenant="nopay")
    page = client.get("/desk/users").get_data(as_text=True)
    assert "Le module Paiements n&#39;est pas activé" in page
    assert 'value="collect"' not in page and 'value="reconcile"' in page
    demo = client_for(world).get("/desk/users").get_data(as_text=True)
    assert 'value="collect"' in demo  # the demo company has the module on
    refused = send(client, "/desk/roles", {"name": "driver", "rights": ["collect"]})
    assert refused.status_code == 403
    assert "donner un droit que vous n&#39;avez pas : encaisser." in refused.get_data(as_text=True)
    with world.engine.connect() as conn:
        assert dict(identity.list_roles(conn, "nopay"))["driver"] == []


def test_another_tenants_users_and_tablets_never_show(world, tmp_path: Path):  # noqa: F811
    tablet = world.tablet(tmp_path / "marc", "d3", "3333")
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "other", "Autre", payments_enabled=True, now=NOW)
        identity.create_user(
            conn, "other", "boss", "Bruno Boss", PASSWORD, "admin", actor="t", now=NOW
        )
    other = client_for(world, "boss", tenant="other")
    people = other.get("/desk/users").get_data(as_text=True)
    assert "Bruno Boss" in people and "Béatrice Bureau" not in people
    assert tablet.device_id not in other.get("/desk/devices").get_data(as_text=True)
    revoke = send(
        other, f"/desk/devices/{tablet.device_id}/revoke", {"reason": "x", "confirm": "yes"}
    )
    assert revoke.status_code == 404
    bureau = user_id(world, "bureau")
    role = send(other, f"/desk/users/{bureau}/role", {"role": "driver"})
    assert role.status_code == 404
    with world.engine.connect() as conn:
        assert devices.list_devices(conn, "demo")[0]["revoked_at"] is None
        assert identity.get_user(conn, "demo", bureau).role == "office"  # type: ignore[union-attr]


def test_administration_needs_its_rights_and_speaks_english(world):  # noqa: F811
    bureau = client_for(world, "bureau")
    users_page = bureau.get("/desk/users")
    assert users_page.status_code == 403
    assert "gérer les utilisateurs" in users_page.get_data(as_text=True)
    admin = client_for(world)
    devices_page = admin.get("/desk/devices?lang=en").get_data(as_text=True)
    assert "Enrol a tablet" in devices_page and "Create the enrolment code" in devices_page
    english = admin.get("/desk/users").get_data(as_text=True)  # the choice is remembered
    assert "Users and roles" in english and "manage devices" in english
    assert "approve a discount" in english


def test_administration_pages_in_a_browser(world, tmp_path: Path, browser):  # noqa: F811
    world.tablet(tmp_path / "julie", "d2", "2222")
    server = LiveServer(world.app)
    try:
        page = new_page(browser, PHONE)
        page.goto(server.url + "/desk/login?next=/desk/devices")
        page.fill("input[name=tenant]", "demo")
        page.fill("input[name=login]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/desk/devices")
        page.fill("input[name=label]", "Camion 4")
        page.check("input[name=drivers][value=d1]")
        page.click("text=Créer le code d'enrôlement")
        page.wait_for_url("**/desk/devices")
        code = page.locator("p.enrol-code").inner_text()
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
        screenshot(page, "desk-devices-code-phone")
        page.set_viewport_size(DESKTOP)
        page.click("text=Révoquer…")
        screenshot(page, "desk-devices-desktop")
        page.goto(server.url + "/desk/users")
        assert page.locator("tr#user-bureau select[name=role]").input_value() == "office"
        screenshot(page, "desk-users-desktop")
        page.context.close()
    finally:
        server.close()
