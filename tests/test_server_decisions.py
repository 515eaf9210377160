"""Office decisions reach exactly the tablets that must apply them, through the pull feed:
a voided collection its driver's tablets (once per collection), a discount or a deferral
the mission's driver's, an unlock the one tablet; a cancelled mission its driver's; and
drivers travel with their effective rights. Each needs its own right."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.people import identity
from server.people.drivers import create_driver, set_pin
from server.platform.tables import anomalies, audit_log, changes, decisions
from shared import journal
from tests.server_support import PASSWORD, START, device_key, session, world  # noqa: F401
from tests.storage import engine  # noqa: F401

MISSION = {
    "ordering_party": None,
    "vehicle": {"class": "VL"},
    "times": {"call": "2026-03-10T10:00:00+01:00"},
    "services": [{"code": "TOW"}],
}
DECIDED_AT = START.isoformat()  # "2026-03-10T09:00:00+00:00"


# --- helpers -------------------------------------------------------------------------


def tablet(w, tenant, drivers, n):
    """Enrol tablet number `n` of `tenant` for `drivers` and open its session."""
    made = w.client.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": drivers, "label": f"Truck {n}"},
        headers=w.auth(f"{tenant}.admin"),
    )
    assert made.status_code == 201, made.json
    key, public_hex = device_key(bytes([n]) * 32)
    enrolled = w.client.post(
        "/api/v1/devices/enrol", json={"code": made.json["code"], "public_key": public_hex}
    )
    assert enrolled.status_code == 201, enrolled.json
    data = dict(enrolled.json)
    data["key"] = key
    data["token"] = session(w, data["device_id"], key).json["token"]
    data["entries"] = []
    return data


def write(w, device, type_, payload, driver="D1"):
    """Append one signed entry to the tablet's journal and push it."""
    head = device["entries"][-1].head if device["entries"] else journal.genesis(device["device_id"])
    signed = journal.append(
        head,
        type=type_,
        at=journal.utc_timestamp(START),
        driver_id=driver,
        payload=payload,
        private_key=device["key"],
    )
    device["entries"].append(signed)
    answer = w.client.post(
        "/api/v1/sync/push",
        json={
            "protocol": 1,
            "device_id": device["device_id"],
            "entries": [journal.to_wire(signed)],
        },
        headers={"Authorization": f"Bearer {device['token']}"},
    )
    assert answer.status_code == 200, answer.json
    return signed


def pulled(w, device, kind=None):
    answer = w.client.post(
        "/api/v1/sync/pull",
        json={"cursor": 0},
        headers={"Authorization": f"Bearer {device['token']}"},
    )
    assert answer.status_code == 200, answer.json
    return [c for c in answer.json["changes"] if kind is None or c["kind"] == kind]


def decisions_of(w, device):
    return {c["id"]: c["data"] for c in pulled(w, device, "decision")}


def mission(w, mission_id, driver):
    made = w.client.post(
        "/api/v1/missions",
        headers=w.auth("acme.admin"),
        json={"document": {**MISSION, "id": mission_id}, "driver_id": driver},
    )
    assert made.status_code == 201, made.json
    return made.json


def user_id(w, who):
    return w.client.get("/api/v1/auth/me", headers=w.auth(who)).json["id"]


@pytest.fixture
def fleet(world):  # noqa: F811
    """acme: M-1 for D1, M-2 for D2; tablets a and a2 (D1), b (D2); other: a tablet for
    its own driver also called D1; an `office` user (void, no discount, no devices)."""
    with world.engine.begin() as conn:
        create_driver(conn, "other", "D1", "Homonyme", "1111", "driver", actor="t", now=START)
        identity.create_user(
            conn, "acme", "office", "Office", PASSWORD, "office", actor="t", now=START
        )
    world.tokens["acme.office"] = world.login("acme", "office").json["token"]
    mission(world, "M-1", "D1")
    mission(world, "M-2", "D2")
    return {
        "a": tablet(world, "acme", ["D1"], 1),
        "a2": tablet(world, "acme", ["D1"], 2),
        "b": tablet(world, "acme", ["D2"], 3),
        "other": tablet(world, "other", ["D1"], 4),
    }


