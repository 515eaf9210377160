"""Schemathesis against the generated OpenAPI document, in process: whatever it sends,
signed in as an admin or as nobody, the API answers without a 5xx."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from server.app import create_app
from server.people import hashing
from server.platform.db import make_engine, upgrade
from tests.server_support import PASSWORD, Clock, seed


def _app():  # built at import: schemathesis reads the schema while collecting
    hashing.N = 2**8  # fast hashes: their cost is not what is tested
    folder = Path(tempfile.mkdtemp(prefix="towline-schemathesis-"))
    engine = make_engine(f"sqlite:///{folder / 'towline.db'}")
    upgrade(engine)
    seed(engine)
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(folder / "var"), "SECRET_KEY": "test", "CLOCK": Clock()}
    )
    app.config["TESTING"] = True
    return app


APP = _app()
TOKEN = (
    APP.test_client()
    .post("/api/v1/auth/login", json={"tenant": "acme", "login": "admin", "password": PASSWORD})
    .get_json()["token"]
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail_with_a_server_error(case):
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {}):
        case.call_and_validate(headers=headers, checks=[not_a_server_error])


PROBLEM_KEYS = {"type", "title", "detail", "instance", "code", "message"}


def _operations_with_a_body() -> list[tuple[str, str]]:
    """(method, path) of every operation the document says takes a body, its path
    parameters filled with `1` (digits fit every converter, refs included)."""
    document = APP.test_client().get("/api/v1/openapi.json").get_json()
    return [
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    ]


BODY_OPERATIONS = _operations_with_a_body()


def _problem(answer, status: int, code: str, path: str) -> None:
    assert answer.status_code == status, (path, answer.status_code, answer.get_data()[:200])
    assert answer.content_type.startswith("application/problem+json"), path
    body = answer.get_json()
    assert set(body) >= PROBLEM_KEYS and body["code"] == code, (path, body)
    assert body["instance"] == path


def test_every_body_nested_2000_deep_or_over_the_limit_is_a_problem_not_a_5xx():
    """Schemathesis only sends bodies its schemas describe: these two are added by hand,
    to every operation that takes one, signed in and not."""
    assert len(BODY_OPERATIONS) > 20  # the document lists them: none was missed by a typo
    deep = ("[" * 2000 + "]" * 2000).encode()
    huge = b'{"x": "' + b"a" * int(APP.config["MAX_CONTENT_LENGTH"]) + b'"}'
    client = APP.test_client()
    for method, path in BODY_OPERATIONS:
        for headers in ({"Authorization": f"Bearer {TOKEN}"}, {}):
            sent = {"headers": {**headers, "Content-Type": "application/json"}}
            _problem(
                client.open(path, method=method, data=deep, **sent), 400, "json_too_deep", path
            )
            _problem(
                client.open(path, method=method, data=huge, **sent), 413, "body_too_large", path
            )
