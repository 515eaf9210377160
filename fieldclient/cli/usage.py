"""Usage errors in the driver's language, and approval codes typed as spoken.

click prints its usage errors in English. `DriverGroup` (the `towline-field` group) runs
the command line with click's own handling switched off, and prints a usage error in the
language the command asked for (`--lang`, else TOWLINE_LANG, else the locale, else
French): an unknown option, a missing one, a word that names nothing (with the words
that would do), an extra argument. The exit code stays 2 (docs/cli.md).

A manager's code read out on the phone is often typed the way it was heard, in pieces:
`--code 37K3H EHHP4`. Before parsing, pieces after `--code` that together make exactly
one code are joined (`shared.approvals.normalise` decides: ten characters of the code's
alphabet, spaces and dashes ignored), so nothing else is ever swallowed.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from shared.i18n import Text, choose_lang

CODE_OPTION = "--code"
MAX_PIECES = 5


def requested_lang(argv: Sequence[str]) -> str:
    """The language the command line asks for, read from the arguments themselves."""
    chosen = None
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif arg.startswith("--lang="):
            chosen = arg.partition("=")[2]
    return choose_lang(
        chosen, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )


def join_spoken_codes(argv: Sequence[str]) -> list[str]:
    """`--code 37K3H EHHP4` → `--code 37K3HEHHP4` when the pieces make one code."""
    if CODE_OPTION not in argv:
        return list(argv)
    from shared.approvals import normalise  # only a command given a code needs it

    out: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        out.append(arg)
        index += 1
        if arg != CODE_OPTION or index >= len(argv) or normalise(argv[index]) is not None:
            continue
        for count in range(2, MAX_PIECES + 1):
            pieces = argv[index : index + count]
            if len(pieces) < count or any(p.startswith("-") and len(p) > 1 for p in pieces):
                break
            if normalise(" ".join(pieces)) is not None:
                out.append(" ".join(pieces))
                index += count
                break
    return out


_EXTRA = re.compile(r"Got unexpected extra arguments? \((.*)\)")
_NO_COMMAND = re.compile(r"No such command '(.*)'")


def explain(error: click.UsageError, lang: str) -> str:
    """The usage error's sentence in `lang`."""
    from fieldclient.driver_words import BadWord  # loaded with the commands that use it

    if isinstance(error, BadWord):
        return error.text(lang)
    if isinstance(error, click.NoSuchOption):
        text = Text(
            f"Option inconnue : {error.option_name}.", f"No such option: {error.option_name}."
        )
        if error.possibilities:
            near = ", ".join(sorted(error.possibilities))
            text = Text(f"{text.fr} Vouliez-vous dire {near} ?", f"{text.en} Did you mean {near}?")
        return text(lang)
    if isinstance(error, click.MissingParameter) and error.param is not None:
        hint = " / ".join(error.param.opts) if error.param_type == "option" else _name(error.param)
        return Text(f"Il manque {hint}.", f"Missing {hint}.")(lang)
    if isinstance(error, click.BadParameter):
        where = _name(error.param) if error.param is not None else ""
        return Text(
            f"Valeur invalide{' pour ' + where if where else ''} : {error.message}",
            f"Invalid value{' for ' + where if where else ''}: {error.message}",
        )(lang)
    message = error.format_message()
    if found := _EXTRA.match(message):
        return Text(
            f"Argument en trop : {found.group(1)}.", f"Unexpected argument: {found.group(1)}."
        )(lang)
    if found := _NO_COMMAND.match(message):
        return Text(
            f"Commande inconnue : {found.group(1)}.", f"No such command: {found.group(1)}."
        )(lang)
    return message


def _name(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return " / ".join(param.opts)
    return (param.name or "").upper()


def show(error: click.UsageError, lang: str) -> None:
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        error.show()  # the help itself
        return
    ctx = error.ctx
    if ctx is not None:
        usage = ctx.get_usage()
        if lang == "fr" and usage.startswith("Usage:"):
            usage = "Utilisation :" + usage[len("Usage:") :]
        click.echo(usage, err=True)
        path = ctx.command_path
        helper = Text(f"Aide : {path} --help", f"Help: {path} --help")(lang)
    else:
        helper = ""
    click.echo(Text("Erreur : ", "Error: ")(lang) + explain(error, lang), err=True)
    if helper:
        click.echo(helper, err=True)


class DriverGroup(click.Group):
    """The `towline-field` group: usage errors in the driver's language, codes joined,
    and commands loaded when they run: `lazy_commands` maps a command's name to the
    module of `fieldclient.cli` that holds it (in its `COMMANDS` list)."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module = importlib.import_module(f"fieldclient.cli.{self.lazy_commands[cmd_name]}")
            for command in module.COMMANDS:
                if command.name == cmd_name:
                    self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = join_spoken_codes(list(sys.argv[1:] if args is None else args))
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            show(error, requested_lang(argv))
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo(Text("Abandon.", "Aborted!")(requested_lang(argv)), err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)
