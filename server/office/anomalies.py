"""Anomalies: what the office must look at, raised by whoever finds it (a push, the
server's valuation, invoicing, reconciliation). Each is one row, status `open`, its detail
in French and English (docs/anomalies.md lists every kind)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import journal_alerts
from server.platform.tables import anomalies
from shared.canonical import plain


def open_anomaly(
    conn: sa.Connection,
    *,
    tenant_id: str,
    kind: str,
    detail: Mapping[str, Any],
    now: datetime,
    device_id: str | None = None,
    mission_id: str | None = None,
    driver_id: str | None = None,
    amount_cents: int | None = None,
    subject: str | None = None,
) -> None:
    """Raise an anomaly for the office (status `open`). `subject`: what it is about, when
    the raiser looks for it again (one alert per revoked tablet…). A journal alert gets
    the tablet's label, the drivers concerned and its sentence (`journal_alerts`)."""
    detail, driver_id = journal_alerts.describe(
        conn, tenant_id, kind, detail, device_id=device_id, driver_id=driver_id
    )
    conn.execute(
        sa.insert(anomalies).values(
            tenant_id=tenant_id,
            kind=kind,
            subject=subject,
            device_id=device_id,
            mission_id=mission_id,
            driver_id=driver_id,
            amount_cents=amount_cents,
            detail=plain(dict(detail)),
            status="open",
            created_at=now,
        )
    )
