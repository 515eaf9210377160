"""Today at a glance: what the office checks first in the morning and last at night.

Every signed-in user sees the open anomalies, the registers not closed yet and the
tablets that have not synced for long; the money (collections against invoices over the
last days, today's collections per method and per driver, the cash each open register
should hold) only shows to users with the `reconcile` right.

"Today" is the tenant's day at the app clock's instant (server.people.tenant_time), and so
is every day of the page: a collection at 23:30 UTC counts on the next day in Paris.
Collections are the tablets' entries net of reversals, by the day the tablet recorded them.
They are compared with what was due on site: the beneficiaries' shares — their invoices
minus their credit notes, by the day issued — never the ordering parties' invoices, which
are paid weeks later and would make every assisted day look short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, render_template, url_for

from server.desk import charts
from server.desk.blueprint import desk, t
from server.desk.labels import ANOMALY_KINDS, method_label
from server.desk.register_pages import session_link
from server.desk.session import current, page
from server.desk.times import zone as desk_zone
from server.devices.tablets import list_devices
from server.office import registers
from server.office.issued_documents import BENEFICIARY, CREDIT_NOTE, INVOICE
from server.people.drivers import list_drivers
from server.people.rights import Right
from server.people.tenant_time import day_bounds, day_words, local_day
from server.platform.tables import anomalies, documents
from server.platform.web import lang, now, reader
from shared.payment_terms import Method
from shared.time_words import MONTHS_EN

DAYS = 14
STALE_HOURS = 24  # DESK_STALE_DEVICE_HOURS: a tablet silent longer than this is listed


# --- figures -----------------------------------------------------------------------------------


def due_on_site_by_day(
    conn: sa.Connection, tenant_id: str, since: date, until: date, zone: ZoneInfo
) -> dict[date, int]:
    """The beneficiaries' shares: their invoices minus their credit notes, incl. VAT, in
    cents, per day of issue (the tenant's day in `zone`). Only the totals are read:
    `issued_documents.list_documents` would load every PDF."""
    rows = conn.execute(
        sa.select(documents.c.kind, documents.c.issued_at, documents.c.total_incl_cents).where(
            documents.c.tenant_id == tenant_id,
            documents.c.recipient_kind == BENEFICIARY,
            documents.c.issued_at >= day_bounds(since, zone)[0],
            documents.c.issued_at < day_bounds(until, zone)[1],
        )
    )
    totals: dict[date, int] = {}
    sign = {INVOICE: 1, CREDIT_NOTE: -1}
    for row in rows:
        day = local_day(row.issued_at, zone)
        totals[day] = totals.get(day, 0) + sign[row.kind] * int(row.total_incl_cents)
    return totals


@dataclass(frozen=True, slots=True)
class MoneyFigures:
    """The money figures of the page (reconcile right only)."""

    days: list[tuple[date, int, int]]  # (day, collected, due on site), oldest first
    by_day: charts.ColumnChart
    by_method: list[tuple[str, str, int]]  # (method, label, cents)
    method_chart: charts.BarChart
    by_driver: list[tuple[str, str, int]]  # (driver id, name, cents)
    driver_chart: charts.BarChart
    collected_today: int
    due_today: int


def day_label(day: date, language: str) -> str:
    """A day on the chart's axis: short."""
    if language == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]}"
    return day.strftime("%d/%m")


def day_text(day: date) -> str:
    """A day in a sentence or a table, as `local_date` writes days."""
    return day_words(day, lang())


