"""A mission's deposit and payment moment set by hand, on the mission's desk page
(docs/customer-debts.md "Deposits set by hand").

The mission page includes `desk/_mission_terms.html`, which reads the terms through the
`mission_terms_view` template global: the contract's, the office's, those in force, and
every act with who and why. Setting them needs `manage_missions`; each act is one signed
entry of the server journal (server.office.mission_terms), applied by the tablet at its
next pull.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from server.desk.blueprint import desk, t
from server.desk.session import current, page
from server.office import mission_terms
from server.people.rights import Right
from server.platform.errors import ApiError, NotFound
from server.platform.web import engine, lang, now, reader, server_private_key


@desk.app_template_global("mission_terms_view")
def mission_terms_view(mission_id: str) -> dict[str, Any] | None:
    """The mission's terms for the include, with what the signed-in user may do."""
    user = current()
    with reader().connect() as conn:
        try:
            found = mission_terms.terms_of(conn, user.tenant_id, mission_id)
        except NotFound:
            return None
    return {
        **found,
        "may_set": Right.MANAGE_MISSIONS in user.rights,
        "deposit_when": {k: v(lang()) for k, v in mission_terms.DEPOSIT_WHEN.items()},
        "pay_when": {k: v(lang()) for k, v in mission_terms.PAY_WHEN.items()},
    }


@desk.route("/missions/<mission_id>/payment-terms", methods=["POST"])
@page(Right.MANAGE_MISSIONS)
def mission_terms_set(mission_id: str) -> Any:
    user = current()
    form = {k: (request.form.get(k) or "").strip() for k in ("amount", "when", "pays", "reason")}
    try:
        with engine().begin() as conn:
            made = mission_terms.set_terms(
                conn,
                user.tenant_id,
                mission_id[:64],
                deposit_amount=form["amount"].replace(",", ".") or None,
                deposit_when=form["when"] or None,
                pays=form["pays"] or None,
                reason=form["reason"],
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except ApiError as refused:
        return (
            render_template(
                "desk/mission_terms_refused.html",
                status=refused.status,
                message=refused.text(lang()),
                mission_id=mission_id[:64],
            ),
            refused.status,
        )
    flash(
        t(
            "Conditions de paiement fixées : la tablette les applique à sa prochaine"
            " synchronisation. " + made["in_force"]["deposit"]["explanation"]["fr"],
            "Payment terms set: the tablet applies them at its next sync. "
            + made["in_force"]["deposit"]["explanation"]["en"],
        ),
        "ok",
    )
    return redirect(url_for("desk.mission", mission_id=made["mission_id"]) + "#payment-terms")