def collect(w, device, mission_id="M-1", amount="180.00", driver="D1"):
    return write(
        w,
        device,
        "collection",
        {"mission_id": mission_id, "method": "cash", "amount": amount},
        driver=driver,
    )


# --- voiding a collection ------------------------------------------------------------


def test_a_void_reaches_the_collecting_drivers_tablets_and_no_other(world, fleet):  # noqa: F811
    a = fleet["a"]
    write(world, a, "mission_step", {"mission_id": "M-1", "from": "assigned", "to": "en_route"})
    entry = collect(world, a, amount="180.00")
    answer = world.client.post(
        f"/api/v1/collections/{a['device_id']}/2/void",
        json={"reason": "  Encaissé deux fois  "},
        headers=world.auth("acme.office"),
    )
    assert answer.status_code == 201, answer.json
    decision = answer.json
    assert decision["id"].startswith("dec_") and len(decision["id"]) == 24
    assert decision == {
        "id": decision["id"],
        "type": "void_collection",
        "mission_id": "M-1",
        "driver_id": "D1",
        "collection": {"device_id": a["device_id"], "seq": 2, "hash": entry.hash},
        "method": "cash",
        "amount": "180.00",
        "reason": "Encaissé deux fois",
        "decided_by": user_id(world, "acme.office"),
        "decided_at": DECIDED_AT,
        # No invoice bills the customer: the office's answer names their refund receipt,
        # which is not the tablets' business.
        "refund_receipt": "RR2026-000001",
    }
    decision.pop("refund_receipt")
    assert decisions_of(world, a) == {decision["id"]: decision}
    assert decisions_of(world, fleet["a2"]) == {decision["id"]: decision}  # D1's other tablet
    assert decisions_of(world, fleet["b"]) == {}
    assert decisions_of(world, fleet["other"]) == {}  # another tenant's D1
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(decisions)).one()
        logged = conn.execute(
            sa.select(audit_log).where(audit_log.c.action == "decision.void_collection")
        ).one()
    assert (row.tenant_id, row.type, row.device_id, row.entry_seq, row.driver_id) == (
        "acme",
        "void_collection",
        a["device_id"],
        2,
        "D1",
    )
    assert json.loads(row.data) == decision
    assert (logged.target, logged.reason, logged.detail) == (
        decision["id"],
        "Encaissé deux fois",
        decision,
    )


def test_a_collection_is_voided_once(world, fleet):  # noqa: F811
    a = fleet["a"]
    collect(world, a)
    path = f"/api/v1/collections/{a['device_id']}/1/void"
    first = world.client.post(path, json={"reason": "Erreur"}, headers=world.auth("acme.admin"))
    assert first.status_code == 201, first.json
    again = world.client.post(
        path,
        json={"reason": "Encore"},
        headers={**world.auth("acme.admin"), "Accept-Language": "en"},
    )
    assert (again.status_code, again.json["code"]) == (409, "collection_already_voided")
    assert first.json["id"] in again.json["message"] and "already voided" in again.json["message"]
    assert world.count(decisions) == 1
    assert world.count(changes, kind="decision") == 1
    assert list(decisions_of(world, a)) == [first.json["id"]]


