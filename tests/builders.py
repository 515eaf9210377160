"""Small contract and mission documents for tests, readable by a domain person.

`contract_doc()` is a plain ordering-party contract: tow 100.00 excl. VAT at 20 %,
nothing else. Tests add the one rule they are about.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.contract import Contract
from shared.contract_schema import load_contract
from shared.mission import Mission, load_mission

BASE_CONTRACT: dict[str, Any] = {
    "format": "towline.contract/1",
    "id": "TEST",
    "version": 1,
    "label": "Test contract",
    "ordering_party": {"id": "TEST", "name": "Test Assistance"},
    "valid_from": "2026-01-01",
    "valid_until": None,
    "prices_include_vat": False,
    "vat_rate": "20",
    "price_lists": {"contracted": {"TOW": "100.00", "WIN": "80.00", "ACC": "40.00"}},
    "price_list": "contracted",
}

BASE_MISSION: dict[str, Any] = {
    "id": "M-1",
    "file_number": "F-1",
    "ordering_party": "TEST",
    "vehicle": {"plate": "AA-001-AA", "class": "VL"},
    "times": {"call": "2026-03-10T10:00:00+01:00"},
    "distance_km": {"loaded": "10"},
    "services": [{"code": "TOW"}],
}


def contract_doc(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE_CONTRACT)
    doc.update(copy.deepcopy(changes))
    return doc


def mission_doc(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE_MISSION)
    doc.update(copy.deepcopy(changes))
    return doc


def contract(**changes: Any) -> Contract:
    return load_contract(contract_doc(**changes))


def mission(**changes: Any) -> Mission:
    return load_mission(mission_doc(**changes))
