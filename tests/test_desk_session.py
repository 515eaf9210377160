"""The desk's sign-in: lock-out, CSRF, expiry, rights, language."""

from __future__ import annotations

import pytest

from tests.desk_support import csrf, post, sign_in
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_a_page_without_a_session_leads_to_sign_in_and_back(world):  # noqa: F811
    client = world.app.test_client()
    answer = client.get("/desk/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/desk/login?next=/desk/")
    signed = sign_in(client, "bureau")
    assert signed.status_code == 302 and signed.headers["Location"] == "/desk/"
    page = client.get("/desk/").get_data(as_text=True)
    assert "Béatrice Bureau" in page and "Aujourd&#39;hui" in page


def test_sign_in_only_follows_local_next_links(world):  # noqa: F811
    client = world.app.test_client()
    token = csrf(client)
    answer = client.post(
        "/desk/login?next=https://evil.example/desk",
        data={"csrf_token": token, "tenant": "demo", "login": "bureau", "password": "demo-towline"},
    )
    assert answer.headers["Location"] == "/desk/"


def test_wrong_passwords_lock_the_account(world):  # noqa: F811
    client = world.app.test_client()
    for _ in range(4):
        answer = sign_in(client, "bureau", password="wrong")
        assert answer.status_code == 401
        assert "Identifiant ou mot de passe incorrect" in answer.get_data(as_text=True)
    locked = sign_in(client, "bureau", password="wrong")
    assert "Compte verrouillé après 5 échecs" in locked.get_data(as_text=True)
    still = sign_in(client, "bureau")  # even the right password, for 15 minutes
    assert still.status_code == 401 and "verrouillé" in still.get_data(as_text=True)
    world.clock.advance(minutes=16)
    assert sign_in(client, "bureau").status_code == 302


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(world):  # noqa: F811
    client = world.app.test_client()
    answer = client.post(
        "/desk/login", data={"tenant": "demo", "login": "bureau", "password": "demo-towline"}
    )
    assert answer.status_code == 400
    assert "Formulaire expiré ou invalide" in answer.get_data(as_text=True)
    assert client.get("/desk/").status_code == 302  # not signed in


def test_the_session_expires_after_30_idle_minutes(world):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    world.clock.advance(minutes=29)
    assert client.get("/desk/").status_code == 200  # seen: the idle time starts again
    world.clock.advance(minutes=29)
    assert client.get("/desk/").status_code == 200
    world.clock.advance(minutes=31)
    answer = client.get("/desk/")
    assert answer.status_code == 302 and "expired=1" in answer.headers["Location"]
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Session expirée" in page


def test_sign_out_ends_the_session(world):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    assert post(client, "/desk/logout", {}).status_code == 302
    assert client.get("/desk/").status_code == 302


def test_english_on_request_and_remembered(world):  # noqa: F811
    client = world.app.test_client()
    assert "Office sign-in" in client.get("/desk/login?lang=en").get_data(as_text=True)
    assert "Office sign-in" in client.get("/desk/login").get_data(as_text=True)
    assert "Connexion au bureau" in client.get("/desk/login?lang=fr").get_data(as_text=True)


def test_null_characters_huge_numbers_and_huge_bodies_get_pages_not_500s(world):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    refused = post(client, "/desk/logout", {"x": "a\x00b"})
    assert refused.status_code == 400
    assert "Caractère nul refusé" in refused.get_data(as_text=True)
    assert client.get("/desk/").status_code == 200  # the refused sign-out did nothing
    assert client.get("/desk/missions/%00").status_code == 400
    huge = client.get("/desk/registers/d1/dev_x/99999999999999999999999")
    assert huge.status_code == 404 and "<html" in huge.get_data(as_text=True)
    world.app.config["MAX_CONTENT_LENGTH"] = 1000
    big = client.post("/desk/logout", data={"csrf_token": "x", "reason": "y" * 5000})
    assert big.status_code == 413
    assert "Envoi trop volumineux" in big.get_data(as_text=True)


def test_signing_out_ends_the_session_even_for_a_copied_cookie(world):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    world.clock.advance(minutes=1)
    copy = world.app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/desk/").status_code == 200  # the same session, from elsewhere
    post(client, "/desk/logout", {})
    assert copy.get("/desk/").status_code == 302  # over everywhere
    assert sign_in(client, "bureau").status_code == 302  # and a new sign-in works
    assert client.get("/desk/").status_code == 200