def test_only_a_stored_collection_of_the_tenant_can_be_voided(world, fleet):  # noqa: F811
    a = fleet["a"]
    write(world, a, "mission_step", {"mission_id": "M-1", "from": "assigned", "to": "en_route"})
    collect(world, a)

    def void(device_id, seq, who="acme.admin"):
        return world.client.post(
            f"/api/v1/collections/{device_id}/{seq}/void",
            json={"reason": "Erreur"},
            headers=world.auth(who),
        )

    step = void(a["device_id"], 1)
    assert (step.status_code, step.json["code"]) == (422, "not_a_collection")
    assert void(a["device_id"], 3).status_code == 404  # no such entry yet
    assert void("dev_unknown", 2).status_code == 404
    assert void(a["device_id"], 2**70).status_code == 404  # beyond any seq
    assert void(a["device_id"], 2, who="other.admin").status_code == 404  # another tenant's
    blank = world.client.post(
        f"/api/v1/collections/{a['device_id']}/2/void",
        json={"reason": "   "},
        headers=world.auth("acme.admin"),
    )
    assert blank.status_code == 422
    assert world.count(decisions) == 0 and world.count(changes, kind="decision") == 0


def test_the_tablets_reversal_citing_the_decision_raises_no_anomaly(world, fleet):  # noqa: F811
    a = fleet["a"]
    entry = collect(world, a)
    decision = world.client.post(
        f"/api/v1/collections/{a['device_id']}/1/void",
        json={"reason": "Erreur"},
        headers=world.auth("acme.admin"),
    ).json
    write(
        world,
        a,
        "reversal",
        {
            "mission_id": "M-1",
            "reverses": {"device_id": a["device_id"], "seq": 1, "hash": entry.hash},
            "method": "cash",
            "amount": "180.00",
            "reason": "Erreur",
            "decision": decision["id"],
        },
    )
    assert world.count(anomalies) == 0


# --- a discount or a deferral approved by the office ---------------------------------


@pytest.mark.parametrize("kind", ["discount", "deferral"])
def test_an_office_approval_reaches_the_missions_driver_only(world, fleet, kind):  # noqa: F811
    answer = world.client.post(
        f"/api/v1/missions/M-1/{kind}",
        json={"amount": "20.5", "reason": "Client fidèle"},
        headers=world.auth("acme.admin"),
    )
    assert answer.status_code == 201, answer.json
    decision = answer.json
    assert decision == {
        "id": decision["id"],
        "type": kind,
        "mission_id": "M-1",
        "driver_id": "D1",
        "amount": "20.50",
        "reason": "Client fidèle",
        "decided_by": user_id(world, "acme.admin"),
        "decided_at": DECIDED_AT,
    }
    assert decisions_of(world, fleet["a"]) == {decision["id"]: decision}
    assert decisions_of(world, fleet["b"]) == {}
    assert decisions_of(world, fleet["other"]) == {}
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(decisions)).one()
    assert (row.type, row.mission_id, row.driver_id, row.device_id, row.entry_seq) == (
        kind,
        "M-1",
        "D1",
        None,
        None,
    )


def test_an_office_approval_follows_a_reassigned_mission(world, fleet):  # noqa: F811
    moved = world.client.post(
        "/api/v1/missions/M-1/assign", json={"driver_id": "D2"}, headers=world.auth("acme.admin")
    )
    assert moved.status_code == 200, moved.json
    made = world.client.post(
        "/api/v1/missions/M-1/discount",
        json={"amount": "10.00", "reason": "Retard"},
        headers=world.auth("acme.admin"),
    ).json
    assert made["driver_id"] == "D2"
    assert list(decisions_of(world, fleet["b"])) == [made["id"]]
    assert decisions_of(world, fleet["a"]) == {}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": "0.00", "reason": "x"}, 422, "amount_invalid"),
        ({"amount": "-5.00", "reason": "x"}, 422, "amount_invalid"),
        ({"amount": "20.001", "reason": "x"}, 422, "invalid_request"),
        ({"amount": 20.5, "reason": "x"}, 422, "invalid_request"),  # a float: never money
        ({"amount": "20.00"}, 422, "invalid_request"),  # no reason
    ],
)
def test_an_office_approval_needs_a_positive_amount_and_a_reason(world, fleet, body, status, code):  # noqa: F811
    answer = world.client.post(
        "/api/v1/missions/M-1/discount", json=body, headers=world.auth("acme.admin")
    )
    assert (answer.status_code, answer.json["code"]) == (status, code)
    assert world.count(decisions) == 0


