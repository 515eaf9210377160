"""A tenant admin's endpoints: ordering parties, contracts, missions; every endpoint
refuses a user without the right and hides other tenants' things."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from server.platform.tables import audit_log, changes, contracts, missions, ordering_parties
from tests.conftest import example
from tests.server_support import world  # noqa: F401
from tests.storage import engine  # noqa: F401


def add_party(w, party_id="ASSIST-A", who="acme.admin"):
    return w.client.post(
        "/api/v1/ordering-parties", json={"id": party_id, "name": party_id}, headers=w.auth(who)
    )


def publish(w, document, who="acme.admin"):
    return w.client.post("/api/v1/contracts", json={"document": document}, headers=w.auth(who))


def feed(w, tenant="acme"):
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(changes).where(changes.c.tenant_id == tenant).order_by(changes.c.seq)
        ).all()
    return [
        (r.kind, r.entity_id, r.scope, None if r.data is None else json.loads(r.data)) for r in rows
    ]


def contract_feed(w, tenant="acme"):
    return [c for c in feed(w, tenant) if c[0] == "contract"]


def test_a_published_contract_is_stored_with_its_digest_and_announced(world):  # noqa: F811
    add_party(world)
    answer = publish(world, example("contracts", "assist-a"))
    assert answer.status_code == 201, answer.json
    assert (answer.json["id"], answer.json["version"]) == ("ASSIST-A", 1)
    [(kind, entity, scope, data)] = contract_feed(world)
    assert (kind, entity, scope) == ("contract", "ASSIST-A:1", None)
    assert data["digest"] == answer.json["digest"]
    assert data["document"] == example("contracts", "assist-a")
    listed = world.client.get("/api/v1/contracts", headers=world.auth("acme.admin")).json
    assert [(c["id"], c["version"]) for c in listed] == [("ASSIST-A", 1)]
    one = world.client.get(
        "/api/v1/contracts/ASSIST-A/versions/1", headers=world.auth("acme.admin")
    )
    assert one.json["document"] == example("contracts", "assist-a")


def test_a_published_version_is_never_replaced(world):  # noqa: F811
    add_party(world)
    assert publish(world, example("contracts", "assist-a")).status_code == 201
    changed = example("contracts", "assist-a")
    changed["label"] = "something else"
    again = publish(world, changed)
    assert (again.status_code, again.json["code"]) == (409, "contract_version_exists")
    changed["version"] = 2
    assert publish(world, changed).status_code == 201
    assert world.count(contracts) == 2


def test_a_float_in_a_contract_is_refused_with_its_path_and_nothing_stored(world):  # noqa: F811
    add_party(world)
    document = example("contracts", "assist-a")
    document["price_lists"]["contracted"]["TOW.VL"] = 120.0
    answer = publish(world, document)
    assert (answer.status_code, answer.json["code"]) == (422, "invalid_document")
    assert [p["path"] for p in answer.json["problems"]] == [
        "document.price_lists.contracted.TOW.VL"
    ]
    assert "guillemets" in answer.json["problems"][0]["message"]
    assert world.count(contracts) == 0 and contract_feed(world) == []


def test_a_contract_of_an_unknown_ordering_party_is_refused(world):  # noqa: F811
    answer = publish(world, example("contracts", "assist-a"))
    assert (answer.status_code, answer.json["code"]) == (422, "ordering_party_unknown")
    add_party(world, who="other.admin")  # another tenant's party does not count
    assert publish(world, example("contracts", "assist-a")).status_code == 422


def test_a_private_contract_needs_no_ordering_party(world):  # noqa: F811
    assert publish(world, example("contracts", "private")).status_code == 201


def test_ordering_parties_are_per_tenant(world):  # noqa: F811
    assert add_party(world).status_code == 201
    assert add_party(world).json["code"] == "ordering_party_exists"
    assert add_party(world, who="other.admin").status_code == 201
    listed = world.client.get("/api/v1/ordering-parties", headers=world.auth("acme.admin"))
    assert [p["id"] for p in listed.json] == ["ASSIST-A"]
    assert world.count(ordering_parties) == 2


def create_mission(w, driver_id="D1", who="acme.admin", name="a-tuesday-30km"):
    return w.client.post(
        "/api/v1/missions",
        json={"document": example("missions", name), "driver_id": driver_id},
        headers=w.auth(who),
    )


def test_an_assigned_mission_reaches_only_its_drivers_tablets(world):  # noqa: F811
    add_party(world)
    answer = create_mission(world)
    assert answer.status_code == 201, answer.json
    assert (answer.json["status"], answer.json["driver_id"]) == ("assigned", "D1")
    [(kind, entity, scope, data)] = [c for c in feed(world) if c[0] == "mission"]
    assert (kind, entity, scope) == ("mission", "M-A-0001", "D1")
    assert data["document"]["id"] == "M-A-0001"


def test_reassigning_a_mission_sends_a_tombstone_to_the_previous_driver(world):  # noqa: F811
    add_party(world)
    create_mission(world)
    moved = world.client.post(
        "/api/v1/missions/M-A-0001/assign",
        json={"driver_id": "D2"},
        headers=world.auth("acme.admin"),
    )
    assert moved.status_code == 200 and moved.json["driver_id"] == "D2"
    feed_missions = [(c[2], c[3] is None) for c in feed(world) if c[0] == "mission"]
    assert feed_missions == [("D1", False), ("D1", True), ("D2", False)]


def test_an_unassigned_mission_is_announced_to_nobody(world):  # noqa: F811
    add_party(world)
    answer = create_mission(world, driver_id=None)
    assert answer.json["status"] == "new"
    assert [c for c in feed(world) if c[0] == "mission"] == []


def test_a_mission_for_another_tenants_driver_is_refused_and_nothing_stored(world):  # noqa: F811
    add_party(world)
    answer = create_mission(world, driver_id="X1")
    assert (answer.status_code, answer.json["code"]) == (422, "driver_unknown")
    assert world.count(missions) == 0


def test_an_invalid_mission_document_is_refused_with_paths(world):  # noqa: F811
    add_party(world)
    document = example("missions", "a-tuesday-30km")
    document["distance_km"]["loaded"] = 30.5
    del document["times"]
    answer = world.client.post(
        "/api/v1/missions",
        json={"document": document, "driver_id": "D1"},
        headers=world.auth("acme.admin"),
    )
    assert answer.status_code == 422
    assert sorted(p["path"] for p in answer.json["problems"]) == [
        "document.distance_km.loaded",
        "document.times",
    ]
    assert world.count(missions) == 0


def test_another_tenants_mission_looks_absent(world):  # noqa: F811
    add_party(world)
    create_mission(world)
    for method, url, body in [
        ("get", "/api/v1/missions/M-A-0001", None),
        ("post", "/api/v1/missions/M-A-0001/assign", {"driver_id": "X1"}),
    ]:
        answer = getattr(world.client, method)(url, json=body, headers=world.auth("other.admin"))
        assert (answer.status_code, answer.json["code"]) == (404, "not_found")
    assert world.client.get("/api/v1/missions", headers=world.auth("other.admin")).json == []
    foreign = world.client.get(
        "/api/v1/contracts/ASSIST-A/versions/1", headers=world.auth("other.admin")
    )
    assert foreign.status_code == 404


def test_unknown_query_parameters_are_refused(world):  # noqa: F811
    answer = world.client.get("/api/v1/missions?drvier_id=D1", headers=world.auth("acme.admin"))
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["query.drvier_id"]


ENDPOINTS = [
    ("get", "/api/v1/users", None),
    ("post", "/api/v1/users", {"login": "x", "name": "x", "password": "x" * 12, "role": "driver"}),
    ("get", "/api/v1/roles", None),
    ("put", "/api/v1/roles/driver", {"rights": []}),
    ("get", "/api/v1/drivers", None),
    ("post", "/api/v1/drivers", {"id": "D7", "name": "x", "pin": "1234"}),
    ("put", "/api/v1/drivers/D1/pin", {"pin": "1234"}),
    ("get", "/api/v1/ordering-parties", None),
    ("post", "/api/v1/ordering-parties", {"id": "P", "name": "P"}),
    ("get", "/api/v1/contracts", None),
    ("post", "/api/v1/contracts", {"document": {}}),
    ("get", "/api/v1/contracts/ASSIST-A/versions/1", None),
    ("get", "/api/v1/missions", None),
    ("post", "/api/v1/missions", {"document": {}, "driver_id": "D1"}),
    ("get", "/api/v1/missions/M-A-0001", None),
    ("post", "/api/v1/missions/M-A-0001/assign", {"driver_id": "D1"}),
    ("get", "/api/v1/devices", None),
    ("post", "/api/v1/enrolment-codes", {"driver_ids": ["D1"], "label": "x"}),
    ("post", "/api/v1/devices/dev_x/revoke", {"reason": "x"}),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_every_admin_endpoint_refuses_a_user_without_the_right(world, method, url, body):  # noqa: F811
    before = feed(world)
    answer = getattr(world.client, method)(url, json=body, headers=world.auth("acme.clerk"))
    assert (answer.status_code, answer.json["code"]) == (403, "right_missing")
    assert feed(world) == before


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_every_admin_endpoint_refuses_a_caller_without_a_token(world, method, url, body):  # noqa: F811
    answer = getattr(world.client, method)(url, json=body)
    assert (answer.status_code, answer.json["code"]) == (401, "unauthenticated")


def test_a_null_character_is_refused_before_it_reaches_the_database(world):  # noqa: F811
    login = world.client.post(
        "/api/v1/auth/login", json={"tenant": "ac\x00me", "login": "admin", "password": "x"}
    )
    assert (login.status_code, login.json["problems"][0]["path"]) == (422, "tenant")
    document = example("missions", "a-tuesday-30km")
    document["ordering_party"] = "ASSIST\x00A"
    mission = world.client.post(
        "/api/v1/missions", json={"document": document}, headers=world.auth("acme.admin")
    )
    assert mission.json["problems"][0]["path"] == "document.ordering_party"
    path = world.client.get("/api/v1/missions/M%00A", headers=world.auth("acme.admin"))
    assert path.status_code == 400
    assert world.count(missions) == 0


def test_a_contract_version_beyond_the_integer_column_is_refused(world):  # noqa: F811
    add_party(world)
    document = example("contracts", "assist-a")
    document["version"] = 2**40
    answer = publish(world, document)
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["document.version"]
    huge = world.client.get(
        f"/api/v1/contracts/ASSIST-A/versions/{2**40}", headers=world.auth("acme.admin")
    )
    assert huge.status_code == 404


def _user_id(world, tenant: str, login: str) -> str:  # noqa: F811
    users = world.client.get("/api/v1/users", headers=world.auth(f"{tenant}.admin")).json
    return next(u["id"] for u in users if u["login"] == login)


def test_a_users_role_changes_and_the_change_is_logged(world):  # noqa: F811
    clerk = _user_id(world, "acme", "clerk")
    answer = world.client.put(
        f"/api/v1/users/{clerk}/role", json={"role": "office"}, headers=world.auth("acme.admin")
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["role"] == "office" and "reconcile" in answer.json["rights"]
    assert world.count(audit_log, action="user.role", target=clerk) == 1
    me = world.client.get("/api/v1/auth/me", headers=world.auth("acme.clerk")).json
    assert me["role"] == "office"  # the next call uses the new rights


def test_nobody_changes_their_own_role_nor_another_tenants_user(world):  # noqa: F811
    admin = _user_id(world, "acme", "admin")
    own = world.client.put(
        f"/api/v1/users/{admin}/role", json={"role": "driver"}, headers=world.auth("acme.admin")
    )
    assert own.status_code == 403 and own.json["code"] == "own_role"
    other = _user_id(world, "other", "clerk")
    foreign = world.client.put(
        f"/api/v1/users/{other}/role", json={"role": "office"}, headers=world.auth("acme.admin")
    )
    assert foreign.status_code == 404
    unknown = world.client.put(
        f"/api/v1/users/{_user_id(world, 'acme', 'clerk')}/role",
        json={"role": "pilote"},
        headers=world.auth("acme.admin"),
    )
    assert unknown.status_code == 422 and unknown.json["code"] == "role_unknown"
    assert world.count(audit_log, action="user.role") == 0


def test_nobody_takes_manage_users_away_from_their_own_role(world):  # noqa: F811
    answer = world.client.put(
        "/api/v1/roles/admin", json={"rights": ["reconcile"]}, headers=world.auth("acme.admin")
    )
    assert answer.status_code == 409 and answer.json["code"] == "own_role_rights"
    users = world.client.get("/api/v1/users", headers=world.auth("acme.admin"))
    assert users.status_code == 200  # still an administrator
    other_role = world.client.put(
        "/api/v1/roles/office", json={"rights": ["reconcile"]}, headers=world.auth("acme.admin")
    )
    assert other_role.status_code == 200
