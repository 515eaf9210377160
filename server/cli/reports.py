"""`towline-server report parties|drivers`: the manager's numbers on the command line
(docs/reports.md), printed, as JSON, or written as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import EXIT_INPUT, db_option, json_option, lang_option


def period_from_options(
    month: str | None, start: str | None, end: str | None, chosen: str
) -> tuple[date, date]:
    from server.api.reports import month_bounds

    try:
        if month and not (start or end):
            return month_bounds(month)
        if start and end and not month:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
            if first <= last and first.year >= 2000 and last.year <= 2099:
                return first, last
    except ValueError:
        pass
    click.echo(
        "Indiquez --month AAAA-MM, ou --from et --to (AAAA-MM-JJ, dans l'ordre)."
        if chosen == "fr"
        else "Give --month YYYY-MM, or --from and --to (YYYY-MM-DD, in order).",
        err=True,
    )
    raise SystemExit(EXIT_INPUT)


def _options(command: Any) -> Any:
    for option in reversed(
        [
            click.argument("tenant_id", metavar="TENANT"),
            click.option("--month", default=None, help="YYYY-MM."),
            click.option("--from", "start", default=None, help="First day, YYYY-MM-DD."),
            click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD."),
            click.option(
                "--csv",
                "csv_path",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="Write the table as CSV (UTF-8, ;) to this file.",
            ),
            db_option,
            json_option,
            lang_option,
        ]
    ):
        command = option(command)
    return command


def _write(rows: list[list[str]], path: Path) -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8"))


@click.group("report")
def report() -> None:
    """The manager's numbers, per ordering party and per driver.

    \b
    Example:
      towline-server report parties demo --month 2026-03
    """


@report.command("parties")
@_options
def parties(
    tenant_id: str,
    month: str | None,
    start: str | None,
    end: str | None,
    csv_path: Path | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Per ordering party: missions, revenue excl. VAT, paid by the party and by the
    beneficiaries, credit notes, days to pay, still owed.

    \b
    Example:
      towline-server report parties demo --month 2026-03 --csv parties-2026-03.csv

    Exit codes: 0 done; 2 no period or a bad one; 3 unknown tenant.
    """
    from server.parties import party_report

    chosen = common.lang(lang)
    first, last = period_from_options(month, start, end, chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return party_report.report(conn, tenant_id, first, last)

    found = common.run(chosen, work)
    rows = party_report.csv_rows(found, chosen)
    if csv_path is not None:
        _write(rows, csv_path)
    common.emit(found, as_json, _table(rows, [0, 2, 3, 6, 7, 8, 11, 12]))


@report.command("drivers")
@_options
def drivers(
    tenant_id: str,
    month: str | None,
    start: str | None,
    end: str | None,
    csv_path: Path | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Per driver: missions, collected per method, register variances, anomalies.

    \b
    Example:
      towline-server report drivers demo --from 2026-03-01 --to 2026-03-15

    Exit codes: 0 done; 2 no period or a bad one; 3 unknown tenant.
    """
    from server.office import driver_report

    chosen = common.lang(lang)
    first, last = period_from_options(month, start, end, chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return driver_report.report(conn, tenant_id, first, last)

    found = common.run(chosen, work)
    rows = driver_report.csv_rows(found)
    if csv_path is not None:
        _write(rows, csv_path)
    common.emit(found, as_json, _table(rows, list(range(len(rows[0])))))


def _table(rows: list[list[str]], columns: list[int]) -> str:
    picked = [[row[i] for i in columns] for row in rows]
    widths = [max(len(r[i]) for r in picked) for i in range(len(columns))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in picked
    )


COMMANDS = [report]
