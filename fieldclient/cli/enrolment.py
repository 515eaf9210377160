"""`towline-field enroll`, `login`, `logout` and `sync`: the tablet and the office."""

from __future__ import annotations

import os
import time

import click

from fieldclient.cli.common import (
    Env,
    command,
)
from shared.i18n import Text
from sync.errors import ServerUnreachable

COMMANDS: list[click.Command] = []


@command(COMMANDS)
@click.argument("server_url")
@click.argument("code")
@click.option("--label", default="", help="A name for this tablet, e.g. 'Camion 3'.")
def enroll(env: Env, server_url: str, code: str, label: str) -> None:
    """Enrol this tablet with the one-time CODE the office gave (needs the network).

    \b
    Example:
      towline-field enroll http://192.168.1.10:5000 CBNN-H31W-RGDB --label "Camion 3"
    """
    from fieldclient import syncing  # the network stack, only for the commands that use it

    answer = syncing.enroll(env.tablet, server_url, code, label=label)
    env.out(
        answer,
        env.t(
            f"Tablette enrôlée : {answer['device_id']} (société {answer['tenant_id']}).\n"
            f"Chauffeurs : {', '.join(answer['drivers'])}. Connectez-vous : "
            "towline-field login IDENTIFIANT",
            f"Tablet enrolled: {answer['device_id']} (company {answer['tenant_id']}).\n"
            f"Drivers: {', '.join(answer['drivers'])}. Sign in: towline-field login ID",
        ),
    )


@command(COMMANDS)
@click.argument("driver")
@click.option(
    "--pin",
    prompt="PIN",
    hide_input=True,
    help="Asked for when not given (never type it on a shared command line).",
)
def login(env: Env, driver: str, pin: str) -> None:
    """Sign DRIVER in on this tablet with their PIN (works offline).

    Every entry recorded afterwards names this driver, until `logout`.

    \b
    Example:
      towline-field login d1
    """
    who = env.tablet.login(driver, pin)
    env.out(
        {"driver": who.id, "name": who.name, "rights": sorted(who.rights)},
        env.t(f"Bonjour {who.name}.", f"Hello {who.name}."),
    )


@command(COMMANDS)
def logout(env: Env) -> None:
    """Sign the current driver out.

    \b
    Example:
      towline-field logout
    """
    who = env.tablet.logout()
    env.out({"driver": who}, env.t("Déconnecté.", "Signed out."))


@command(COMMANDS, "sync")
def sync_command(env: Env) -> None:
    """Send what the tablet recorded, then receive missions, contracts and the office's
    decisions (needs the network). Safe to interrupt and run again.

    \b
    Example:
      towline-field sync
    """
    from fieldclient import syncing  # the network stack, only for the commands that use it

    tablet = env.tablet
    tablet._require_enrolled()
    started = time.monotonic()
    last = [started]

    def progress(text: str) -> None:
        now = time.monotonic()
        if not env.as_json and now - last[0] >= 0.5:  # only long transfers show progress
            last[0] = now
            click.echo(f"… {text}", err=True)

    retries = os.environ.get("TOWLINE_SYNC_RETRIES", "")
    options = {"retries": int(retries)} if retries.isdigit() else {}
    client = syncing.new_client(tablet, lang=env.lang, **options)
    try:
        report = syncing.sync(tablet, client, progress=progress)
    except ServerUnreachable as error:
        waiting = tablet.pending_count()
        raise ServerUnreachable(
            Text(
                f"{error.message('fr')} {waiting} entrée(s) en attente d'envoi.",
                f"{error.message('en')} {waiting} entr(y/ies) waiting to be sent.",
            )
        ) from None
    body = {
        "pushed": report.pushed,
        "pending": tablet.pending_count(),
        "acknowledged_seq": report.acknowledged_seq,
        "changes": report.changes,
        "decisions": report.decisions,
        "cursor": report.cursor,
        "warnings": report.warnings,
    }
    text = env.t(
        f"Synchronisé : {body['pushed']} entrée(s) envoyée(s), {report.changes} changement(s)"
        f" reçu(s), {report.decisions} décision(s) du bureau appliquée(s).",
        f"Synced: {body['pushed']} entr(y/ies) sent, {report.changes} change(s) received,"
        f" {report.decisions} office decision(s) applied.",
    )
    env.out(body, "\n".join([text, *report.warnings]))
