"""`towline-server close`, `archive` and `verify`: the tenant's closings, its signed
archives, and the check an auditor runs with public keys only (docs/archives.md)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import EXIT_INPUT, db_option, json_option, lang_option, var_option

EXIT_INTEGRITY = 4


def _money(amount: Any, lang: str) -> str:
    from shared.money import format_amount

    return format_amount(amount, lang)


def _closing_line(made: Any, lang: str) -> str:
    c = made.closing
    fr = lang == "fr"
    return (
        f"{c.period.label(lang).capitalize()} : {c.entry_count} "
        + ("entrées" if fr else "entries")
        + (", encaissé net " if fr else ", net collected ")
        + f"{_money(c.total, lang)} ("
        + ("perpétuel " if fr else "perpetual ")
        + f"{_money(c.grand_total, lang)}), "
        + ("facturé TTC " if fr else "invoiced incl. VAT ")
        + f"{_money(made.invoiced.total.incl_vat, lang)}, "
        + ("avoirs TTC " if fr else "credit notes incl. VAT ")
        + f"{_money(made.credited.total.incl_vat, lang)}"
    )


@click.command("close")
@click.argument("tenant_id", metavar="TENANT", required=False)
@click.option("--all", "every", is_flag=True, help="Every tenant, each in its own transaction.")
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Close no day after this one (default: yesterday, in the tenant's time zone).",
)
@var_option
@db_option
@json_option
@lang_option
def close_command(
    tenant_id: str | None,
    every: bool,
    until: Any,
    var_dir: Path,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Close every complete day, month and year of TENANT not closed yet, up to yesterday.

    Each closing is a signed `closing` entry of the tenant's server journal; running it
    again closes nothing twice. Run it nightly (docs/operations.md) with --all.

    \b
    Example:
      towline-server close acme
      towline-server close --all

    Exit codes: 0 done; 2 no TENANT nor --all; 3 unknown tenant, or an entry was received
    into a day already closed (the journal needs checking).
    """
    from server.office import closing
    from server.platform import keys

    chosen = common.lang(lang)
    if (tenant_id is None) == (not every):
        click.echo(
            "Nommez une société, ou --all." if chosen == "fr" else "Name a tenant, or --all.",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    last: date | None = until.date() if until is not None else None
    engine = common.engine(database_url)

    def work() -> Any:
        key = keys.server_key(var_dir)
        if every:
            return closing.close_every_tenant(engine, key=key, now=common.now())
        assert tenant_id is not None
        with engine.begin() as conn:
            common.require_tenant(conn, tenant_id)
            made = closing.run_closings(conn, tenant_id, key=key, now=common.now(), until=last)
        return [closing.TenantRun(tenant_id, tuple(made))]

    runs = common.run(chosen, work)
    lines: list[str] = []
    for run in runs:
        if run.refused is not None:
            lines.append(f"{run.tenant_id} : {run.refused.message(chosen)}")
        elif not run.closings:
            lines.append(
                f"{run.tenant_id} : rien à clôturer."
                if chosen == "fr"
                else f"{run.tenant_id}: nothing to close."
            )
        for made in run.closings:
            lines.append(f"{run.tenant_id} — {_closing_line(made, chosen)}")
    data = [
        {
            "tenant": run.tenant_id,
            "closings": [made.payload() for made in run.closings],
            "refused": run.refused.message(chosen) if run.refused else None,
        }
        for run in runs
    ]
    common.emit(data if every else data[0], as_json, "\n".join(lines))
    if any(run.refused is not None for run in runs):
        sys.exit(3)


@click.command("archive")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("period", metavar="PERIOD")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The archive file to write (a zip).",
)
@var_option
@db_option
@json_option
@lang_option
def archive_command(
    tenant_id: str,
    period: str,
    out_path: Path,
    var_dir: Path,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Write the signed archive of a closed PERIOD of TENANT (2026-03-10, 2026-03 or 2026).

    Journals, closings, documents issued in the period and public keys, listed with their
    sha256 in a manifest signed by the server's key. Check it with `towline-server verify
    --archive FILE`.

    \b
    Example:
      towline-server archive acme 2026-03 --out archives/acme-2026-03.zip

    Exit codes: 0 written; 2 not a period; 3 unknown tenant, or the period is not closed.
    """
    from server.office import archive
    from server.platform import keys
    from server.platform.db import reading
    from shared.closings import Period

    chosen = common.lang(lang)
    try:
        wanted = Period.parse(period)
    except ValueError:
        click.echo(
            f"Période attendue, par exemple 2026-03-10, 2026-03 ou 2026 : {period!r}."
            if chosen == "fr"
            else f"A period such as 2026-03-10, 2026-03 or 2026 is expected: {period!r}.",
            err=True,
        )
        sys.exit(EXIT_INPUT)

    def work() -> Any:
        key = keys.server_key(var_dir)
        with reading(common.engine(database_url)).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return archive.export(
                conn, tenant_id, wanted, key=key, out_path=out_path, now=common.now()
            )

    manifest = common.run(chosen, work)
    count = len(manifest.files) + 2
    human = (
        f"Archive de {tenant_id}, {wanted.label('fr')} : {out_path} ({count} fichiers, "
        f"{len(manifest.heads)} chaînes, clé du serveur {manifest.server_public_key})."
        if chosen == "fr"
        else f"Archive of {tenant_id}, {wanted.label('en')}: {out_path} ({count} files, "
        f"{len(manifest.heads)} chains, server key {manifest.server_public_key})."
    )
    common.emit({"path": str(out_path), "manifest": manifest.payload()}, as_json, human)


@click.command("verify")
@click.argument("tenant_id", metavar="[TENANT]", required=False)
@click.option(
    "--archive",
    "archive_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Verify this archive file instead of the live database.",
)
@click.option(
    "--server-key",
    default=None,
    help="The server's public key (64 hex digits) as you received it. Default: the key "
    "the archive carries; live, the installation's own.",
)
@var_option
@db_option
@json_option
@lang_option
def verify_command(
    tenant_id: str | None,
    archive_path: Path | None,
    server_key: str | None,
    var_dir: Path,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Check an archive, or TENANT's live records, with public keys only: every finding
    with exactly what is wrong and where.

    Checks the manifest's signature and every file's hash, every journal entry's hash,
    link and signature, every closing recomputed from the journals, every document's PDF.
    Live, also every column copied from a signed body (an entry's mission, an invoice's or
    credit note's totals and payer, an office payment and its uses): a changed value, a
    value of the wrong type, NULL or unreadable JSON is a finding with its table and row.

    \b
    Example:
      towline-server verify --archive acme-2026-03.zip --server-key 03a107bf…
      towline-server verify acme

    Exit codes: 0 nothing wrong; 2 bad input (neither TENANT nor --archive, unreadable
    key, missing file); 3 unknown tenant; 4 something is wrong (every finding printed).
    """
    from server.office import integrity

    chosen = common.lang(lang)
    fr = chosen == "fr"
    if server_key is not None and integrity.parse_public_key(server_key.strip().lower()) is None:
        click.echo(
            "Clé publique attendue : 64 chiffres hexadécimaux."
            if fr
            else "A public key is expected: 64 hex digits.",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    trusted = server_key.strip().lower() if server_key else None
    if archive_path is not None:
        if not archive_path.is_file():
            click.echo(
                f"Fichier introuvable : {archive_path}" if fr else f"No such file: {archive_path}",
                err=True,
            )
            sys.exit(EXIT_INPUT)
        report = integrity.check_archive(
            archive_path, trusted_server_key_hex=trusted, tenant_id=tenant_id
        )
        subject = str(archive_path)
    elif tenant_id is not None:
        public = trusted or _installation_key(var_dir, fr)
        from server.platform.db import reading

        def work() -> Any:
            with reading(common.engine(database_url)).connect() as conn:
                common.require_tenant(conn, tenant_id)
                return integrity.check_live(conn, tenant_id, public)

        report = common.run(chosen, work)
        subject = tenant_id
    else:
        click.echo(
            "Nommez une société, ou donnez --archive FICHIER."
            if fr
            else "Name a tenant, or give --archive FILE.",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    counts = ", ".join(
        _count(n, fr_word, en_word, fr)
        for n, fr_word, en_word in (
            (report.chains, "chaîne", "chain"),
            (report.entries, "entrée", "entry"),
            (report.closings, "clôture recalculée", "closing recomputed"),
            (report.documents, "document", "document"),
            # live only: the rows whose columns were checked against their signed body
            *([(report.rows, "ligne contrôlée", "row checked")] if report.rows else []),
        )
    )
    n = len(report.findings)
    if fr:
        verdict = "aucune anomalie." if not n else _count(n, "anomalie", "", fr) + "."
        lines = [f"- {f.message(chosen)}" for f in report.findings]
        lines.append(f"Vérifié {subject} ({counts}) : {verdict}")
    else:
        verdict = "nothing wrong." if not n else _count(n, "finding", "finding", fr) + "."
        lines = [f"- {f.message(chosen)}" for f in report.findings]
        lines.append(f"Verified {subject} ({counts}): {verdict}")
    data = {
        "clean": report.clean,
        "subject": subject,
        "checked": {
            "chains": report.chains,
            "entries": report.entries,
            "closings": report.closings,
            "documents": report.documents,
            "rows": report.rows,
        },
        "findings": [f.to_wire(chosen) for f in report.findings],
    }
    common.emit(data, as_json, "\n".join(lines))
    if not report.clean:
        sys.exit(EXIT_INTEGRITY)


def _count(n: int, fr_word: str, en_word: str, fr: bool) -> str:
    """ "3 chaînes", "1 entry", "2 closings recomputed": the first word takes the plural."""
    word = fr_word if fr else en_word
    if n == 1:
        return f"{n} {word}"
    head, _, rest = word.partition(" ")
    if fr:
        plural = head + "s" + (" " + " ".join(w + "s" for w in rest.split()) if rest else "")
    else:
        plural = (head[:-1] + "ies" if head.endswith("y") else head + "s") + (
            " " + rest if rest else ""
        )
    return f"{n} {plural}"


def _installation_key(var_dir: Path, fr: bool) -> str:
    """The installation's public key, derived from its key file (which must exist: a key
    made up now would verify nothing). An auditor passes --server-key instead."""
    from server.platform.keys import SERVER_KEY_FILE
    from shared import signing

    path = var_dir / SERVER_KEY_FILE
    try:
        private = signing.private_key_from_bytes(path.read_bytes())
    except (OSError, ValueError) as exc:
        click.echo(
            f"Clé du serveur illisible ({path} : {exc}) : donnez --server-key."
            if fr
            else f"Unreadable server key ({path}: {exc}): give --server-key.",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    return signing.public_key_to_bytes(signing.public_key_of(private)).hex()


COMMANDS: list[click.Command] = [close_command, archive_command, verify_command]