def test_an_office_approval_needs_a_known_assigned_mission(world, fleet):  # noqa: F811
    body = {"amount": "10.00", "reason": "x"}
    unknown = world.client.post(
        "/api/v1/missions/M-404/deferral", json=body, headers=world.auth("acme.admin")
    )
    assert unknown.status_code == 404
    theirs = world.client.post(
        "/api/v1/missions/M-1/deferral", json=body, headers=world.auth("other.admin")
    )
    assert theirs.status_code == 404
    made = world.client.post(
        "/api/v1/missions",
        headers=world.auth("acme.admin"),
        json={"document": {**MISSION, "id": "M-3"}},
    )
    assert made.status_code == 201
    nobody = world.client.post(
        "/api/v1/missions/M-3/deferral", json=body, headers=world.auth("acme.admin")
    )
    assert (nobody.status_code, nobody.json["code"]) == (409, "mission_unassigned")


# --- unlocking a tablet's approval codes ---------------------------------------------


def test_an_unlock_reaches_that_tablet_only(world, fleet):  # noqa: F811
    a = fleet["a"]
    answer = world.client.post(
        f"/api/v1/devices/{a['device_id']}/unlock-approvals",
        json={"mission_id": "M-1"},
        headers=world.auth("acme.admin"),
    )
    assert answer.status_code == 201, answer.json
    decision = answer.json
    assert decision == {
        "id": decision["id"],
        "type": "unlock_approvals",
        "device_id": a["device_id"],
        "mission_id": "M-1",
        "decided_by": user_id(world, "acme.admin"),
        "decided_at": DECIDED_AT,
    }
    every = world.client.post(
        f"/api/v1/devices/{a['device_id']}/unlock-approvals",
        json={},
        headers=world.auth("acme.admin"),
    )
    assert every.status_code == 201, every.json
    assert every.json["mission_id"] is None
    assert decisions_of(world, a) == {decision["id"]: decision, every.json["id"]: every.json}
    assert decisions_of(world, fleet["a2"]) == {}  # same driver, another tablet
    assert decisions_of(world, fleet["b"]) == {}
    assert decisions_of(world, fleet["other"]) == {}
    with world.engine.connect() as conn:
        scopes = (
            conn.execute(sa.select(changes.c.scope).where(changes.c.kind == "decision"))
            .scalars()
            .all()
        )
    assert scopes == [f"device:{a['device_id']}"] * 2


def test_an_unlock_needs_a_live_tablet_and_a_known_mission_of_the_tenant(world, fleet):  # noqa: F811
    a = fleet["a"]

    def unlock(device_id, body, who="acme.admin"):
        return world.client.post(
            f"/api/v1/devices/{device_id}/unlock-approvals", json=body, headers=world.auth(who)
        )

    assert unlock("dev_unknown", {}).status_code == 404
    assert unlock(fleet["other"]["device_id"], {}).status_code == 404  # another tenant's
    assert unlock(a["device_id"], {"mission_id": "M-404"}).status_code == 404
    revoked = world.client.post(
        f"/api/v1/devices/{fleet['b']['device_id']}/revoke",
        json={"reason": "Volée"},
        headers=world.auth("acme.admin"),
    )
    assert revoked.status_code == 200
    refused = unlock(fleet["b"]["device_id"], {})
    assert (refused.status_code, refused.json["code"]) == (409, "device_revoked")
    assert world.count(decisions) == 0


# --- rights --------------------------------------------------------------------------


