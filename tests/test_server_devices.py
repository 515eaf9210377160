"""Tablets: one-time enrolment codes, challenge-signed sessions, revocation."""

from __future__ import annotations

import sqlalchemy as sa

from server.api.security import current_device, require_device
from server.platform.tables import audit_log, challenges, device_drivers, devices, enrolment_codes
from shared.signing import sign
from sync.protocol import challenge_message
from tests.server_support import device_key, enrol, session, world  # noqa: F401
from tests.storage import engine  # noqa: F401


def new_code(w, drivers=("D1",), **extra):
    answer = w.client.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": list(drivers), "label": "Truck 3", **extra},
        headers=w.auth("acme.admin"),
    )
    assert answer.status_code == 201, answer.json
    return answer.json["code"]


def test_an_enrolled_tablet_gets_its_identity_keys_and_drivers(world):  # noqa: F811
    tablet = enrol(world, ["D1", "D2"])
    assert tablet["tenant_id"] == "acme"
    assert len(tablet["server_public_key"]) == 64
    assert tablet["approval_key"]["version"] == 1 and len(tablet["approval_key"]["secret"]) == 64
    assert [d["id"] for d in tablet["drivers"]] == ["D1", "D2"]
    assert tablet["drivers"][0]["pin_hash"].startswith("scrypt$")
    me = world.client.get(
        "/api/v1/devices/me", headers={"Authorization": f"Bearer {tablet['token']}"}
    )
    assert me.status_code == 200
    assert me.json == {
        "device_id": tablet["device_id"],
        "tenant_id": "acme",
        "driver_ids": ["D1", "D2"],
        "revoked": False,
    }


def test_an_enrolment_code_is_stored_hashed_and_typed_loosely(world):  # noqa: F811
    code = new_code(world)
    with world.engine.connect() as conn:
        stored = conn.execute(sa.select(enrolment_codes.c.code_hash)).scalars().all()
    assert code not in stored and code.replace("-", "") not in stored
    _, public_hex = device_key()
    typed = code.lower().replace("-", " ")
    answer = world.client.post(
        "/api/v1/devices/enrol", json={"code": typed, "public_key": public_hex}
    )
    assert answer.status_code == 201, answer.json


def test_an_enrolment_code_works_once(world):  # noqa: F811
    code = new_code(world)
    first = world.client.post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]}
    )
    assert first.status_code == 201
    again = world.client.post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key(b"\x01" * 32)[1]}
    )
    assert again.status_code == 401
    assert again.json["code"] == "enrolment_code_used"
    assert world.count(devices) == 1


def test_an_expired_enrolment_code_is_refused_and_enrols_nothing(world):  # noqa: F811
    code = new_code(world)
    world.clock.advance(minutes=15)
    answer = world.client.post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]}
    )
    assert (answer.status_code, answer.json["code"]) == (401, "enrolment_code_expired")
    assert "demandez-en un nouveau" in answer.json["message"]
    assert world.count(devices) == 0


def test_five_wrong_guesses_spend_the_code(world):  # noqa: F811
    code = new_code(world)
    wrong = code[:5] + ("0000-000A" if not code.endswith("000A") else "0000-000B")
    for _ in range(5):
        answer = world.client.post(
            "/api/v1/devices/enrol", json={"code": wrong, "public_key": device_key()[1]}
        )
        assert answer.json["code"] == "enrolment_code_invalid"
    right = world.client.post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]}
    )
    assert (right.status_code, right.json["code"]) == (401, "enrolment_code_exhausted")
    assert world.count(devices) == 0


def test_enrolment_refuses_a_malformed_public_key_and_keeps_the_code(world):  # noqa: F811
    code = new_code(world)
    for bad in ("zz" * 32, "ab" * 31, 12345):
        answer = world.client.post("/api/v1/devices/enrol", json={"code": code, "public_key": bad})
        assert answer.status_code == 422, answer.json
        assert answer.json["problems"][0]["path"] == "public_key"
    assert world.count(devices) == 0
    ok = world.client.post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]}
    )
    assert ok.status_code == 201


