"""`towline-server rules`: check an ordering party's contract and list the codes it uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from server.cli import common
from server.cli.common import EXIT_INPUT, lang_option
from shared.catalogue import DEFAULT_CATALOGUE
from shared.contract_schema import CONTRACT, load_contract
from shared.errors import InvalidDocument


@click.group()
def rules() -> None:
    """Ordering parties' contracts (pricing rules).

    \b
    Example:
      towline-server rules check examples/contracts/assist-b.json
    """


@rules.command()
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lang_option
def check(contract: Path, as_json: bool, lang: str | None) -> None:
    """Validate a CONTRACT document and list every error with its path.

    \b
    Example:
      towline-server rules check examples/contracts/assist-a.json

    Exit codes: 0 valid, 2 invalid or unreadable.
    """
    chosen = common.lang(lang)
    try:
        terms = load_contract(common.read(contract, CONTRACT))
    except InvalidDocument as error:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "valid": False,
                        "errors": [
                            {"path": p.path, "message": p.text(chosen)} for p in error.problems
                        ],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            click.echo(error.message(chosen), err=True)
        sys.exit(EXIT_INPUT)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "valid": True,
                    "id": terms.id,
                    "version": terms.version,
                    "digest": terms.source_digest,
                },
                indent=2,
            )
        )
        return
    validity = f"{terms.valid_from.isoformat()} → {terms.valid_until or '…'}"
    if chosen == "fr":
        click.echo(f"Convention {terms.id} v{terms.version} valide ({validity}).")
    else:
        click.echo(f"Contract {terms.id} v{terms.version} is valid ({validity}).")


@rules.command()
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the codes as JSON.")
@lang_option
def codes(contract: Path | None, as_json: bool, lang: str | None) -> None:
    """List every structured service code a catalogue generates, with its label.

    Uses the CONTRACT's catalogue, or the default catalogue without one.

    \b
    Example:
      towline-server rules codes --lang en
    """
    chosen = common.lang(lang)
    catalogue = DEFAULT_CATALOGUE
    if contract is not None:
        try:
            catalogue = load_contract(common.read(contract, CONTRACT)).catalogue
        except InvalidDocument as error:
            click.echo(error.message(chosen), err=True)
            sys.exit(EXIT_INPUT)
    rows = list(catalogue.generate())
    if as_json:
        click.echo(
            json.dumps([{"code": c, "label": t(chosen)} for c, t in rows], ensure_ascii=False)
        )
        return
    for code, label in rows:
        click.echo(f"{code:<12} {label(chosen)}")


COMMANDS: list[click.Command] = [rules]
