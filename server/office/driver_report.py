"""What each driver did over a period (docs/reports.md "Per driver").

For a period [start, end] of the tenant's days, one row per driver with anything in it:

- `missions`: the missions assigned to the driver and called in the period;
- `collected`: what the driver collected on the spot per payment method, net of the
  collections voided since (a void counts once, against the collection's driver), by the
  day the server received the entries (as the closings and the FEC date them), and the
  total;
- `registers`: the register closings the driver made in the period, how many did not
  balance, and the sum of their variances (negative: cash missing);
- `anomalies`: the anomalies raised about the driver in the period, in total and per kind;
- `commission`: what the driver earned in the period (`server.office.commissions`).

Amounts in cents inside, strings on the way out.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa

from server.office import commissions, ledger
from server.office.issued_documents import TABLET_ENTRY
from server.office.period_collections import net_collections
from server.platform.tables import anomalies, drivers, journal_entries, missions
from shared.money import from_cents, parse_amount, to_cents, wire

METHODS = ("cash", "card", "cheque", "transfer", "payment_link")


def _empty() -> dict[str, Any]:
    return {
        "missions": 0,
        "collected": dict.fromkeys(METHODS, 0),
        "closings": 0,
        "unbalanced": 0,
        "variance": 0,
        "anomalies": Counter(),
        "commission": 0,
    }


def report(conn: sa.Connection, tenant_id: str, start: date, end: date) -> dict[str, Any]:
    """One row per driver (known or not) with anything in the period, then the totals."""
    first, after = ledger.day_bounds(conn, tenant_id, start, end)
    rows: dict[str, dict[str, Any]] = defaultdict(_empty)
    for driver_id, count in conn.execute(  # the call's instant, kept beside the document
        sa.select(missions.c.driver_id, sa.func.count())
        .where(
            missions.c.tenant_id == tenant_id,
            missions.c.driver_id.is_not(None),
            missions.c.call_at >= first,
            missions.c.call_at < after,
        )
        .group_by(missions.c.driver_id)
    ):
        rows[driver_id]["missions"] += int(count)
    _collections(conn, tenant_id, first, after, rows)
    for entry in conn.execute(
        sa.select(journal_entries.c.driver_id, journal_entries.c.body).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.type == "register_closed",
            journal_entries.c.received_at >= first,
            journal_entries.c.received_at < after,
            TABLET_ENTRY,
        )
    ):
        try:
            variance = to_cents(parse_amount(json.loads(entry.body)["payload"]["variance"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
        counted = rows[entry.driver_id or ""]
        counted["closings"] += 1
        counted["unbalanced"] += 1 if variance else 0
        counted["variance"] += variance
    for found in conn.execute(
        sa.select(anomalies.c.driver_id, anomalies.c.kind, sa.func.count())
        .where(
            anomalies.c.tenant_id == tenant_id,
            anomalies.c.driver_id.is_not(None),
            anomalies.c.created_at >= first,
            anomalies.c.created_at < after,
        )
        .group_by(anomalies.c.driver_id, anomalies.c.kind)
    ):
        rows[found[0]]["anomalies"][found[1]] += int(found[2])
    for earned in commissions.report(conn, tenant_id, start, end)["people"]:
        rows[earned["person"]]["commission"] += to_cents(parse_amount(earned["commission"]))
    names = {
        str(r.id): str(r.name)
        for r in conn.execute(
            sa.select(drivers.c.id, drivers.c.name).where(drivers.c.tenant_id == tenant_id)
        )
    }
    totals = _empty()
    listed = []
    for driver_id in sorted(rows):
        data = rows[driver_id]
        totals["missions"] += data["missions"]
        for method in METHODS:
            totals["collected"][method] += data["collected"][method]
        for key in ("closings", "unbalanced", "variance", "commission"):
            totals[key] += data[key]
        totals["anomalies"].update(data["anomalies"])
        listed.append({"driver_id": driver_id or None, "name": names.get(driver_id), **_wire(data)})
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "drivers": listed,
        "totals": _wire(totals),
    }


def _collection(row: Any) -> tuple[str, str, int] | None:
    """(driver, method, cents) of a stored collection; None when unreadable."""
    try:
        payload = json.loads(row.body)["payload"]
        return (
            row.driver_id or "",
            str(payload["method"]),
            to_cents(parse_amount(payload["amount"])),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def _collections(
    conn: sa.Connection, tenant_id: str, first: Any, after: Any, rows: dict[str, Any]
) -> None:
    """What each driver collected in the period, net of the voids received in it (read
    for the period only: server.office.period_collections)."""
    collected, voided = net_collections(conn, tenant_id, first, after, _collection)
    for _, (driver, method, cents) in collected:
        if method in METHODS:
            rows[driver]["collected"][method] += cents
    for _, (driver, method, cents) in voided:
        if method in METHODS:
            rows[driver]["collected"][method] -= cents


def _wire(data: Mapping[str, Any]) -> dict[str, Any]:
    def money(cents: int) -> str:
        return wire(from_cents(cents))

    kinds: Counter[str] = data["anomalies"]
    return {
        "missions": data["missions"],
        "collected": {m: money(c) for m, c in data["collected"].items()},
        "collected_total": money(sum(data["collected"].values())),
        "closings": data["closings"],
        "unbalanced": data["unbalanced"],
        "variance": money(data["variance"]),
        "anomalies": sum(kinds.values()),
        "anomalies_by_kind": dict(sorted(kinds.items())),
        "commission": money(data["commission"]),
    }


def csv_rows(found: Mapping[str, Any]) -> list[list[str]]:
    """The report as CSV rows (a header, one row per driver, the totals)."""
    header = [
        "driver_id",
        "name",
        "missions",
        *(f"collected_{m}" for m in METHODS),
        "collected_total",
        "closings",
        "unbalanced",
        "variance",
        "anomalies",
        "commission",
    ]
    out = [header]
    for row in [*found["drivers"], {"driver_id": "TOTAL", "name": "", **found["totals"]}]:
        out.append(
            [
                str(row.get("driver_id") or ""),
                str(row.get("name") or ""),
                str(row["missions"]),
                *(row["collected"][m] for m in METHODS),
                row["collected_total"],
                str(row["closings"]),
                str(row["unbalanced"]),
                row["variance"],
                str(row["anomalies"]),
                row["commission"],
            ]
        )
    return out
