"""`towline-server debtor-deferral TENANT [--set warn|block]`: whether "bill later" is
allowed for a customer who still owes money (docs/customer-debts.md "Bill later for a
debtor")."""

from __future__ import annotations

from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option


@click.command("debtor-deferral")
@click.argument("tenant_id", metavar="TENANT")
@click.option(
    "--set",
    "choice",
    default=None,
    help="warn (allowed, with a warning; the default) or block (refused).",
)
@click.option("--by", "actor", default="cli", help="The office user who sets it.")
@db_option
@json_option
@lang_option
def debtor_deferral_command(
    tenant_id: str,
    choice: str | None,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Show or set what happens when "bill later" is asked for a customer who still owes
    money on other invoices: `warn` (allowed, the phone call and the tablet show a
    warning) or `block` (refused with a sentence naming what is owed). Each change is a
    new version, sent to every tablet at its next sync.

    \b
    Examples:
      towline-server debtor-deferral demo
      towline-server debtor-deferral demo --set block --by gerant

    Exit codes: 0 done; 2 a choice other than warn or block; 3 unknown tenant.
    """
    from server.office import debtor_deferral

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if choice is None:
                return debtor_deferral.to_wire(conn, tenant_id)
            return debtor_deferral.set_choice(
                conn, tenant_id, choice, actor=actor, now=common.now()
            )

    found = common.run(chosen, work)
    words = {
        "warn": ("prévenir (facturer plus tard reste permis)", "warn (bill later stays allowed)"),
        "block": ("refuser de facturer plus tard", "refuse to bill later"),
    }[found["debtor_deferral"]]
    version = found["version"] or ("par défaut" if chosen == "fr" else "default")
    human = (
        f"client débiteur : {words[0]} — version {version}"
        if chosen == "fr"
        else f"customer who owes: {words[1]} — version {version}"
    )
    common.emit(found, as_json, human)


COMMANDS: list[click.Command] = [debtor_deferral_command]
