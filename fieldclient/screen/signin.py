"""Signing in on the tablet with the PIN (the tablet's lock-out applies), and out."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, session, url_for

from fieldclient.screen.context import DRIVER_KEY, back_to, lang, page, screen, t, tablet
from fieldclient.tablet import NotReady
from shared.errors import Refused


@screen.route("/")
def home() -> Any:
    if session.get(DRIVER_KEY):
        return back_to("screen.missions")
    return back_to("screen.login")


def _drivers() -> list[Any]:
    device = tablet()
    return [d for d in device.drivers() if d.active] if device.enrolled else []


@screen.route("/login", methods=["GET", "POST"])
def login() -> Any:
    device = tablet()
    chosen = request.form.get("driver", "")
    try:
        device.device_id  # noqa: B018 - raises NotReady, saying how to enrol
    except NotReady as not_ready:
        return page("login.html", 409, drivers=[], chosen="", error=not_ready.message(lang()))
    if request.method == "GET":
        return page("login.html", drivers=_drivers(), chosen=chosen, error=None)
    pin = request.form.get("pin", "")
    if not chosen or not pin:
        error = t("Choisissez votre nom et tapez votre PIN.", "Choose your name and type your PIN.")
        return page("login.html", 400, drivers=_drivers(), chosen=chosen, error=error)
    try:
        driver = device.login(chosen, pin)
    except Refused as refused:
        error = refused.message(lang())
        return page("login.html", 401, drivers=_drivers(), chosen=chosen, error=error)
    session.clear()  # a fresh session for each sign-in: no fixation
    session[DRIVER_KEY] = driver.id
    flash(t(f"Bonjour {driver.name}.", f"Hello {driver.name}."), "ok")
    return redirect(url_for("screen.missions"))


@screen.route("/logout", methods=["POST"])
def logout() -> Any:
    who = session.get(DRIVER_KEY)
    device = tablet()
    # Only this browser's driver is signed out of the tablet, never someone who signed in
    # since on another screen.
    if who and device.enrolled and device.meta("signed_in") == who:
        device.logout()
    session.clear()
    flash(t("Vous êtes déconnecté.", "You are signed out."), "ok")
    return back_to("screen.login")
