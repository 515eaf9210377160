"""The manager's numbers on the desk (docs/reports.md): per ordering party and per
driver over a month or a period, each with a chart, the exact table and a CSV or PDF
download (in the page's language).
Right `reconcile` (the manager and the office have it)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from server.api.reports import month_bounds
from server.desk import charts
from server.desk.blueprint import desk, t
from server.desk.session import current, page
from server.office import (
    cost_settings,
    customer_debts,
    driver_report,
    invoice_balances,
    report_render,
)
from server.office.seller import get_seller
from server.parties import party_report, profitability
from server.people.rights import Right
from server.platform.errors import ApiError
from server.platform.web import engine, lang, now, reader
from shared.errors import InvalidDocument
from shared.money import parse_amount, to_cents


def period_from_args() -> tuple[date, date, str]:
    """`month=YYYY-MM`, or `from` and `to`; this month by default."""
    with reader().connect() as conn:
        today = invoice_balances.local_day(
            now(), invoice_balances.tenant_zone(conn, current().tenant_id)
        )
    default = month_bounds(today.strftime("%Y-%m"))
    start_text, end_text = (
        (request.args.get("from") or "").strip(),
        (request.args.get("to") or "").strip(),
    )
    month = (request.args.get("month") or "").strip()
    try:
        if start_text or end_text:
            start = customer_debts.check_day(date.fromisoformat(start_text))
            end = customer_debts.check_day(date.fromisoformat(end_text))
            if start > end:
                raise ValueError(start_text)
            return start, end, ""
        if month:
            return (*month_bounds(month), "")
    except (ValueError, ApiError):
        return (
            *default,
            t(
                "Période illisible : un mois AAAA-MM, ou deux dates AAAA-MM-JJ dans l'ordre.",
                "Unreadable period: a month YYYY-MM, or two YYYY-MM-DD dates in order.",
            ),
        )
    return (*default, "")


def _csv(rows: list[list[str]], name: str) -> Response:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _pdf(pdf: bytes, name: str) -> Response:
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cents(text: str) -> int:
    return to_cents(parse_amount(text))


@desk.route("/reports/parties", endpoint="report_parties")
@page(Right.RECONCILE)
def parties_page() -> Any:
    start, end, error = period_from_args()
    with reader().connect() as conn:
        found = party_report.report(conn, current().tenant_id, start, end)
    private = t("Particuliers", "Private customers")
    chart = charts.bars(
        [
            (
                row["party_id"] or "private",
                row["name"] or row["party_id"] or private,
                _cents(row["revenue"]),
            )
            for row in found["parties"]
        ]
    )
    html = render_template(
        "desk/report_parties.html",
        r=found,
        chart=chart,
        start=start,
        end=end,
        error=error,
        private=private,
        query={"from": start.isoformat(), "to": end.isoformat()},
    )
    return (html, 400) if error else html


@desk.route("/reports/parties.csv", endpoint="report_parties_csv")
@page(Right.RECONCILE)
def parties_csv() -> Any:
    start, end, _ = period_from_args()
    with reader().connect() as conn:
        found = party_report.report(conn, current().tenant_id, start, end)
    name = f"donneurs-d-ordre-{start.isoformat()}-{end.isoformat()}.csv"
    return _csv(party_report.csv_rows(found, lang()), name)


@desk.route("/reports/drivers", endpoint="report_drivers")
@page(Right.RECONCILE)
def drivers_page() -> Any:
    start, end, error = period_from_args()
    with reader().connect() as conn:
        found = driver_report.report(conn, current().tenant_id, start, end)
    chart = charts.bars(
        [
            (
                row["driver_id"] or "?",
                row["name"] or row["driver_id"] or "?",
                _cents(row["collected_total"]),
            )
            for row in found["drivers"]
        ]
    )
    kinds = sorted({k for row in found["drivers"] for k in row["anomalies_by_kind"]})
    html = render_template(
        "desk/report_drivers.html",
        r=found,
        chart=chart,
        start=start,
        end=end,
        error=error,
        methods=driver_report.METHODS,
        kinds=kinds,
        query={"from": start.isoformat(), "to": end.isoformat()},
    )
    return (html, 400) if error else html


@desk.route("/reports/drivers.csv", endpoint="report_drivers_csv")
@page(Right.RECONCILE)
def drivers_csv() -> Any:
    start, end, _ = period_from_args()
    with reader().connect() as conn:
        found = driver_report.report(conn, current().tenant_id, start, end)
    return _csv(
        driver_report.csv_rows(found), f"chauffeurs-{start.isoformat()}-{end.isoformat()}.csv"
    )


@desk.route("/reports/parties.pdf", endpoint="report_parties_pdf")
@page(Right.RECONCILE)
def parties_pdf() -> Any:
    start, end, _ = period_from_args()
    tenant = current().tenant_id
    with reader().connect() as conn:
        found = party_report.report(conn, tenant, start, end)
        seller = get_seller(conn, tenant)
    made = report_render.parties_pdf(found, seller=seller, lang=lang(), made_at=now())
    return _pdf(made, f"donneurs-d-ordre-{start.isoformat()}-{end.isoformat()}.pdf")


@desk.route("/reports/drivers.pdf", endpoint="report_drivers_pdf")
@page(Right.RECONCILE)
def drivers_pdf() -> Any:
    start, end, _ = period_from_args()
    tenant = current().tenant_id
    with reader().connect() as conn:
        found = driver_report.report(conn, tenant, start, end)
        seller = get_seller(conn, tenant)
    made = report_render.drivers_pdf(found, seller=seller, lang=lang(), made_at=now())
    return _pdf(made, f"chauffeurs-{start.isoformat()}-{end.isoformat()}.pdf")


def _profit_page(*, status: int = 200, errors: list[str] | None = None, text: str = "") -> Any:
    start, end, error = period_from_args()
    user = current()
    with reader().connect() as conn:
        found = profitability.report(conn, user.tenant_id, start, end)
        costs = cost_settings.current(conn, user.tenant_id)
    private = t("Particuliers", "Private customers")
    chart = charts.bars(
        [
            (row["party_id"] or "private", row["name"] or row["party_id"] or private,
             _cents(row["margin"]))
            for row in found["parties"]
        ]
    )  # fmt: skip
    html = render_template(
        "desk/report_profitability.html",
        r=found,
        chart=chart,
        start=start,
        end=end,
        error=error,
        errors=errors or [],
        private=private,
        costs=costs,
        costs_text=text or json.dumps({"per_km": costs["per_km"]}, indent=2),
        may_set=Right.EDIT_CONTRACTS in user.rights,
        query={"from": start.isoformat(), "to": end.isoformat()},
    )
    return html, (400 if error else status)


@desk.route("/reports/profitability", endpoint="report_profitability")
@page(Right.RECONCILE)
def profitability_page() -> Any:
    return _profit_page()


@desk.route("/reports/profitability.csv", endpoint="report_profitability_csv")
@page(Right.RECONCILE)
def profitability_csv() -> Any:
    start, end, _ = period_from_args()
    with reader().connect() as conn:
        found = profitability.report(conn, current().tenant_id, start, end)
    name = f"rentabilite-{start.isoformat()}-{end.isoformat()}.csv"
    return _csv(profitability.csv_rows(found, lang()), name)


@desk.route("/reports/profitability.pdf", endpoint="report_profitability_pdf")
@page(Right.RECONCILE)
def profitability_pdf() -> Any:
    start, end, _ = period_from_args()
    tenant = current().tenant_id
    with reader().connect() as conn:
        found = profitability.report(conn, tenant, start, end)
        seller = get_seller(conn, tenant)
    made = report_render.profitability_pdf(found, seller=seller, lang=lang(), made_at=now())
    return _pdf(made, f"rentabilite-{start.isoformat()}-{end.isoformat()}.pdf")


@desk.route("/reports/costs", methods=["POST"], endpoint="report_costs_set")
@page(Right.EDIT_CONTRACTS)
def costs_set() -> Any:
    """A new version of the cost per km per vehicle class (JSON, as the API takes it)."""
    text = request.form.get("costs", "")
    try:
        data = json.loads(text)
    except ValueError as error:
        problem = t(f"JSON illisible ({error}).", f"Unreadable JSON ({error}).")
        return _profit_page(status=422, errors=[problem], text=text)
    user = current()
    try:
        with engine().begin() as conn:
            made = cost_settings.set_costs(conn, user.tenant_id, data, actor=user.id, now=now())
    except InvalidDocument as refused:
        problems = [p.message(lang()) for p in refused.problems]
        return _profit_page(status=422, errors=problems, text=text)
    flash(
        t(
            f"Coûts au km enregistrés (version {made['version']}).",
            f"Costs per km saved (version {made['version']}).",
        ),
        "ok",
    )
    period: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("month", "from", "to")}
    return redirect(url_for("desk.report_profitability", **period))
