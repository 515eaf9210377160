"""`towline-server report parties|drivers`: the manager's numbers on the command line
(docs/reports.md), printed, as JSON, or written as CSV or PDF."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
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
            click.option(
                "--pdf",
                "pdf_path",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="Write the table as a PDF (in --lang) to this file.",
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


@dataclass(frozen=True)
class Period:
    """What every period report asks for: whose, when, where, in which language."""

    tenant_id: str
    month: str | None
    start: str | None
    end: str | None
    database_url: str
    lang: str | None


@dataclass(frozen=True)
class Outputs:
    csv_path: Path | None
    pdf_path: Path | None
    as_json: bool


def _print_report(
    period: Period,
    outputs: Outputs,
    *,
    build: Callable[[Any, str, date, date], Any],
    rows_of: Callable[[Any, str], list[list[str]]],
    pdf: Callable[..., bytes],
    columns: Callable[[list[list[str]]], list[int]],
) -> None:
    """One period report: read it, write the CSV and the PDF asked for, print a table
    (or the JSON). The three reports differ only in the functions passed."""
    from server.office.seller import get_seller

    chosen = common.lang(period.lang)
    first, last = period_from_options(period.month, period.start, period.end, chosen)

    def work() -> Any:
        with common.engine(period.database_url).connect() as conn:
            common.require_tenant(conn, period.tenant_id)
            found = build(conn, period.tenant_id, first, last)
            return found, get_seller(conn, period.tenant_id)

    found, seller = common.run(chosen, work)
    rows = rows_of(found, chosen)
    if outputs.csv_path is not None:
        _write(rows, outputs.csv_path)
    if outputs.pdf_path is not None:
        made = pdf(found, seller=seller, lang=chosen, made_at=common.now())
        outputs.pdf_path.write_bytes(made)
    common.emit(found, outputs.as_json, _table(rows, columns(rows)))


@click.group("report")
def report() -> None:
    """The manager's numbers: per ordering party, per driver, profitability.

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
    pdf_path: Path | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Per ordering party: missions, revenue excl. VAT, what caps and deductibles
    shifted to beneficiaries, paid by the party and by the beneficiaries, credit notes,
    days to pay, still owed.

    \b
    Example:
      towline-server report parties demo --month 2026-03 --csv parties-2026-03.csv
      towline-server report parties demo --month 2026-03 --pdf parties.pdf --lang en

    Exit codes: 0 done; 2 no period or a bad one; 3 unknown tenant.
    """
    from server.office import report_render
    from server.parties import party_report

    _print_report(
        Period(tenant_id, month, start, end, database_url, lang),
        Outputs(csv_path, pdf_path, as_json),
        build=party_report.report,
        rows_of=party_report.csv_rows,
        pdf=report_render.parties_pdf,
        columns=lambda _rows: [0, 2, 3, 5, 8, 9, 12, 13],
    )


@report.command("drivers")
@_options
def drivers(
    tenant_id: str,
    month: str | None,
    start: str | None,
    end: str | None,
    csv_path: Path | None,
    pdf_path: Path | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Per driver: missions, collected per method, register variances, anomalies.

    \b
    Example:
      towline-server report drivers demo --from 2026-03-01 --to 2026-03-15
      towline-server report drivers demo --month 2026-03 --pdf drivers.pdf

    Exit codes: 0 done; 2 no period or a bad one; 3 unknown tenant.
    """
    from server.office import driver_report, report_render

    _print_report(
        Period(tenant_id, month, start, end, database_url, lang),
        Outputs(csv_path, pdf_path, as_json),
        build=driver_report.report,
        rows_of=lambda found, _lang: driver_report.csv_rows(found),
        pdf=report_render.drivers_pdf,
        columns=lambda rows: list(range(len(rows[0]))),
    )


@report.command("profitability")
@_options
def profitability_command(
    tenant_id: str,
    month: str | None,
    start: str | None,
    end: str | None,
    csv_path: Path | None,
    pdf_path: Path | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Per ordering party: revenue excl. VAT against commissions, items at cost and the
    cost per km (set with `report costs`), and the margin.

    \b
    Example:
      towline-server report profitability demo --month 2026-03 --pdf rentabilite.pdf

    Exit codes: 0 done; 2 no period or a bad one; 3 unknown tenant.
    """
    from server.office import report_render
    from server.parties import profitability

    _print_report(
        Period(tenant_id, month, start, end, database_url, lang),
        Outputs(csv_path, pdf_path, as_json),
        build=profitability.report,
        rows_of=profitability.csv_rows,
        pdf=report_render.profitability_pdf,
        columns=lambda _rows: [0, 2, 3, 6, 7, 8, 9, 10, 11],
    )


@report.command("costs")
@click.argument("tenant_id", metavar="TENANT")
@click.option(
    "--set",
    "document",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A JSON file with the new costs per km (else: show those in force).",
)
@click.option("--by", "actor", default="cli", help="Who sets them (audit log).")
@db_option
@lang_option
def costs_command(
    tenant_id: str, document: Path | None, actor: str, database_url: str, lang: str | None
) -> None:
    """Show, or --set (a new version), the tenant's cost per km per vehicle class.

    \b
    Example:
      towline-server report costs demo --set costs.json
      (costs.json: {"per_km": {"VL": "0.45", "PL": "1.20", "*": "0.60"}})

    Exit codes: 0 done; 2 unreadable or invalid costs (every problem listed); 3 unknown
    tenant.
    """
    from server.office import cost_settings
    from shared.i18n import Text

    chosen = common.lang(lang)

    def work() -> Any:
        data = None
        if document is not None:
            data = common.read(document, Text("Coûts au km", "Costs per km"))
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if data is None:
                return cost_settings.current(conn, tenant_id)
            return cost_settings.set_costs(conn, tenant_id, data, actor=actor, now=common.now())

    click.echo(json.dumps(common.run(chosen, work), ensure_ascii=False, indent=2))


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
