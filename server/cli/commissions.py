"""`towline-server commissions rules|report|statement`: commissions per person, as
versioned rules, a report line by line and a monthly statement PDF
(docs/commissions.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option
from server.cli.reports import period_from_options

COLUMNS = [
    "person", "kind", "day", "mission_id", "document", "code", "base", "rate", "commission",
    "rules_version",
]  # fmt: skip


@click.group("commissions")
def commissions_group() -> None:
    """Commissions per person: rules, the report line by line, a monthly statement.

    \b
    Example:
      towline-server commissions report demo --month 2026-03
    """


@commissions_group.command("rules")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("person")
@click.option(
    "--set",
    "document",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A JSON file with the person's new rules (else: show them).",
)
@click.option("--by", "actor", default="cli", help="Who sets them (audit log).")
@db_option
@lang_option
def rules(
    tenant_id: str,
    person: str,
    document: Path | None,
    actor: str,
    database_url: str,
    lang: str | None,
) -> None:
    """Show, or --set (a new version), the commission rules of PERSON: a driver
    (paid on the missions driven) or an office user (on the missions taken), by id.

    \b
    Example:
      towline-server commissions rules demo d1 --set karim.json
      (karim.json: {"percent": {"TOW": "10", "*": "5"}, "per_mission": "5.00",
                    "tiers": [{"from": "3000.00", "percent": "1"}]})

    Exit codes: 0 done; 2 unreadable or invalid rules (every problem listed); 3 unknown
    tenant or driver.
    """
    from server.office import commissions
    from shared.i18n import Text

    chosen = common.lang(lang)

    def work() -> Any:
        data = None
        if document is not None:
            data = common.read(document, Text("Règles de commission", "Commission rules"))
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if data is None:
                return commissions.rules_of(conn, tenant_id, person)
            return commissions.set_rules(
                conn, tenant_id, person, data, actor=actor, now=common.now()
            )

    click.echo(json.dumps(common.run(chosen, work), ensure_ascii=False, indent=2))


@commissions_group.command("report")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--month", default=None, help="YYYY-MM.")
@click.option("--from", "start", default=None, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD.")
@click.option("--person", default=None, help="One person (a driver's or an office user's id).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the lines as CSV (UTF-8, ;) to this file.",
)
@db_option
@json_option
@lang_option
def report(
    tenant_id: str,
    month: str | None,
    start: str | None,
    end: str | None,
    person: str | None,
    csv_path: Path | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Every commission line of the period: mission, day, document, base, rate,
    commission; then the total per person.

    \b
    Example:
      towline-server commissions report demo --month 2026-03 --person d1

    Exit codes: 0 done; 2 no period or a bad one; 3 unknown tenant or driver.
    """
    from server.office import commissions

    chosen = common.lang(lang)
    first, last = period_from_options(month, start, end, chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return commissions.report(conn, tenant_id, first, last, person=person)

    found = common.run(chosen, work)
    if csv_path is not None:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for line in found["lines"]:
            writer.writerow(["" if line[k] is None else line[k] for k in COLUMNS])
        csv_path.write_bytes(out.getvalue().encode("utf-8"))
    lines = [
        f"{x['person']:<8} {x['day']} {x['kind']:<12} {x['document'] or '':<14} "
        f"{x['code'] or '':<14} {x['base']:>10} {x['rate']:>6} {x['commission']:>9}"
        for x in found["lines"]
    ]
    lines += [f"{p['person']:<8} {p['name']:<24} {p['commission']:>10}" for p in found["people"]]
    lines.append(f"Total {found['total']}")
    common.emit(found, as_json, "\n".join(lines))


@commissions_group.command("statement")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("person")
@click.option("--month", required=True, help="YYYY-MM.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="The folder to write the PDF in.",
)
@click.option("--letter-lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@db_option
@lang_option
def statement(
    tenant_id: str,
    person: str,
    month: str,
    out: Path,
    letter_lang: str,
    database_url: str,
    lang: str | None,
) -> None:
    """Write PERSON's commission statement for the month as a PDF.

    \b
    Example:
      towline-server commissions statement demo d1 --month 2026-03 --out releves/

    Exit codes: 0 written; 2 a bad month; 3 unknown tenant or driver.
    """
    from server.office import commissions

    chosen = common.lang(lang)
    first, last = period_from_options(month, None, None, chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return commissions.statement(
                conn, tenant_id, person, first, last, lang=letter_lang, now=common.now()
            )

    name, pdf = common.run(chosen, work)
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(pdf)
    click.echo(str(out / name))


@commissions_group.command("agents")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--add", "agent_id", default=None, help="Add an agent with this id (else: list).")
@click.option("--name", default=None, help="The agent's name (with --add).")
@click.option("--by", "actor", default="cli", help="Who adds them (audit log).")
@db_option
@json_option
@lang_option
def agents_command(
    tenant_id: str,
    agent_id: str | None,
    name: str | None,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """List the register of agents (people paid on results for the missions they bring,
    not necessarily users), or --add one. Name an agent on a phone call or in an API
    order's `agent`; set their rules with `commissions rules TENANT ID`.

    \b
    Example:
      towline-server commissions agents demo --add paolo --name "Paolo Rossi" --by gerant

    Exit codes: 0 done; 2 bad id or name; 3 unknown tenant, an id already a person's.
    """
    from server.office import agents

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if agent_id is None:
                return agents.listed(conn, tenant_id)
            return agents.add(conn, tenant_id, agent_id, name, actor=actor, now=common.now())

    found = common.run(chosen, work)
    if isinstance(found, dict):
        text = (
            f"Apporteur {found['id']} ajouté : {found['name']}."
            if chosen == "fr"
            else f"Agent {found['id']} added: {found['name']}."
        )
    else:
        text = "\n".join(f"{a['id']}\t{a['name']}" for a in found) or (
            "Aucun apporteur." if chosen == "fr" else "No agents."
        )
    common.emit(found, as_json, text)


COMMANDS = [commissions_group]
