"""Schemathesis against the generated OpenAPI document, in process: whatever it sends,
signed in as an admin or as nobody, the API answers without a 5xx."""

from __future__ import annotations

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
