"""The ordering parties' API and the office's side of it (SQLite and PostgreSQL): API
keys scoped to one tenant and one party, orders and messages in, a party's view of its
own files; the office's keys, cleaning rules, replay, imports, hand fixes, rules from
fixes, bug reports and files, each behind its right."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from server.people import hashing, identity
from server.people import ordering_parties as parties
from server.platform.tables import file_events, missions, orders
from tests.conftest import EXAMPLES
from tests.server_support import PASSWORD, START, Clock, World, seed
from tests.storage import engine  # noqa: F401

ORDERS = EXAMPLES / "orders"
RULES: dict[str, Any] = json.loads((ORDERS / "cleaning-assist-b.json").read_text("utf-8"))
ORDER_TEXT = (ORDERS / "assist-b-order.json").read_text("utf-8")
FILE = "B-2026-0101"
MISSION = "ASSIST-B.B-2026-0101.1"


def order_b(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ORDER_TEXT)
    document.update(changes)
    return document


@pytest.fixture
def api(engine, tmp_path: Path, monkeypatch):  # noqa: F811
    """The app with two tenants each with ASSIST-A and ASSIST-B, and users signed in:
    acme's admin, office clerk (role office), a driver-role clerk without rights, and
    other's admin."""
    from server.app import create_app

    monkeypatch.setattr(hashing, "N", 2**8)
    clock = Clock(START)
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "t", "CLOCK": clock}
    )
    app.config["TESTING"] = True
    seed(engine)
    with engine.begin() as conn:
        for tenant in ("acme", "other"):
            for party in ("ASSIST-A", "ASSIST-B"):
                parties.create_party(conn, tenant, party, party.title(), actor="t", now=START)
        identity.create_user(
            conn, "acme", "office", "Office", PASSWORD, "office", actor="t", now=START
        )
    w = World(app.test_client(), clock, engine)
    for tenant, login in (
        ("acme", "admin"),
        ("acme", "office"),
        ("acme", "clerk"),
        ("other", "admin"),
    ):
        answer = w.login(tenant, login)
        assert answer.status_code == 200, answer.json
        w.tokens[f"{tenant}.{login}"] = answer.json["token"]
    return w


def new_key(w: World, party: str = "ASSIST-B", user: str = "acme.admin") -> dict[str, Any]:
    made = w.client.post(
        f"/api/v1/parties/{party}/api-keys", json={"label": "Plateforme"}, headers=w.auth(user)
    )
    assert made.status_code == 201, made.json
    return dict(made.json)


def bearer(key: str, lang: str = "fr") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept-Language": lang}


def post_order(w: World, key: str, body: Any, lang: str = "fr") -> Any:
    return w.client.post("/api/v1/party/orders", json=body, headers=bearer(key, lang))


# --- keys ------------------------------------------------------------------------------------


