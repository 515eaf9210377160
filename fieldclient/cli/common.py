"""What every `towline-field` command shares: the exit codes, the language, reading a
document, the `Env` each command gets, the `command` decorator (--home, --lang, --json,
errors turned into exit codes) and the amount type (docs/cli.md)."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

from fieldclient import attachments, road_ids
from fieldclient.home import Home, default_home
from fieldclient.tablet import IntegrityFailure, Tablet
from shared.errors import InvalidDocument, Problem, TowlineError
from shared.i18n import Text, choose_lang
from shared.money import parse_amount
from sync.errors import Refused as ServerRefused
from sync.errors import ServerUnreachable, SyncError

EXIT_INPUT = 2
EXIT_REFUSED = 3
EXIT_INTEGRITY = 4
EXIT_UNREACHABLE = 5

# What the server says when the tablet's journal and the server's disagree.
_INTEGRITY_CODES = frozenset({"fork", "ack_mismatch", "server_ahead", "journal_invalid"})

F = TypeVar("F", bound=Callable[..., Any])


def lang_of(explicit: str | None) -> str:
    return choose_lang(
        explicit, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )


def read(path: Path, what: Text) -> Any:
    """A JSON document from a file; unreadable or malformed files are bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidDocument(
            what,
            [Problem(str(path), Text(f"lecture impossible : {reason}", f"cannot read: {reason}"))],
        ) from None
    from shared.schema_tools import parse_json  # marshmallow: not at every command's start

    return parse_json(text, what)


def exit_code(error: Exception) -> int:
    if isinstance(error, IntegrityFailure):
        return EXIT_INTEGRITY
    if isinstance(error, InvalidDocument | attachments.BadAttachment):
        return EXIT_INPUT
    if isinstance(error, ServerUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(error, ServerRefused) and error.code in _INTEGRITY_CODES:
        return EXIT_INTEGRITY
    return EXIT_REFUSED


class Env:
    """What every command gets: the home folder, the language, JSON or text."""

    def __init__(self, home: Path | None, lang: str | None, as_json: bool) -> None:
        self.home = Home(home or default_home())
        self.lang = lang_of(lang)
        self.as_json = as_json
        self._tablet: Tablet | None = None

    @property
    def tablet(self) -> Tablet:
        if self._tablet is None:
            self._tablet = Tablet(self.home)
        return self._tablet

    def out(self, body: Any, text: str) -> None:
        if self.as_json:
            click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(text)

    def t(self, fr: str, en: str) -> str:
        return fr if self.lang == "fr" else en


def command(group: click.Group | list[click.Command], name: str | None = None) -> Callable[[F], F]:
    """A tablet command: --home, --lang and --json, and errors turned into exit codes.
    Added to `group`, or to a module's COMMANDS list that `fieldclient.cli` adds to `main`."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(home: Path | None, lang: str | None, as_json: bool, **kwargs: Any) -> None:
            env = Env(home, lang, as_json)
            try:
                if isinstance(kwargs.get("mission"), str):  # R-0012 for a road mission
                    tablet = env.tablet
                    kwargs["mission"] = road_ids.resolve(
                        tablet.db, kwargs["mission"], tablet.meta("device_id")
                    )
                func(env, **kwargs)
            except (TowlineError, SyncError) as error:
                if env.as_json:
                    code = getattr(error, "code", "error")
                    body = {"error": str(code), "message": error.message(env.lang)}
                    click.echo(json.dumps(body, ensure_ascii=False), err=True)
                else:
                    click.echo(error.message(env.lang), err=True)
                sys.exit(exit_code(error))
            finally:
                if env._tablet is not None:
                    env._tablet.close()

        run = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(run)
        run = click.option(
            "--lang",
            type=click.Choice(["fr", "en"]),
            default=None,
            help="Language of the output (default: TOWLINE_LANG, then the locale, then French).",
        )(run)
        run = click.option(
            "--home",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            envvar="TOWLINE_FIELD_HOME",
            help="The tablet's folder (default: TOWLINE_FIELD_HOME, else "
            "~/.local/share/towline-field).",
        )(run)
        if isinstance(group, list):
            group.append(click.command(name)(run))
        else:
            group.command(name)(run)
        return func

    return wrap


class AmountType(click.ParamType):  # type: ignore[type-arg]  # generic only in click 8.2+
    """An amount in euros with at most two decimals, e.g. 12.50; zero only where allowed."""

    name = "amount"

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            amount = parse_amount(str(value).strip().replace(",", "."))
        except ValueError:
            self.fail(f"« {value} » : montant attendu, par ex. 12.50 / an amount, e.g. 12.50")
        if amount < 0 or (amount == 0 and not self.allow_zero):
            self.fail(f"« {value} » : le montant doit être positif / the amount must be positive")
        return amount


AMOUNT = AmountType()
AMOUNT_OR_ZERO = AmountType(allow_zero=True)
