"""`POST /api/v1/auth/password` takes no token, so the OpenAPI rules add none of its
refusals: it declares them itself, as login does, and answers them as declared."""

from __future__ import annotations

import pytest

from server.platform.problems import MEDIA_TYPE
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
PATH = "/api/v1/auth/password"


def test_the_document_lists_what_a_password_change_may_answer(world):  # noqa: F811
    spec = world.office.get("/api/v1/openapi.json").get_json()
    listed = spec["paths"][PATH]["post"]["responses"]
    assert {"401", "403", "429", "400", "413"} <= set(listed)
    assert listed["401"]["$ref"].endswith("/Unauthenticated")
    assert listed["429"]["$ref"].endswith("/RateLimited")
    assert set(spec["paths"]["/api/v1/auth/login"]["post"]["responses"]) >= {"401", "429"}


def test_a_wrong_password_and_the_lock_out_answer_as_declared(world):  # noqa: F811
    body = {"tenant": "demo", "login": "bureau", "password": "wrong", "new_password": "x" * 14}
    answers = [world.office.post(PATH, json=body) for _ in range(5)]  # the 5th locks
    assert [a.status_code for a in answers[:4]] == [401] * 4
    assert answers[0].content_type.startswith(MEDIA_TYPE)
    assert answers[0].get_json()["code"] == "login_failed"
    assert (answers[4].status_code, answers[4].get_json()["code"]) == (429, "account_locked")
