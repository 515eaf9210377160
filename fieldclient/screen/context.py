"""The screen's blueprint and what every page shares: the request's tablet, the signed-in
driver, the language, the CSRF check and the template helpers.

One `Tablet` (one SQLite connection) per request, closed when the request ends: the
server runs one thread per request and a connection belongs to the thread that opened it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from wtforms import ValidationError

from fieldclient import attachments
from fieldclient.home import Home
from fieldclient.screen.forms import BadInput
from fieldclient.tablet import Clock, Driver, NotReady, Tablet, UnknownMission
from shared import calendar
from shared.errors import InvalidDocument, TowlineError, ValuationRefused
from shared.i18n import DEFAULT_LANG, LANGS, Text
from shared.money import format_amount

if TYPE_CHECKING:  # the network stack is imported only when the sync page syncs
    from sync.client import SyncClient

F = TypeVar("F", bound=Callable[..., Any])
ClientFactory = Callable[[Tablet, str], "SyncClient"]

screen = Blueprint("screen", __name__)

LANG_COOKIE = "towline_lang"
DRIVER_KEY = "driver"  # the session's driver id; must match the tablet's signed-in driver


@dataclass(frozen=True, slots=True)
class Settings:
    """What the app factory was given: where the tablet lives, its clock, how to reach
    the office (None: the server the tablet enrolled with)."""

    home: Home
    clock: Clock
    sync_client: ClientFactory | None


def settings() -> Settings:
    found: Settings = current_app.extensions["towline_screen"]
    return found


def tablet() -> Tablet:
    """This request's tablet, opened on first use."""
    if "tablet" not in g:
        config = settings()
        g.tablet = Tablet(config.home, clock=config.clock)
    opened: Tablet = g.tablet
    return opened


@screen.teardown_app_request
def _close_tablet(_error: BaseException | None) -> None:
    opened = g.pop("tablet", None)
    if opened is not None:
        opened.close()


# --- language ------------------------------------------------------------------------------


def lang() -> str:
    chosen = g.get("lang")
    return chosen if chosen in LANGS else DEFAULT_LANG


def t(fr: str, en: str) -> str:
    """The sentence in the request's language (templates call it `t`)."""
    return en if lang() == "en" else fr


def tr(text: Text) -> str:
    """A core sentence (`shared.i18n.Text`) in the request's language."""
    return text(lang())


def money(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return "—"
    return format_amount(Decimal(str(value)), lang())


def amount_field(value: Decimal) -> str:
    """An amount as a driver types it: 96,00 in French, 96.00 in English."""
    text = f"{value:.2f}"
    return text.replace(".", ",") if lang() == "fr" else text


_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def day_name(day: date) -> str:
    """Tuesday 10 March 2026, in words."""
    chosen = lang()
    weekday, month = _DAYS[chosen][day.weekday()], _MONTHS[chosen][day.month - 1]
    return f"{weekday} {day.day} {month} {day.year}"


def short_day(iso: str) -> str:
    """2026-03-14 → 14/03/2026 in French; ISO in English."""
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}" if lang() == "fr" else iso


def cap(text: str) -> str:
    """The first letter in capitals, the rest untouched (Jinja's `capitalize` lowers it)."""
    return text[:1].upper() + text[1:]


def local_time(moment: datetime | str | None) -> str:
    """A moment as the tablet's wall clock shows it."""
    if moment is None:
        return "—"
    instant = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    wall = calendar.local(instant, tablet().timezone)
    return wall.strftime("%d/%m/%Y %H:%M" if lang() == "fr" else "%Y-%m-%d %H:%M")


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


# Forms that carry a file (a photo, a signature): their bodies may be as large as an
# attachment (plus the form around it); every other form keeps the app's small limit.
UPLOAD_ENDPOINTS = frozenset({"screen.attach", "screen.facts_record"})
FORM_OVERHEAD = 64 * 1024


@screen.before_app_request
def _language_and_csrf() -> None:
    # ?lang= (remembered in a cookie), else the cookie, else French.
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    g.lang = chosen if chosen in LANGS else DEFAULT_LANG
    if request.endpoint in UPLOAD_ENDPOINTS:  # before the form is read, below
        limit = attachments.max_bytes()
        request.max_content_length = limit + FORM_OVERHEAD
        request.max_form_memory_size = 2 * limit + FORM_OVERHEAD  # a drawn signature: base64
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(str(error)) from error


@screen.after_app_request
def _remember_language_and_protect(response: Any) -> Any:
    chosen = request.args.get("lang")
    if chosen in LANGS:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="Lax")
    # Customers' names and amounts: never kept by the browser, never framed, no inline
    # script: only the screen's own files (the missions list's watch.js); the mission
    # page sets its own policy, allowing the signature pad's script only.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    return response


# --- the signed-in driver ------------------------------------------------------------------


def current_driver() -> Driver:
    driver: Driver = g.driver
    return driver


def signed_in(view: F) -> F:
    """A page for the driver signed in on this browser. The tablet has one signed-in
    driver at a time: when another one signs in (here or with `towline-field login`),
    this browser's session ends, so nobody acts under someone else's name."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        who = session.get(DRIVER_KEY)
        device = tablet()
        if not device.enrolled:
            return redirect(url_for("screen.login"))
        try:
            driver = device.signed_in()
        except NotReady:
            driver = None
        if who is None or driver is None or driver.id != who:
            if who is not None:
                session.pop(DRIVER_KEY, None)
                flash(
                    t(
                        "Votre session est terminée (un autre chauffeur s'est peut-être"
                        " connecté sur cette tablette) : reconnectez-vous.",
                        "Your session ended (another driver may have signed in on this"
                        " tablet): sign in again.",
                    ),
                    "error",
                )
            return redirect(url_for("screen.login"))
        g.driver = driver
        return view(*args, **kwargs)

    return cast(F, wrapper)


def own_mission(mission_id: str) -> None:
    """404 unless the mission is on this tablet and assigned to the signed-in driver:
    another driver's mission looks exactly like one that does not exist."""
    row = (
        tablet().db.execute("SELECT driver_id FROM missions WHERE id = ?", [mission_id]).fetchone()
    )
    if row is None or row[0] != current_driver().id:
        abort(404)


def own_mission_ids() -> set[str]:
    rows = tablet().db.execute("SELECT id FROM missions WHERE driver_id = ?", [current_driver().id])
    return {str(r[0]) for r in rows}


def pending() -> int:
    """Entries waiting to be sent (shown on the Sync tab)."""
    device = tablet()
    return device.pending_count() if device.enrolled else 0


@screen.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "t": t,
        "tr": tr,
        "money": money,
        "amount_field": amount_field,
        "local_time": local_time,
        "short_day": short_day,
        "csrf_field": csrf_field,
        "lang": lang,
        "driver": lambda: g.get("driver"),
        "pending": pending,
    }


def status_of(error: TowlineError) -> int:
    """Bad input 400, unknown 404, a business rule 409, a document that does not
    validate 422."""
    if isinstance(error, BadInput | attachments.BadAttachment):
        return 400
    if isinstance(error, UnknownMission):
        return 404
    if isinstance(error, InvalidDocument | ValuationRefused):
        return 422
    return 409


@screen.app_template_filter("cap")
def _cap_filter(text: str) -> str:
    return cap(text)


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(template, **values), status


def back_to(endpoint: str, **values: Any) -> Any:
    return redirect(url_for(endpoint, **values))
