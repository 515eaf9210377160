"""The dispatcher's "Today" board: the day's missions, who has them and where they stand.

`board(conn, tenant_id, day, zone, today)` gathers, for one day of the tenant's calendar:

- the missions no driver has (an ordering party's order, a phone order not given yet);
- each active driver's missions, with the last step their tablet reported, when their
  tablets last synced, and what is due from beneficiaries and collected so far;
- the missions cancelled that day, with the reason.

A mission is on the day's board when its call is that day (the tenant's time), when it
was cancelled that day, or — on today's board — when it is still open from an earlier
day (nothing on the road has ended it), so nothing is forgotten overnight, and when no
driver has it yet whatever its day (an order for tomorrow waits to be given). Missions
created more than `LOOKBACK_DAYS` before the day are not looked at.

The status shown follows the tablets (server.office.mission_progress.shown_status).
Amounts are integer cents; the desk and the API word them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import missions as mission_store
from server.office.mission_progress import (
    FieldMoney,
    FieldStep,
    field_money,
    is_finished,
    last_steps,
    money_wire,
    shown_status,
)
from server.people.drivers import list_drivers
from server.people.ordering_parties import list_parties
from server.people.tenant_time import day_bounds
from server.platform.tables import device_drivers, devices, missions
from shared.money import from_cents, wire

LOOKBACK_DAYS = 14


@dataclass(frozen=True, slots=True)
class BoardMission:
    id: str
    file_number: str | None
    party_id: str | None
    party_name: str | None
    plate: str | None
    call_at: datetime | None
    driver_id: str | None
    office_status: str
    step: FieldStep | None
    status: str  # shown_status: what people read
    finished: bool
    cancel_reason: str | None
    cancelled_at: datetime | None
    source: str
    money: FieldMoney | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file_number": self.file_number,
            "ordering_party_id": self.party_id,
            "ordering_party_name": self.party_name,
            "plate": self.plate,
            "call_at": self.call_at,
            "driver_id": self.driver_id,
            "office_status": self.office_status,
            "status": self.status,
            "finished": self.finished,
            "tablet_step": None
            if self.step is None
            else {
                "step": self.step.step,
                "at": self.step.at,
                "received_at": self.step.received_at,
                "device_id": self.step.device_id,
            },
            "cancel_reason": self.cancel_reason,
            "cancelled_at": self.cancelled_at,
            "source": self.source,
            "money": dict(money_wire(self.money)),
        }


@dataclass(frozen=True, slots=True)
class DriverColumn:
    id: str
    name: str
    last_sync: datetime | None  # the latest sync of the driver's tablets (None: never)
    tablets: int  # tablets enrolled for the driver, not revoked
    missions: list[BoardMission] = field(default_factory=list)

    @property
    def due(self) -> int:
        return sum((m.money.due or 0) for m in self.missions if m.money and not _void(m))

    @property
    def collected(self) -> int:
        return sum(m.money.collected for m in self.missions if m.money)

    @property
    def open_count(self) -> int:
        return sum(1 for m in self.missions if not m.finished)


def _void(mission: BoardMission) -> bool:
    return mission.office_status == mission_store.CANCELLED


@dataclass(frozen=True, slots=True)
class Board:
    day: date
    timezone: str
    unassigned: list[BoardMission]
    drivers: list[DriverColumn]
    cancelled: list[BoardMission]

    @property
    def due(self) -> int:
        return sum(d.due for d in self.drivers)

    @property
    def collected(self) -> int:
        return sum(d.collected for d in self.drivers)

    def to_wire(self) -> dict[str, Any]:
        def cents(value: int) -> str:
            return wire(from_cents(value))

        return {
            "day": self.day.isoformat(),
            "timezone": self.timezone,
            "unassigned": [m.to_wire() for m in self.unassigned],
            "drivers": [
                {
                    "id": d.id,
                    "name": d.name,
                    "last_sync": d.last_sync,
                    "tablets": d.tablets,
                    "open": d.open_count,
                    "due": cents(d.due),
                    "collected": cents(d.collected),
                    "missions": [m.to_wire() for m in d.missions],
                }
                for d in self.drivers
            ],
            "cancelled": [m.to_wire() for m in self.cancelled],
            "totals": {"due": cents(self.due), "collected": cents(self.collected)},
        }


def _call(document: Mapping[str, Any]) -> datetime | None:
    call = (document.get("times") or {}).get("call")
    if not isinstance(call, str):
        return None
    try:
        moment = datetime.fromisoformat(call)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def last_syncs(conn: sa.Connection, tenant_id: str) -> dict[str, tuple[datetime | None, int]]:
    """{driver: (the latest sync of their tablets, how many tablets)}, revoked ones left out."""
    rows = conn.execute(
        sa.select(device_drivers.c.driver_id, devices.c.last_seen_at)
        .join(devices, devices.c.id == device_drivers.c.device_id)
        .where(
            device_drivers.c.tenant_id == tenant_id,
            devices.c.tenant_id == tenant_id,
            devices.c.revoked_at.is_(None),
        )
    )
    out: dict[str, tuple[datetime | None, int]] = {}
    for row in rows:
        latest, count = out.get(row.driver_id, (None, 0))
        seen = row.last_seen_at
        if seen is not None and (latest is None or seen > latest):
            latest = seen
        out[row.driver_id] = (latest, count + 1)
    return out


def board(conn: sa.Connection, tenant_id: str, day: date, zone: ZoneInfo, today: date) -> Board:
    """The board of `day` in the tenant's `zone`; `today` is the tenant's current day."""
    start, end = day_bounds(day, zone)
    window = [
        missions.c.tenant_id == tenant_id,
        missions.c.created_at >= start - timedelta(days=LOOKBACK_DAYS),
        missions.c.created_at < max(end, day_bounds(today, zone)[1]),
    ]
    if day != today:
        # Only the day's calls and cancellations can be on another day's board: read
        # them through their indexed columns (a day of margin each side; the checks
        # below decide), not every mission created since (a year at most).
        low, high = start - timedelta(days=1), end + timedelta(days=1)
        window.append(
            sa.or_(
                sa.and_(missions.c.call_at >= low, missions.c.call_at < high),
                sa.and_(missions.c.cancelled_at >= low, missions.c.cancelled_at < high),
                sa.and_(
                    missions.c.call_at.is_(None),
                    missions.c.created_at >= low,
                    missions.c.created_at < high,
                ),
            )
        )
    read = []  # (row, its document, its call, called or cancelled on the day)
    for row in conn.execute(sa.select(missions).where(*window)):
        document = json.loads(row.document)
        call = _call(document)
        call_day = call.astimezone(zone).date() if call else row.created_at.astimezone(zone).date()
        cancelled_day = row.cancelled_at.astimezone(zone).date() if row.cancelled_at else None
        read.append((row, document, call, call_day, call_day == day or cancelled_day == day))
    # Another day's board holds that day's missions only: their steps alone are read (not
    # those of the days of margin). Today's also carries what is not finished.
    steps = last_steps(conn, tenant_id, [r.id for r, *_, on_day in read if on_day or day == today])
    parties = {p["id"]: p["name"] for p in list_parties(conn, tenant_id)}
    chosen: list[tuple[Any, dict[str, Any], datetime | None, bool]] = []
    for row, document, call, call_day, on_day in read:
        step = steps.get(row.id)
        finished = is_finished(row.status, step.step if step else None)
        waiting = row.driver_id is None and not finished  # nobody will do it unless told
        if on_day or (day == today and not finished and (call_day < day or waiting)):
            chosen.append((row, document, call, finished))
    money = field_money(conn, tenant_id, [r.id for r, *_ in chosen])
    made: list[BoardMission] = []
    for row, document, call, finished in chosen:
        step = steps.get(row.id)
        made.append(
            BoardMission(
                id=row.id,
                file_number=row.file_number,
                party_id=row.ordering_party_id,
                party_name=parties.get(row.ordering_party_id or ""),
                plate=(document.get("vehicle") or {}).get("plate"),
                call_at=call,
                driver_id=row.driver_id,
                office_status=row.status,
                step=step,
                status=shown_status(row.status, step.step if step else None),
                finished=finished,
                cancel_reason=row.cancel_reason,
                cancelled_at=row.cancelled_at,
                source=row.source,
                money=money.get(row.id),
            )
        )
    made.sort(key=lambda m: (m.finished, m.call_at is None, m.call_at or start, m.id))
    cancelled = [m for m in made if _void(m)]
    unassigned = [m for m in made if m.driver_id is None and not _void(m)]
    syncs = last_syncs(conn, tenant_id)
    columns = []
    for driver in list_drivers(conn, tenant_id):
        theirs = [m for m in made if m.driver_id == driver["id"] and not _void(m)]
        if not driver["active"] and not theirs:
            continue
        seen, tablets = syncs.get(driver["id"], (None, 0))
        columns.append(DriverColumn(driver["id"], driver["name"], seen, tablets, theirs))
    return Board(day, zone.key, unassigned, columns, cancelled)
