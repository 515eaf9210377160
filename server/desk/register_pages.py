"""The registers (caisses): every driver's register session per day, and one session's
entries. Read-only: a register changes only through the tablets' journals.

Figures are the server's fold of the synced entries (`server.office.registers`), the same fold
as the tablet's; a closing whose count differs from the expected cash links to its
`register_variance` anomaly.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import render_template, request, url_for
from werkzeug.routing import BuildError

from server.desk.blueprint import desk, not_found, t
from server.desk.labels import ENTRY_TYPES, method_label
from server.desk.session import current, page
from server.desk.times import zone as desk_zone
from server.devices.tablets import list_devices
from server.office import registers
from server.office.registers import Session
from server.people.drivers import list_drivers
from server.people.rights import Right
from server.people.tenant_time import local_day
from server.platform.errors import ApiError
from server.platform.tables import anomalies
from server.platform.web import now, reader
from shared.payment_terms import Method

DAYS = 14  # the list's default window, as the glance's chart


def anomaly_link(anomaly_id: int, driver_id: str) -> str:
    """The anomaly's page if the anomalies pages have one, else their list for the driver."""
    try:
        return url_for("desk.anomaly", anomaly_id=anomaly_id)
    except BuildError:
        query = urlencode({"kind": "register_variance", "driver_id": driver_id})
        return f"{url_for('desk.glance')}anomalies?{query}"


def session_link(session: Session) -> str:
    return url_for(
        "desk.register_day",
        driver_id=session.driver_id,
        device_id=session.device_id,
        seq=session.seq,
    )


def variance_anomalies(
    conn: sa.Connection, tenant_id: str, found: list[Session]
) -> dict[str, tuple[int, str]]:
    """Per closing (`device:seq`), its latest `register_variance` anomaly: (id, status)."""
    subjects = [s.variance_subject for s in found if s.variance_subject]
    if not subjects:
        return {}
    rows = conn.execute(
        sa.select(anomalies.c.id, anomalies.c.subject, anomalies.c.status)
        .where(
            anomalies.c.tenant_id == tenant_id,
            anomalies.c.kind == "register_variance",
            anomalies.c.subject.in_(subjects),
        )
        .order_by(anomalies.c.id)
    )
    return {r.subject: (int(r.id), str(r.status)) for r in rows}


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(
            f"Date invalide : « {text[:40]} ». Choisissez un jour (AAAA-MM-JJ).",
            f"Invalid date: '{text[:40]}'. Pick a day (YYYY-MM-DD).",
            code="bad_day",
        ) from None


@desk.route("/registers", endpoint="registers")
@page(Right.RECONCILE)
def registers_list() -> Any:
    user = current()
    day = _day(request.args.get("day", "").strip())
    driver = request.args.get("driver", "").strip() or None
    zone = desk_zone()
    today = local_day(now(), zone)  # the tenant's day, as the page's dates
    with reader().connect() as conn:
        drivers = {d["id"]: d["name"] for d in list_drivers(conn, user.tenant_id)}
        if driver is not None and driver not in drivers:
            raise ApiError(
                f"Chauffeur inconnu : « {driver[:64]} ».",
                f"Unknown driver: '{driver[:64]}'.",
                code="unknown_driver",
            )
        found = registers.sessions(
            conn,
            user.tenant_id,
            since=day or today - timedelta(days=DAYS - 1),
            until=day or today,
            driver_id=driver,
            open_before=day is None,
            zone=zone,
        )
        devices = {d["id"]: d["label"] for d in list_devices(conn, user.tenant_id)}
        variances = variance_anomalies(conn, user.tenant_id, found)
    used = {m for s in found for m, _ in (*s.register.collected, *s.register.reversed)}
    return render_template(
        "desk/registers.html",
        sessions=found,
        drivers=drivers,
        devices=devices,
        variances=variances,
        methods=[m for m in Method if m in used],
        method_label=method_label,
        session_link=session_link,
        anomaly_link=anomaly_link,
        chosen={"day": day.isoformat() if day else "", "driver": driver or ""},
        since=today - timedelta(days=DAYS - 1),
        today=today,
    )


@desk.route("/registers/<driver_id>/<device_id>/<int:seq>")
@page(Right.RECONCILE)
def register_day(driver_id: str, device_id: str, seq: int) -> Any:
    """One session: opened by entry `seq` of the tablet `device_id`, of `driver_id`."""
    user = current()
    with reader().connect() as conn:
        found = registers.session(conn, user.tenant_id, device_id, seq)
        if found is None or found.driver_id != driver_id:
            not_found()
        assert found is not None
        drivers = {d["id"]: d["name"] for d in list_drivers(conn, user.tenant_id)}
        devices = {d["id"]: d["label"] for d in list_devices(conn, user.tenant_id, device_id)}
        variance = variance_anomalies(conn, user.tenant_id, [found])
    title = t("Caisse", "Register")
    return render_template(
        "desk/register_day.html",
        session=found,
        title=f"{title} · {drivers.get(driver_id, driver_id)}",
        driver_name=drivers.get(driver_id, driver_id),
        device_label=devices.get(device_id, device_id),
        variance=variance.get(found.variance_subject or ""),
        method_label=method_label,
        entry_types=ENTRY_TYPES,
        anomaly_link=anomaly_link,
    )
