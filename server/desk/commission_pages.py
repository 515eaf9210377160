"""Commissions on the desk (docs/commissions.md): the report of a month or a period,
line by line and per person, a CSV download, each person's statement PDF; each driver's
rules, replaced by an administrator (a new version each time).

Reading needs `reconcile`; setting rules needs `manage_users`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from server.desk.blueprint import desk, not_found, t
from server.desk.report_pages import period_from_args
from server.desk.session import current, page
from server.office import agents, commissions
from server.people.rights import Right
from server.platform.errors import ApiError, NotFound
from server.platform.web import engine, lang, now, reader
from shared.errors import InvalidDocument

COLUMNS = [
    "person", "kind", "day", "mission_id", "document", "code", "base", "rate", "commission",
    "rules_version",
]  # fmt: skip
KIND_LABELS = {
    "percent": ("Pourcentage", "Percentage"),
    "per_mission": ("Forfait mission", "Per mission"),
    "reversal": ("Reprise sur avoir", "Reversed by a credit note"),
    "tier": ("Palier mensuel", "Monthly tier"),
}
PERSON_KINDS = {
    "driver": ("chauffeur", "driver"),
    "user": ("utilisateur", "office user"),
    "agent": ("apporteur", "agent"),
}


def _page(*, status: int = 200, errors: list[str] | None = None, texts: Any = None) -> Any:
    start, end, error = period_from_args()
    person = (request.args.get("person") or "").strip()[:64] or None
    tenant = current().tenant_id
    with reader().connect() as conn:
        try:
            found = commissions.report(conn, tenant, start, end, person=person)
        except NotFound:
            return not_found()
        people = commissions.people(conn, tenant)
    query = {"from": start.isoformat(), "to": end.isoformat()}
    html = render_template(
        "desk/report_commissions.html",
        r=found,
        people=people,
        texts={p["person"]: json.dumps(p["rules"], indent=2) for p in people} | (texts or {}),
        start=start,
        end=end,
        error=error,
        errors=errors or [],
        person=person,
        query=query,
        kind_label=lambda k: t(*KIND_LABELS[k]),
        kind_of=lambda k: t(*PERSON_KINDS.get(k, (k, k))),
        may_set=Right.MANAGE_USERS in current().rights,
    )
    return html, (400 if error else status)


@desk.route("/reports/commissions", endpoint="report_commissions")
@page(Right.RECONCILE)
def commissions_page() -> Any:
    return _page()


@desk.route("/reports/commissions.csv", endpoint="report_commissions_csv")
@page(Right.RECONCILE)
def commissions_csv() -> Any:
    start, end, _ = period_from_args()
    with reader().connect() as conn:
        found = commissions.report(conn, current().tenant_id, start, end)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in found["lines"]:
        writer.writerow(["" if line[k] is None else line[k] for k in COLUMNS])
    name = f"commissions-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@desk.route("/reports/commissions/<string:person>.pdf", endpoint="commission_statement")
@page(Right.RECONCILE)
def statement(person: str) -> Any:
    start, end, _ = period_from_args()
    with reader().connect() as conn:
        try:
            name, pdf = commissions.statement(
                conn, current().tenant_id, person[:64], start, end, lang=lang(), now=now()
            )
        except NotFound:
            return not_found()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@desk.route("/reports/commissions/<string:person>/rules", methods=["POST"])
@page(Right.MANAGE_USERS)
def rules_set(person: str) -> Any:
    text = request.form.get("rules", "")
    texts = {person: text}
    try:
        data = json.loads(text)
    except ValueError as error:
        problem = t(
            f"{person} : JSON illisible ({error}).", f"{person}: unreadable JSON ({error})."
        )
        return _page(status=422, errors=[problem], texts=texts)
    user = current()
    try:
        with engine().begin() as conn:
            made = commissions.set_rules(
                conn, user.tenant_id, person[:64], data, actor=user.id, now=now()
            )
    except NotFound:
        return not_found()
    except InvalidDocument as refused:
        return _page(
            status=422,
            errors=[f"{person} — {p.message(lang())}" for p in refused.problems],
            texts=texts,
        )
    flash(
        t(
            f"Règles de {person} enregistrées (version {made['version']}).",
            f"{person}'s rules saved (version {made['version']}).",
        ),
        "ok",
    )
    return redirect(url_for("desk.report_commissions"))


@desk.route("/reports/commissions/agents", methods=["POST"], endpoint="agent_add")
@page(Right.MANAGE_USERS)
def agent_add() -> Any:
    """Add an agent to the register (then set their rules in the form it gets)."""
    user = current()
    try:
        with engine().begin() as conn:
            made = agents.add(
                conn,
                user.tenant_id,
                request.form.get("id"),
                request.form.get("name"),
                actor=user.id,
                now=now(),
            )
    except ApiError as refused:
        return _page(status=refused.status, errors=[refused.text(lang())])
    flash(
        t(
            f"Apporteur {made['id']} ajouté : {made['name']}.",
            f"Agent {made['id']} added: {made['name']}.",
        ),
        "ok",
    )
    return redirect(url_for("desk.report_commissions"))
