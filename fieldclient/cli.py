"""`towline-field`: the tablet's command line.

Exit codes (docs/cli.md): 0 ok; 2 bad input (usage, unreadable or invalid document);
3 refused by a business rule (e.g. the contract cannot value this mission).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from shared.contract_schema import CONTRACT, load_contract
from shared.errors import InvalidDocument, Problem, TowlineError, ValuationRefused
from shared.explain import breakdown, explain
from shared.i18n import Text, choose_lang
from shared.mission import MISSION, load_mission
from shared.money import parse_amount
from shared.schema_tools import parse_json
from shared.valuation import ValuationContext, value

EXIT_INPUT = 2
EXIT_REFUSED = 3


def _lang(explicit: str | None) -> str:
    return choose_lang(
        explicit, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )


def _read(path: Path, what: Text) -> Any:
    """A JSON document from a file; unreadable or malformed files are bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidDocument(
            what,
            [Problem(str(path), Text(f"lecture impossible : {reason}", f"cannot read: {reason}"))],
        ) from None
    return parse_json(text, what)


def _fail(error: TowlineError, lang: str) -> None:
    click.echo(error.message(lang), err=True)
    sys.exit(EXIT_REFUSED if isinstance(error, ValuationRefused) else EXIT_INPUT)


lang_option = click.option(
    "--lang",
    type=click.Choice(["fr", "en"]),
    default=None,
    help="Language of the output (default: TOWLINE_LANG, then the locale, then French).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Towline on the tablet: value missions, collect, sync.

    \b
    Example:
      towline-field quote examples/contracts/assist-a.json \\
          examples/missions/a-saturday-accident-winching.json
    """


@main.command()
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("mission", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--file-consumed",
    default="0.00",
    metavar="AMOUNT",
    help="What the ordering party already paid on this file's cap, in the cap's basis.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the valuation as JSON.")
@lang_option
def quote(
    contract: Path, mission: Path, file_consumed: str, as_json: bool, lang: str | None
) -> None:
    """Value MISSION with CONTRACT and show who pays what, and why.

    \b
    Examples:
      towline-field quote examples/contracts/assist-a.json examples/missions/a-tuesday-80km.json
      towline-field quote examples/contracts/assist-b.json \\
          examples/missions/b-tuesday-30km-file-consumed.json --file-consumed 260.00 --json

    Exit codes: 0 ok, 2 bad input, 3 the contract cannot value this mission.
    """
    chosen = _lang(lang)
    try:
        consumed = parse_amount(file_consumed)
    except ValueError:
        raise click.BadParameter(
            "montant attendu, par ex. 260.00" if chosen == "fr" else "an amount, e.g. 260.00",
            param_hint="--file-consumed",
        ) from None
    try:
        terms = load_contract(_read(contract, CONTRACT))
        job = load_mission(_read(mission, MISSION))
        valuation = value(job, terms, ValuationContext(file_consumed=consumed))
    except TowlineError as error:
        _fail(error, chosen)
        return
    if as_json:
        body = valuation.to_wire()
        body["why"] = explain(valuation, chosen)
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        click.echo(breakdown(valuation, chosen))
