"""The server loads a stored contract version once per process (server.office.valuation
`loaded`): the same text gives the same contract, whose valuation plan is then made once
(shared.valuation_plan); another text, another contract."""

from __future__ import annotations

import json
from pathlib import Path

from server.office import valuation

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "contracts" / "assist-a.json"


def test_a_stored_text_is_loaded_once_and_another_text_apart():
    valuation.loaded.cache_clear()
    document = json.loads(EXAMPLE.read_text("utf-8"))
    first = json.dumps(document)
    newer = json.dumps({**document, "version": int(document["version"]) + 1})
    one = valuation.loaded(first)
    assert valuation.loaded(first) is one
    other = valuation.loaded(newer)
    assert other is not one
    assert (other.id, other.version) == (one.id, one.version + 1) == ("ASSIST-A", 2)
    assert valuation.loaded.cache_info().hits == 1
