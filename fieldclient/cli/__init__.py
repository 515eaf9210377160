"""`towline-field`: the tablet's command line.

Exit codes (docs/cli.md): 0 ok; 2 bad input (usage, malformed amount, unknown method,
missing evidence, unreadable or invalid document); 3 refused by a business rule (gate
closed, collection or approval refused, nobody signed in…); 4 integrity failure (the
journal or the database does not verify); 5 server unreachable (the work is kept and
will sync later).
"""

from __future__ import annotations

import click

from fieldclient.cli import (
    customer,
    enrolment,
    facts,
    journal,
    missions,
    quote,
    register,
    serve,
)
from fieldclient.cli.usage import DriverGroup


@click.group(cls=DriverGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Towline on the tablet: missions, collection at the gate, register, sync.

    Everything but `enroll` and `sync` works without network.

    \b
    Example (a first day):
      towline-field enroll http://office:5000 CBNN-H31W-RGDB
      towline-field login d1
      towline-field sync
      towline-field register open --float 50.00
      towline-field missions
      towline-field show M-A-0003
      towline-field collect M-A-0003 --method card --amount 164.00 --terminal-ref AUT-7731
      towline-field step M-A-0003 departed
    """


for _module in (enrolment, missions, customer, facts, register, journal, serve, quote):
    for _command in _module.COMMANDS:
        main.add_command(_command)
