"""`towline-server worker` and `towline-server jobs`: the work done after the request
(documents' PDFs) and the scheduled work (the nightly closing, imports and
reconciliation), by workers beside the web server (docs/operations.md "Jobs")."""

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


IMPORT_INBOX = "import_inbox"
IMPORT_AT = "0 2 * * *"  # on each tenant's clock, before the closing (02:30)


def register_inbox_imports(var_dir: Path) -> None:
    """The nightly import of the payment files waiting in `<var>/inbox/<tenant>/`, as
    `towline-server nightly` does: a job kind and its schedule, for the processes that
    start from the command line (`run`, `worker`); its code lives with the command."""
    from server.platform import jobs, schedule

    root = var_dir / "inbox"

    def import_inbox(context: Any, job: Any) -> None:
        from server.cli.payments import process_inbox

        # Each file in its own transaction, moved when done: running it again imports
        # nothing twice, so the job's end is marked after (by run_one).
        process_inbox(
            context.engine, str(job.tenant_id), root, actor="nightly", now=context.clock()
        )

    jobs.register(IMPORT_INBOX, import_inbox, max_attempts=3)
    schedule.declare(IMPORT_INBOX, IMPORT_AT)


ARCHIVE_CLOSED = "archive_closed"
ARCHIVE_AT = "0 4 * * *"  # after the closing (02:30): a month's archive the night it closes


def register_archives(var_dir: Path) -> None:
    """The archive of each closed month and year, written once into
    `<var>/archives/<tenant>/` (docs/archives.md "Made every month"): looked for every
    night, so a month whose closing or documents were late is archived the night after.
    Declared here, like the imports, because it writes into the server's `var/`."""
    from server.office import archive
    from server.platform import jobs, schedule
    from shared.errors import Refused

    root = var_dir / "archives"

    def archive_closed(context: Any, job: Any) -> None:
        # Read-only on the database; a written file is never written again, so running
        # it twice writes nothing twice and the job's end is marked after (by run_one).
        with context.engine.connect() as conn:
            try:
                archive.archive_closed(
                    conn,
                    str(job.tenant_id),
                    key=context.server_key(),
                    root=root,
                    now=context.clock(),
                )
            except Refused as refused:  # PDFs still rendering: tried again, then tomorrow
                raise RuntimeError(
                    f"{refused.message('fr')} / {refused.message('en')}"
                ) from refused

    jobs.register(ARCHIVE_CLOSED, archive_closed, max_attempts=3)
    schedule.declare(ARCHIVE_CLOSED, ARCHIVE_AT)


def register_var_jobs(var_dir: Path) -> None:
    """Every job kind that works in the server's `var/` (imports, archives)."""
    register_inbox_imports(var_dir)
    register_archives(var_dir)


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
    "--schedule/--no-schedule",
    "scheduling",
    default=True,
    show_default=True,
    help="Also enqueue the scheduled jobs when their time comes (the nightly closing, "
    "imports, reconciliation); --no-schedule when cron runs them.",
)
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
    scheduling: bool,
    poll: float,
) -> None:
    """Do the jobs the web server asks for (documents' PDFs) and the scheduled ones (each
    tenant's nightly imports 02:00, closing 02:30, reconciliation 03:30, archives of
    closed months 04:00, on its clock),
    until SIGTERM or Ctrl-C.

    Several workers, on one machine or many, share the work: each job is leased to one,
    and each scheduled slot is enqueued once whatever the number of workers; a slot
    missed while no worker ran is done once at the start. A worker stopped mid-job leaves
    it to another once its lease ends (5 minutes; 30 for closings and reconciliations).

    \b
    Examples:
      towline-server worker                                  # beside gunicorn, one box
      towline-server worker --redis redis://127.0.0.1:6379/0 # workers of a Redis queue
      towline-server worker --no-schedule                    # cron runs the nightly work

    Exit codes: 0 stopped.
    """
    from server.platform import jobs, schedule

    context = _context(database_url, var_dir)
    register_var_jobs(var_dir)
    if redis_url:
        from server.platform import job_redis

        job_redis.serve(context, redis_url, name=queue_name, burst=burst, schedule=scheduling)
        return
    if burst:
        if scheduling:
            schedule.Scheduler().tick(context.engine, context.clock())
        done = jobs.drain(context)
        click.echo(f"{done} job(s) done", err=True)
        return
    from server.platform.job_thread import JobThread

    runner = JobThread(context, poll=poll, schedule=scheduling)

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
