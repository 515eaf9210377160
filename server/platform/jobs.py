"""Work done after the request: jobs as rows of `jobs`, in the database of what asked for them.

A transaction that needs slow work done once it commits (rendering an issued document's
PDF) calls `enqueue` on its own connection: the job row is inserted in that transaction,
so it exists exactly when what asked for it does (no job for a rolled-back act, no act
without its job), and it survives any process dying. A worker then `claim`s a due job
with a lease, runs its kind's handler and marks it done in the handler's own final
transaction (`complete`), so the work's effect and the job's end commit together.

- a handler that raises: the job is tried again later (`BACKOFF`), up to the kind's
  `max_attempts`; then it is `failed` and the kind's `give_up` runs (the office gets an
  anomaly), in the same transaction;
- a worker that dies mid-job: its lease runs out and another worker takes the job (the
  attempt counted); a job that outlives its attempts that way gives up the same way;
- the same job run twice (a lease that ran out under a slow worker): handlers are
  idempotent, and `complete` tells the late one it lost;
- a handler that raises `Hopeless` (a refusal another try cannot change): `failed` at
  once, with its `give_up`.

A worker claims only the kinds registered in its process, so a process that cannot do a
kind (a gunicorn thread and the inbox imports, an older version) leaves it to one that can.
Scheduled jobs (the nightly closing…) are enqueued by `server.platform.schedule`.

Who runs jobs is the deployment's choice (docs/operations.md "Jobs"): a thread of the
server (`server.platform.job_thread`, the embedded default), `towline-server worker`
polling the table, or workers of a Redis queue (`server.platform.job_redis`). They all
call `run_one`; `watch` tells them at once when a connection that enqueued is returned
to its pool (the transaction is over), and they poll besides.

Kinds are registered once, in `server.reactions` (who does which work), like events.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from server.platform.db import reading
from server.platform.tables import jobs
from shared.signing import PrivateKey

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)
BACKOFF = (5, 30, 120, 600, 1800)  # seconds before attempt 2, 3, 4, 5, 6…
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_ATTEMPTS = 5
ENQUEUED = "towline.jobs.enqueued"  # connection info: jobs enqueued since the last check-in


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    key: str
    tenant_id: str | None
    payload: Mapping[str, Any]
    attempts: int  # counting this one
    worker: str


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the database, the installation's signing key (loaded on
    first use), the clock."""

    engine: sa.Engine
    server_key: Callable[[], PrivateKey]
    clock: Callable[[], datetime]


Run = Callable[[Context, Job], None]
GiveUp = Callable[[sa.Connection, Job, str, datetime], None]


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    run: Run
    give_up: GiveUp | None
    max_attempts: int
    lease: timedelta


_kinds: dict[str, Kind] = {}


class Hopeless(Exception):
    """Raised by a handler when trying again cannot help: the job fails at once."""


def register(
    name: str,
    run: Run,
    *,
    give_up: GiveUp | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
    lease: timedelta = DEFAULT_LEASE,
) -> None:
    """Declare a kind of job: `run(context, job)` does it (and should end with
    `complete(conn, job)` in its last transaction); `give_up(conn, job, error, now)` is
    called once, in the transaction that marks it failed, after `max_attempts`."""
    _kinds[name] = Kind(name, run, give_up, max_attempts, lease)


def registered(kind: str) -> bool:
    """Whether this process can do jobs of `kind`."""
    return kind in _kinds


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:120]


# --- asking --------------------------------------------------------------------------


def enqueue(
    conn: sa.Connection,
    kind: str,
    key: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    tenant_id: str | None = None,
) -> int | None:
    """A job of `kind` for `key`, in the caller's transaction; None if one exists already
    for that kind and key (asking twice is harmless)."""
    exists = conn.execute(
        sa.select(jobs.c.id).where(jobs.c.kind == kind, jobs.c.key == key)
    ).scalar_one_or_none()
    if exists is not None:
        return None
    job_id = conn.execute(
        sa.insert(jobs)
        .values(
            kind=kind,
            key=key,
            tenant_id=tenant_id,
            payload=dict(payload),
            state=PENDING,
            attempts=0,
            available_at=now,
            created_at=now,
        )
        .returning(jobs.c.id)
    ).scalar_one()
    conn.info[ENQUEUED] = conn.info.get(ENQUEUED, 0) + 1
    return int(job_id)


