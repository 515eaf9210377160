"""`towline-server payments …`, `receivables` and `nightly`: payments back from ordering
parties, what they still owe, and the unattended import of the payment files waiting in
the inbox (the same functions as the API; docs/claims-and-payments.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import EXIT_INPUT, EXIT_REFUSED, db_option, json_option, lang_option

# The inbox: <root>/<tenant>/<folder>/*.csv, each folder one source.
FOLDERS = {"advices": "advice", "bank": "bank"}
DONE, REFUSED = "done", "refused"


# --- payments back -------------------------------------------------------------------------


@click.group("payments")
def payments_group() -> None:
    """Payments back: payment advices and bank lines matched to claims.

    \b
    Example:
      towline-server payments import demo avis-ima-0312.csv --source advice
      towline-server payments mismatches demo
    """


def _summary_text(done: dict[str, Any], lang: str) -> str:
    if lang == "fr":
        head = (
            f"{done['file_name']} : {done['lines']} ligne(s), {done['matched']} rapprochée(s),"
            f" {done['amount_differs']} montant(s) différent(s), {done['unknown_reference']}"
            f" référence(s) inconnue(s), {done['already_paid']} déjà payée(s)"
            f" ; {done['applied']} affectés aux demandes."
        )
    else:
        head = (
            f"{done['file_name']}: {done['lines']} line(s), {done['matched']} matched,"
            f" {done['amount_differs']} amount(s) differ, {done['unknown_reference']}"
            f" unknown reference(s), {done['already_paid']} already paid"
            f"; {done['applied']} applied to claims."
        )
    rows = [
        f"  {m['line_no']:>5}  {m['outcome']:<18} {m['reference'] or '—':<20} {m['amount']:>10}"
        f"  {m['invoice_number'] or ''}"
        for m in done["mismatches"]
    ]
    return "\n".join([head, *rows])


@payments_group.command("import")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--source",
    type=click.Choice(["advice", "bank"]),
    required=True,
    help="advice: reference;amount;date[;party] — bank: date;label;amount.",
)
@click.option("--by", "actor", default="cli", help="Who imports it (audit log).")
@db_option
@json_option
@lang_option
def import_payments(
    tenant_id: str,
    path: Path,
    source: str,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Import a CSV of payment advices or bank lines and match each line to a claim.

    \b
    Example:
      towline-server payments import demo releve-2026-03.csv --source bank

    Exit codes: 0 imported (mismatches listed, not an error); 2 unreadable file (every bad
    line named, nothing imported); 3 unknown tenant, or the file was already imported.
    """
    from server.parties import payments as payments_in

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return payments_in.import_file(
                conn, tenant_id, source, path.name, path.read_bytes(), actor=actor, now=common.now()
            )

    done = common.run(chosen, work)
    common.emit(done, as_json, _summary_text(done, chosen))


