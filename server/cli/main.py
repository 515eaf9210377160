"""`towline-server`: the office server's command line.

Exit codes (docs/cli.md): 0 ok; 2 bad input (usage, unreadable or invalid document, a
value the schema refuses); 3 refused (already exists, unknown tenant or device…).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from server.cli import (
    accounting,
    archive,
    cash_limits,
    claims,
    commissions,
    debtor_deferral,
    debts,
    decisions,
    devices,
    documents,
    jobs,
    mission_terms,
    orders,
    payments,
    people,
    reconcile,
    reports,
    rules,
    service,
)
from server.cli.common import EXIT_REFUSED


class _Commands(click.Group):
    """Every command: a database without Towline's schema gets a sentence, not a trace."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            text = str(error.orig)
            if "no such table" not in text and "does not exist" not in text:
                raise
            click.echo(
                "La base de données n'a pas le schéma de Towline : lancez « towline-server "
                "init-db » (avec la même --database ou TOWLINE_DATABASE_URL). / The database "
                "has no Towline schema: run `towline-server init-db` first.",
                err=True,
            )
            sys.exit(EXIT_REFUSED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Towline's office server: contracts, sync, documents, reconciliation.

    \b
    Example:
      towline-server rules check examples/contracts/assist-a.json
    """


# Each module holds one group of commands and lists them in COMMANDS, in the order of
# `towline-server --help`.
for _module in (
    rules,
    service,
    jobs,
    people,
    devices,
    decisions,
    reconcile,
    archive,
    claims,
    payments,
    orders,
    debts,
    cash_limits,
    debtor_deferral,
    mission_terms,
    accounting,
    reports,
    commissions,
):
    for _command in _module.COMMANDS:
        main.add_command(_command)
main.add_command(documents.documents)
