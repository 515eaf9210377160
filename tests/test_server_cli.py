"""`towline-server` administration commands: tenants, users, drivers, enrolment codes,
devices; readable output, --json, documented exit codes, --help with an example."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from server.cli.main import main
from server.people import hashing


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "N", 2**8)
    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, [*args, "--database", url], input=input)

    assert invoke("init-db").exit_code == 0
    return invoke


def test_a_tenant_its_people_and_an_enrolment_code_from_the_command_line(run):
    made = run("tenants", "create", "acme", "--name", "Acme", "--payments", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.output) == {"id": "acme", "name": "Acme", "payments_enabled": True}
    user = run(
        "users",
        "create",
        "acme",
        "marie",
        "--name",
        "Marie",
        "--role",
        "admin",
        "--password",
        "long enough pw",
    )
    assert user.exit_code == 0, user.output
    driver = run("drivers", "create", "acme", "D1", "--name", "Luc", "--pin", "1234")
    assert driver.exit_code == 0, driver.output
    code = run("enroll-code", "acme", "--driver", "D1", "--label", "Truck 3", "--json")
    assert code.exit_code == 0, code.output
    assert len(json.loads(code.output)["code"]) == 14
    listed = run("users", "list", "acme", "--json")
    assert [u["login"] for u in json.loads(listed.output)] == ["marie"]


def test_the_password_is_asked_for_hidden_when_not_given(run):
    run("tenants", "create", "acme", "--name", "Acme")
    answer = run(
        "users",
        "create",
        "acme",
        "paul",
        "--name",
        "Paul",
        input="long enough pw\nlong enough pw\n",
    )
    assert answer.exit_code == 0, answer.output
    assert "long enough pw" not in answer.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("tenants", "create", "acme", "--name", "Again"), 3),
        (("tenants", "create", "bad id!", "--name", "X"), 2),
        (("drivers", "create", "acme", "D1", "--name", "Luc", "--pin", "12"), 2),
        (("drivers", "create", "nowhere", "D1", "--name", "Luc", "--pin", "1234"), 3),
        (("users", "create", "acme", "x", "--name", "X", "--password", "short"), 2),
        (("enroll-code", "acme", "--driver", "NOBODY"), 2),
        (("devices", "revoke", "dev_nope", "--reason", "lost"), 3),
    ],
)
def test_refusals_exit_with_their_documented_code_and_a_message(run, args, code):
    run("tenants", "create", "acme", "--name", "Acme")
    answer = run(*args)
    assert answer.exit_code == code, answer.output
    assert answer.output.strip()


def test_a_device_is_listed_and_revoked_from_the_command_line(run, tmp_path):
    from server.app import create_app
    from tests.server_support import device_key

    run("tenants", "create", "acme", "--name", "Acme")
    run("drivers", "create", "acme", "D1", "--name", "Luc", "--pin", "1234")
    code = json.loads(run("enroll-code", "acme", "--driver", "D1", "--json").output)["code"]
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "VAR_DIR": str(tmp_path / "var")}
    )
    enrolled = app.test_client().post(
        "/api/v1/devices/enrol", json={"code": code, "public_key": device_key()[1]}
    )
    device_id = enrolled.json["device_id"]
    assert device_id in run("devices", "list", "acme").output
    assert run("devices", "revoke", device_id, "--reason", "").exit_code == 2
    assert run("devices", "revoke", device_id, "--reason", "Stolen").exit_code == 0
    [device] = json.loads(run("devices", "list", "acme", "--json").output)
    assert device["revoked_reason"] == "Stolen"


@pytest.mark.parametrize(
    "command",
    [
        ("init-db",),
        ("run",),
        ("tenants", "create"),
        ("tenants", "list"),
        ("tenants", "payments"),
        ("users", "create"),
        ("users", "list"),
        ("drivers", "create"),
        ("enroll-code",),
        ("devices", "list"),
        ("devices", "revoke"),
        ("approval-code",),
        ("void",),
        ("rules", "check"),
    ],
)
def test_every_command_has_help_with_an_example(command):
    answer = CliRunner().invoke(main, [*command, "--help"])
    assert answer.exit_code == 0
    assert "Example:" in answer.output


def test_a_database_without_the_schema_gets_a_sentence_not_a_trace(tmp_path):
    empty = tmp_path / "empty.db"
    answer = CliRunner().invoke(main, ["users", "list", "demo", "--database", f"sqlite:///{empty}"])
    assert answer.exit_code == 3
    assert "lancez « towline-server init-db »" in answer.output
    assert "Traceback" not in answer.output
