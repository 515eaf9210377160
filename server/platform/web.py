"""What views need from the app, without importing it: the engine, the clock, the
request's language, the strict schema base and the strict argument parser.

`engine()`, `now()` and `lang()` only work inside a request or an app context.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import current_app, g, has_request_context, request
from sqlalchemy import Engine
from webargs.flaskparser import FlaskParser

from server.platform import keys
from server.platform.db import reading
from shared.i18n import DEFAULT_LANG, LANGS
from shared.schema_tools import bilingual
from shared.signing import PrivateKey, public_key_to_bytes

ENGINE = "towline.engine"
SERVER_KEY = "towline.server_public_key"
SERVER_PRIVATE_KEY = "towline.server_private_key"


def engine() -> Engine:
    """The app's database engine (made once per app, connects on first use)."""
    eng: Engine = current_app.extensions[ENGINE]
    return eng


def reader() -> Engine:
    """The engine for read-only work (on SQLite: no write lock taken)."""
    return reading(engine())


def now() -> datetime:
    """The app's clock (`CLOCK` config): an aware UTC instant; tests pass a fake one."""
    moment: datetime = current_app.config["CLOCK"]()
    if moment.tzinfo is None:
        raise RuntimeError("CLOCK must return an aware datetime")
    return moment


def lang() -> str:
    """The request's language from Accept-Language; French by default."""
    if not has_request_context():
        return DEFAULT_LANG
    if "lang" not in g:
        g.lang = request.accept_languages.best_match(LANGS, default=DEFAULT_LANG)
    chosen: str = g.lang
    return chosen


def server_public_key_hex() -> str:
    """The installation's Ed25519 public key (hex), loaded or created on first use."""
    cached = current_app.extensions.get(SERVER_KEY)
    if cached is None:
        key = keys.server_key(Path(current_app.config["VAR_DIR"]))
        cached = current_app.extensions[SERVER_KEY] = public_key_to_bytes(key.public_key()).hex()
    hex_key: str = cached
    return hex_key


def server_private_key() -> PrivateKey:
    """The installation's Ed25519 key, which signs the server's journal (loaded or
    created on first use in `VAR_DIR`, like the command line's `--var-dir`)."""
    key: PrivateKey | None = current_app.extensions.get(SERVER_PRIVATE_KEY)
    if key is None:
        key = current_app.extensions[SERVER_PRIVATE_KEY] = keys.server_key(
            Path(current_app.config["VAR_DIR"])
        )
    return key


def token_key() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode("utf-8")


NUL_REFUSED = bilingual("caractère nul (\\u0000) refusé", "the null character (\\u0000) is refused")


def nul_paths(value: Any, path: str = "") -> list[str]:
    """Where a string holds U+0000, which PostgreSQL cannot store nor compare."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            found += [sub] if "\x00" in str(key) else nul_paths(item, sub)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in nul_paths(item, f"{path}.{i}")]
    return []


class Strict(ma.Schema):
    """Base of every API schema: an unknown field is an error, never silently dropped;
    a string holding a null character is refused before it reaches the database."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _refuse_nul(self, data: Any, **kwargs: Any) -> Any:
        found = nul_paths(data)
        if found:
            raise ma.ValidationError({path: [NUL_REFUSED] for path in found})
        return data


class StrictParser(FlaskParser):
    """webargs excludes unknown query-string and header fields by default; we let each
    schema decide (ours raise)."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {  # noqa: RUF012 - webargs' own
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # untyped library
    ARGUMENTS_PARSER = StrictParser()


def description(text: str) -> dict[str, Any]:
    return {"description": text}
