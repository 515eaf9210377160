"""The API under bad input (issue 16): on every route, signed in or not and whatever the
token, a JSON body nested 2,000 deep is a 400 and an oversized one a 413, before any
parser; every refusal is one problem document; every 401 says which bearer token it
wants; the OpenAPI document lists each operation's refusals; and the anomaly numbers a
company sees tell nothing of the other companies' anomalies."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from werkzeug.routing import Rule

from server.office.anomalies import open_anomaly
from server.parties import api_keys
from server.people.ordering_parties import create_party
from server.platform import public_ids
from server.platform.json_depth import MAX_DEPTH, too_deep
from server.platform.problems import MEDIA_TYPE, TYPE_PREFIX
from tests.server_support import START, enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_server_sync_api import chain, push

NESTED = b"[" * 2000 + b"]" * 2000
SMALL_LIMIT = 10_000  # the wire limit for these tests: 413s without moving megabytes


def problem_of(answer, status: int, code: str | None = None) -> dict:
    """The answer is a refusal in the one shape; returns its body."""
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == MEDIA_TYPE
    body = answer.get_json()
    assert body["type"] == TYPE_PREFIX + body["code"]
    assert body["detail"] == body["message"] and body["message"]
    assert body["title"] and body["instance"] == answer.request.path
    if code is not None:
        assert body["code"] == code
    return body


def api_calls(app) -> list[tuple[str, str]]:
    """(method, path) for every route of the JSON API, its ids filled with something."""
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = _fill(rule)
        calls += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return calls


def _fill(rule: Rule) -> str:
    """The rule's path with a number for numeric converters, a word for the others."""

    def value(match: re.Match[str]) -> str:
        converter = rule._converters[match.group(1)]
        return "1" if converter.regex.startswith(r"\d") else "x"

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule.rule)


@pytest.fixture
def callers(world):  # noqa: F811
    """No token, a bad one, and each of the three bearer kinds."""
    tablet = enrol(world)
    with world.engine.begin() as conn:
        create_party(conn, "acme", "AXA", "Axa", actor="t", now=START)
        made = api_keys.create_key(conn, "acme", "AXA", "Plateforme", actor="t", now=START)
    return {
        "nobody": {},
        "bad token": {"Authorization": "Bearer nope"},
        "user": world.auth("acme.admin"),
        "device": {"Authorization": f"Bearer {tablet['token']}"},
        "party_key": {"Authorization": f"Bearer {made['key']}"},
    }


def test_every_route_refuses_a_deep_or_oversized_body_before_reading_it(world, callers):  # noqa: F811
    app = world.client.application
    app.config["MAX_CONTENT_LENGTH"] = SMALL_LIMIT
    calls = api_calls(app)
    assert len(calls) > 100  # the walk found the API, not an empty map
    for method, path in calls:
        for who, headers in callers.items():
            deep = world.client.open(
                path, method=method, data=NESTED, content_type="application/json", headers=headers
            )
            assert deep.status_code == 400, (method, path, who, deep.get_data()[:300])
            problem_of(deep, 400, "json_too_deep")
            big = world.client.open(
                path,
                method=method,
                data=b'{"a": "' + b"x" * SMALL_LIMIT + b'"}',
                content_type="application/json",
                headers=headers,
            )
            assert big.status_code == 413, (method, path, who, big.get_data()[:300])
            assert str(SMALL_LIMIT) in problem_of(big, 413, "body_too_large")["message"]


def test_a_deep_body_is_refused_in_gzip_too_and_in_english_when_asked(world):  # noqa: F811
    import gzip

    answer = world.client.post(
        "/api/v1/devices/enrol",
        data=gzip.compress(b'{"code": ' + NESTED + b"}"),
        content_type="application/json",
        headers={"Content-Encoding": "gzip", "Accept-Language": "en"},
    )
    body = problem_of(answer, 400, "json_too_deep")
    assert body["message"].startswith("JSON body nested too deeply") and body["title"] == (
        "Bad request"
    )


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, False),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), True),
        (b'{"a": ' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH, False),
        (b'{"a": ' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), True),
        (b'["' + b"[" * 5000 + b'"]', False),  # brackets inside a string are text
        (b'["\\"' + b"[" * 5000 + b'"]', False),  # after an escaped quote, still text
        (b"[[]," * 3000 + b"[]" + b"]" * 3000, True),  # wide and deep
        (b"[[],[]]" * 3000, False),  # wide, not deep
        (b"[" * 5000, True),  # never closed: the parser would still recurse
    ],
)
def test_depth_is_measured_without_parsing(body, deep):
    assert too_deep(body) is deep


