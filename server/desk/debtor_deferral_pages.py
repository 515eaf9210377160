""" "Bill later" for a customer who owes money (`/desk/debts/deferral`): the tenant's
choice, warn or block (server.office.debtor_deferral; docs/customer-debts.md "Bill later
for a debtor"). Anyone who follows debts sees it; changing it takes the right to edit
contracts, as the payment terms do."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from server.desk.blueprint import desk, t
from server.desk.session import current, page
from server.office import debtor_deferral
from server.people.rights import Right
from server.platform.errors import ApiError
from server.platform.web import engine, lang, now, reader
from shared.debtor_rule import SETTINGS


def _page(*, status: int = 200, error: str | None = None, chosen: str | None = None) -> Any:
    with reader().connect() as conn:
        held = debtor_deferral.to_wire(conn, current().tenant_id)
    html = render_template(
        "desk/debtor_deferral.html",
        held=held,
        chosen=chosen or held["debtor_deferral"],
        choices=SETTINGS,
        error=error,
        may_record=Right.RECORD_PAYMENTS in current().rights,
        may_set=Right.EDIT_CONTRACTS in current().rights,
    )
    return html, status


@desk.route("/debts/deferral", endpoint="debtor_deferral")
@page(Right.RECONCILE)
def deferral_page() -> Any:
    return _page()


@desk.route("/debts/deferral", methods=["POST"])
@page(Right.EDIT_CONTRACTS)
def deferral_set() -> Any:
    chosen = request.form.get("debtor_deferral", "")
    user = current()
    try:
        with engine().begin() as conn:
            made = debtor_deferral.set_choice(
                conn, user.tenant_id, chosen, actor=user.id, now=now()
            )
    except ApiError as refused:
        return _page(status=refused.status, error=refused.text(lang()), chosen=chosen)
    flash(
        t(
            f"Choix enregistré (version {made['version']}) ; les tablettes l'apprennent à "
            "leur prochaine synchro.",
            f"Choice saved (version {made['version']}); tablets learn it at their next sync.",
        ),
        "ok",
    )
    return redirect(url_for("desk.debtor_deferral"))