def test_a_public_key_is_enrolled_once(world):  # noqa: F811
    enrol(world)
    code = new_code(world)
    answer = world.client.post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]}
    )
    assert (answer.status_code, answer.json["code"]) == (409, "key_already_enrolled")


def test_an_enrolment_code_names_only_the_tenants_own_drivers(world):  # noqa: F811
    answer = world.client.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": ["D1", "X1"], "label": "Truck"},
        headers=world.auth("acme.admin"),
    )
    assert (answer.status_code, answer.json["code"]) == (422, "driver_unknown")
    assert "X1" in answer.json["message"]
    assert world.count(enrolment_codes) == 0


def test_enrolment_codes_need_the_manage_devices_right(world):  # noqa: F811
    answer = world.client.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": ["D1"], "label": "Truck"},
        headers=world.auth("acme.clerk"),
    )
    assert (answer.status_code, answer.json["code"]) == (403, "right_missing")
    assert world.count(enrolment_codes) == 0


def test_a_challenge_is_single_use(world):  # noqa: F811
    tablet = enrol(world)
    nonce = world.client.post(
        "/api/v1/devices/challenge", json={"device_id": tablet["device_id"]}
    ).json["nonce"]
    body = {
        "device_id": tablet["device_id"],
        "nonce": nonce,
        "signature": sign(tablet["key"], challenge_message(nonce)).hex(),
    }
    assert world.client.post("/api/v1/devices/session", json=body).status_code == 200
    replay = world.client.post("/api/v1/devices/session", json=body)
    assert (replay.status_code, replay.json["code"]) == (401, "challenge_used")


def test_a_challenge_expires_after_two_minutes(world):  # noqa: F811
    tablet = enrol(world)
    nonce = world.client.post(
        "/api/v1/devices/challenge", json={"device_id": tablet["device_id"]}
    ).json["nonce"]
    world.clock.advance(minutes=2)
    answer = world.client.post(
        "/api/v1/devices/session",
        json={
            "device_id": tablet["device_id"],
            "nonce": nonce,
            "signature": sign(tablet["key"], challenge_message(nonce)).hex(),
        },
    )
    assert (answer.status_code, answer.json["code"]) == (401, "challenge_expired")


def test_a_wrong_signature_is_refused_and_burns_the_challenge(world):  # noqa: F811
    tablet = enrol(world)
    other_key, _ = device_key(b"\x07" * 32)
    nonce = world.client.post(
        "/api/v1/devices/challenge", json={"device_id": tablet["device_id"]}
    ).json["nonce"]
    body = {"device_id": tablet["device_id"], "nonce": nonce}
    wrong = world.client.post(
        "/api/v1/devices/session",
        json={**body, "signature": sign(other_key, challenge_message(nonce)).hex()},
    )
    assert (wrong.status_code, wrong.json["code"]) == (401, "signature_invalid")
    right = world.client.post(
        "/api/v1/devices/session",
        json={**body, "signature": sign(tablet["key"], challenge_message(nonce)).hex()},
    )
    assert right.json["code"] == "challenge_used"


def test_a_signature_over_the_bare_nonce_is_refused(world):  # noqa: F811
    """The device signs the nonce behind a session prefix, never bare bytes a server
    chose: so no challenge can make a device sign what could pass for a journal hash."""
    tablet = enrol(world)
    nonce = world.client.post(
        "/api/v1/devices/challenge", json={"device_id": tablet["device_id"]}
    ).json["nonce"]
    answer = world.client.post(
        "/api/v1/devices/session",
        json={
            "device_id": tablet["device_id"],
            "nonce": nonce,
            "signature": sign(tablet["key"], nonce.encode("utf-8")).hex(),
        },
    )
    assert (answer.status_code, answer.json["code"]) == (401, "signature_invalid")


def test_a_malformed_signature_is_a_422_with_its_path(world):  # noqa: F811
    tablet = enrol(world)
    for bad in ("00" * 63, "xy" * 64, None):
        answer = world.client.post(
            "/api/v1/devices/session",
            json={"device_id": tablet["device_id"], "nonce": "n", "signature": bad},
        )
        assert answer.status_code == 422
        assert [p["path"] for p in answer.json["problems"]] == ["signature"]


