"""`towline-simulate`: run the demo's simulated day against a running office server.

Exit codes: 0 done (or already done); 2 bad usage; 3 the server refused or could not be
reached; 4 a tablet's journal does not verify or still has entries to send.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from shared.errors import TowlineError
from shared.i18n import Text, choose_lang
from simulation import summary
from simulation.day import read_marker, resync, simulate_day, still_there, write_marker
from simulation.office import Office
from sync.errors import SyncError

EXIT_REFUSED = 3
EXIT_INTEGRITY = 4


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    default="http://127.0.0.1:5000",
    show_default=True,
    envvar="TOWLINE_SIMULATE_URL",
    help="The office server (or TOWLINE_SIMULATE_URL).",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/simulation"),
    show_default=True,
    help="Where the tablets' home folders and the day's marker (day.json) go.",
)
@click.option("--again", is_flag=True, help="Simulate a new day with new tablets.")
@click.option(
    "--sync",
    "sync_again",
    is_flag=True,
    help="Sync the day's tablets again (after the office resolved anomalies on the desk).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0, 600),
    default=0,
    help="Wait up to this many seconds for the server to answer first.",
)
@click.option(
    "--lang",
    type=click.Choice(["fr", "en"]),
    default=None,
    help="Language of the output (default: TOWLINE_LANG, then the locale, then French).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(
    url: str,
    folder: Path,
    again: bool,
    sync_again: bool,
    wait: float,
    lang: str | None,
    as_json: bool,
) -> None:
    """Simulate a day of the demo company: three tablets (Karim d1, Julie d2, Marc d3)
    enrol, sync, work offline — clean missions and mistakes the office must catch —,
    reconnect and sync; then print what happened and the anomalies the desk shows.

    Run once: a second run prints the summary and changes nothing (--again simulates a
    new day). The server must hold the demo tenant (towline-server demo).

    \b
    Example:
      towline-server run --port 5000 &
      towline-simulate --url http://127.0.0.1:5000 --wait 30
      towline-simulate --sync --lang en

    Exit codes: 0 done (or already done); 2 bad usage; 3 the server refused or could not
    be reached; 4 a tablet's journal does not verify or still has entries to send.
    """
    chosen = choose_lang(
        lang, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )

    def say(text: Text) -> None:
        if not as_json:
            click.echo(text(chosen), err=True)

    if again and sync_again:
        raise click.UsageError("--again ou --sync, pas les deux / --again or --sync, not both")
    office = Office(url, lang=chosen)
    try:
        if wait:
            office.wait(wait)
        marker = read_marker(folder)
        if marker is not None and not still_there(office, marker):
            say(
                Text(
                    "Le serveur ne connaît plus les tablettes de la journée enregistrée"
                    " (nouvelle base ?) : nouvelle journée.",
                    "The server no longer knows the recorded day's tablets (a new"
                    " database?): a new day.",
                )
            )
            marker, again = None, True
        applied = None
        if sync_again:
            if marker is None:
                raise click.UsageError(
                    "aucune journée simulée à resynchroniser / no simulated day to sync"
                )
            applied = resync(office, marker, chosen)
            write_marker(folder, marker)
            result, already = marker, True
        elif marker is not None and not again:
            result, already = marker, True
        else:
            result = simulate_day(
                office, folder, after=marker.day if marker else 0, lang=chosen, say=say
            )
            write_marker(folder, result)
            already = False
        open_kinds = summary.count_by_kind(office.open_anomalies())
    except (TowlineError, SyncError) as error:
        click.echo(error.message(chosen), err=True)
        sys.exit(EXIT_REFUSED)
    if as_json:
        body = summary.as_json(result, open_kinds, already=already, applied=applied)
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        click.echo(summary.render(result, open_kinds, chosen, already=already, applied=applied))
    if any(not t.verified or t.pending for t in result.tablets):
        sys.exit(EXIT_INTEGRITY)
