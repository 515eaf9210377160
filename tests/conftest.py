"""Shared fixtures: the example contracts and missions a domain person can read."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server import reactions  # noqa: F401  # areas react to each other's events, as in the app
from shared.contract import Contract
from shared.contract_schema import load_contract
from shared.mission import Mission, load_mission
from tests.browser import browser  # noqa: F401  # one Chromium per test session, for every module

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The apps the tests make do their jobs (documents' PDFs) at the end of the request that
# asked for them, not in a thread that would outlive the test's database.
os.environ.setdefault("TOWLINE_JOBS", "inline")


def example(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / kind / f"{name}.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def contracts() -> Callable[[str], Contract]:
    cache: dict[str, Contract] = {}

    def get(name: str) -> Contract:
        if name not in cache:
            cache[name] = load_contract(example("contracts", name))
        return cache[name]

    return get


@pytest.fixture
def mission() -> Callable[..., Mission]:
    """An example mission, with fields overridden: mission("a-tuesday-30km", times=...)."""

    def get(name: str, **changes: Any) -> Mission:
        doc = example("missions", name)
        doc.update(changes)
        return load_mission(doc)

    return get