def test_a_body_nested_within_the_limit_reaches_the_schema(world):  # noqa: F811
    body = b'{"tenant": ' + b"[" * 40 + b"]" * 40 + b"}"
    answer = world.client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert problem_of(answer, 422, "invalid_request")["problems"]


def test_a_push_gap_is_a_problem_document_that_keeps_its_fields(world):  # noqa: F811
    tablet = enrol(world)
    answer = push(world, tablet, chain(tablet, 3)[2:])
    body = problem_of(answer, 409, "gap")
    assert (body["status"], body["expected_seq"], body["acknowledged"]["seq"]) == ("gap", 1, 0)


def test_every_401_names_the_bearer_scheme_the_operation_takes(world):  # noqa: F811
    spec = world.client.get("/api/v1/openapi.json").get_json()
    checked = set()
    for path, item in spec["paths"].items():
        for verb, op in item.items():
            if verb == "parameters" or not op.get("security"):
                continue
            scheme = next(iter(op["security"][0]))
            numeric = {
                p["name"] for p in item.get("parameters", []) if p["schema"]["type"] == "integer"
            }
            url = re.sub(r"{(\w+)}", lambda m, n=numeric: "1" if m[1] in n else "x", path)
            for headers, extra in (
                ({}, ""),
                ({"Authorization": "Bearer x.y"}, ', error="invalid_token"'),
            ):
                answer = world.client.open(url, method=verb.upper(), json={}, headers=headers)
                problem_of(answer, 401)
                assert answer.headers["WWW-Authenticate"] == f'Bearer realm="{scheme}"{extra}', (
                    verb,
                    path,
                )
                checked.add(scheme)
    assert checked == {"user", "device", "party_key"}
    login = world.login("acme", "admin", "wrong")
    assert problem_of(login, 401, "login_failed") and login.headers["WWW-Authenticate"] == (
        'Bearer realm="user"'
    )
    enrolment = world.client.post(
        "/api/v1/devices/enrol", json={"code": "AAAA-BBBB-CCCC", "public_key": "ab" * 32}
    )
    problem_of(enrolment, 401)
    assert enrolment.headers["WWW-Authenticate"] == 'Bearer realm="device"'


