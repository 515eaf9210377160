"""`towline-server init-db`, `run` and `demo`: the database and the web service."""

from __future__ import annotations

from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option


@click.command("init-db")
@db_option
@lang_option
def init_db(database_url: str, lang: str | None) -> None:
    """Create the database schema, or upgrade it to this version (idempotent).

    \b
    Example:
      towline-server init-db --database postgresql://towline@127.0.0.1/towline

    Exit codes: 0 done.
    """
    from server.platform.db import upgrade

    engine = common.engine(database_url)
    upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    chosen = common.lang(lang)
    click.echo(f"Schéma à jour : {where}" if chosen == "fr" else f"Schema up to date: {where}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@db_option
@click.option("--debug", is_flag=True, help="Flask's reloader and debugger (never in production).")
def run(host: str, port: int, database_url: str, debug: bool) -> None:
    """Run the development server (production: gunicorn "server.app:create_app()"),
    with its worker thread for the jobs (documents' PDFs; each tenant's nightly imports,
    closing and reconciliation, docs/operations.md "Jobs"), stopped with it.

    \b
    Example:
      towline-server run --port 8080
    """
    import os
    import signal
    from pathlib import Path

    from server.app import create_app
    from server.cli.jobs import register_var_jobs
    from server.platform import job_runtime

    app = create_app({"DATABASE_URL": database_url})
    register_var_jobs(Path(app.config["VAR_DIR"]))  # its thread can do them too
    runner = job_runtime.runner(app)  # None unless JOBS is "thread" (the default)
    reloading = debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true"
    if runner is not None and not reloading:  # the reloader's parent serves nothing
        runner.start()

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # the same clean end as Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"Towline: http://{host}:{port}/api/v1/docs", err=True)
    try:
        app.run(host=host, port=port, debug=debug)
    except KeyboardInterrupt:
        pass
    finally:
        if runner is not None and not runner.stop(timeout=30):
            click.echo(
                "Le travail en cours reprendra au prochain démarrage. / "
                "The job under way resumes at the next start.",
                err=True,
            )


@click.command()
@db_option
@json_option
@lang_option
def demo(database_url: str, as_json: bool, lang: str | None) -> None:
    """Create the demo tenant (once) and print how to sign in and enrol tablets.

    Safe to run again: it keeps what exists and prints fresh enrolment codes.

    \b
    Example:
      towline-server demo --database sqlite:///var/towline.db
    """
    from server import demo as demo_data
    from server.platform.db import upgrade

    chosen = common.lang(lang)

    def work() -> Any:
        engine = common.engine(database_url)
        upgrade(engine)
        with engine.begin() as conn:
            return demo_data.seed(conn, common.now())

    made = common.run(chosen, work)
    data = {
        "tenant": made.tenant_id,
        "created": made.created,
        "users": [
            {"login": login, "role": role, "password": made.password} for login, role in made.users
        ],
        "drivers": [{"id": i, "name": n, "pin": p} for i, n, p in made.drivers],
        "enrolment_codes": made.codes,
    }
    fr = chosen == "fr"
    from server.cli.local_times import clock, zone_of

    zone = zone_of(common.engine(database_url), made.tenant_id)
    lines = [
        (
            f"Société de démonstration « {made.tenant_id} » "
            + ("créée." if made.created else "déjà présente.")
        )
        if fr
        else (
            f"Demo tenant '{made.tenant_id}' " + ("created." if made.created else "already there.")
        ),
        "",
        ("Utilisateurs du bureau (mot de passe : " if fr else "Office users (password: ")
        + f"{made.password}):",
        *(f"  {login:<8} {role}" for login, role in made.users),
        "",
        "Dépanneurs (PIN) :" if fr else "Drivers (PIN):",
        *(f"  {i}  {n:<8} {p}" for i, n, p in made.drivers),
        "",
        "Codes d'enrôlement des tablettes :" if fr else "Tablet enrolment codes:",
        *(
            f"  {c['code']}  {c['label']}  (→ {clock(c['expires_at'], zone, chosen)})"
            for c in made.codes
        ),
    ]
    common.emit(data, as_json, "\n".join(lines))


COMMANDS: list[click.Command] = [init_db, run, demo]
