"""The signed-in driver's cash register: open with the float, what it should hold, a bank
deposit, the closing count (its variance goes to the office)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, request

from fieldclient.screen import forms
from fieldclient.screen.context import (
    back_to,
    current_driver,
    lang,
    money,
    page,
    screen,
    signed_in,
    status_of,
    t,
    tablet,
    tr,
)
from shared.errors import TowlineError
from shared.i18n import Text
from shared.payments import LABELS
from shared.register import Register, Status

STATUS = {
    Status.NEVER_OPENED: Text("jamais ouverte", "never opened"),
    Status.OPEN: Text("ouverte", "open"),
    Status.CLOSED: Text("fermée", "closed"),
}


def _back(target: str | None) -> str | None:
    """Where to go after opening: only a mission page of this screen (the mission that
    sent the driver here to open the register first)."""
    if target and target.startswith("/missions/") and not urlsplit(target).netloc:
        return target
    return None


def register_page(status: int = 200, error: str | None = None) -> Any:
    register = tablet().register(current_driver().id)
    return page(
        "register.html",
        status,
        register=register,
        state=tr(STATUS[register.status]),
        is_open=register.status is Status.OPEN,
        by_method=[(tr(LABELS[m]), a) for m, a in register.net_by_method.items()],
        back=_back(request.values.get("next")),
        error=error,
        form=request.form,
    )


@screen.route("/register")
@signed_in
def register() -> Any:
    return register_page()


def _act(action: Callable[[], tuple[Register, str]]) -> Any:
    try:
        _register, done = action()
    except TowlineError as refused:
        return register_page(status_of(refused), refused.message(lang()))
    flash(done, "ok")
    back = _back(request.form.get("next"))
    return redirect(back) if back else back_to("screen.register")


@screen.route("/register/open", methods=["POST"])
@signed_in
def register_open() -> Any:
    def action() -> tuple[Register, str]:
        amount = forms.read_amount(
            request.form.get("float"),
            Text("le fond de caisse", "the float"),
            allow_zero=True,
        )
        opened = tablet().register_open(amount)
        return opened, t(
            f"Caisse ouverte avec {money(amount)} de fond de caisse.",
            f"Register opened with a float of {money(amount)}.",
        )

    return _act(action)


@screen.route("/register/deposit", methods=["POST"])
@signed_in
def register_deposit() -> Any:
    def action() -> tuple[Register, str]:
        amount = forms.read_amount(
            request.form.get("amount"), Text("le montant déposé", "the amount paid in")
        )
        reference = forms.read_text(
            request.form.get("reference"),
            Text("le numéro du bordereau de dépôt", "the deposit slip number"),
        )
        after = tablet().register_deposit(amount, reference)
        return after, t(
            f"Dépôt de {money(amount)} enregistré.", f"Deposit of {money(amount)} recorded."
        )

    return _act(action)


@screen.route("/register/close", methods=["POST"])
@signed_in
def register_close() -> Any:
    def action() -> tuple[Register, str]:
        counted = forms.read_amount(
            request.form.get("counted"),
            Text("les espèces comptées", "the cash counted"),
            allow_zero=True,
        )
        closed, _payload = tablet().register_close(counted)
        variance = closed.variance
        text = t(
            f"Caisse fermée. Compté : {money(counted)}.",
            f"Register closed. Counted: {money(counted)}.",
        )
        if variance:
            text += t(f" Écart : {money(variance)}.", f" Variance: {money(variance)}.")
        return closed, text

    return _act(action)
