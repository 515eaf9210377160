"""The core is pure: no clock, no randomness, no I/O in shared/.

Import rules between layers are checked by import-linter (`make lint`); this test
catches what imports cannot: calls that read the clock or the file system.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "shared"

FORBIDDEN_CALLS = {"now", "utcnow", "today", "open", "urandom", "getenv", "time_ns", "system"}
FORBIDDEN_ATTRIBUTES = {"environ"}


def offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in FORBIDDEN_CALLS:
                found.append(f"line {node.lineno}: {name}()")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_the_checker_sees_a_clock_read():
    assert offences("import datetime\nx = datetime.datetime.now()\n") == ["line 2: now()"]
    assert offences("import os\nos.environ['X']\n") == ["line 2: .environ"]


def test_no_clock_randomness_or_io_in_the_core():
    problems = {
        str(path.relative_to(CORE.parent)): found
        for path in sorted(CORE.rglob("*.py"))
        if (found := offences(path.read_text("utf-8")))
    }
    assert problems == {}


# --- the server's areas keep their private names to themselves ---------------------------------

SERVER = CORE.parent / "server"


def private_reaches(source: str, module: str) -> list[str]:
    """Where `module` uses a leading-underscore name of another server module: imported
    (`from server.x import _name`) or reached through it (`x._name`, `x` imported from
    `server…`). import-linter checks modules, not names: this checks names."""
    imported: dict[str, str] = {}  # local name -> server module
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("server"):
            for alias in node.names:
                if alias.name.startswith("_") and node.module != module:
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("server"):
                    imported[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_checker_sees_a_private_name_reached_from_another_module():
    source = (
        "from server.devices import ingest\n"
        "from server.office.valuation import _hidden\n"
        "ingest._Context(1)\n"
        "ingest.entries_stored(1)\n"
    )
    assert private_reaches(source, "server.parties.orders") == [
        "line 2: from server.office.valuation import _hidden",
        "line 3: ingest._Context",
    ]


def test_no_server_module_uses_another_ones_private_names():
    problems = {}
    for path in sorted(SERVER.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
        if found := private_reaches(path.read_text("utf-8"), module.removesuffix(".__init__")):
            problems[str(path.relative_to(CORE.parent))] = found
    assert problems == {}


def test_every_journal_entry_type_has_words_on_the_desk():
    """No raw entry type shown to a person (issue 14): a new type needs its label."""
    from server.desk.labels import ENTRY_TYPES
    from shared.journal import EntryType

    assert [t.value for t in EntryType if t.value not in ENTRY_TYPES] == []
    assert all(ENTRY_TYPES[t.value]("fr") != t.value for t in EntryType)
