"""The dispatcher's "Today" board (`/desk/dispatch`): the missions no driver has, each
driver's missions with the last step their tablet reported and when it last synced, what
is due and collected, in the tenant's time; assign, reassign and cancel from it.

The board refreshes by itself: `static/dispatch.js` fetches `/desk/dispatch/board` (the
same board, as an HTML fragment) every few seconds and swaps it in, unless the dispatcher
is typing in one of its forms. The drivers are listed once per board; the script fills a
mission's "assign to" list from it when the dispatcher reaches for it (a list in every
card was O(missions × drivers): 30 MB for a day of 200 trucks). Without JavaScript the
page works the same, with a "refresh" link, one step longer to assign: "Assign" with no
driver chosen is refused and shows the board again with that card's list filled. The
acts post, then come back to the board (no second post on reload); a refusal shows the
board again with the message and what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from server.desk import labels
from server.desk.blueprint import desk, t
from server.desk.labels import label, step_label
from server.desk.session import current, page
from server.desk.times import zone
from server.office import dispatch
from server.office import missions as mission_store
from server.parties import mission_acts
from server.parties.order_places import places_of
from server.people.drivers import list_drivers
from server.people.rights import Right
from server.people.tenant_time import local_day
from server.platform.errors import ApiError
from server.platform.web import engine, lang, now, reader

REFRESH_SECONDS = 10  # the app's DESK_DISPATCH_REFRESH_SECONDS, if set


@dataclass
class Typed:
    """What a refused form held, to show it again beside its message."""

    mission_id: str = ""
    act: str = ""
    form: dict[str, str] = field(default_factory=dict)
    error: str = ""


def _day_asked() -> tuple[date, date, str | None]:
    """(the day asked, today, an error): today unless `?day=` names a valid day."""
    today = local_day(now(), zone())
    text = (request.args.get("day") or "").strip()
    if not text:
        return today, today, None
    try:
        return date.fromisoformat(text), today, None
    except ValueError:
        message = t(
            f"Date invalide : « {text[:40]} ». Choisissez un jour (AAAA-MM-JJ).",
            f"Invalid date: '{text[:40]}'. Pick a day (YYYY-MM-DD).",
        )
        return today, today, message


def _context(day: date, today: date) -> dict[str, Any]:
    user = current()
    with reader().connect() as conn:
        made = dispatch.board(conn, user.tenant_id, day, zone(), today)
        every = [m.id for m in (*made.unassigned, *made.cancelled)]
        every += [m.id for d in made.drivers for m in d.missions]
        places = places_of(conn, user.tenant_id, every)
        drivers = [d for d in list_drivers(conn, user.tenant_id) if d["active"]]
    return {
        "board": made,
        "places": places,
        "day": day,
        "today": today,
        "active_drivers": drivers,
        "driver_names": {d.id: d.name for d in made.drivers},
        "refreshed_at": now(),
        "refresh_seconds": int(
            current_app.config.get("DESK_DISPATCH_REFRESH_SECONDS", REFRESH_SECONDS)
        ),
        "status_label": lambda s: label(labels.MISSION_STATUSES, s),
        "step_label": step_label,
        "may_open_missions": Right.RECONCILE in user.rights,
        "started": lambda m: m.step is not None and m.step.step != "assigned" and not m.finished,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
    }


def _render(
    template: str, day: date, today: date, typed: Typed | None = None, status: int = 200
) -> Any:
    context = _context(day, today)
    html = render_template(template, **context, typed=typed or Typed())
    return html, status


@desk.route("/dispatch", endpoint="dispatch")
@page(Right.MANAGE_MISSIONS)
def dispatch_page() -> Any:
    day, today, error = _day_asked()
    if error:
        return _render("desk/dispatch.html", day, today, Typed(error=error), status=400)
    return _render("desk/dispatch.html", day, today)


@desk.route("/dispatch/board", endpoint="dispatch_board")
@page(Right.MANAGE_MISSIONS)
def dispatch_board() -> Any:
    """The board alone, for the page's own refresh."""
    day, today, error = _day_asked()
    return _render("desk/_dispatch_board.html", day, today, status=400 if error else 200)


