"""Who does the app's jobs, by configuration (docs/operations.md "Jobs").

`JOBS` (or `TOWLINE_JOBS`):

- `thread` (the default, the embedded box): a worker thread in each server process
  (server.platform.job_thread), started with `towline-server run` or at the first request
  under gunicorn, told of new jobs at once, stopped on exit;
- `redis`: workers of a Redis queue, `towline-server worker --redis URL`; the app puts a
  wake-up on `JOBS_REDIS_URL` for each new job (server.platform.job_redis);
- `worker`: nothing in the app; `towline-server worker` polls the table beside it;
- `inline`: the jobs a request asked for are done at the end of that request, before its
  answer leaves (tests, and a one-shot command).

`JOBS_SCHEDULE` (or `TOWLINE_JOBS_SCHEDULE`, default on): whether the thread also enqueues
the scheduled jobs (server.platform.schedule); off for a box that keeps them in cron.
The workers of `worker` and `redis` schedule by themselves (`--no-schedule` to stop it).
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Response

from server.platform import jobs, keys
from server.platform.job_thread import JobThread
from server.platform.web import ENGINE

MODES = ("thread", "redis", "worker", "inline")
RUNNER = "towline.jobs"
DEFAULTS: dict[str, Any] = {
    "JOBS": "thread",
    "JOBS_REDIS_URL": "redis://127.0.0.1:6379/0",
    "JOBS_QUEUE": "towline",
    "JOBS_SCHEDULE": True,
}


def switched_on(value: object) -> bool:
    """A setting's yes/no, as an environment variable writes it too ("off", "0"…)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "off", "false", "no")
    return bool(value)


def context_for(app: Flask) -> jobs.Context:
    var_dir = Path(app.config["VAR_DIR"])
    loaded: list[Any] = []

    def server_key() -> Any:
        if not loaded:
            loaded.append(keys.server_key(var_dir))
        return loaded[0]

    return jobs.Context(app.extensions[ENGINE], server_key, app.config["CLOCK"])


def install(app: Flask) -> None:
    """Set up the configured way of doing jobs (nothing connects or starts yet)."""
    mode = str(app.config.get("JOBS") or "thread")
    if mode not in MODES:
        raise ValueError(f"JOBS must be one of {', '.join(MODES)}, not {mode!r}")
    context = context_for(app)
    engine = app.extensions[ENGINE]
    if mode == "thread":
        runner = JobThread(context, schedule=switched_on(app.config.get("JOBS_SCHEDULE", True)))
        app.extensions[RUNNER] = runner
        jobs.watch(engine, runner.kick)
        started = threading.Event()

        def start_once() -> None:
            if not started.is_set():
                started.set()
                runner.start()
                atexit.register(runner.stop, 5.0)

        app.before_request(start_once)
    elif mode == "redis":
        from server.platform import job_redis

        url, name = str(app.config["JOBS_REDIS_URL"]), str(app.config["JOBS_QUEUE"])
        jobs.watch(engine, lambda count: job_redis.kick(url, count, name))
    elif mode == "inline":
        asked = threading.local()
        jobs.watch(engine, lambda count: setattr(asked, "count", count))

        def do_them(response: Response) -> Response:
            if getattr(asked, "count", 0):
                asked.count = 0
                jobs.drain(context)
            return response

        app.after_request(do_them)


def runner(app: Flask) -> JobThread | None:
    """The app's worker thread (mode `thread`), to start and stop it with the server."""
    found: JobThread | None = app.extensions.get(RUNNER)
    return found