_watchers: weakref.WeakKeyDictionary[Any, list[Callable[[int], None]]] = weakref.WeakKeyDictionary()


def watch(engine: sa.Engine, new_jobs: Callable[[int], None]) -> None:
    """Call `new_jobs(count)` whenever a connection of `engine` that enqueued jobs goes
    back to the pool: its transaction is over (committed, or rolled back: then the
    worker simply finds nothing). Never raises into the caller."""
    pool = engine.pool
    if pool in _watchers:
        _watchers[pool].append(new_jobs)
        return
    told = _watchers[pool] = [new_jobs]

    def checked_in(_dbapi: Any, record: Any) -> None:
        count = record.info.pop(ENQUEUED, 0) if record is not None else 0
        for tell in list(told) if count else ():
            try:
                tell(count)
            except Exception:  # a worker is told late, by its polling, never the request
                log.exception("telling the workers of %s new jobs failed", count)

    event.listen(pool, "checkin", checked_in)


# --- working -------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return sa.or_(
        sa.and_(jobs.c.state == PENDING, jobs.c.available_at <= now),
        sa.and_(jobs.c.state == RUNNING, jobs.c.lease_until < now),
    )


def _mine(now: datetime) -> Any:
    """Due, and of a kind this process can do."""
    return sa.and_(_due(now), jobs.c.kind.in_(sorted(_kinds)))


def due_count(conn: sa.Connection, now: datetime) -> int:
    """How many jobs are due now."""
    return int(conn.execute(sa.select(sa.func.count()).where(_due(now))).scalar_one())


def has_due(engine: sa.Engine, now: datetime) -> bool:
    """Whether some job this process can do is due, without taking SQLite's write lock."""
    with reading(engine).connect() as conn:
        return conn.execute(sa.select(jobs.c.id).where(_mine(now)).limit(1)).first() is not None


def claim(engine: sa.Engine, *, worker: str, now: datetime) -> Job | None:
    """Lease the oldest due job of a registered kind (pending, or running with its lease
    run out); None if none is due. PostgreSQL: SKIP LOCKED, so workers never wait for
    each other."""
    if not has_due(engine, now):
        return None
    with engine.begin() as conn:
        while True:
            row = conn.execute(
                sa.select(jobs)
                .where(_mine(now))
                .order_by(jobs.c.available_at, jobs.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            spec = _kinds.get(row.kind)
            limit = spec.max_attempts if spec else DEFAULT_ATTEMPTS
            if row.state == RUNNING and int(row.attempts) >= limit:
                # Its workers died under it every time: stop trying.
                _give_up(conn, row, "le travail a été interrompu à chaque essai", now)
                continue
            lease = spec.lease if spec else DEFAULT_LEASE
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == row.id)
                .values(
                    state=RUNNING,
                    attempts=jobs.c.attempts + 1,
                    lease_until=now + lease,
                    worker=worker,
                )
            )
            return Job(
                int(row.id),
                row.kind,
                row.key,
                row.tenant_id,
                dict(row.payload or {}),
                int(row.attempts) + 1,
                worker,
            )


def _held(job: Job) -> sa.ColumnElement[bool]:
    """The job's row, while this worker's lease on it holds."""
    return sa.and_(
        jobs.c.id == job.id,
        jobs.c.state == RUNNING,
        jobs.c.attempts == job.attempts,
        jobs.c.worker == job.worker,
    )


def renew(conn: sa.Connection, job: Job, now: datetime) -> bool:
    """For a handler that commits its work in several transactions, at the start of each:
    whether this worker still has the job (no other worker has taken it over), its lease
    then extended by its kind's. The row stays locked until the transaction ends
    (PostgreSQL), so no other worker takes the job over in the middle of one."""
    spec = _kinds.get(job.kind)
    lease = spec.lease if spec else DEFAULT_LEASE
    renewed = conn.execute(sa.update(jobs).where(_held(job)).values(lease_until=now + lease))
    return renewed.rowcount == 1


