"""Manager approval codes issued by the office: the code the tablet accepts for exactly
the request (tenant, tablet, mission, kind, amount) and for nothing else, logged in the
audit; refused clearly for an unknown or revoked tablet, an unknown mission, a bad
amount, or a caller without the right."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.office import approvals
from server.platform.errors import Unprocessable
from server.platform.tables import audit_log
from shared.approvals import (
    ApprovalRefused,
    Attempts,
    DeviceKey,
    Keyring,
    Kind,
    Reason,
    Request,
    check_code,
)
from tests.server_support import START, enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401

MISSION = {
    "id": "M-1",
    "ordering_party": None,
    "vehicle": {"class": "VL"},
    "times": {"call": "2026-03-10T10:00:00+01:00"},
    "services": [{"code": "TOW"}],
}


@pytest.fixture
def tablets(world):  # noqa: F811
    made = world.client.post(
        "/api/v1/missions",
        headers=world.auth("acme.admin"),
        json={"document": MISSION, "driver_id": "D1"},
    )
    assert made.status_code == 201, made.json
    return enrol(world, ["D1"]), enrol(world, ["D2"], seed=bytes([7]) * 32)


def keyring(tablet):
    key = tablet["approval_key"]
    return Keyring((DeviceKey(key["version"], bytes.fromhex(key["secret"])),))


def ask(w, body, who="acme.admin", lang="fr"):
    return w.client.post(
        "/api/v1/approvals", json=body, headers={**w.auth(who), "Accept-Language": lang}
    )


def request(tablet, kind=Kind.DISCOUNT, amount="20.00", mission="M-1"):
    return Request("acme", tablet["device_id"], mission, kind, Decimal(amount))


def test_the_code_is_accepted_by_the_tablet_for_exactly_that_request(world, tablets):  # noqa: F811
    a, b = tablets
    world.clock.advance(seconds=42)  # codes count whole minutes
    answer = ask(
        world,
        {"device_id": a["device_id"], "mission_id": "M-1", "kind": "discount", "amount": "20.00"},
    )
    assert answer.status_code == 201, answer.json
    issued = answer.json
    code = issued["code"]
    assert len(code) == 10 and issued["spoken"] == f"{code[:5]}-{code[5:]}"
    assert {k: issued[k] for k in ("device_id", "mission_id", "kind", "amount")} == {
        "device_id": a["device_id"],
        "mission_id": "M-1",
        "kind": "discount",
        "amount": "20.00",
    }
    assert issued["issued_at"] == START.isoformat()
    assert issued["expires_at"] == (START + timedelta(minutes=30)).isoformat()

    later = START + timedelta(minutes=5)
    approval = check_code(keyring(a), issued["spoken"], request(a), later, set(), Attempts())
    assert approval.ref == f"1:{code}"

    def refusal(tablet, req, **hints):
        with pytest.raises(ApprovalRefused) as refused:
            check_code(keyring(tablet), code, req, later, set(), Attempts(), **hints)
        return refused.value.reason

    assert refusal(a, request(a, amount="20.01")) is Reason.WRONG_CODE
    assert (
        refusal(a, request(a, amount="25.00"), other_amounts=[Decimal("20.00")])
        is Reason.OTHER_AMOUNT
    )
    assert refusal(a, request(a, kind=Kind.DEFERRAL)) is Reason.OTHER_KIND
    assert refusal(a, request(a, mission="M-2")) is Reason.WRONG_CODE
    assert refusal(b, request(b)) is Reason.WRONG_CODE  # another tablet, its own secret
    with pytest.raises(ApprovalRefused) as late:
        check_code(keyring(a), code, request(a), START + timedelta(minutes=41), set(), Attempts())
    assert late.value.reason is Reason.EXPIRED


def test_every_issued_code_is_in_the_audit_log(world, tablets):  # noqa: F811
    a, _ = tablets
    issued = ask(
        world,
        {"device_id": a["device_id"], "mission_id": "M-1", "kind": "deferral", "amount": "75.5"},
    ).json
    me = world.client.get("/api/v1/auth/me", headers=world.auth("acme.admin")).json["id"]
    with world.engine.connect() as conn:
        [row] = conn.execute(
            sa.select(audit_log).where(audit_log.c.action == "approval.issue")
        ).all()
    assert (row.tenant_id, row.actor, row.target) == ("acme", me, "M-1")
    assert row.detail == {
        "device_id": a["device_id"],
        "mission_id": "M-1",
        "kind": "deferral",
        "amount": "75.50",
        "key_version": 1,
        "code": issued["code"],
        "expires_at": (START + timedelta(minutes=30)).isoformat(),
    }


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"device_id": "dev_unknown"}, 404, "not_found"),
        ({"mission_id": "M-404"}, 404, "not_found"),
        ({"amount": "0.00"}, 422, "amount_invalid"),
        ({"amount": "-20.00"}, 422, "amount_invalid"),
        ({"amount": "20.001"}, 422, "invalid_request"),
        ({"amount": 20.0}, 422, "invalid_request"),  # a float: never money
        ({"amount": "vingt"}, 422, "invalid_request"),
        ({"kind": "gift"}, 422, "invalid_request"),
    ],
)
def test_a_code_is_refused_for_what_cannot_be_approved(world, tablets, change, status, code):  # noqa: F811
    a, _ = tablets
    body = {"device_id": a["device_id"], "mission_id": "M-1", "kind": "discount", "amount": "20.00"}
    answer = ask(world, {**body, **change})
    assert (answer.status_code, answer.json["code"]) == (status, code)
    assert answer.json["message"]
    assert world.count(audit_log, action="approval.issue") == 0


def test_a_revoked_or_another_tenants_tablet_gets_no_code(world, tablets):  # noqa: F811
    a, b = tablets
    body = {"device_id": a["device_id"], "mission_id": "M-1", "kind": "discount", "amount": "20.00"}
    assert ask(world, body, who="other.admin").status_code == 404  # acme's tablet and mission
    world.client.post(
        f"/api/v1/devices/{b['device_id']}/revoke",
        json={"reason": "Perdue"},
        headers=world.auth("acme.admin"),
    )
    revoked = ask(world, {**body, "device_id": b["device_id"]}, lang="en")
    assert (revoked.status_code, revoked.json["code"]) == (409, "device_revoked")
    assert "revoked" in revoked.json["message"]


def test_a_code_needs_the_right_to_approve_a_discount(world, tablets):  # noqa: F811
    a, _ = tablets
    body = {"device_id": a["device_id"], "mission_id": "M-1", "kind": "discount", "amount": "20.00"}
    refused = ask(world, body, who="acme.clerk")
    assert (refused.status_code, refused.json["code"]) == (403, "right_missing")
    assert ask(world, body, lang="en").status_code == 201


def test_the_amount_is_money_never_a_float(world, tablets):  # noqa: F811
    a, _ = tablets
    with world.engine.begin() as conn:
        for bad in (20.0, "abc", Decimal("0"), Decimal("1.005"), True):
            with pytest.raises(Unprocessable) as refused:
                approvals.issue(
                    conn, "acme", a["device_id"], "M-1", "discount", bad, actor="t", now=START
                )
            assert refused.value.code == "amount_invalid"
        made = approvals.issue(
            conn, "acme", a["device_id"], "M-1", "discount", Decimal("12.5"), actor="t", now=START
        )
    assert made["amount"] == "12.50"
    check_code(keyring(a), made["code"], request(a, amount="12.50"), START, set(), Attempts())


# --- the command line ----------------------------------------------------------------


def test_a_code_from_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from server.app import create_app
    from server.cli.main import main
    from server.office import missions
    from server.people import hashing
    from server.platform.db import make_engine
    from tests.server_support import Clock, device_key

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
    tablet = (
        app.test_client()
        .post("/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]})
        .json
    )
    with make_engine(url).begin() as conn:
        missions.create(conn, "acme", MISSION, "D1", actor="t", now=START)
    device = tablet["device_id"]

    made = run(
        "approval-code", "acme", device, "M-1", "--kind", "discount", "--amount", "20.00", "--json"
    )
    assert made.exit_code == 0, made.output
    issued = json.loads(made.output)
    assert (issued["kind"], issued["amount"], issued["mission_id"]) == ("discount", "20.00", "M-1")
    now = START.fromisoformat(issued["issued_at"])
    check_code(keyring(tablet), issued["code"], request(tablet), now, set(), Attempts())

    human = run("approval-code", "acme", device, "M-1", "--kind", "deferral", "--amount", "5")
    assert human.exit_code == 0, human.output
    spoken, details = human.output.splitlines()
    assert len(spoken) == 11 and spoken[5] == "-"
    assert "5,00\u00a0€" in details and "M-1" in details and "valable jusqu'à" in details
    english = run(
        "approval-code",
        "acme",
        device,
        "M-1",
        "--kind",
        "discount",
        "--amount",
        "5",
        "--lang",
        "en",
    )
    assert "valid until" in english.output and "€5.00" in english.output

    for args, exit_code in (
        (("acme", device, "M-1", "--kind", "discount", "--amount", "0"), 2),
        (("acme", device, "M-1", "--kind", "discount", "--amount", "1.234"), 2),
        (("acme", device, "M-404", "--kind", "discount", "--amount", "5"), 3),
        (("acme", "dev_unknown", "M-1", "--kind", "discount", "--amount", "5"), 3),
        (("nowhere", device, "M-1", "--kind", "discount", "--amount", "5"), 3),
        (("acme", device, "M-1", "--kind", "gift", "--amount", "5"), 2),
    ):
        refused = run("approval-code", *args)
        assert refused.exit_code == exit_code, (args, refused.output)
        assert refused.output.strip()
