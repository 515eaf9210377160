"""The server loads a stored contract version once per process (server.office.valuation
`loaded`): the same text gives the same contract, whose valuation plan is then made once
(shared.valuation_plan); another text, another contract; the store is bounded."""

from __future__ import annotations

import json
from pathlib import Path

from server.office import valuation
from shared.valuation_plan import plan_of

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "contracts" / "assist-a.json"


def texts() -> tuple[str, str]:
    document = json.loads(EXAMPLE.read_text("utf-8"))
    newer = {**document, "version": int(document["version"]) + 1}
    return json.dumps(document), json.dumps(newer)


def test_a_stored_text_is_loaded_once_and_another_text_apart():
    first, newer = texts()
    one = valuation.loaded(first)
    assert valuation.loaded(first) is one
    assert plan_of(valuation.loaded(first)) is plan_of(one)
    other = valuation.loaded(newer)
    assert other is not one
    assert other.version == one.version + 1
    assert (one.id, other.id) == ("ASSIST-A", "ASSIST-A")


def test_the_store_is_bounded(monkeypatch):
    monkeypatch.setattr(valuation, "_LOADED", {})
    monkeypatch.setattr(valuation, "MAX_LOADED", 1)
    first, newer = texts()
    one = valuation.loaded(first)
    valuation.loaded(newer)
    assert list(valuation._LOADED) == [newer]
    assert valuation.loaded(first) is not one  # loaded again, equal
    assert valuation.loaded(first) == one