def complete(conn: sa.Connection, job: Job, now: datetime) -> bool:
    """Mark the job done, in the handler's transaction. False when another worker has
    taken it over since (this one's lease ran out): the handler should roll back."""
    done = conn.execute(
        sa.update(jobs).where(_held(job)).values(state=DONE, finished_at=now, lease_until=None)
    )
    return done.rowcount == 1


def run_one(context: Context, *, worker: str | None = None) -> Job | None:
    """Claim one due job and do it; None when nothing was due."""
    job = claim(context.engine, worker=worker or worker_name(), now=context.clock())
    if job is None:
        return None
    spec = _kinds.get(job.kind)
    try:
        if spec is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        spec.run(context, job)
    except Hopeless as exc:
        log.error("job %s (%s %s) refused: %s", job.id, job.kind, job.key, exc)
        _failed(context, job, str(exc)[:2000], hopeless=True)
    except Exception as exc:
        log.exception("job %s (%s %s) failed, attempt %s", job.id, job.kind, job.key, job.attempts)
        _failed(context, job, f"{type(exc).__name__}: {exc}"[:2000])
    else:
        with context.engine.begin() as conn:
            complete(conn, job, context.clock())  # unless the handler did
    return job


def drain(context: Context, *, limit: int = 10_000) -> int:
    """Do every due job, one after the other (tests, `worker --burst`, inline mode)."""
    done = 0
    while done < limit and run_one(context) is not None:
        done += 1
    return done


def _failed(context: Context, job: Job, error: str, *, hopeless: bool = False) -> None:
    now = context.clock()
    with context.engine.begin() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job.id).with_for_update()).first()
        if row is None or row.state != RUNNING or int(row.attempts) != job.attempts:
            return  # another worker has it now
        spec = _kinds.get(job.kind)
        if hopeless or int(row.attempts) >= (spec.max_attempts if spec else DEFAULT_ATTEMPTS):
            _give_up(conn, row, error, now)
            return
        delay = BACKOFF[min(int(row.attempts), len(BACKOFF)) - 1]
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job.id)
            .values(
                state=PENDING,
                available_at=now + timedelta(seconds=delay),
                lease_until=None,
                last_error=error,
            )
        )


def _give_up(conn: sa.Connection, row: Any, error: str, now: datetime) -> None:
    conn.execute(
        sa.update(jobs)
        .where(jobs.c.id == row.id)
        .values(state=FAILED, finished_at=now, lease_until=None, last_error=error)
    )
    spec = _kinds.get(row.kind)
    if spec is not None and spec.give_up is not None:
        job = Job(
            int(row.id),
            row.kind,
            row.key,
            row.tenant_id,
            dict(row.payload or {}),
            int(row.attempts),
            row.worker or "",
        )
        spec.give_up(conn, job, error, now)


def retry(conn: sa.Connection, kind: str, key: str, now: datetime) -> bool:
    """Try a failed job again from its first attempt (the office asked); False if there
    is no failed job of that kind and key."""
    again = conn.execute(
        sa.update(jobs)
        .where(jobs.c.kind == kind, jobs.c.key == key, jobs.c.state == FAILED)
        .values(state=PENDING, attempts=0, available_at=now, lease_until=None, finished_at=None)
    )
    if again.rowcount:
        conn.info[ENQUEUED] = conn.info.get(ENQUEUED, 0) + 1
    return again.rowcount == 1


# --- looking -------------------------------------------------------------------------


def counts(conn: sa.Connection, *, kind: str | None = None) -> dict[str, int]:
    """How many jobs are in each state."""
    query = sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    found = {state: 0 for state in STATES}
    found.update({state: int(n) for state, n in conn.execute(query)})
    return found


def utc_now() -> datetime:
    return datetime.now(UTC)
