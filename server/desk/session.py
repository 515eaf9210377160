"""Signing in to the desk: a tenant, a login, a password; a signed session cookie.

The password check is the API's (`identity.authenticate`: five failures lock the
account for 15 minutes). The session ends after `DESK_IDLE_SECONDS` without a page
(30 min by default) and `DESK_MAX_SECONDS` after signing in (10 h), measured on the
app's clock. The user is read again on every page, so a changed role or a deleted
user takes effect at once, and every page names the right it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, g, redirect, render_template, request, session, url_for

from server.desk.blueprint import desk, t
from server.people.identity import User, authenticate, get_user
from server.people.rights import LABELS, Right
from server.platform.errors import ApiError
from server.platform.tables import users
from server.platform.web import engine, lang, now, reader

F = TypeVar("F", bound=Callable[..., Any])
KEY = "desk"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a sign-in link must not send people elsewhere."""
    if target and target.startswith("/desk") and not urlsplit(target).netloc:
        return target
    return url_for("desk.glance")


def _expired(state: dict[str, Any], moment: datetime) -> bool:
    idle = int(current_app.config.get("DESK_IDLE_SECONDS", 30 * 60))
    longest = int(current_app.config.get("DESK_MAX_SECONDS", 10 * 3600))
    return (
        moment.timestamp() - float(state["seen"]) > idle
        or moment.timestamp() - float(state["since"]) > longest
    )


def signed_in_user() -> User | None:
    """The desk's user for this request, or None (never signed in, expired, removed)."""
    state = session.get(KEY)
    if not isinstance(state, dict):
        return None
    moment = now()
    if _expired(state, moment):
        session.pop(KEY, None)
        g.desk_expired = True
        return None
    with reader().connect() as conn:
        user = get_user(conn, str(state["tenant"]), str(state["user"]))
        out = conn.execute(
            sa.select(users.c.signed_out_at).where(
                users.c.tenant_id == str(state["tenant"]), users.c.id == str(state["user"])
            )
        ).scalar()
    if (
        user is None
        or not user.active
        or (out is not None and out.timestamp() > float(state["since"]))
    ):
        # removed, deactivated, or signed out since (this cookie may be a copy)
        session.pop(KEY, None)
        return None
    state["seen"] = moment.timestamp()
    session[KEY] = state
    return user


def page(right: Right | None = None) -> Callable[[F], F]:
    """A desk page for a signed-in user; with `right`, the user's role must give it.
    Without a session: back to the sign-in page, then here."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = signed_in_user()
            if user is None:
                target = request.full_path.rstrip("?")
                if g.pop("desk_expired", False):
                    return redirect(url_for("desk.login", next=target, expired="1"))
                return redirect(url_for("desk.login", next=target))
            g.desk_user = user
            if right is not None and right not in user.rights:
                fr, en = LABELS[right]
                message = t(
                    f"Cette page demande le droit « {fr} ». Demandez-le à un administrateur.",
                    f"This page needs the right '{en}'. Ask an administrator for it.",
                )
                return render_template("desk/error.html", status=403, message=message), 403
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def current() -> User:
    user: User = g.desk_user
    return user


@desk.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.args.get("expired"):
        error = t("Session expirée : reconnectez-vous.", "Session expired: sign in again.")
    form = {"tenant": request.values.get("tenant", ""), "login": request.form.get("login", "")}
    if request.method == "POST":
        password = request.form.get("password", "")
        if not all((form["tenant"], form["login"], password)):
            error = t(
                "Indiquez la société, l'identifiant et le mot de passe.",
                "Enter the company, the login and the password.",
            )
        else:
            try:
                user = authenticate(engine(), form["tenant"], form["login"], password, now())
            except ApiError as refused:
                if refused.code == "password_change_required":  # server.desk.admin_pages
                    return redirect(
                        url_for("desk.password", tenant=form["tenant"], login=form["login"])
                    )
                error = refused.text(lang())
            else:
                session.clear()  # a fresh session: no fixation
                moment = now().timestamp()
                session[KEY] = {
                    "tenant": user.tenant_id,
                    "user": user.id,
                    "since": moment,
                    "seen": moment,
                }
                return redirect(_safe_next(request.args.get("next")))
    status = 401 if request.method == "POST" else 200
    return render_template("desk/login.html", form=form, error=error), status


@desk.route("/logout", methods=["POST"])
def logout() -> Any:
    """Ends this user's desk sessions everywhere: a copied cookie is worth nothing after."""
    state = session.pop(KEY, None)
    if isinstance(state, dict):
        with engine().begin() as conn:
            conn.execute(
                sa.update(users)
                .where(users.c.tenant_id == str(state["tenant"]), users.c.id == str(state["user"]))
                .values(signed_out_at=now())
            )
    return redirect(url_for("desk.login"))