def _back(day: str) -> Any:
    """Back to the board of the day the act was made from (today's: the plain address)."""
    if not day or day == local_day(now(), zone()).isoformat():
        return redirect(url_for("desk.dispatch"))
    return redirect(url_for("desk.dispatch", day=day))


def _refused(mission_id: str, act: str, error: ApiError | str) -> Any:
    text = error if isinstance(error, str) else error.text(lang())
    status = 400 if isinstance(error, str) else error.status
    day, today, _ = _day_asked_from_form()
    typed = Typed(mission_id, act, {k: v for k, v in request.form.items() if k != "csrf_token"})
    typed.error = text
    return _render("desk/dispatch.html", day, today, typed, status=status)


def _day_asked_from_form() -> tuple[date, date, str | None]:
    today = local_day(now(), zone())
    try:
        return date.fromisoformat(request.form.get("day", "")), today, None
    except ValueError:
        return today, today, None


@desk.route("/dispatch/<mission_id>/assign", methods=["POST"], endpoint="dispatch_assign")
@page(Right.MANAGE_MISSIONS)
def assign(mission_id: str) -> Any:
    user = current()
    driver_id = (request.form.get("driver_id") or "").strip()
    if not driver_id:
        return _refused(mission_id, "assign", t("Choisissez un chauffeur.", "Choose a driver."))
    try:
        with engine().begin() as conn:
            before = mission_store.get(conn, user.tenant_id, mission_id)
            done = mission_acts.assign(
                conn,
                user.tenant_id,
                mission_id,
                driver_id,
                actor=user.id,
                now=now(),
                started_ok=request.form.get("started_ok") == "1",
            )
            names = {d["id"]: d["name"] for d in list_drivers(conn, user.tenant_id)}
    except ApiError as error:
        return _refused(mission_id, "assign", error)
    new = names.get(done["driver_id"], done["driver_id"])
    old = before["driver_id"]
    if old is None:
        flash(
            t(
                f"Mission {mission_id} attribuée à {new} : sa tablette la reçoit à sa "
                "prochaine synchro.",
                f"Mission {mission_id} given to {new}: their tablet gets it at its next sync.",
            ),
            "ok",
        )
    elif old == done["driver_id"]:
        flash(t(f"{new} a déjà la mission {mission_id}.", f"{new} already has {mission_id}."))
    else:
        was = names.get(old, old)
        flash(
            t(
                f"Mission {mission_id} confiée à {new} : retirée de la tablette de {was} "
                "à sa prochaine synchro.",
                f"Mission {mission_id} given to {new}: taken off {was}'s tablet at its next sync.",
            ),
            "ok",
        )
    return _back(request.form.get("day", ""))


@desk.route("/dispatch/<mission_id>/cancel", methods=["POST"], endpoint="dispatch_cancel")
@page(Right.MANAGE_MISSIONS)
def cancel(mission_id: str) -> Any:
    user = current()
    reason = (request.form.get("reason") or "").strip()
    try:
        with engine().begin() as conn:
            done = mission_acts.cancel(
                conn, user.tenant_id, mission_id, reason, actor=user.id, now=now()
            )
    except ApiError as error:
        return _refused(mission_id, "cancel", error)
    told = (
        t(
            " La tablette du chauffeur l'apprend à sa prochaine synchro.",
            " The driver's tablet learns it at its next sync.",
        )
        if done["driver_id"]
        else ""
    )
    flash(
        t(f"Mission {mission_id} annulée : {reason}.", f"Mission {mission_id} cancelled: {reason}.")
        + told,
        "ok",
    )
    return _back(request.form.get("day", ""))
