"""The accountant's page on the desk (docs/accounting.md): pick a fiscal year or a
period, see its entries summed per account and per journal (debit, credit, to the cent),
download the FEC and the sales journal CSV; the chart of accounts in force, which an
administrator can replace (a new version).

Downloads and the summary need `reconcile`; the chart needs `manage_users`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from server.desk.blueprint import desk, t
from server.desk.session import current, page
from server.office import accounts, customer_debts, fec, invoice_balances, ledger, sales_journal
from server.people.rights import Right
from server.people.tenant_time import day_words
from server.platform.errors import ApiError
from server.platform.web import engine, lang, now, reader
from shared.errors import InvalidDocument
from shared.money import from_cents


def _period(conn: Any, tenant_id: str) -> tuple[date, date, str]:
    """The period the query string names (`year`, or `from` and `to`; the current fiscal
    year by default), and an error sentence when it is unreadable."""
    args = request.args
    today = invoice_balances.local_day(now(), invoice_balances.tenant_zone(conn, tenant_id))
    first, last = fec.year_bounds(conn, tenant_id, today.year)
    start_text, end_text = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    if start_text or end_text:
        try:
            start = customer_debts.check_day(date.fromisoformat(start_text))
            end = customer_debts.check_day(date.fromisoformat(end_text))
        except (ValueError, ApiError):
            start, end = last, first  # refused below
        if start > end:
            return (
                first,
                last,
                t(
                    "Période illisible : deux dates AAAA-MM-JJ, la première avant la seconde.",
                    "Unreadable period: two YYYY-MM-DD dates, the first before the second.",
                ),
            )
        return start, end, ""
    year_text = (args.get("year") or "").strip()
    if year_text:
        if not (year_text.isdigit() and 2000 <= int(year_text) <= 2099):
            return first, last, t("Année : de 2000 à 2099.", "Year: 2000 to 2099.")
        first, last = fec.year_bounds(conn, tenant_id, int(year_text))
    return first, last, ""


def _summary(entries: list[ledger.Entry], chart: accounts.Chart) -> dict[str, Any]:
    by_account: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    labels: dict[str, str] = {}
    by_journal: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in entries:
        code = chart.journal(entry.journal)[0]
        by_journal[code][0] += 1
        by_journal[code][1] += entry.debit
        by_journal[code][2] += entry.credit
        for line in entry.lines:
            by_account[line.account][0] += line.debit
            by_account[line.account][1] += line.credit
            labels.setdefault(line.account, line.account_label)

    def money(cents: int) -> str:
        return f"{from_cents(cents):f}"

    return {
        "accounts": [
            {
                "account": number,
                "label": labels[number],
                "debit": money(d),
                "credit": money(c),
                "balance": money(d - c),
            }
            for number, (d, c) in sorted(by_account.items())
        ],
        "journals": [
            {"code": code, "entries": n, "debit": money(d), "credit": money(c)}
            for code, (n, d, c) in sorted(by_journal.items())
        ],
        "debit": money(sum(e.debit for e in entries)),
        "credit": money(sum(e.credit for e in entries)),
        "entries": len(entries),
    }


def _page(*, status: int = 200, errors: list[str] | None = None, chart_text: str = "") -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        start, end, error = _period(conn, tenant)
        chart = accounts.current(conn, tenant)
        summary = _summary(ledger.entries(conn, tenant, start, end, chart), chart)
    query = {"from": start.isoformat(), "to": end.isoformat()}
    html = render_template(
        "desk/accounting.html",
        start=start,
        end=end,
        error=error,
        summary=summary,
        chart=chart,
        chart_text=chart_text or json.dumps(chart.document(), ensure_ascii=False, indent=2),
        errors=errors or [],
        query=query,
        may_set_chart=Right.MANAGE_USERS in current().rights,
        day=lambda d: day_words(d, lang()),
    )
    return html, (400 if error else status)


@desk.route("/accounting", endpoint="accounting")
@page(Right.RECONCILE)
def accounting_page() -> Any:
    return _page()


@desk.route("/accounting/fec", endpoint="accounting_fec")
@page(Right.RECONCILE)
def fec_download() -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        start, end, error = _period(conn, tenant)
        if error:
            return _page()
        made = fec.build(conn, tenant, start, end)
    return Response(
        made.content,
        content_type=f"text/plain; charset={fec.ENCODING}",
        headers={"Content-Disposition": f'attachment; filename="{made.name}"'},
    )


@desk.route("/accounting/sales-journal.csv", endpoint="accounting_sales")
@page(Right.RECONCILE)
def sales_download() -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        start, end, error = _period(conn, tenant)
        if error:
            return _page()
        data = sales_journal.build(conn, tenant, start, end)
    name = sales_journal.file_name(tenant, start, end)
    return Response(
        data,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@desk.route("/accounting/chart", methods=["POST"], endpoint="accounting_chart")
@page(Right.MANAGE_USERS)
def chart_set() -> Any:
    text = request.form.get("chart", "")
    try:
        data = json.loads(text)
    except ValueError as error:
        message = t(f"JSON illisible : {error}", f"Unreadable JSON: {error}")
        return _page(status=422, errors=[message], chart_text=text)
    user = current()
    try:
        with engine().begin() as conn:
            made = accounts.set_chart(conn, user.tenant_id, data, actor=user.id, now=now())
    except InvalidDocument as refused:
        return _page(
            status=422, errors=[p.message(lang()) for p in refused.problems], chart_text=text
        )
    flash(
        t(
            f"Plan comptable enregistré (version {made.version}).",
            f"Chart of accounts saved (version {made.version}).",
        ),
        "ok",
    )
    return redirect(url_for("desk.accounting"))
