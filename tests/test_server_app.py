"""The Flask app itself: configuration, the OpenAPI document and its offline page,
body limits, gzip bodies, errors in the caller's language and never a 5xx for bad input."""

from __future__ import annotations

import gzip
import json
import os
import stat

import pytest

from server.app import create_app


@pytest.fixture
def app(tmp_path):
    return create_app(
        {"VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"}
    )


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_openapi_document_lists_every_operation_with_its_security(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/auth/login", "/api/v1/devices/enrol", "/api/v1/missions"} <= set(spec["paths"])
    assert spec["paths"]["/api/v1/users"]["get"]["security"] == [{"user": []}]
    assert spec["paths"]["/api/v1/devices/me"]["get"]["security"] == [{"device": []}]
    assert "security" not in spec["paths"]["/api/v1/devices/enrol"]["post"]


def test_the_docs_page_lists_every_operation_and_loads_nothing_from_the_network(client):
    spec = client.get("/api/v1/openapi.json").json
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path in spec["paths"]:
        assert path in html
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_schemas_refuse_unknown_fields_with_their_path(client):
    answer = client.post(
        "/api/v1/auth/login", json={"tenant": "a", "login": "b", "password": "c", "admin": True}
    )
    assert answer.status_code == 422
    assert answer.json["problems"] == [{"path": "admin", "message": "champ inconnu"}]


def test_errors_speak_english_when_asked_and_french_by_default(client):
    body = {"tenant": "a", "login": "b"}
    french = client.post("/api/v1/auth/login", json=body)
    english = client.post("/api/v1/auth/login", json=body, headers={"Accept-Language": "en-GB"})
    assert french.json["problems"][0]["message"] == "champ obligatoire manquant"
    assert english.json["problems"][0]["message"] == "required field missing"
    assert english.json["message"] == "Invalid request: 1 error"


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"[1, 2]", "application/json", 422, "invalid_request"),
        (b"\xff\xfe", "application/json", 400, "invalid_json"),
        (b"", "application/json", 422, "invalid_request"),
        (b"tenant=a", "application/x-www-form-urlencoded", 422, "invalid_request"),
    ],
)
def test_malformed_bodies_get_a_clear_4xx(client, data, content_type, status, code):
    answer = client.post("/api/v1/auth/login", data=data, content_type=content_type)
    assert (answer.status_code, answer.json["code"]) == (status, code)
    assert answer.json["message"]


def test_an_oversized_body_is_refused_with_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    answer = client.post("/api/v1/auth/login", json={"tenant": "a" * 2000})
    assert (answer.status_code, answer.json["code"]) == (413, "body_too_large")
    assert "1000" in answer.json["message"]


def test_a_gzip_body_is_read_like_a_plain_one(client):
    body = gzip.compress(json.dumps({"tenant": "a", "login": "b", "oops": 1}).encode())
    answer = client.post(
        "/api/v1/auth/login",
        data=body,
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    assert answer.status_code == 422
    assert {p["path"] for p in answer.json["problems"]} == {"oops", "password"}


def test_a_gzip_bomb_is_refused_once_it_inflates_past_the_limit(app, client):
    app.config["MAX_DECOMPRESSED_LENGTH"] = 10_000
    bomb = gzip.compress(b'{"tenant": "' + b"a" * 1_000_000 + b'"}')
    assert len(bomb) < app.config["MAX_CONTENT_LENGTH"]
    answer = client.post(
        "/api/v1/auth/login",
        data=bomb,
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    assert (answer.status_code, answer.json["code"]) == (413, "body_too_large")


@pytest.mark.parametrize(
    ("encoding", "data", "status"),
    [
        ("gzip", b"not gzip at all", 400),
        ("gzip", gzip.compress(b"{}")[:-4], 400),
        ("br", b"{}", 415),
    ],
)
def test_broken_or_unknown_encodings_are_refused(client, encoding, data, status):
    answer = client.post(
        "/api/v1/auth/login",
        data=data,
        content_type="application/json",
        headers={"Content-Encoding": encoding},
    )
    assert answer.status_code == status
    assert answer.json["message"]


def test_unknown_addresses_and_methods_answer_in_json(client):
    assert client.get("/api/v1/nothing").json["code"] == "not_found"
    assert client.delete("/api/v1/auth/login").json["code"] == "method_not_allowed"


def test_configuration_reads_the_environment_then_the_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWLINE_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("TOWLINE_DEVICE_TOKEN_SECONDS", "600")
    from_env = create_app({"VAR_DIR": str(tmp_path)})
    assert from_env.config["DATABASE_URL"].endswith("env.db")
    assert from_env.config["DEVICE_TOKEN_SECONDS"] == 600
    explicit = create_app({"VAR_DIR": str(tmp_path), "DATABASE_URL": "sqlite:///x.db"})
    assert explicit.config["DATABASE_URL"] == "sqlite:///x.db"


def test_the_secret_key_is_created_once_readable_by_the_owner_only(tmp_path):
    first = create_app({"VAR_DIR": str(tmp_path / "var")})
    second = create_app({"VAR_DIR": str(tmp_path / "var")})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "secret_key").st_mode)
    assert mode == 0o600


def test_the_server_key_pair_is_made_once_readable_by_the_owner_only(app):
    from server.platform.web import server_public_key_hex

    with app.app_context():
        first = server_public_key_hex()
    path = os.path.join(app.config["VAR_DIR"], "server_ed25519.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = create_app({"VAR_DIR": app.config["VAR_DIR"]})
    with again.app_context():
        assert server_public_key_hex() == first
