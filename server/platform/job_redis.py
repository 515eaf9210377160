"""The `jobs` table's work done by workers of a Redis queue (RQ), for more than one box.

The job rows stay in the database, written in the transaction that asked for them (so no
job is lost between a commit and a message, nor by a Redis restart); Redis carries the
wake-ups and spreads them over the workers of every machine. Each new job puts one RQ
job `run_next` on the queue, which claims one due row (`server.platform.jobs.run_one`,
SKIP LOCKED on PostgreSQL) and does it. A `sweep`, rescheduled by RQ's scheduler every
`SWEEP_SECONDS`, wakes workers for what no message announced: retries that came due,
leases that ran out because a worker died, jobs enqueued while Redis was away; it also
ticks the scheduler (server.platform.schedule), so the nightly jobs are enqueued in the
table, once per slot whatever the number of workers, then woken like any other.

`towline-server worker --redis URL` runs `serve`: an RQ worker (no fork per job: the
database engine and the loaded key are reused) with RQ's scheduler on.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache
from typing import Any

from server.platform import jobs
from server.platform.schedule import Scheduler

log = logging.getLogger(__name__)

QUEUE = "towline"
SWEEP_SECONDS = 30
SWEEP_ID = "towline-sweep"
MAX_WAKEUPS = 1000  # per sweep: more due jobs than that are found by the next one
JOB_TIMEOUT = 600  # seconds an RQ worker lets one job run before killing it

_context: jobs.Context | None = None
_scheduler: Scheduler | None = Scheduler()


@cache
def queue(url: str, name: str = QUEUE) -> Any:
    from redis import Redis
    from rq import Queue

    return Queue(name, connection=Redis.from_url(url))


def kick(url: str, count: int, name: str = QUEUE) -> None:
    """Wake `count` workers for new jobs (called when the asking transaction is over)."""
    target = queue(url, name)
    with target.connection.pipeline() as pipe:
        for _ in range(min(count, MAX_WAKEUPS)):
            target.enqueue(
                run_next, job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=86400, pipeline=pipe
            )
        pipe.execute()


def run_next() -> int | None:
    """In a worker: do one due job of the table (the RQ job's work); its id, or None."""
    if _context is None:
        raise RuntimeError("run_next runs in `towline-server worker --redis`")
    job = jobs.run_one(_context)
    return None if job is None else job.id


def sweep(url: str, name: str = QUEUE) -> int:
    """Wake as many workers as jobs are due, then come back in `SWEEP_SECONDS`."""
    due = 0
    if _context is not None:
        try:
            if _scheduler is not None:
                _scheduler.tick(_context.engine, _context.clock())
        except Exception:  # the database went away for a moment: the next sweep does it
            log.exception("the job scheduler could not enqueue the scheduled jobs")
        with _context.engine.connect() as conn:
            due = jobs.due_count(conn, _context.clock())
    if due:
        kick(url, due, name)
    queue(url, name).enqueue_in(
        timedelta(seconds=SWEEP_SECONDS),
        sweep,
        url,
        name,
        job_id=f"{SWEEP_ID}-{name}",
        result_ttl=0,
    )
    return due


def serve(
    context: jobs.Context,
    url: str,
    *,
    name: str = QUEUE,
    burst: bool = False,
    schedule: bool = True,
) -> None:
    """Run an RQ worker on the queue until SIGTERM/SIGINT (or, `burst`, until it is empty);
    its sweeps enqueue the scheduled jobs unless `schedule` is off."""
    from rq import SimpleWorker

    global _context, _scheduler
    _context = context
    _scheduler = Scheduler() if schedule else None
    target = queue(url, name)
    sweep(url, name)  # what is due now, and the sweeps from here on
    worker = SimpleWorker([target], connection=target.connection)
    worker.work(burst=burst, with_scheduler=not burst, logging_level="WARNING")
