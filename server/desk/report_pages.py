"""The manager's numbers on the desk (docs/reports.md): per ordering party and per
driver over a month or a period, each with a chart, the exact table and a CSV download.
Right `reconcile` (the manager and the office have it)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Response, render_template, request

from server.api.reports import month_bounds
from server.desk import charts
from server.desk.blueprint import desk, t
from server.desk.session import current, page
from server.office import customer_debts, driver_report, invoice_balances
from server.parties import party_report
from server.people.rights import Right
from server.platform.errors import ApiError
from server.platform.web import lang, now, reader
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
