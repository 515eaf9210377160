"""The desk's homes for seed 000's causes: cleaning rules published and replayed from
/desk/cleaning, a mission corrected by hand and a rule made of it, the bug report."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from server.office import missions
from server.parties import cleaning as cleaning_store
from server.parties import hand_fix, orders
from server.people import identity
from server.people import ordering_parties as parties
from tests.conftest import EXAMPLES
from tests.desk_support import post, sign_in
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
ORDER_TEXT = (EXAMPLES / "orders" / "assist-b-order.json").read_text("utf-8")
RULES: dict[str, Any] = json.loads(
    (EXAMPLES / "orders" / "cleaning-assist-b.json").read_text("utf-8")
)
MISSION = "ASSIST-B.B-2026-0101.1"


def send(world, **changes: Any) -> dict[str, Any]:  # noqa: F811
    order = {**json.loads(ORDER_TEXT), **changes}
    with world.engine.begin() as conn:
        return orders.receive_order(
            conn, "demo", "ASSIST-B", order, actor="pk_test", now=NOW, received_text=ORDER_TEXT
        )


def head(world) -> int:  # noqa: F811
    with world.engine.connect() as conn:
        return len(cleaning_store.list_versions(conn, "demo", "ASSIST-B"))


def document_of(world, mission_id: str) -> dict[str, Any]:  # noqa: F811
    with world.engine.connect() as conn:
        return missions.get(conn, "demo", mission_id)["document"]


def test_a_version_is_published_from_the_page(world):  # noqa: F811
    client = world.office
    sign_in(client, "bureau")
    before = head(world)
    page = client.get("/desk/cleaning?party=ASSIST-B").get_data(as_text=True)
    assert "Règles de nettoyage" in page and "Publier une nouvelle version" in page
    draft = {k: v for k, v in RULES.items() if k != "version"}
    done = post(
        client,
        "/desk/cleaning/ASSIST-B/publish",
        {"document": json.dumps(draft), "confirm": "yes"},
    )
    assert done.status_code == 302
    assert head(world) == before + 1
    shown = client.get("/desk/cleaning?party=ASSIST-B").get_data(as_text=True)
    assert f"v{before + 1}" in shown and "codes-maison" in shown


def test_a_malformed_draft_shows_its_path_and_stores_nothing(world):  # noqa: F811
    client = world.office
    sign_in(client, "bureau")
    before = head(world)
    bad = copy.deepcopy(RULES)
    bad.pop("version", None)
    bad["rules"][0]["then"] = [{"explode": {}}]
    answer = post(
        client, "/desk/cleaning/ASSIST-B/publish", {"document": json.dumps(bad), "confirm": "yes"}
    )
    assert answer.status_code == 422
    assert "document.rules.0.then.0" in answer.get_data(as_text=True)
    assert head(world) == before
    unconfirmed = post(client, "/desk/cleaning/ASSIST-B/publish", {"document": "{}"})
    assert unconfirmed.status_code == 400 and head(world) == before


def test_the_replay_dry_run_changes_nothing_and_apply_does(world):  # noqa: F811
    send(world)
    assert document_of(world, MISSION)["services"] == [{"code": "REMORQ"}]
    with world.engine.begin() as conn:
        cleaning_store.publish(conn, "demo", "ASSIST-B", RULES, actor="t", now=NOW)
    client = world.office
    sign_in(client, "bureau")
    dry = post(client, "/desk/cleaning/ASSIST-B/replay", {"mode": "dry_run"})
    text = dry.get_data(as_text=True)
    assert dry.status_code == 200 and MISSION in text and "serait mise à jour" in text
    assert document_of(world, MISSION)["services"] == [{"code": "REMORQ"}]
    refused = post(client, "/desk/cleaning/ASSIST-B/replay", {"mode": "apply"})
    assert refused.status_code == 400
    assert document_of(world, MISSION)["services"] == [{"code": "REMORQ"}]
    done = post(client, "/desk/cleaning/ASSIST-B/replay", {"mode": "apply", "confirm": "yes"})
    assert done.status_code == 302
    assert document_of(world, MISSION)["services"] == [{"code": "TOW"}]


def test_a_hand_fix_then_its_rule_fixes_the_next_order(world):  # noqa: F811
    send(world)
    client = world.office
    sign_in(client, "bureau")
    mission_page = client.get(f"/desk/missions/{MISSION}").get_data(as_text=True)
    assert f"/desk/missions/{MISSION}/fix" in mission_page
    fixed = copy.deepcopy(document_of(world, MISSION))
    fixed["services"] = [{"code": "TOW"}]
    no_reason = post(client, f"/desk/missions/{MISSION}/fix", {"document": json.dumps(fixed)})
    assert no_reason.status_code == 422
    assert document_of(world, MISSION)["services"] == [{"code": "REMORQ"}]
    done = post(
        client,
        f"/desk/missions/{MISSION}/fix",
        {"document": json.dumps(fixed), "reason": "Code maison REMORQ"},
    )
    assert done.status_code == 302
    assert document_of(world, MISSION)["services"] == [{"code": "TOW"}]
    page = client.get(f"/desk/missions/{MISSION}/fix").get_data(as_text=True)
    assert "REMORQ" in page and "Publier comme version" in page
    with world.engine.connect() as conn:
        draft = hand_fix.rule_from_fix(conn, "demo", MISSION)["draft"]
    before = head(world)
    published = post(
        client,
        f"/desk/missions/{MISSION}/fix/rule",
        {"document": json.dumps(draft), "confirm": "yes"},
    )
    assert published.status_code == 302 and head(world) == before + 1
    nxt = send(world, message_id="B-MSG-9", file_number="B-2026-0999")
    assert document_of(world, nxt["mission_id"])["services"] == [{"code": "TOW"}]


def test_a_hand_fix_is_refused_with_the_modules_message_once_valued(world, monkeypatch):  # noqa: F811
    send(world)
    monkeypatch.setattr(hand_fix, "valued_by_tablet", lambda *a: True)
    client = world.office
    sign_in(client, "bureau")
    fixed = copy.deepcopy(document_of(world, MISSION))
    fixed["services"] = [{"code": "TOW"}]
    answer = post(
        client, f"/desk/missions/{MISSION}/fix", {"document": json.dumps(fixed), "reason": "x"}
    )
    assert answer.status_code == 409
    assert "avoir" in answer.get_data(as_text=True)
    assert document_of(world, MISSION)["services"] == [{"code": "REMORQ"}]


def test_the_bug_report_downloads_the_order_as_received(world):  # noqa: F811
    send(world)
    client = world.office
    sign_in(client, "bureau")
    answer = client.get(f"/desk/missions/{MISSION}/bug-report.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    report = json.loads(answer.get_data(as_text=True))
    assert report["order"]["received"] == ORDER_TEXT


def test_rights_and_another_tenant(world):  # noqa: F811
    send(world)
    client = world.office
    sign_in(client, "gerant")  # a manager: missions and reconcile, not edit_contracts
    assert client.get("/desk/cleaning").status_code == 403
    before = head(world)
    assert (
        post(
            client, "/desk/cleaning/ASSIST-B/publish", {"document": "{}", "confirm": "yes"}
        ).status_code
        == 403
    )
    assert head(world) == before
    page = client.get(f"/desk/missions/{MISSION}/fix").get_data(as_text=True)
    assert "Publier comme version" not in page  # the rule needs edit_contracts
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "rival", "Rival", payments_enabled=False, now=NOW)
        identity.create_user(
            conn, "rival", "chef", "Chef", "pw-rival-123", "office", actor="t", now=NOW
        )
        parties.create_party(conn, "rival", "ASSIST-C", "C", actor="t", now=NOW)
    other = world.app.test_client()
    sign_in(other, "chef", tenant="rival", password="pw-rival-123")
    assert other.get(f"/desk/missions/{MISSION}/fix").status_code == 404
    assert other.get(f"/desk/missions/{MISSION}/bug-report.json").status_code == 404
    assert other.get("/desk/cleaning?party=ASSIST-B").status_code == 404
    assert post(other, "/desk/cleaning/ASSIST-B/replay", {"mode": "dry_run"}).status_code == 404