def test_a_challenge_for_an_unknown_device_is_refused(world):  # noqa: F811
    answer = world.client.post("/api/v1/devices/challenge", json={"device_id": "dev_nope"})
    assert (answer.status_code, answer.json["code"]) == (401, "device_unknown")
    assert world.count(challenges) == 0


def test_a_device_token_expires_after_fifteen_minutes(world):  # noqa: F811
    tablet = enrol(world)
    world.clock.advance(minutes=15)
    answer = world.client.get(
        "/api/v1/devices/me", headers={"Authorization": f"Bearer {tablet['token']}"}
    )
    assert (answer.status_code, answer.json["code"]) == (401, "token_expired")


def test_a_user_token_is_not_a_device_token(world):  # noqa: F811
    answer = world.client.get("/api/v1/devices/me", headers=world.auth("acme.admin"))
    assert (answer.status_code, answer.json["code"]) == (401, "token_invalid")


def revoke(w, device_id, who="acme.admin", reason="Tablette volée"):
    return w.client.post(
        f"/api/v1/devices/{device_id}/revoke", json={"reason": reason}, headers=w.auth(who)
    )


def test_a_revoked_device_is_refused_with_a_clear_message(world):  # noqa: F811
    tablet = enrol(world)
    answer = revoke(world, tablet["device_id"])
    assert answer.status_code == 200 and answer.json["revoked_reason"] == "Tablette volée"
    me = world.client.get(
        "/api/v1/devices/me",
        headers={"Authorization": f"Bearer {tablet['token']}", "Accept-Language": "en"},
    )
    assert (me.status_code, me.json["code"]) == (403, "device_revoked")
    assert "revoked by the office" in me.json["message"]
    with world.engine.connect() as conn:
        logged = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.reason).where(
                audit_log.c.action == "device.revoke"
            )
        ).all()
    assert [tuple(r) for r in logged] == [(logged[0].actor, "Tablette volée")]


def test_a_revoked_device_can_still_authenticate_as_revoked_for_quarantine(world):  # noqa: F811
    @require_device(allow_revoked=True)
    def push_probe():
        device = current_device()
        return {"device": device.device_id, "revoked": device.revoked}

    tablet = enrol(world)
    revoke(world, tablet["device_id"])
    fresh = session(world, tablet["device_id"], tablet["key"])
    assert fresh.status_code == 200 and fresh.json["revoked"] is True
    headers = {"Authorization": f"Bearer {fresh.json['token']}"}
    with world.client.application.test_request_context(headers=headers):
        assert push_probe() == {"device": tablet["device_id"], "revoked": True}


def test_revocation_needs_a_reason_the_right_and_the_tenants_own_device(world):  # noqa: F811
    tablet = enrol(world)
    assert revoke(world, tablet["device_id"], reason="   ").status_code == 422
    assert revoke(world, tablet["device_id"], who="acme.clerk").status_code == 403
    foreign = revoke(world, tablet["device_id"], who="other.admin")
    assert (foreign.status_code, foreign.json["code"]) == (404, "not_found")
    unknown = revoke(world, "dev_unknown", who="other.admin")
    assert foreign.json["message"].replace(tablet["device_id"], "X") == unknown.json[
        "message"
    ].replace("dev_unknown", "X")
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(devices.c.revoked_at)).scalar_one() is None
    assert revoke(world, tablet["device_id"]).status_code == 200
    assert revoke(world, tablet["device_id"]).json["code"] == "device_already_revoked"


def test_devices_are_listed_per_tenant(world):  # noqa: F811
    tablet = enrol(world, ["D1", "D2"])
    mine = world.client.get("/api/v1/devices", headers=world.auth("acme.admin"))
    assert [(d["id"], d["driver_ids"]) for d in mine.json] == [(tablet["device_id"], ["D1", "D2"])]
    theirs = world.client.get("/api/v1/devices", headers=world.auth("other.admin"))
    assert theirs.json == []
    assert world.count(device_drivers) == 2
