"""What every `towline-server` command shares: the exit codes, the options, the language,
reading a document, the clock, the database engine, printing a result and turning a
refusal into a sentence and its exit code (docs/cli.md).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from shared.errors import InvalidDocument, Problem
from shared.i18n import Text, choose_lang
from shared.schema_tools import parse_json

EXIT_INPUT = 2
EXIT_REFUSED = 3


def lang(explicit: str | None) -> str:
    return choose_lang(
        explicit, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )


def read(path: Path, what: Text) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidDocument(
            what,
            [Problem(str(path), Text(f"lecture impossible : {reason}", f"cannot read: {reason}"))],
        ) from None
    return parse_json(text, what)


lang_option = click.option(
    "--lang",
    type=click.Choice(["fr", "en"]),
    default=None,
    help="Language of the output (default: TOWLINE_LANG, then the locale, then French).",
)


def now() -> datetime:
    return datetime.now(UTC)


db_option = click.option(
    "--database",
    "database_url",
    envvar="TOWLINE_DATABASE_URL",
    default="sqlite:///var/towline.db",
    show_default=True,
    help="Database URL (or TOWLINE_DATABASE_URL): sqlite:///path or postgresql://…",
)
# The folder of the server's Ed25519 key, which signs the server journal, closings and
# archives: the same as `towline-server run` uses (VAR_DIR, TOWLINE_VAR_DIR, "var").
var_option = click.option(
    "--var-dir",
    envvar="TOWLINE_VAR_DIR",
    default="var",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the server's signing key lives (or TOWLINE_VAR_DIR), as for `run`.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def engine(url: str) -> Any:
    """The database of a command that reads or writes it: from here on the areas react to
    each other's events (`server.reactions`), as in the app."""
    from server import reactions  # noqa: F401
    from server.platform.db import make_engine

    return make_engine(url)


def emit(data: Any, as_json: bool, human: str) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human)


def fail(error: Exception, chosen: str) -> None:
    """Print a refusal for a person and exit with its documented code."""
    from marshmallow import ValidationError

    from server.platform.errors import ApiError
    from shared.errors import TowlineError
    from shared.schema_tools import problems

    if isinstance(error, ValidationError):
        for problem in problems(error.messages):
            click.echo(problem.message(chosen), err=True)
        sys.exit(EXIT_INPUT)
    if isinstance(error, TowlineError):
        click.echo(error.message(chosen), err=True)
        bad_input = isinstance(error, InvalidDocument) or (
            isinstance(error, ApiError) and error.status in (400, 422)
        )
        sys.exit(EXIT_INPUT if bad_input else EXIT_REFUSED)
    raise error


def require_tenant(conn: Any, tenant_id: str) -> None:
    """Refuse a command naming a tenant that does not exist (exit code 3)."""
    from server.people.identity import get_tenant
    from server.platform.errors import not_found

    if get_tenant(conn, tenant_id) is None:
        raise not_found("Société", "Tenant", tenant_id)


def run(chosen: str, work: Any) -> Any:
    from marshmallow import ValidationError

    from shared.errors import TowlineError

    try:
        return work()
    except (ValidationError, TowlineError) as error:
        fail(error, chosen)
