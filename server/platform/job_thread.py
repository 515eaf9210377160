"""The embedded worker: one thread of the server process doing the `jobs` table's work.

`towline-server run` (and so `make run`) starts it with the app and stops it on Ctrl-C;
under gunicorn each worker process starts its own at its first request (config
`JOBS = "thread"`, the default). `towline-server worker` without Redis runs the same loop
in the foreground. Several of them, in one process or many, share the table safely: a
job is leased by one worker at a time (server.platform.jobs).

The thread sleeps until told of new jobs (`kick`, called when a transaction that enqueued
returns its connection) or `poll` seconds have passed (jobs enqueued by another process,
retries that came due, leases that ran out). `stop` lets the job under way finish: a job
cut short by the process dying is taken over by another worker when its lease ends.

With `schedule` on (the default), the loop also ticks the scheduler
(server.platform.schedule) at its start and about once a minute: the nightly jobs are
enqueued by whichever worker ticks first, once per slot.
"""

from __future__ import annotations

import logging
import threading
import time

from server.platform import jobs
from server.platform.schedule import TICK_SECONDS, Scheduler

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


class JobThread:
    def __init__(
        self, context: jobs.Context, *, poll: float = POLL_SECONDS, schedule: bool = True
    ) -> None:
        self.context = context
        self.poll = poll
        self.scheduler = Scheduler() if schedule else None
        self._ticked_at: float | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self.loop, name="towline-jobs", daemon=True)
        self._thread.start()

    def kick(self, _count: int = 1) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the loop to end after the job under way; True if it ended in time."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def loop(self) -> None:
        """Work until `stop`: every due job, then sleep until kicked or `poll` passes."""
        while not self._stopping.is_set():
            self.tick()
            try:
                job = jobs.run_one(self.context)
            except Exception:  # the database went away for a moment: try again later
                log.exception("the job worker could not claim a job")
                job = None
            if job is not None:
                self.done += 1
                continue
            self._wake.wait(self.poll)
            self._wake.clear()

    def tick(self) -> None:
        """Enqueue the scheduled jobs owed, at the start and then every `TICK_SECONDS`."""
        if self.scheduler is None:
            return
        moment = time.monotonic()
        if self._ticked_at is not None and moment - self._ticked_at < TICK_SECONDS:
            return
        self._ticked_at = moment
        try:
            self.scheduler.tick(self.context.engine, self.context.clock())
        except Exception:  # the database went away for a moment: the next tick does it
            log.exception("the job scheduler could not enqueue the scheduled jobs")
