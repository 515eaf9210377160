"""The screen's app factory: the tablet's home folder, its clock, and how to reach the
office. Nothing opens the database at import or in the factory; each request does."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from fieldclient.home import Home
from fieldclient.screen.context import ClientFactory, Settings, lang, screen, status_of, t
from fieldclient.tablet import Clock, system_clock
from shared.errors import TowlineError

SECRET_NAME = "screen-secret"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def session_secret(home: Home) -> bytes:
    """The key that signs the screen's session cookie: made once, owner-only (0600) in the
    tablet's home folder, so a restart keeps drivers signed in and nobody else reads it."""
    home.create()
    path = home.path / SECRET_NAME
    if not path.exists():
        temporary = path.with_name(f"{SECRET_NAME}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # the first process wins; a secret in use is never replaced
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def create_app(
    home: Home | Path,
    *,
    clock: Clock = system_clock,
    sync_client: ClientFactory | None = None,
    host: str = "127.0.0.1",
) -> Flask:
    """The driver's screen over the tablet in `home`.

    `sync_client(tablet, lang)` makes the sync client (default: the server the tablet
    enrolled with); `host` is the loopback address it is served on.
    """
    folder = home if isinstance(home, Home) else Home(Path(home))
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=session_secret(folder),
        SESSION_COOKIE_NAME="towline_screen",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # A mission page stays open for hours at the roadside; the token is bound to the
        # session, which is what protects the forms.
        WTF_CSRF_TIME_LIMIT=None,
        # Only requests addressed to this machine: a web page the tablet's browser opens
        # elsewhere cannot reach the screen through a DNS name of its own (rebinding).
        TRUSTED_HOSTS=sorted({*LOOPBACK_NAMES, host}),
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["towline_screen"] = Settings(folder, clock, sync_client)
    from fieldclient.screen import (  # noqa: F401
        facts_page,
        missions,
        receipt_page,
        register_page,
        signin,
        sync_page,
        watch_page,
    )

    app.register_blueprint(screen)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(TowlineError, _refused)
    return app


def _error(status: int, message: str) -> Any:
    return render_template("error.html", status=status, message=message), status


def _csrf_refused(_error_: CSRFError) -> Any:
    return _error(
        400,
        t(
            "Formulaire expiré ou invalide : rechargez la page et recommencez.",
            "Form expired or invalid: reload the page and try again.",
        ),
    )


def _not_found(_error_: Any) -> Any:
    return _error(
        404,
        t(
            "Cette page n'existe pas, ou cette mission n'est pas la vôtre sur cette tablette.",
            "This page does not exist, or this mission is not yours on this tablet.",
        ),
    )


def _too_large(_error_: Any) -> Any:
    return _error(
        413,
        t(
            "Fichier trop volumineux : prenez la photo en plus basse résolution.",
            "File too large: take the picture at a lower resolution.",
        ),
    )


def _refused(error: TowlineError) -> Any:
    return _error(status_of(error), error.message(lang()))
