"""Scheduled jobs: work declared to run at set times of each tenant's day (the nightly
closing, the inbox imports, the whole-tenant reconciliation), enqueued on the `jobs`
table like any other job (server.platform.jobs).

A schedule is a job kind and a cron line read on the tenant's clock (`settings.timezone`,
Europe/Paris unless it says otherwise, as server.people.tenant_time reads it): "30 2 * * *"
is 02:30 in Paris for one tenant and in Nouméa for another. Every worker — the server's
thread, `towline-server worker`, the Redis queue's sweep — calls `Scheduler.tick` about
once a minute; a tick enqueues, for each tenant, the schedule's latest slot at or before
now, as the job `kind` with the key `<tenant>@<slot>` (the slot's local time, with its
offset). The key is unique in the table, so:

- a slot runs once, however many workers on however many boxes tick, and after a
  restart (asking for it again is a no-op, the race between two boxes included);
- a slot missed while every worker was down (02:30) is enqueued by the first tick after
  the start: once, the latest slot only (the closing and the imports catch up every day
  since their last run by themselves);
- a tenant created after a slot does not owe it (a new demo tenant is not closed on the
  spot).

Why not RQ's cron (`rq cron`): it needs Redis, which the embedded default must not; it is
one more process; and it keeps its next run in memory, so a restart skips the missed slot
and two schedulers enqueue twice. croniter (the cron arithmetic RQ itself uses) reads
the cron lines; the table does the rest.

Schedules are declared next to their kinds, in `server.reactions` (and, for work only the
command line can do, in `server.cli.jobs`); a process ticks only for kinds it registered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from croniter import croniter

from server.platform import jobs
from server.platform.db import reading
from server.platform.tables import jobs as jobs_table
from server.platform.tables import tenants

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0  # how often a worker looks for a new slot
DEFAULT_ZONE = "Europe/Paris"  # the same default as server.people.tenant_time
_CHUNK = 500  # keys looked up per statement


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: str  # the job kind enqueued, once per tenant and slot
    cron: str  # minute hour day-of-month month day-of-week, on the tenant's clock


_schedules: dict[str, Schedule] = {}


def declare(kind: str, cron: str) -> None:
    """Run jobs of `kind` for every tenant at the times `cron` names on its clock."""
    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron line: {cron!r}")
    _schedules[kind] = Schedule(kind, cron)


def declared() -> tuple[Schedule, ...]:
    return tuple(_schedules.values())


def zone_of(settings: Mapping[str, Any] | None) -> ZoneInfo:
    """The tenant's zone from its settings (the default for a missing or unknown one)."""
    name = (settings or {}).get("timezone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(DEFAULT_ZONE)


def last_slot(cron: str, now: datetime, zone: ZoneInfo) -> datetime:
    """The latest time `cron` names at or before `now`, on `zone`'s clock (aware)."""
    local = now.astimezone(zone)
    if croniter.match(cron, local) and local.second == 0 and local.microsecond == 0:
        return local
    found: datetime = croniter(cron, local).get_prev(datetime)
    return found


def slot_key(tenant_id: str, slot: datetime) -> str:
    return f"{tenant_id}@{slot.isoformat(timespec='minutes')}"


@dataclass(frozen=True, slots=True)
class Slot:
    kind: str
    key: str
    tenant_id: str
    at: datetime


def owed(schedules: Iterable[Schedule], tenant_rows: Iterable[Any], now: datetime) -> list[Slot]:
    """Each tenant's latest slot of each schedule, if the tenant existed by then."""
    rows = list(tenant_rows)
    found: list[Slot] = []
    for schedule in schedules:
        by_zone: dict[str, datetime] = {}
        for row in rows:
            zone = zone_of(row.settings)
            at = by_zone.get(zone.key)
            if at is None:
                at = by_zone[zone.key] = last_slot(schedule.cron, now, zone)
            if row.created_at is not None and row.created_at > at:
                continue  # the tenant did not exist at that slot
            found.append(Slot(schedule.kind, slot_key(row.id, at), row.id, at))
    return found


class Scheduler:
    """Enqueues what the declared schedules owe; remembers what it has seen enqueued, so
    a tick between two slots reads the tenants and writes nothing."""

    def __init__(self) -> None:
        self._known: set[tuple[str, str]] = set()

    def tick(self, engine: sa.Engine, now: datetime) -> list[Slot]:
        """Enqueue every slot owed and not enqueued yet; the ones this tick enqueued."""
        schedules = [s for s in declared() if jobs.registered(s.kind)]
        if not schedules:
            return []
        with reading(engine).connect() as conn:
            rows = conn.execute(
                sa.select(tenants.c.id, tenants.c.settings, tenants.c.created_at)
            ).all()
        wanted = owed(schedules, rows, now)
        self._known &= {(s.kind, s.key) for s in wanted}  # forget the slots gone by
        missing = [s for s in wanted if (s.kind, s.key) not in self._known]
        if not missing:
            return []
        self._known |= _existing(engine, missing)
        missing = [s for s in missing if (s.kind, s.key) not in self._known]
        made = _enqueue(engine, missing, now)
        self._known |= {(s.kind, s.key) for s in missing}
        return made


def _existing(engine: sa.Engine, slots: list[Slot]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    with reading(engine).connect() as conn:
        for kind in {s.kind for s in slots}:
            keys = [s.key for s in slots if s.kind == kind]
            for start in range(0, len(keys), _CHUNK):
                found |= {
                    (kind, key)
                    for key in conn.execute(
                        sa.select(jobs_table.c.key).where(
                            jobs_table.c.kind == kind,
                            jobs_table.c.key.in_(keys[start : start + _CHUNK]),
                        )
                    ).scalars()
                }
    return found


def _enqueue(engine: sa.Engine, slots: list[Slot], now: datetime) -> list[Slot]:
    """All in one transaction; if another box enqueued one of them meanwhile (the unique
    key refuses it), each in its own, skipping the ones already there."""
    if not slots:
        return []
    try:
        with engine.begin() as conn:
            return [s for s in slots if _one(conn, s, now)]
    except sa.exc.IntegrityError:
        pass
    made = []
    for slot in slots:
        try:
            with engine.begin() as conn:
                if _one(conn, slot, now):
                    made.append(slot)
        except sa.exc.IntegrityError:
            continue  # enqueued by another worker between our look and our insert
    return made


def _one(conn: sa.Connection, slot: Slot, now: datetime) -> bool:
    payload = {"slot": slot.at.isoformat()}
    job_id = jobs.enqueue(conn, slot.kind, slot.key, payload, now=now, tenant_id=slot.tenant_id)
    if job_id is not None:
        log.info("scheduled %s %s", slot.kind, slot.key)
    return job_id is not None
