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
