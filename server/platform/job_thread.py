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
"""

from __future__ import annotations

import logging
import threading

from server.platform import jobs

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


class JobThread:
    def __init__(self, context: jobs.Context, *, poll: float = POLL_SECONDS) -> None:
        self.context = context
        self.poll = poll
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