def test_each_decision_needs_its_right(world, fleet):  # noqa: F811
    a = fleet["a"]
    collect(world, a)
    calls = {
        "void": (f"/api/v1/collections/{a['device_id']}/1/void", {"reason": "x"}),
        "discount": ("/api/v1/missions/M-1/discount", {"amount": "5.00", "reason": "x"}),
        "deferral": ("/api/v1/missions/M-1/deferral", {"amount": "5.00", "reason": "x"}),
        "unlock": (f"/api/v1/devices/{a['device_id']}/unlock-approvals", {}),
        "cancel": ("/api/v1/missions/M-1/cancel", {"reason": "x"}),
    }
    for path, body in calls.values():
        refused = world.client.post(path, json=body, headers=world.auth("acme.clerk"))
        assert (refused.status_code, refused.json["code"]) == (403, "right_missing")
    # the office role may void a collection, not approve a discount nor manage devices
    status = {
        name: world.client.post(path, json=body, headers=world.auth("acme.office")).status_code
        for name, (path, body) in calls.items()
    }
    assert status == {
        "void": 201,
        "discount": 403,
        "deferral": 403,
        "unlock": 403,
        "cancel": 200,
    }
    assert world.count(decisions) == 1


def test_without_the_payments_module_nobody_voids_nor_approves(world, fleet):  # noqa: F811
    with world.engine.begin() as conn:
        identity.set_payments(conn, "acme", False, now=START)
    for path, body in (
        (f"/api/v1/collections/{fleet['a']['device_id']}/1/void", {"reason": "x"}),
        ("/api/v1/missions/M-1/discount", {"amount": "5.00", "reason": "x"}),
    ):
        refused = world.client.post(path, json=body, headers=world.auth("acme.admin"))
        assert (refused.status_code, refused.json["code"]) == (403, "right_missing")


# --- a cancelled mission -------------------------------------------------------------


def test_a_cancelled_mission_reaches_its_drivers_tablets_once(world, fleet):  # noqa: F811
    answer = world.client.post(
        "/api/v1/missions/M-1/cancel",
        json={"reason": "Client reparti"},
        headers=world.auth("acme.admin"),
    )
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["cancel_reason"]) == ("cancelled", "Client reparti")
    latest = pulled(world, fleet["a"], "mission")[-1]
    assert latest["id"] == "M-1"
    assert {k: latest["data"][k] for k in ("status", "cancel_reason", "driver_id")} == {
        "status": "cancelled",
        "cancel_reason": "Client reparti",
        "driver_id": "D1",
    }
    assert [c["id"] for c in pulled(world, fleet["b"], "mission")] == ["M-2"]
    again = world.client.post(
        "/api/v1/missions/M-1/cancel",
        json={"reason": "Encore"},
        headers={**world.auth("acme.admin"), "Accept-Language": "en"},
    )
    assert (again.status_code, again.json["code"]) == (409, "mission_already_cancelled")
    assert "already cancelled" in again.json["message"]
    assert world.count(changes, kind="mission", entity_id="M-1") == 2  # created, cancelled
    with world.engine.connect() as conn:
        logged = conn.execute(
            sa.select(audit_log).where(audit_log.c.action == "mission.cancel")
        ).one()
    assert (logged.target, logged.reason) == ("M-1", "Client reparti")
    # money taken afterwards is still recorded, and questioned
    collect(world, fleet["a"])
    assert [r.kind for r in _anomalies(world)] == ["collection_on_cancelled_mission"]


def test_an_unknown_or_unassigned_mission_is_cancelled_quietly_or_refused(world, fleet):  # noqa: F811
    unknown = world.client.post(
        "/api/v1/missions/M-404/cancel", json={"reason": "x"}, headers=world.auth("acme.admin")
    )
    assert unknown.status_code == 404
    theirs = world.client.post(
        "/api/v1/missions/M-1/cancel", json={"reason": "x"}, headers=world.auth("other.admin")
    )
    assert theirs.status_code == 404
    made = world.client.post(
        "/api/v1/missions",
        headers=world.auth("acme.admin"),
        json={"document": {**MISSION, "id": "M-3"}},
    )
    assert made.status_code == 201
    before = world.count(changes)
    done = world.client.post(
        "/api/v1/missions/M-3/cancel", json={"reason": "x"}, headers=world.auth("acme.admin")
    )
    assert done.json["status"] == "cancelled"
    assert world.count(changes) == before  # on no tablet: nothing to announce (not to all)


