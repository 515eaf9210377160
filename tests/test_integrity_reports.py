"""A tablet whose key was swapped never gets a session, so it cannot report itself: the
session's refusal is what tells the office (one open alert per tablet)."""

from __future__ import annotations

import sqlalchemy as sa

from server.platform.tables import anomalies
from shared.signing import sign
from sync.protocol import challenge_message
from tests.server_support import device_key, enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401


def wrong_session(w, device_id, key):
    nonce = w.client.post("/api/v1/devices/challenge", json={"device_id": device_id}).json["nonce"]
    return w.client.post(
        "/api/v1/devices/session",
        json={
            "device_id": device_id,
            "nonce": nonce,
            "signature": sign(key, challenge_message(nonce)).hex(),
        },
    )


def alerts(w, device_id):
    with w.engine.connect() as conn:
        return conn.execute(
            sa.select(anomalies.c.kind, anomalies.c.tenant_id, anomalies.c.status).where(
                anomalies.c.device_id == device_id
            )
        ).all()


def test_a_session_signed_with_another_key_raises_one_alert_for_the_office(world):  # noqa: F811
    tablet = enrol(world)
    other_key, _ = device_key(b"\x09" * 32)
    for _ in range(3):
        refused = wrong_session(world, tablet["device_id"], other_key)
        assert (refused.status_code, refused.json["code"]) == (401, "signature_invalid")
    assert alerts(world, tablet["device_id"]) == [("journal_invalid", "acme", "open")]


def test_a_right_session_raises_nothing(world):  # noqa: F811
    tablet = enrol(world)
    assert wrong_session(world, tablet["device_id"], tablet["key"]).status_code == 200
    assert alerts(world, tablet["device_id"]) == []


def report(found=("entry_missing",)):
    findings = [
        {"kind": k, "seq": 3, "fr": "Entrée 3 absente.", "en": "Entry 3 missing."} for k in found
    ]
    return {
        "id": "ab" * 32,
        "found_at": "2026-12-07T08:00:00+01:00",
        "total": len(findings),
        "findings": findings,
    }


def test_a_tablets_integrity_report_reaches_the_office_once(world):  # noqa: F811
    """The empty push of a tablet that found its own files broken carries its report; the
    office gets one `journal_invalid` anomaly, and the answer names the report kept."""
    tablet = enrol(world)
    body = {
        "protocol": 2,
        "device_id": tablet["device_id"],
        "entries": [],
        "integrity_report": report(),
    }
    headers = {"Authorization": f"Bearer {tablet['token']}"}
    for _ in range(2):  # a resent report is the same report
        answer = world.client.post("/api/v1/sync/push", json=body, headers=headers)
        assert answer.status_code == 200, answer.json
        assert answer.json["integrity_report"] == {"id": "ab" * 32}
    assert alerts(world, tablet["device_id"]) == [("journal_invalid", "acme", "open")]


def test_a_push_without_a_report_says_nothing_of_one(world):  # noqa: F811
    tablet = enrol(world)
    body = {"protocol": 2, "device_id": tablet["device_id"], "entries": []}
    answer = world.client.post(
        "/api/v1/sync/push", json=body, headers={"Authorization": f"Bearer {tablet['token']}"}
    )
    assert answer.status_code == 200, answer.json
    assert "integrity_report" not in answer.json
    assert alerts(world, tablet["device_id"]) == []
