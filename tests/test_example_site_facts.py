"""The example contracts' `site_facts` blocks (what a driver may change alone) are rules
for facts found on site: they never change the valuation of a mission without site facts.
Each example mission is valued with its contract as shipped and without the block: the
same money, line by line, only the contract's digest differs."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.site_fact_rules import Allow, FactRule
from shared.valuation import value

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTRACT_OF = {"a": "assist-a", "b": "assist-b", "private": "private"}
MISSIONS = sorted(p.stem for p in (EXAMPLES / "missions").glob("*.json"))


def _read(kind: str, name: str) -> dict:
    return json.loads((EXAMPLES / kind / f"{name}.json").read_text(encoding="utf-8"))


def _money(valuation) -> dict:
    wire = valuation.to_wire()
    wire.pop("digest")
    wire["contract"].pop("digest")
    return wire


@pytest.mark.parametrize("name", MISSIONS)
def test_the_site_facts_block_does_not_change_a_mission_without_site_facts(name):
    shipped = _read("contracts", CONTRACT_OF[name.split("-")[0]])
    without = copy.deepcopy(shipped)
    without.pop("site_facts", None)
    mission = load_mission(_read("missions", name))
    with_rules = value(mission, load_contract(shipped))
    bare = value(mission, load_contract(without))
    assert _money(with_rules) == _money(bare)
    if "site_facts" in shipped:
        assert with_rules.digest != bare.digest  # the digest covers the contract's


def test_assist_a_lets_the_driver_change_km_within_ten_percent_or_five_km_alone():
    rules = load_contract(_read("contracts", "assist-a")).site_facts
    distance = rules.rule("distance")
    assert distance == FactRule(Allow.TOLERANCE, Decimal(10), Decimal(5))
    assert distance.limit(Decimal(80)) == Decimal(88)  # +10 % beats +5 km
    assert distance.limit(Decimal(30)) == Decimal(35)  # +5 km beats +10 %
    assert rules.rule("services").allow is Allow.APPROVAL  # winching: the manager's code
    assert rules.rule("at_cost").allow is Allow.FREE  # tolls, with the receipt's photo
    assert rules.rule("accident").allow is Allow.APPROVAL


def test_assist_b_is_stricter_five_km_and_nothing_else_alone_but_tolls():
    rules = load_contract(_read("contracts", "assist-b")).site_facts
    assert rules.rule("distance").limit(Decimal(80)) == Decimal(85)
    assert rules.rule("waiting").allow is Allow.APPROVAL
    assert rules.rule("at_cost").allow is Allow.FREE
