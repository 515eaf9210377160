"""`towline-field quote`: value a mission with a contract, no tablet needed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click

from fieldclient.cli.common import (
    AMOUNT_OR_ZERO,
    Env,
    command,
    read,
)
from shared.contract_schema import CONTRACT, load_contract
from shared.explain import breakdown, explain
from shared.mission import MISSION, load_mission
from shared.valuation import ValuationContext, value

COMMANDS: list[click.Command] = []


@command(COMMANDS)
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("mission", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--file-consumed",
    default="0.00",
    metavar="AMOUNT",
    type=AMOUNT_OR_ZERO,
    help="What the ordering party already paid on this file's cap, in the cap's basis.",
)
def quote(env: Env, contract: Path, mission: Path, file_consumed: Decimal) -> None:
    """Value MISSION with CONTRACT (files) and show who pays what, and why.

    \b
    Examples:
      towline-field quote examples/contracts/assist-a.json examples/missions/a-tuesday-80km.json
      towline-field quote examples/contracts/assist-b.json \\
          examples/missions/b-tuesday-30km-file-consumed.json --file-consumed 260.00 --json

    Exit codes: 0 ok, 2 bad input, 3 the contract cannot value this mission.
    """
    terms = load_contract(read(contract, CONTRACT))
    job = load_mission(read(mission, MISSION))
    valuation = value(job, terms, ValuationContext(file_consumed=file_consumed))
    body = valuation.to_wire()
    body["why"] = explain(valuation, env.lang)
    env.out(body, breakdown(valuation, env.lang))
