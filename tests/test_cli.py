"""The command lines as a person uses them: readable output, JSON with --json,
documented exit codes, no traceback on bad input, --help with an example everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fieldclient.cli import main as field
from server.cli.main import main as server
from tests.conftest import EXAMPLES

A = str(EXAMPLES / "contracts" / "assist-a.json")
B = str(EXAMPLES / "contracts" / "assist-b.json")
SATURDAY = str(EXAMPLES / "missions" / "a-saturday-accident-winching.json")


def run(cli, *args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_quote_prints_a_breakdown_in_french_by_default(monkeypatch):
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("TOWLINE_LANG", raising=False)
    result = run(field, "quote", A, SATURDAY)
    assert result.exit_code == 0
    assert "À encaisser auprès du bénéficiaire : 164,00\u00a0€" in result.output
    assert "Plafond par mission 250,00\u00a0€ TTC" in result.output


def test_quote_in_english_with_lang_or_locale(monkeypatch):
    assert (
        "To collect from the beneficiary: €164.00"
        in run(field, "quote", A, SATURDAY, "--lang", "en").output
    )
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    assert "To collect from the beneficiary" in run(field, "quote", A, SATURDAY).output


def test_quote_json_has_amounts_as_strings_and_the_digest():
    result = run(field, "quote", A, SATURDAY, "--json")
    body = json.loads(result.output)
    assert body["payers"]["ordering_party"]["incl_vat"] == "250.00"
    assert body["payers"]["beneficiary"]["incl_vat"] == "164.00"
    assert len(body["digest"]) == 64
    assert body["why"]


def test_quote_takes_the_files_earlier_consumption():
    mission = str(EXAMPLES / "missions" / "b-tuesday-30km-file-consumed.json")
    body = json.loads(run(field, "quote", B, mission, "--file-consumed", "260.00", "--json").output)
    assert body["payers"]["ordering_party"]["incl_vat"] == "40.00"
    bad = run(field, "quote", B, mission, "--file-consumed", "12.5.0")
    assert bad.exit_code == 2 and "--file-consumed" in bad.output
    comma = run(field, "quote", B, mission, "--file-consumed", "260,00", "--json")
    assert json.loads(comma.output)["payers"]["ordering_party"]["incl_vat"] == "40.00"


def test_quote_with_an_invalid_contract_exits_2_and_names_the_problem(tmp_path: Path):
    broken = tmp_path / "c.json"
    broken.write_text('{"format": "towline.contract/1", "colour": "red"}')
    result = run(field, "quote", str(broken), SATURDAY)
    assert result.exit_code == 2
    assert "colour: champ inconnu" in result.output


def test_quote_with_a_mission_of_another_party_exits_3():
    result = run(field, "quote", B, SATURDAY, "--lang", "en")
    assert result.exit_code == 3
    assert "ASSIST-A" in result.output and "ASSIST-B" in result.output


def test_quote_with_a_missing_or_malformed_file_exits_2(tmp_path: Path):
    assert run(field, "quote", str(tmp_path / "nope.json"), SATURDAY).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = run(field, "quote", A, str(bad))
    assert result.exit_code == 2 and "JSON invalide" in result.output


def test_rules_check_valid_and_invalid(tmp_path: Path):
    ok = run(server, "rules", "check", B, "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["valid"] is True
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({**json.loads(Path(A).read_text()), "vat_rate": 20.0, "colour": 1}))
    result = run(server, "rules", "check", str(bad), "--json", "--lang", "en")
    assert result.exit_code == 2
    assert {e["path"] for e in json.loads(result.output)["errors"]} == {"vat_rate", "colour"}


def test_rules_codes_lists_every_generated_code():
    body = json.loads(run(server, "rules", "codes", "--json", "--lang", "en").output)
    assert len(body) == 9 * 5 * 2
    assert {"code": "TOW.VL.P", "label": "Tow — light vehicle up to 1.8 t — first mission"} in body


def commands(group: click.Group, prefix: tuple[str, ...] = ()):
    # list_commands/get_command, not group.commands: towline-field loads a command's
    # module when it is asked for (fieldclient.cli.COMMAND_MODULES).
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


@pytest.mark.parametrize("cli", [field, server], ids=["towline-field", "towline-server"])
def test_every_command_has_help_with_an_example(cli):
    for path, _ in [((), cli), *commands(cli)]:
        result = run(cli, *path, "--help")
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"{' '.join(path)} --help has no example"


def test_installed_entry_point_runs_without_traceback_on_bad_input(tmp_path: Path):
    exe = Path(sys.executable).parent / "towline-field"
    if not exe.exists():
        pytest.fail("towline-field is not installed in this environment: run `make test`")
    result = subprocess.run(
        [str(exe), "quote", str(tmp_path / "x.json"), SATURDAY],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