@payments_group.command("mismatches")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--party", "party_id", default=None, help="One ordering party.")
@db_option
@json_option
@lang_option
def list_mismatches(
    tenant_id: str, party_id: str | None, database_url: str, as_json: bool, lang: str | None
) -> None:
    """Imported payment lines that did not simply pay their claim.

    \b
    Example:
      towline-server payments mismatches demo --party ASSIST-A

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.parties import payments as payments_in

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return payments_in.mismatches(conn, tenant_id, party_id=party_id)

    rows = common.run(chosen, work)
    lines = [
        f"{m['paid_on']}  {m['file_name']}:{m['line_no']:<5} {m['outcome']:<18}"
        f" {m['reference'] or '—':<20} {m['amount']:>10}  {m['invoice_number'] or ''}"
        + (f" ({m['claim']['status']}, {m['claim']['open']})" if m["claim"] else "")
        for m in rows
    ]
    empty = "Aucun écart." if chosen == "fr" else "No mismatches."
    common.emit(rows, as_json, "\n".join(lines) or empty)


# --- receivables ---------------------------------------------------------------------------


@click.command("receivables")
@click.argument("tenant_id", metavar="TENANT")
@click.option(
    "--at",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to age at, YYYY-MM-DD (default: today).",
)
@click.option("--party", "party_id", default=None, help="One ordering party.")
@db_option
@json_option
@lang_option
def receivables_command(
    tenant_id: str,
    at: datetime | None,
    party_id: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """What each ordering party still owes, by age: 0–30, 31–60, 61–90, over 90 days.

    \b
    Example:
      towline-server receivables demo --at 2026-03-31

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.parties import receivables

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            day = at.date() if at else receivables.local_today(conn, tenant_id, common.now())
            return receivables.receivables(conn, tenant_id, day, party_id=party_id)

    data = common.run(chosen, work)
    names = [name for name, _, _ in receivables.BUCKETS]
    head = f"{'':<24}" + "".join(f"{n:>12}" for n in names) + f"{'total':>12}"
    rows = [
        f"{p['party_id']:<24}"
        + "".join(f"{p['buckets'][n]:>12}" for n in names)
        + f"{p['total']:>12}"
        for p in data["parties"]
    ]
    rows.append(
        f"{'Total':<24}"
        + "".join(f"{data['totals']['buckets'][n]:>12}" for n in names)
        + f"{data['totals']['total']:>12}"
    )
    title = f"Créances au {data['at']}" if chosen == "fr" else f"Receivables at {data['at']}"
    common.emit(data, as_json, "\n".join([title, head, *rows]))


# --- the nightly run -----------------------------------------------------------------------


@dataclass
class FileResult:
    tenant_id: str
    folder: str
    file: str
    outcome: str  # imported | already_imported | unreadable | refused
    moved_to: str | None = None
    summary: dict[str, Any] | None = None
    message: dict[str, str] = field(default_factory=dict)  # {"fr", "en"}


