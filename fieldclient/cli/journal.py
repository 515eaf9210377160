"""`towline-field journal verify`: the tablet's signed journal, checked."""

from __future__ import annotations

import click

from fieldclient.cli.common import (
    Env,
    command,
)
from fieldclient.integrity import verify
from fieldclient.tablet import IntegrityFailure

COMMANDS: list[click.Command] = []


@click.group()
def journal() -> None:
    """The tablet's signed journal.

    \b
    Example:
      towline-field journal verify
    """


@command(journal, "verify")
def journal_verify(env: Env) -> None:
    """Check the database file, every hash, link and signature of the journal, and that
    the derived rows agree with it. Exit 4 if anything is wrong, saying what and where.

    \b
    Example:
      towline-field journal verify
    """
    report = verify(env.tablet)
    problems = report.problems(env.lang)
    body = {"ok": report.ok, "entries": report.entries, "problems": problems}
    if problems:
        env.out(body, "\n".join(problems))
        raise IntegrityFailure(
            f"Journal NON vérifié : {len(problems)} problème(s).",
            f"Journal does NOT verify: {len(problems)} problem(s).",
        )
    env.out(
        body,
        env.t(
            f"Journal vérifié : {report.entries} entrée(s), chaîne et signatures intactes.",
            f"Journal verified: {report.entries} entr(y/ies), chain and signatures intact.",
        ),
    )


COMMANDS.append(journal)