def test_keys_are_made_by_the_office_shown_once_and_revoked(api):
    made = new_key(api)
    key_id, secret = made["key"].split(".", 1)
    assert key_id == made["id"] and len(secret) >= 40
    listed = api.client.get("/api/v1/parties/ASSIST-B/api-keys", headers=api.auth("acme.admin"))
    assert [k["id"] for k in listed.json] == [key_id]
    assert "key" not in listed.json[0] and secret not in listed.get_data(as_text=True)
    denied = api.client.get("/api/v1/parties/ASSIST-B/api-keys", headers=api.auth("acme.clerk"))
    assert (denied.status_code, denied.json["code"]) == (403, "right_missing")
    theirs = api.client.get("/api/v1/parties/ASSIST-B/api-keys", headers=api.auth("other.admin"))
    assert theirs.json == []  # another tenant never sees acme's keys
    stranger = api.client.post(
        f"/api/v1/parties/ASSIST-B/api-keys/{key_id}/revoke", headers=api.auth("other.admin")
    )
    assert stranger.status_code == 404
    assert post_order(api, made["key"], order_b()).status_code == 201
    revoked = api.client.post(
        f"/api/v1/parties/ASSIST-B/api-keys/{key_id}/revoke", headers=api.auth("acme.admin")
    )
    assert revoked.status_code == 200 and revoked.json["revoked_by"]
    refused = post_order(api, made["key"], order_b(message_id="M-2"), lang="en")
    assert (refused.status_code, refused.json["code"]) == (401, "api_key_revoked")
    assert "ask the towing company for a new one" in refused.json["message"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    again = api.client.post(
        f"/api/v1/parties/ASSIST-B/api-keys/{key_id}/revoke", headers=api.auth("acme.admin")
    )
    assert again.status_code == 409
    assert api.count(orders) == 1


def test_missing_unknown_and_wrong_keys_get_401_with_a_clear_message(api):
    made = new_key(api)
    key_id = made["id"]
    missing = api.client.post("/api/v1/party/orders", json=order_b())
    assert (missing.status_code, missing.json["code"]) == (401, "api_key_required")
    assert "Authorization: Bearer" in missing.json["message"]
    for presented in ("nonsense", f"{key_id}.wrong-secret", "pk_0000000000000000.x"):
        answer = post_order(api, presented, order_b(), lang="en")
        assert (answer.status_code, answer.json["code"]) == (401, "api_key_unknown")
        assert answer.json["message"].startswith("Unknown API key")
    user_token = post_order(api, api.tokens["acme.admin"], order_b())
    assert (user_token.status_code, user_token.json["code"]) == (401, "api_key_unknown")
    assert api.count(orders) == 0 and api.count(file_events) == 0


# --- orders and messages -------------------------------------------------------------------


def test_an_order_is_taken_once_and_a_duplicate_gets_the_first_answer(api):
    key = new_key(api)["key"]
    api.client.post(
        "/api/v1/parties/ASSIST-B/cleaning-rules",
        json={"document": RULES},
        headers=api.auth("acme.office"),
    )
    first = api.client.post(
        "/api/v1/party/orders",
        data=ORDER_TEXT,
        content_type="application/json",
        headers=bearer(key),
    )
    assert first.status_code == 201, first.json
    assert (first.json["outcome"], first.json["mission_id"]) == ("created", MISSION)
    assert [c["rule"] for c in first.json["corrections"]] == [
        "codes-maison",
        "classe-par-poids",
        "km-charges-zero",
    ]
    again = post_order(api, key, order_b())
    assert again.status_code == 200
    assert {**again.json, "duplicate": False} == first.json
    assert api.count(missions) == 1 and api.count(file_events, event="order") == 1
    with api.engine.connect() as conn:
        stored = conn.execute(orders.select()).one()
    assert stored.received == ORDER_TEXT and stored.received_by == key.split(".")[0]


def test_a_malformed_order_gets_422_with_paths_in_the_callers_language(api):
    key = new_key(api)["key"]
    bad = order_b(services=[{"code": "remorquage"}], vehicle={"plate": "AB-123-CD"})
    bad["coverage"] = {"deductible": 50}
    english = post_order(api, key, bad, lang="en")
    assert english.status_code == 422
    assert english.json["code"] == "invalid_document"
    assert english.json["message"] == "Invalid mission order: 2 errors"
    assert {p["path"] for p in english.json["problems"]} == {
        "coverage.deductible",
        "services.0.code",
    }
    french = post_order(api, key, bad)
    assert french.json["message"] == "Ordre de mission invalide : 2 erreurs"
    amount = next(p for p in french.json["problems"] if p["path"] == "coverage.deductible")
    assert amount["message"].startswith("montant invalide")
    nameless = post_order(api, key, {"file_number": FILE}, lang="en")
    assert nameless.status_code == 422
    assert [p["path"] for p in nameless.json["problems"]] == ["message_id"]
    not_json = api.client.post(
        "/api/v1/party/orders", data="{oops", content_type="application/json", headers=bearer(key)
    )
    assert not_json.status_code in (400, 422)
    assert api.count(orders) == 0 and api.count(missions) == 0 and api.count(file_events) == 0


def test_a_key_reaches_only_its_party_and_its_tenant(api):
    key_b = new_key(api)["key"]
    key_a = new_key(api, "ASSIST-A")["key"]
    other_b = new_key(api, "ASSIST-B", user="other.admin")["key"]
    assert post_order(api, key_b, order_b()).status_code == 201
    for_b = post_order(api, key_a, order_b(message_id="A-1"), lang="en")
    assert (for_b.status_code, for_b.json["code"]) == (403, "party_mismatch")
    assert api.client.get(f"/api/v1/party/files/{FILE}", headers=bearer(key_b)).status_code == 200
    assert api.client.get(f"/api/v1/party/files/{FILE}", headers=bearer(key_a)).status_code == 404
    assert api.client.get(f"/api/v1/party/files/{FILE}", headers=bearer(other_b)).status_code == 404
    message = {"message_id": "A-MSG", "file_number": FILE, "kind": "order_cancelled"}
    moved = api.client.post("/api/v1/party/messages", json=message, headers=bearer(key_a))
    assert moved.status_code == 200 and moved.json["state_before"] is None  # A's own file
    mine = api.client.get(f"/api/v1/party/files/{FILE}", headers=bearer(key_b))
    assert mine.json["state"] == "not_integrated"  # B's file did not move
    theirs = post_order(api, other_b, order_b())  # the same message id, another tenant
    assert theirs.status_code == 201 and theirs.json["duplicate"] is False
    assert api.count(missions) == 2


def test_messages_move_the_file_and_the_party_sees_only_its_messages(api):
    key = new_key(api)["key"]
    post_order(api, key, order_b())

    def say(message_id: str, kind: str, **extra: Any) -> Any:
        body = {"message_id": message_id, "file_number": FILE, "kind": kind, **extra}
        return api.client.post("/api/v1/party/messages", json=body, headers=bearer(key, "en"))

    follow = say("S1", "follow_up", name="SD 54", at="2026-03-10T10:00:00+01:00")
    assert follow.status_code == 200 and follow.json["state"] == "not_integrated"
    bad = say("S2", "invoice_paid")
    assert bad.status_code == 422 and bad.json["problems"][0]["path"] == "kind"
    cancelled = say("S3", "order_cancelled", name="SD 25")
    assert cancelled.json["state"] == "done" and cancelled.json["missions_cancelled"] == [MISSION]
    again = say("S3", "order_cancelled", name="SD 25")
    assert again.json["duplicate"] is True and again.json["missions_cancelled"] == []
    seen = api.client.get(f"/api/v1/party/files/{FILE}", headers=bearer(key))
    assert seen.json["state"] == "done" and seen.json["state_label"]["fr"] == "Terminé"
    assert [m["kind"] for m in seen.json["messages"]] == ["order", "follow_up", "order_cancelled"]
    office = api.client.get(f"/api/v1/files/ASSIST-B/{FILE}", headers=api.auth("acme.office"))
    assert office.status_code == 200
    assert office.json["missions"] == [
        {
            "id": MISSION,
            "status": "cancelled",
            "driver_id": None,
            "valued_by_tablet": False,
            "final_facts": None,  # never valued: only the order to show
        }
    ]
    assert "mission_cancelled" in [e["event"] for e in office.json["history"]]
    listed = api.client.get(
        "/api/v1/files?party=ASSIST-B&state=done", headers=api.auth("acme.office")
    )
    assert [f["file_number"] for f in listed.json] == [FILE]
    assert api.client.get("/api/v1/files", headers=api.auth("acme.clerk")).status_code == 403
    assert (
        api.client.get(
            f"/api/v1/files/ASSIST-B/{FILE}", headers=api.auth("other.admin")
        ).status_code
        == 404
    )


# --- the office -----------------------------------------------------------------------------


def test_the_office_publishes_rules_imports_fixes_and_makes_a_rule_from_the_fix(api):
    office = api.auth("acme.office")
    first = {**RULES, "rules": RULES["rules"][1:]}  # nothing about REMORQ yet
    published = api.client.post(
        "/api/v1/parties/ASSIST-B/cleaning-rules", json={"document": first}, headers=office
    )
    assert published.status_code == 201 and published.json["version"] == 1
    clerk = api.client.post(
        "/api/v1/parties/ASSIST-B/cleaning-rules",
        json={"document": first},
        headers=api.auth("acme.clerk"),
    )
    assert clerk.status_code == 403
    text = (ORDERS / "orders.csv").read_text("utf-8")
    lines = text.splitlines()
    csv_text = "\n".join([lines[0], lines[1], lines[2].replace("EF-456-GH;VL;", "EF-456-GH;;")])
    imported = api.client.post(
        "/api/v1/orders/import",
        json={"party_id": "ASSIST-B", "csv": csv_text},
        headers={**office, "Accept-Language": "en"},
    )
    assert imported.status_code == 200, imported.json
    assert (imported.json["taken"], imported.json["refused_lines"]) == (1, [3])
    assert imported.json["lines"][1]["problems"][0]["path"] == "vehicle"
    assert "The valid orders are stored" in imported.json["message"]
    mission = "ASSIST-B.B-2026-0201.1"
    shown = api.client.get(f"/api/v1/missions/{mission}/bug-report", headers=office)
    assert shown.status_code == 200
    document = copy.deepcopy(shown.json["mission"]["document"])
    assert document["services"] == [{"code": "REMORQ"}]
    document["services"] = [{"code": "TOW"}]
    fixed = api.client.post(
        f"/api/v1/missions/{mission}/manual-clean",
        json={"document": document, "reason": "Code maison"},
        headers=office,
    )
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["changes"] == [
        {"path": "services.0.code", "before": "REMORQ", "after": "TOW"}
    ]
    proposal = api.client.post(
        f"/api/v1/missions/{mission}/rule-from-fix", json={"rule_id": "remorq"}, headers=office
    )
    assert proposal.status_code == 200, proposal.json
    draft = proposal.json["draft"]
    assert draft["version"] == 2 and draft["rules"][-1]["id"] == "remorq"
    again = api.client.post(
        "/api/v1/parties/ASSIST-B/cleaning-rules", json={"document": draft}, headers=office
    )
    assert again.status_code == 201 and again.json["version"] == 2
    stale = api.client.post(
        "/api/v1/parties/ASSIST-B/cleaning-rules", json={"document": draft}, headers=office
    )
    assert (stale.status_code, stale.json["code"]) == (409, "ruleset_version_conflict")
    versions = api.client.get("/api/v1/parties/ASSIST-B/cleaning-rules", headers=office)
    assert [v["version"] for v in versions.json] == [1, 2]
    one = api.client.get("/api/v1/parties/ASSIST-B/cleaning-rules/2", headers=office)
    assert one.json["document"]["rules"][-1]["id"] == "remorq"
    key = new_key(api)["key"]
    nxt = post_order(api, key, order_b(message_id="B-9", file_number="B-2026-0999"))
    assert nxt.json["ruleset"]["version"] == 2
    assert {"rule": "remorq", "version": 2} in [
        {"rule": c["rule"], "version": c["version"]} for c in nxt.json["corrections"]
    ]
    replayed = api.client.post(
        "/api/v1/parties/ASSIST-B/cleaning-rules/replay", json={"dry_run": True}, headers=office
    )
    assert replayed.status_code == 200 and replayed.json["dry_run"] is True
    held = {f["mission_id"]: f["outcome"] for f in replayed.json["files"]}
    assert held == {mission: "held"}  # corrected by hand: reported, never overwritten
    report = api.client.get(f"/api/v1/missions/{mission}/bug-report", headers=office)
    assert report.json["mission"]["document"]["services"] == [{"code": "TOW"}]
    assert "manual_clean" in [e["event"] for e in report.json["file_log"]]
    assert (
        api.client.get(
            f"/api/v1/missions/{mission}/bug-report", headers=api.auth("acme.clerk")
        ).status_code
        == 403
    )


def test_the_api_documents_the_party_endpoints(api):
    spec = api.client.get("/api/v1/openapi.json").json
    assert "/api/v1/party/orders" in spec["paths"]
    assert spec["paths"]["/api/v1/party/orders"]["post"]["security"] == [{"party_key": []}]
    assert "/api/v1/files/{party_id}/{file_number}" in spec["paths"]
