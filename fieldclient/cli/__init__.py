"""`towline-field`: the tablet's command line.

Exit codes (docs/cli.md): 0 ok; 2 bad input (usage, malformed amount, unknown method,
missing evidence, unreadable or invalid document); 3 refused by a business rule (gate
closed, collection or approval refused, nobody signed in…); 4 integrity failure (the
journal or the database does not verify); 5 server unreachable (the work is kept and
will sync later).
"""

from __future__ import annotations

import click

from fieldclient.cli.usage import DriverGroup

# Which module of fieldclient.cli holds each command: a command's module (and what it
# imports) is loaded only when that command runs, so `show` does not pay for `serve`,
# `facts` or `sync` (docs/field-client.md "Speed"); `--help` loads them all.
# tests/test_field_cli_lazy.py checks this table against each module's COMMANDS.
COMMAND_MODULES: dict[str, str] = {
    "enroll": "enrolment",
    "login": "enrolment",
    "logout": "enrolment",
    "sync": "enrolment",
    "missions": "missions",
    "show": "missions",
    "attach": "missions",
    "new-mission": "missions",
    "step": "missions",
    "collect": "missions",
    "discount": "missions",
    "defer": "missions",
    "dispute": "missions",
    "receipt": "customer",
    "beneficiary": "customer",
    "facts": "facts",
    "register": "register",
    "journal": "journal",
    "serve": "serve",
    "quote": "quote",
}


@click.group(
    cls=DriverGroup,
    lazy_commands=COMMAND_MODULES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