def test_the_openapi_document_lists_each_operations_refusals(world):  # noqa: F811
    spec = world.client.get("/api/v1/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"user", "device", "party_key"}
    assert len({s["description"] for s in schemes.values()}) == 3
    responses = spec["components"]["responses"]
    assert "WWW-Authenticate" in responses["Unauthenticated"]["headers"]
    assert MEDIA_TYPE in responses["BodyTooLarge"]["content"]
    for path, item in spec["paths"].items():
        for verb, op in item.items():
            if verb == "parameters":
                continue
            listed = set(op["responses"])
            where = (verb, path)
            if op.get("security"):
                assert "401" in listed, where
            if "{" in path:
                assert "404" in listed, where
            if "requestBody" in op:
                assert {"400", "413"} <= listed, where
            if op.get("security") == [{"device": []}]:
                assert "403" in listed, where
    ops = spec["paths"]
    assert "403" in ops["/api/v1/users"]["get"]["responses"]  # needs manage_users
    assert "403" not in ops["/api/v1/auth/me"]["get"]["responses"]  # any signed-in user
    assert {"401", "409", "429"} <= set(ops["/api/v1/devices/enrol"]["post"]["responses"])
    assert {"401", "429"} <= set(ops["/api/v1/auth/login"]["post"]["responses"])
    assert "409" in ops["/api/v1/sync/push"]["post"]["responses"]
    assert "409" in ops["/api/v1/anomalies/{anomaly_id}/resolve"]["post"]["responses"]
    assert "x-towline-right" not in str(spec)


# --- anomaly refs ---------------------------------------------------------------------


def _raise(world, tenant: str, n: int) -> None:  # noqa: F811
    with world.engine.begin() as conn:
        open_anomaly(
            conn,
            tenant_id=tenant,
            kind="valuation_mismatch",
            detail={"n": n},
            now=START + timedelta(minutes=n),
            mission_id=f"M-{n}",
        )


def _refs(world, who: str) -> list[int]:  # noqa: F811
    answer = world.client.get("/api/v1/anomalies", headers=world.auth(who))
    assert answer.status_code == 200, answer.get_json()
    return [a["id"] for a in reversed(answer.get_json())]  # oldest first


def test_anomaly_numbers_do_not_tell_how_many_other_companies_have(world):  # noqa: F811
    for n, tenant in enumerate(["acme", "other", "acme", "other", "acme"], start=1):
        _raise(world, tenant, n)
    acme, other = _refs(world, "acme.admin"), _refs(world, "other.admin")
    assert len(acme) == 3 and len(other) == 2
    assert other[0] != acme[0] + 1 and acme[1] != other[0] + 1
    assert sorted(acme + other) != list(range(min(acme + other), min(acme + other) + 5))
    assert not set(acme + other) & {1, 2, 3, 4, 5}  # never the row ids themselves
    with world.client.application.app_context():
        assert [public_ids.from_ref(public_ids.ANOMALY, r) for r in acme] == [1, 3, 5]
    one = world.client.get(f"/api/v1/anomalies/{acme[1]}", headers=world.auth("acme.admin"))
    assert (one.status_code, one.get_json()["id"], one.get_json()["mission_id"]) == (
        200,
        acme[1],
        "M-3",
    )


def test_another_companys_or_a_forged_anomaly_ref_is_404(world):  # noqa: F811
    _raise(world, "acme", 1)
    _raise(world, "other", 2)
    theirs = _refs(world, "other.admin")[0]
    mine = _refs(world, "acme.admin")[0]
    forged = next(r for r in range(10, 100) if r not in (mine, theirs))
    admin = world.auth("acme.admin")
    for ref in (theirs, forged, 2, 4294967296):
        seen = world.client.get(f"/api/v1/anomalies/{ref}", headers=admin)
        assert seen.status_code == 404, ref
        message = problem_of(seen, 404)["message"]
        assert ref >= 2**32 or message.endswith(f": {ref}")  # the ref, never a row id
        done = world.client.post(
            f"/api/v1/anomalies/{ref}/resolve",
            json={"action": "acknowledge", "reason": "vu"},
            headers=admin,
        )
        assert done.status_code == 404, ref
    assert world.client.get(f"/api/v1/anomalies/{mine}", headers=admin).status_code == 200


def test_a_resolved_anomaly_is_refused_by_its_ref_not_its_row_id(world):  # noqa: F811
    _raise(world, "acme", 1)
    ref = _refs(world, "acme.admin")[0]
    admin = world.auth("acme.admin")
    body = {"action": "acknowledge", "reason": "contrôlé"}
    first = world.client.post(f"/api/v1/anomalies/{ref}/resolve", json=body, headers=admin)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["anomaly"] == ref
    again = world.client.post(f"/api/v1/anomalies/{ref}/resolve", json=body, headers=admin)
    message = problem_of(again, 409, "anomaly_not_open")["message"]
    assert str(ref) in message and "anomalie 1 " not in message.lower()


def test_the_ref_permutation_is_a_bijection_that_hides_order(world):  # noqa: F811
    key = b"k" * 32
    refs = [public_ids.permute(key, n) for n in range(2000)]
    assert len(set(refs)) == 2000
    assert [public_ids.unpermute(key, r) for r in refs] == list(range(2000))
    steps = sum(1 for a, b in itertools.pairwise(refs) if b == a + 1)
    assert steps < 5
    assert public_ids.permute(b"other" * 7, 1) != public_ids.permute(key, 1)


def test_desk_pages_link_anomalies_by_their_ref(world):  # noqa: F811
    _raise(world, "acme", 1)
    ref = _refs(world, "acme.admin")[0]
    with world.client.application.test_request_context():
        from flask import url_for

        assert url_for("desk.anomaly", anomaly_id=1) == f"/desk/anomalies/{ref}"
