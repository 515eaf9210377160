"""`towline-server export fec|sales-journal` and `towline-server accounts`: the
accountant's files and the tenant's chart of accounts (docs/accounting.md)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import EXIT_INPUT, db_option, json_option, lang_option


def _period(
    conn: Any, tenant_id: str, year: int | None, start: str | None, end: str | None, chosen: str
) -> tuple[date, date]:
    from server.office import fec

    if (year is None) == (start is None and end is None) or (year is None and not (start and end)):
        click.echo(
            "Indiquez soit --year, soit --from et --to."
            if chosen == "fr"
            else "Give either --year, or both --from and --to.",
            err=True,
        )
        raise SystemExit(EXIT_INPUT)
    if year is not None:
        if not 2000 <= year <= 2099:
            click.echo(
                "--year : de 2000 à 2099." if chosen == "fr" else "--year: 2000 to 2099.", err=True
            )
            raise SystemExit(EXIT_INPUT)
        return fec.year_bounds(conn, tenant_id, year)
    try:
        first, last = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    except ValueError:
        click.echo(
            "--from et --to : des dates AAAA-MM-JJ."
            if chosen == "fr"
            else "--from and --to: YYYY-MM-DD dates.",
            err=True,
        )
        raise SystemExit(EXIT_INPUT) from None
    if first > last or first.year < 2000 or last.year > 2099:
        click.echo(
            "--from doit précéder --to, de 2000 à 2099."
            if chosen == "fr"
            else "--from must come before --to, from 2000 to 2099.",
            err=True,
        )
        raise SystemExit(EXIT_INPUT)
    return first, last


period_options = [
    click.option("--year", type=int, default=None, help="The fiscal year closing in YEAR."),
    click.option("--from", "start", default=None, help="First day, YYYY-MM-DD."),
    click.option("--to", "end", default=None, help="Last day (the closing date), YYYY-MM-DD."),
]


def _with_period(command: Any) -> Any:
    for option in reversed(period_options):
        command = option(command)
    return command


@click.group("export")
def export() -> None:
    """The accountant's files: the FEC and the sales journal.

    \b
    Example:
      towline-server export fec demo --year 2026 --out exports/
    """


@export.command("fec")
@click.argument("tenant_id", metavar="TENANT")
@_with_period
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="The folder to write it in (its name is the one the administration expects).",
)
@db_option
@json_option
@lang_option
def export_fec(
    tenant_id: str,
    year: int | None,
    start: str | None,
    end: str | None,
    out: Path,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Write the FEC (fichier des écritures comptables, art. A47 A-1 LPF) of a fiscal
    year or a period: SIREN + FEC + closing date + .txt, tab-separated, ISO 8859-15.

    \b
    Example:
      towline-server export fec demo --year 2026
      towline-server export fec demo --from 2026-03-01 --to 2026-03-31 --out exports/

    Exit codes: 0 written; 2 no period or a bad one; 3 unknown tenant, or no seller
    identity (its SIREN names the file).
    """
    from server.office import fec

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            first, last = _period(conn, tenant_id, year, start, end, chosen)
            return fec.build(conn, tenant_id, first, last)

    made = common.run(chosen, work)
    out.mkdir(parents=True, exist_ok=True)
    path = out / made.name
    path.write_bytes(made.content)
    data = {**fec.summary(made), "path": str(path)}
    human = (
        f"{path} : {made.entries} écritures, {made.lines} lignes, débit = crédit = {data['debit']}"
        if chosen == "fr"
        else f"{path}: {made.entries} entries, {made.lines} lines, debit = credit = {data['debit']}"
    )
    common.emit(data, as_json, human)


@export.command("sales-journal")
@click.argument("tenant_id", metavar="TENANT")
@_with_period
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="The folder to write it in.",
)
@db_option
@lang_option
def export_sales_journal(
    tenant_id: str,
    year: int | None,
    start: str | None,
    end: str | None,
    out: Path,
    database_url: str,
    lang: str | None,
) -> None:
    """Write the sales journal CSV of a period (one line per document and VAT rate,
    credit notes negative; UTF-8, `;`).

    \b
    Example:
      towline-server export sales-journal demo --from 2026-03-01 --to 2026-03-31

    Exit codes: 0 written; 2 no period or a bad one; 3 unknown tenant.
    """
    from server.office import sales_journal

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            first, last = _period(conn, tenant_id, year, start, end, chosen)
            return sales_journal.file_name(tenant_id, first, last), sales_journal.build(
                conn, tenant_id, first, last
            )

    name, data = common.run(chosen, work)
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)
    click.echo(str(out / name))


@click.command("accounts")
@click.argument("tenant_id", metavar="TENANT")
@click.option(
    "--set",
    "document",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A JSON file with the new chart (else: show it).",
)
@click.option("--by", "actor", default="cli", help="Who sets it (audit log).")
@db_option
@lang_option
def accounts_command(
    tenant_id: str, document: Path | None, actor: str, database_url: str, lang: str | None
) -> None:
    """Show, or --set, the tenant's chart of accounts (French defaults until set).

    \b
    Example:
      towline-server accounts demo
      towline-server accounts demo --set plan.json
      (plan.json: {"revenue": "706100", "vat": {"20": "44571200"}, "journals": {"sales": "VT"}})

    Exit codes: 0 done; 2 unreadable or invalid chart (every problem listed); 3 unknown
    tenant.
    """
    from server.office import accounts
    from shared.i18n import Text

    chosen = common.lang(lang)

    def work() -> Any:
        data = None
        if document is not None:
            data = common.read(document, Text("Plan comptable", "Chart of accounts"))
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if data is None:
                return accounts.to_wire(accounts.current(conn, tenant_id))
            return accounts.to_wire(
                accounts.set_chart(conn, tenant_id, data, actor=actor, now=common.now())
            )

    found = common.run(chosen, work)
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))


COMMANDS = [export, accounts_command]
