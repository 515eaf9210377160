"""`towline-server worker` and `towline-server jobs`: the work done after the request
(documents' PDFs), by workers beside the web server (docs/operations.md "Jobs")."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option, var_option

redis_option = click.option(
    "--redis",
    "redis_url",
    envvar="TOWLINE_JOBS_REDIS_URL",
    default=None,
    help="Work for a Redis queue (RQ) at this URL, e.g. redis://127.0.0.1:6379/0 (or "
    "TOWLINE_JOBS_REDIS_URL); without it, poll the database's jobs table.",
)


def _context(database_url: str, var_dir: Path) -> Any:
    from server.platform import jobs, keys

    loaded: list[Any] = []

    def server_key() -> Any:
        if not loaded:
            loaded.append(keys.server_key(var_dir))
        return loaded[0]

    return jobs.Context(common.engine(database_url), server_key, common.now)


@click.command()
@db_option
@var_option
@redis_option
@click.option(
    "--queue",
    "queue_name",
    envvar="TOWLINE_JOBS_QUEUE",
    default="towline",
    show_default=True,
    help="The Redis queue's name (as the app's JOBS_QUEUE).",
)
@click.option("--burst", is_flag=True, help="Do what is due, then exit.")
@click.option(
    "--poll",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 60),
    help="Seconds between looks at the table when idle (without --redis).",
)
def worker(
    database_url: str,
    var_dir: Path,
    redis_url: str | None,
    queue_name: str,
    burst: bool,
    poll: float,
) -> None:
    """Do the jobs the web server asks for (documents' PDFs), until SIGTERM or Ctrl-C.

    Several workers, on one machine or many, share the work: each job is leased to one.
    A worker stopped mid-job leaves it to another once its lease ends (5 minutes).

    \b
    Examples:
      towline-server worker                                  # beside gunicorn, one box
      towline-server worker --redis redis://127.0.0.1:6379/0 # workers of a Redis queue

    Exit codes: 0 stopped.
    """
    from server.platform import jobs

    context = _context(database_url, var_dir)
    if redis_url:
        from server.platform import job_redis

        job_redis.serve(context, redis_url, name=queue_name, burst=burst)
        return
    if burst:
        done = jobs.drain(context)
        click.echo(f"{done} job(s) done", err=True)
        return
    from server.platform.job_thread import JobThread

    runner = JobThread(context, poll=poll)

    def stop(_signum: int, _frame: Any) -> None:
        runner.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("Towline worker: waiting for jobs (database)", err=True)
    runner.loop()


@click.command("jobs")
@db_option
@json_option
@lang_option
def jobs_status(database_url: str, as_json: bool, lang: str | None) -> None:
    """How many jobs wait, run, are done or failed; the failed ones with their error.

    \b
    Example:
      towline-server jobs --json

    Exit codes: 0 shown.
    """
    import sqlalchemy as sa

    from server.platform import jobs
    from server.platform.db import reading
    from server.platform.tables import jobs as table

    chosen = common.lang(lang)
    with reading(common.engine(database_url)).connect() as conn:
        counts = jobs.counts(conn)
        failed = [
            {
                "id": r.id,
                "kind": r.kind,
                "key": r.key,
                "attempts": r.attempts,
                "error": r.last_error,
            }
            for r in conn.execute(
                sa.select(table).where(table.c.state == jobs.FAILED).order_by(table.c.id).limit(50)
            )
        ]
    names = {
        "fr": {
            "pending": "en attente",
            "running": "en cours",
            "done": "faits",
            "failed": "échoués",
        },
        "en": {"pending": "pending", "running": "running", "done": "done", "failed": "failed"},
    }[chosen]
    lines = [f"{names[state]:<12} {count}" for state, count in counts.items()]
    lines += [
        f"  #{f['id']} {f['kind']} {f['key']} ({f['attempts']}): {f['error']}" for f in failed
    ]
    common.emit({"counts": counts, "failed": failed}, as_json, "\n".join(lines))


COMMANDS: list[click.Command] = [worker, jobs_status]