def _anomalies(w):
    with w.engine.connect() as conn:
        return conn.execute(sa.select(anomalies).order_by(anomalies.c.id)).all()


# --- drivers' rights -----------------------------------------------------------------


def test_drivers_carry_their_effective_rights_at_enrolment_and_in_the_feed(world, fleet):  # noqa: F811
    a = fleet["a"]
    assert [(d["id"], d["rights"]) for d in a["drivers"]] == [("D1", ["collect"])]
    [driver] = [c["data"] for c in pulled(world, a, "driver") if c["id"] == "D1"]
    assert driver["rights"] == ["collect"]
    with world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "acme")
        identity.set_role(
            conn,
            tenant,
            "chief",
            ["collect", "approve_discount", "manage_missions"],
            actor="t",
            now=START,
        )
        create_driver(conn, "acme", "D9", "Chef", "9999", "chief", actor="t", now=START)
        identity.set_payments(conn, "acme", False, now=START + timedelta(minutes=1))
        set_pin(conn, "acme", "D9", "8888", actor="t", now=START + timedelta(minutes=1))
    chief = tablet(world, "acme", ["D9"], 5)
    feed = [c["data"]["rights"] for c in pulled(world, chief, "driver") if c["id"] == "D9"]
    # created while payments were on, then the PIN changed once they were off
    assert feed == [["approve_discount", "collect", "manage_missions"], ["manage_missions"]]
    assert [d["rights"] for d in chief["drivers"]] == [["manage_missions"]]


# --- the command line ----------------------------------------------------------------


def test_void_from_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from server.app import create_app
    from server.cli.main import main
    from server.people import hashing
    from tests.server_support import Clock

    monkeypatch.setattr(hashing, "N", 2**8)
    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [*args, "--database", url])

    assert run("init-db").exit_code == 0
    run("tenants", "create", "acme", "--name", "Acme", "--payments")
    run("drivers", "create", "acme", "D1", "--name", "Luc", "--pin", "1234")
    code = json.loads(run("enroll-code", "acme", "--driver", "D1", "--json").output)["code"]
    app = create_app({"DATABASE_URL": url, "VAR_DIR": str(tmp_path / "var"), "CLOCK": Clock()})

    class W:
        client = app.test_client()

    key, public_hex = device_key()
    device = dict(
        W.client.post("/api/v1/devices/enrol", json={"code": code, "public_key": public_hex}).json
    )
    device.update(key=key, entries=[], token=session(W, device["device_id"], key).json["token"])
    entry = collect(W, device)

    assert run("void", "acme", device["device_id"], "1", "--reason", " ").exit_code == 2
    done = run("void", "acme", device["device_id"], "1", "--reason", "Erreur", "--json")
    assert done.exit_code == 0, done.output
    made = json.loads(done.output)
    assert (made["collection"], made["decided_by"], made["reason"]) == (
        {"device_id": device["device_id"], "seq": 1, "hash": entry.hash},
        "cli",
        "Erreur",
    )
    again = run("void", "acme", device["device_id"], "1", "--reason", "Erreur", "--lang", "en")
    assert again.exit_code == 3 and "already voided" in again.output
    assert run("void", "acme", device["device_id"], "9", "--reason", "x").exit_code == 3
    assert run("void", "nowhere", device["device_id"], "1", "--reason", "x").exit_code == 3
    human = run("void", "acme", device["device_id"], "1", "--reason", "x")
    assert "déjà annulé" in human.output
