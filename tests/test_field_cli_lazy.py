"""`towline-field` loads a command's module only when that command runs (issue 13/18:
cold start): every command is still listed, helped and refused in the driver's words."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldclient.cli import COMMAND_MODULES
from fieldclient.cli import main as field
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from tests.field_support import Clock, offline_tablet

MODULES = sorted(set(COMMAND_MODULES.values()))


def test_the_table_names_every_command_of_every_module_and_no_other():
    found = {}
    for name in MODULES:
        for command in importlib.import_module(f"fieldclient.cli.{name}").COMMANDS:
            found[command.name] = name
    assert found == COMMAND_MODULES


def test_help_lists_every_command():
    result = CliRunner().invoke(field, ["--help"])
    assert result.exit_code == 0
    listed = {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    }
    assert listed == set(COMMAND_MODULES)


@pytest.mark.parametrize(
    ("lang", "args", "said"),
    [
        ("fr", ["shw", "M-1"], "Erreur : Commande inconnue : shw."),
        ("en", ["shw", "M-1"], "Error: No such command: shw."),
        ("fr", ["collect", "M-1", "--methd", "card"], "Option inconnue : --methd."),
        ("en", ["register", "open"], "Error: Missing --float."),
        ("fr", ["step", "M-1", "departd"], "« departd » n'est pas une étape connue"),
    ],
)
def test_usage_errors_of_a_command_not_loaded_yet_are_in_the_driver_language(
    tmp_path: Path, lang: str, args: list[str], said: str
):
    # A fresh process: the command's module is not loaded before its usage error.
    result = subprocess.run(
        [sys.executable, "-c", "from fieldclient.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={"TOWLINE_LANG": lang, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr


LOADED = """
import json, sys
from fieldclient.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_show_loads_neither_the_other_commands_nor_what_only_they_need(tmp_path: Path):
    offline_tablet(tmp_path / "t", Clock()).close()
    result = subprocess.run(
        [sys.executable, "-c", LOADED, "show", "M-A-0004", "--home", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    assert "fieldclient.cli.missions" in loaded
    for absent in (
        "fieldclient.cli.serve",
        "fieldclient.cli.facts",
        "fieldclient.cli.enrolment",
        "fieldclient.cli.quote",
        "fieldclient.syncing",
        "flask",
        "requests",
        # what only other actions need: the register, approval codes, receipts, sign-in
        "shared.register",
        "shared.approvals",
        "shared.receipt",
        "fieldclient.guards",
        "fieldclient.receipts",
        "fieldclient.enrolment_record",
    ):
        assert absent not in loaded, absent


def test_recording_facts_then_showing_them_loads_no_schema_nor_holiday_library(tmp_path: Path):
    # Holidays are read from the tablet's table, documents and the tablet's own site facts
    # are checked once: neither `facts` nor the `show` after it imports these libraries.
    from tests.site_facts_support import load_day

    tablet = offline_tablet(tmp_path / "t", Clock())
    load_day(tablet)
    tablet.close()
    home = str(tmp_path / "t")
    for args in (["facts", "M-T-01", "--km-loaded", "44"], ["show", "M-T-01"]):
        result = subprocess.run(
            [sys.executable, "-c", LOADED, *args, "--home", home],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
        for absent in ("marshmallow", "holidays", "sqlite_utils"):
            assert absent not in loaded, (args, absent)
    facts = Tablet(Home(tmp_path / "t")).ledger().rows()
    assert [r.payload["facts"][0]["found"] for r in facts if r.type == "site_facts"] == ["44"]
