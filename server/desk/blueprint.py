"""The office desk's one blueprint, its language, its CSRF check and its template helpers.

Pages live in the modules named in `server.desk.PAGES`; each adds its routes to `desk`.
Server-side templates, no JavaScript needed: a form posts, the page answers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from wtforms import ValidationError

from server.platform.errors import CORE_STATUS, ApiError
from server.platform.web import lang
from shared.errors import TowlineError
from shared.i18n import LANGS
from shared.money import format_amount, from_cents

desk = Blueprint(
    "desk",
    __name__,
    url_prefix="/desk",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

LANG_COOKIE = "towline_lang"


@desk.before_request
def _choose_lang_and_check_csrf() -> Any:
    # The desk's language: ?lang= (remembered in a cookie), else the cookie, else the
    # browser's Accept-Language (server.platform.web.lang), French by default.
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        g.lang = chosen
    # A number in the path beyond the database's integers is nothing this tenant has.
    if any(isinstance(v, int) and not 0 <= v < 2**63 for v in (request.view_args or {}).values()):
        abort(404)
    # PostgreSQL can neither store nor compare U+0000: refused before any view sees it.
    values = [*(request.view_args or {}).values(), *request.args.values()]
    if request.method == "POST":
        values += [v for v in request.form.values()]
    if any("\x00" in str(v) for v in values):
        message = t("Caractère nul refusé : retirez-le.", "Null character refused: remove it.")
        return render_template("desk/error.html", status=400, message=message), 400
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(str(error)) from error


@desk.after_request
def _remember_lang(response: Any) -> Any:
    chosen = request.args.get("lang")
    if chosen in LANGS:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="Lax")
    # Pages hold customers' names and amounts: never cached by a shared machine's browser.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@desk.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Any:
    message = t(
        "Formulaire expiré ou invalide : rechargez la page et recommencez.",
        "Form expired or invalid: reload the page and try again.",
    )
    return render_template("desk/error.html", status=400, message=message), 400


@desk.errorhandler(413)
def _too_large(error: Any) -> Any:
    message = t(
        "Envoi trop volumineux : réduisez le texte ou le fichier, puis recommencez.",
        "Too large: shorten the text or the file, then try again.",
    )
    return render_template("desk/error.html", status=413, message=message), 413


@desk.errorhandler(404)
def _not_found(error: Any) -> Any:
    message = t(
        "Cette page n'existe pas, ou pas pour votre société.",
        "This page does not exist, or not for your company.",
    )
    return render_template("desk/error.html", status=404, message=message), 404


@desk.errorhandler(TowlineError)
def _refused(error: TowlineError) -> Any:
    """A refusal of the core or the server, shown as a page with its message."""
    status = error.status if isinstance(error, ApiError) else CORE_STATUS.get(error.code, 400)
    return render_template("desk/error.html", status=status, message=error.text(lang())), status


def t(fr: str, en: str) -> str:
    """The sentence in the request's language (templates call it `t`)."""
    return en if lang() == "en" else fr


def money(value: Decimal | int | str | None, *, cents: bool = False) -> str:
    """An amount for people; `cents=True` when the value is integer cents."""
    if value is None or value == "":
        return "—"
    amount = from_cents(int(value)) if cents else Decimal(str(value))
    return format_amount(amount, lang())


def when(value: datetime | str | None) -> str:
    """A moment for people, in UTC, day first in French."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if lang() == "en":
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%d/%m/%Y %H:%M")


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


# The menu: (endpoint, French, English, right needed). An entry shows when its page
# exists and the user's role gives its right.
NAV: tuple[tuple[str, str, str, str | None], ...] = (
    ("desk.glance", "Aujourd'hui", "Today", None),
    ("desk.dispatch", "Répartition", "Dispatch", "manage_missions"),
    ("desk.anomalies", "Anomalies", "Anomalies", "reconcile"),
    ("desk.registers", "Caisses", "Registers", "reconcile"),
    ("desk.documents", "Factures et avoirs", "Invoices and credit notes", "reconcile"),
    ("desk.files", "Dossiers", "Files", "reconcile"),
    ("desk.claims", "Créances", "Claims", "reconcile"),
    ("desk.debts", "Impayés clients", "Customer debts", "reconcile"),
    ("desk.accounting", "Comptabilité", "Accounting", "reconcile"),
    ("desk.report_parties", "Tableaux de bord", "Reports", "reconcile"),
    ("desk.contracts", "Conventions", "Contracts", None),
    ("desk.cleaning", "Règles de nettoyage", "Cleaning rules", "edit_contracts"),
    ("desk.devices", "Tablettes", "Tablets", "manage_devices"),
    ("desk.users", "Utilisateurs", "Users", "manage_users"),
)


def nav_items() -> list[tuple[str, str]]:
    """(url, label) of the menu entries this user may open."""
    user = g.get("desk_user")
    if user is None:
        return []
    views = current_app.view_functions
    return [
        (url_for(endpoint), t(fr, en))
        for endpoint, fr, en, right in NAV
        if endpoint in views and (right is None or right in user.rights)
    ]


@desk.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "t": t,
        "money": money,
        "when": when,
        "csrf_field": csrf_field,
        "lang": lang,
        "desk_user": lambda: g.get("desk_user"),
        "nav_items": nav_items,
    }


def not_found() -> Any:
    """A page for something this tenant does not have: the same answer as for something
    that does not exist, so no page reveals another tenant's data."""
    abort(404)
