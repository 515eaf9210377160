"""Anomalies: what the office must look at, raised by whoever finds it (a push, the
server's valuation, invoicing, reconciliation). Each is one row, status `open`, its detail
in French and English (docs/anomalies.md lists every kind)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# One cause, one anomaly: a kind that may follow from another anomaly of the same mission
# → the kinds that can be its cause. A file's cap consumed twice makes the tablet's
# valuation differ from the server's by exactly the cap's gap: the mismatch is that
# overrun seen from the valuation, not a second problem (docs/anomalies.md "Linked
# anomalies"). The link is read from what both rows hold, never stored apart, so it
# cannot disagree with them.
CAUSES: Mapping[str, frozenset[str]] = {"valuation_mismatch": frozenset({"file_cap_exceeded"})}
CAUSE_KINDS = frozenset(k for kinds in CAUSES.values() for k in kinds)


def _explains(primary: Any, secondary: Any) -> bool:
    """Whether `primary` is the cause of `secondary` (same mission, fitting kinds)."""
    if primary.kind not in CAUSES.get(secondary.kind, ()):
        return False
    if primary.mission_id is None or primary.mission_id != secondary.mission_id:
        return False
    detail = primary.detail if isinstance(primary.detail, Mapping) else {}
    gap = detail.get("valuation_gap", primary.amount_cents)
    # The tablet asked `gap` less than the server: the mismatch's amount is −gap.
    return isinstance(gap, int) and gap > 0 and secondary.amount_cents == -gap


@dataclass(frozen=True, slots=True)
class Links:
    """Row ids: each secondary's cause, and each cause's secondaries."""

    caused_by: Mapping[int, int]
    linked: Mapping[int, tuple[int, ...]]


def links(conn: sa.Connection, tenant_id: str, rows: Iterable[Any]) -> Links:
    """The causes among and around `rows` (anomaly rows): a cleared cause no longer
    holds, so explains nothing."""
    rows = list(rows)
    mission_ids = sorted(
        {r.mission_id for r in rows if r.mission_id and (r.kind in CAUSES or r.kind in CAUSE_KINDS)}
    )
    kinds = sorted(set(CAUSES) | CAUSE_KINDS)
    candidates: list[Any] = []
    for start in range(0, len(mission_ids), 1000):  # bounded IN lists
        candidates.extend(
            conn.execute(
                sa.select(anomalies).where(
                    anomalies.c.tenant_id == tenant_id,
                    anomalies.c.mission_id.in_(mission_ids[start : start + 1000]),
                    anomalies.c.kind.in_(kinds),
                    anomalies.c.status != "cleared",
                )
            )
        )
    caused_by: dict[int, int] = {}
    linked: dict[int, list[int]] = {}
    primaries = [c for c in candidates if c.kind in CAUSE_KINDS]
    for secondary in candidates:
        if secondary.kind not in CAUSES:
            continue
        cause = next((p for p in primaries if _explains(p, secondary)), None)
        if cause is not None:
            caused_by[secondary.id] = cause.id
            linked.setdefault(cause.id, []).append(secondary.id)
    return Links(caused_by, {k: tuple(sorted(v)) for k, v in linked.items()})