def _free_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem-2.csv`… when taken: nothing is ever overwritten."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while target.exists() or target.with_name(target.name + ".why.txt").exists():
        target = folder / f"{stem}-{number}{suffix}"
        number += 1
    return target


def _move(path: Path, where: str, why: str | None = None) -> Path:
    folder = path.parent / where
    folder.mkdir(exist_ok=True)
    target = _free_path(folder, path.name)
    path.rename(target)
    if why is not None:
        target.with_name(target.name + ".why.txt").write_text(why, encoding="utf-8")
    return target


def inbox_files(root: Path, tenant_id: str) -> list[tuple[str, Path]]:
    """(source, path) of every CSV waiting in the tenant's inbox, in name order."""
    found = []
    for folder, source in FOLDERS.items():
        where = root / tenant_id / folder
        if where.is_dir():
            found += [
                (source, p)
                for p in sorted(where.iterdir())
                if p.is_file() and p.suffix.lower() == ".csv"
            ]
    return found


def process_inbox(
    engine: Any, tenant_id: str, root: Path, *, actor: str, now: datetime
) -> list[FileResult]:
    """Import every CSV waiting in the tenant's inbox, each in its own transaction, then
    move it to `done/` (or `refused/` with a `.why.txt`). Nothing is deleted; a file
    already imported under the same name (a run interrupted after the import) goes to
    `done/` without a second import."""
    from server.parties import payments as payments_in
    from shared.errors import InvalidDocument, TowlineError

    results = []
    for source, path in inbox_files(root, tenant_id):
        folder = path.parent.name
        try:
            content = path.read_bytes()
        except OSError as exc:
            results.append(
                FileResult(
                    tenant_id,
                    folder,
                    path.name,
                    "unreadable",
                    message={"fr": f"lecture impossible : {exc}", "en": f"cannot read: {exc}"},
                )
            )
            continue
        try:
            with engine.begin() as conn:
                summary = payments_in.import_file(
                    conn, tenant_id, source, path.name, content, actor=actor, now=now
                )
        except payments_in.AlreadyImported as known:
            text = {"fr": known.message("fr"), "en": known.message("en")}
            if known.file_name == path.name:
                moved = _move(path, DONE)
                results.append(
                    FileResult(
                        tenant_id, folder, path.name, "already_imported", str(moved), message=text
                    )
                )
            else:
                moved = _move(path, REFUSED, f"{text['fr']}\n{text['en']}\n")
                results.append(
                    FileResult(tenant_id, folder, path.name, "refused", str(moved), message=text)
                )
            continue
        except InvalidDocument as bad:
            text = {"fr": bad.message("fr"), "en": bad.message("en")}
            moved = _move(path, REFUSED, f"{text['fr']}\n\n{text['en']}\n")
            results.append(
                FileResult(tenant_id, folder, path.name, "unreadable", str(moved), message=text)
            )
            continue
        except TowlineError as refused:
            text = {"fr": refused.message("fr"), "en": refused.message("en")}
            moved = _move(path, REFUSED, f"{text['fr']}\n{text['en']}\n")
            results.append(
                FileResult(tenant_id, folder, path.name, "refused", str(moved), message=text)
            )
            continue
        moved = _move(path, DONE)
        results.append(FileResult(tenant_id, folder, path.name, "imported", str(moved), summary))
    return results


def _default_inbox() -> Path:
    return Path(os.environ.get("TOWLINE_VAR_DIR", "var")) / "inbox"


@click.command("nightly")
@click.argument("tenant_id", metavar="[TENANT]", required=False)
@click.option("--all", "all_tenants", is_flag=True, help="Every tenant with an inbox folder.")
@click.option(
    "--inbox",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The inbox root (default: $TOWLINE_VAR_DIR/inbox, else var/inbox); files wait in"
    " <inbox>/<tenant>/advices/*.csv and <inbox>/<tenant>/bank/*.csv.",
)
@click.option("--by", "actor", default="nightly", help="Who imports (audit and file logs).")
@db_option
@json_option
@lang_option
def nightly(
    tenant_id: str | None,
    all_tenants: bool,
    inbox: Path | None,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Import every payment file waiting in the inbox, unattended (run it from cron).

    Each file is imported in its own transaction, then moved to done/ (or to refused/
    with a .why.txt beside it); nothing is deleted, and running it twice imports
    nothing twice. Mismatched lines are listed, not an error.

    \b
    Example:
      towline-server nightly demo --inbox /srv/towline/inbox
      towline-server nightly --all

    Exit codes: 0 done (even with mismatched lines); 2 a file was unreadable (moved to
    refused/ with the reason), or neither TENANT nor --all; 3 unknown tenant, or a file
    already imported under another name (moved to refused/).
    """
    import sqlalchemy as sa

    from server.platform.tables import tenants

    chosen = common.lang(lang)
    root = inbox or _default_inbox()
    if bool(tenant_id) == all_tenants:
        click.echo(
            "Indiquez une société ou --all." if chosen == "fr" else "Name a tenant or --all.",
            err=True,
        )
        raise SystemExit(EXIT_INPUT)
    engine = common.engine(database_url)

    def chosen_tenants() -> list[str]:
        with engine.connect() as conn:
            if tenant_id:
                common.require_tenant(conn, tenant_id)
                return [tenant_id]
            every = conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id)).scalars()
            return [t for t in every if (root / t).is_dir()]

    results: list[FileResult] = []
    for tenant in common.run(chosen, chosen_tenants):
        results += process_inbox(engine, tenant, root, actor=actor, now=common.now())
    body = [r.__dict__ for r in results]
    lines = []
    for r in results:
        where = f"{r.tenant_id}/{r.folder}/{r.file}"
        if r.summary is not None:
            lines.append(f"{where} — " + _summary_text(r.summary, chosen))
        else:
            lines.append(f"{where} — {r.outcome}: {r.message.get(chosen, '')}")
    empty = "Aucun fichier en attente." if chosen == "fr" else "No file waiting."
    common.emit(body, as_json, "\n".join(lines) or empty)
    if any(r.outcome == "unreadable" for r in results):
        raise SystemExit(EXIT_INPUT)
    if any(r.outcome == "refused" for r in results):
        raise SystemExit(EXIT_REFUSED)


COMMANDS: list[click.Command] = [
    payments_group,
    receivables_command,
    nightly,
]