def money_figures(
    conn: sa.Connection,
    tenant_id: str,
    today: date,
    drivers: dict[str, str],
    language: str,
    zone: ZoneInfo,
) -> MoneyFigures:
    since = today - timedelta(days=DAYS - 1)
    moves = registers.movements(conn, tenant_id, since=since, until=today, zone=zone)
    collected = registers.net_by(moves, "day")
    due = due_on_site_by_day(conn, tenant_id, since, today, zone)
    days = [
        (day, collected.get(day, 0), due.get(day, 0))
        for day in (since + timedelta(days=n) for n in range(DAYS))
    ]
    todays = [m for m in moves if m.day == today]
    per_method = registers.net_by(todays, "method")
    order = {str(m): n for n, m in enumerate(Method)}  # cash first, as on the tablet
    by_method = sorted(
        ((m, method_label(m, language), c) for m, c in per_method.items()),
        key=lambda row: (order.get(row[0], len(order)), row[0]),
    )
    per_driver = registers.net_by(todays, "driver_id")
    by_driver = sorted(
        ((d or "", drivers.get(d or "", d or "—"), c) for d, c in per_driver.items()),
        key=lambda row: (-row[2], row[1]),
    )
    return MoneyFigures(
        days,
        charts.columns([(d.isoformat(), day_label(d, language), (c, i)) for d, c, i in days]),
        by_method,
        charts.bars(by_method),
        by_driver,
        charts.bars(by_driver),
        collected.get(today, 0),
        due.get(today, 0),
    )


def open_anomalies(conn: sa.Connection, tenant_id: str) -> list[tuple[str, str | None, int]]:
    """(kind, driver id, how many) of the tenant's open anomalies."""
    rows = conn.execute(
        sa.select(anomalies.c.kind, anomalies.c.driver_id, sa.func.count())
        .where(anomalies.c.tenant_id == tenant_id, anomalies.c.status == "open")
        .group_by(anomalies.c.kind, anomalies.c.driver_id)
    )
    return [(str(r[0]), r[1], int(r[2])) for r in rows]


def _count(rows: list[tuple[str, str | None, int]], at: int) -> list[tuple[Any, int]]:
    totals: dict[Any, int] = {}
    for row in rows:
        totals[row[at]] = totals.get(row[at], 0) + row[2]
    return sorted(totals.items(), key=lambda item: (-item[1], str(item[0])))


def anomalies_link(**query: str) -> str:
    """The anomalies page, filtered (its query parameters: status, kind, driver_id)."""
    return f"{url_for('desk.glance')}anomalies?{urlencode({'status': 'open', **query})}"


def stale_devices(
    devices: list[dict[str, Any]], moment: datetime, hours: int
) -> list[dict[str, Any]]:
    """Tablets in service that never synced, or not for `hours`: oldest first."""
    limit = moment - timedelta(hours=hours)
    stale = [
        d
        for d in devices
        if d["revoked_at"] is None and (d["last_seen_at"] is None or d["last_seen_at"] < limit)
    ]
    return sorted(stale, key=lambda d: (d["last_seen_at"] is not None, d["last_seen_at"] or moment))


# --- the page -------------------------------------------------------------------------------------


@desk.route("/")
@page()
def glance() -> Any:
    user = current()
    moment = now()
    zone = desk_zone()
    today = local_day(moment, zone)
    hours = int(current_app.config.get("DESK_STALE_DEVICE_HOURS", STALE_HOURS))
    sees_money = Right.RECONCILE in user.rights
    with reader().connect() as conn:
        drivers = {d["id"]: d["name"] for d in list_drivers(conn, user.tenant_id)}
        devices = list_devices(conn, user.tenant_id)
        figures = (
            money_figures(conn, user.tenant_id, today, drivers, lang(), zone)
            if sees_money
            else None
        )
        found = open_anomalies(conn, user.tenant_id)
        unclosed = registers.open_sessions(conn, user.tenant_id)
    return render_template(
        "desk/glance.html",
        today=today,
        figures=figures,
        sees_money=sees_money,
        by_kind=_count(found, 0),
        by_driver=_count(found, 1),
        anomaly_count=sum(row[2] for row in found),
        kinds=ANOMALY_KINDS,
        drivers=drivers,
        devices={d["id"]: d["label"] for d in devices},
        unclosed=unclosed,
        stale=stale_devices(devices, moment, hours),
        hours=hours,
        anomalies_link=anomalies_link,
        session_link=session_link,
        day_text=day_text,
        opened_day=lambda s: s.local_day(zone),
        title=t("Aujourd'hui", "Today"),
    )
