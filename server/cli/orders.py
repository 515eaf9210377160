"""`towline-server orders import`, `party-keys …`, `cleaning …` and `files …`: orders in
from the command line (the same functions as the API; docs/orders.md).

Exit codes: 0 done; 2 bad input (an unreadable or invalid file, an order refused: the
valid ones of a batch are still taken); 3 refused (unknown tenant, party, user, key or
file; a stale rule set version; nothing to replay).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from server.cli import common
from server.cli.common import EXIT_INPUT, db_option, json_option, lang_option
from shared.cleaning_schema import RULESET
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

by_option = click.option(
    "--by",
    "login",
    default=None,
    help="The office user (login) who acts, as the file's log and the audit log name it.",
)


def _actor(conn: Any, tenant_id: str, login: str | None) -> str:
    """The user id behind `--by` (refused when no such user), else "cli"."""
    if login is None:
        return "cli"
    from server.platform.errors import not_found
    from server.platform.tables import users

    found = conn.execute(
        sa.select(users.c.id).where(users.c.tenant_id == tenant_id, users.c.login == login)
    ).scalar_one_or_none()
    if found is None:
        raise not_found("Utilisateur", "User", login)
    return str(found)


# --- orders import ---------------------------------------------------------------------------


@click.group("orders")
def orders_group() -> None:
    """Mission orders from ordering parties.

    \b
    Example:
      towline-server orders import demo ASSIST-B examples/orders/orders.csv --by bureau
    """


def _batch(path: Path) -> Any:
    from server.parties import order_import

    what = Text("Fichier de commandes", "Orders file")
    if path.suffix.lower() == ".json":
        return order_import.orders_from_json(common.read(path, what))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDocument(
            what, [Problem(str(path), Text(f"lecture impossible : {exc}", f"cannot read: {exc}"))]
        ) from None
    return order_import.orders_from_csv(text)


@orders_group.command("import")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("party_id", metavar="PARTY")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--driver", "driver_id", default=None, help="Assign every new mission to him.")
@by_option
@db_option
@json_option
@lang_option
def import_orders(
    tenant_id: str,
    party_id: str,
    path: Path,
    driver_id: str | None,
    login: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Import FILE (CSV, or JSON when it ends in .json) of PARTY's orders. Each line is
    taken on its own: the valid ones are stored even when others are refused, and each
    refused line is named by its number.

    \b
    Example:
      towline-server orders import demo ASSIST-B examples/orders/orders.csv --by bureau

    Exit codes: 0 every line taken (or already received); 2 unreadable file, or some
    lines refused (the others were taken); 3 unknown tenant, party or user.
    """
    from server.parties import order_import

    chosen = common.lang(lang)

    def work() -> Any:
        items = _batch(path)
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            actor = _actor(conn, tenant_id, login)
            return order_import.import_orders(
                conn,
                tenant_id,
                party_id,
                items,
                actor=actor,
                now=common.now(),
                lang=chosen,
                driver_id=driver_id,
            )

    done = common.run(chosen, work)
    rows = [done["message"]]
    for line in done["lines"]:
        if line["outcome"] == "refused":
            rows.append(f"  {line['line']:>5}  {line['message']}")
            rows += [f"         {p['path'] or '—'}: {p['message']}" for p in line["problems"]]
        else:
            rows.append(f"  {line['line']:>5}  {line['outcome']:<12} {line['mission_id'] or '—'}")
    common.emit(done, as_json, "\n".join(rows))
    if done["refused"]:
        raise SystemExit(EXIT_INPUT)


# --- API keys --------------------------------------------------------------------------------


@click.group("party-keys")
def keys_group() -> None:
    """API keys of ordering parties' systems (one tenant, one party each).

    \b
    Example:
      towline-server party-keys create demo ASSIST-A --label "Plateforme IMA"
      towline-server party-keys revoke demo pk_0123456789abcdef
    """


@keys_group.command("create")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("party_id", metavar="PARTY")
@click.option("--label", required=True, help="Which system uses it, e.g. 'Plateforme IMA'.")
@by_option
@db_option
@json_option
@lang_option
def create_key(
    tenant_id: str,
    party_id: str,
    label: str,
    login: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Create an API key for PARTY. The key is printed this once only: give it to the
    party's system, which sends it as `Authorization: Bearer <key>`.

    \b
    Example:
      towline-server party-keys create demo ASSIST-A --label "Plateforme IMA"

    Exit codes: 0 done; 2 empty label; 3 unknown tenant, party or user.
    """
    from server.parties import api_keys as party_keys

    chosen = common.lang(lang)

    def work() -> Any:
        if not label.strip():
            raise InvalidDocument(
                Text("Clé d'API", "API key"),
                [Problem("--label", Text("ne peut pas être vide", "may not be blank"))],
            )
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            actor = _actor(conn, tenant_id, login)
            return party_keys.create_key(
                conn, tenant_id, party_id, label.strip()[:200], actor=actor, now=common.now()
            )

    made = common.run(chosen, work)
    human = (
        f"Clé {made['id']} pour {party_id} — notez-la, elle ne sera plus affichée :\n{made['key']}"
        if chosen == "fr"
        else f"Key {made['id']} for {party_id} — write it down, it is never shown again:\n"
        f"{made['key']}"
    )
    common.emit(made, as_json, human)


@keys_group.command("list")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--party", "party_id", default=None, help="One ordering party.")
@db_option
@json_option
@lang_option
def list_keys(
    tenant_id: str, party_id: str | None, database_url: str, as_json: bool, lang: str | None
) -> None:
    """The tenant's API keys (never their secrets).

    \b
    Example:
      towline-server party-keys list demo --party ASSIST-A

    Exit codes: 0 done; 3 unknown tenant or party.
    """
    from server.parties import api_keys as party_keys

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return party_keys.list_keys(conn, tenant_id, party_id)

    rows = common.run(chosen, work)
    from server.cli.local_times import zone_of
    from server.people.tenant_time import day_words, local_day

    zone = zone_of(common.engine(database_url), tenant_id)  # the tenant's day it was revoked
    revoked = "révoquée le" if chosen == "fr" else "revoked on"
    lines = [
        f"{k['id']}  {k['party_id']:<12} {k['label']:<30} "
        + (
            f"{revoked} {day_words(local_day(k['revoked_at'], zone), chosen)}"
            if k["revoked_at"]
            else ""
        )
        for k in rows
    ]
    empty = "Aucune clé." if chosen == "fr" else "No keys."
    common.emit(rows, as_json, "\n".join(lines) or empty)


@keys_group.command("revoke")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("key_id", metavar="KEY_ID")
@by_option
@db_option
@json_option
@lang_option
def revoke_key(
    tenant_id: str,
    key_id: str,
    login: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Revoke KEY_ID: its next call is refused (401).

    \b
    Example:
      towline-server party-keys revoke demo pk_0123456789abcdef --by admin

    Exit codes: 0 done; 3 unknown tenant, key or user, or already revoked.
    """
    from server.parties import api_keys as party_keys

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            actor = _actor(conn, tenant_id, login)
            return party_keys.revoke_key(
                conn, tenant_id, None, key_id, actor=actor, now=common.now()
            )

    made = common.run(chosen, work)
    human = f"Clé {key_id} révoquée." if chosen == "fr" else f"Key {key_id} revoked."
    common.emit(made, as_json, human)


# --- cleaning rules -------------------------------------------------------------------------


@click.group("cleaning")
def cleaning_group() -> None:
    """Cleaning rules of ordering parties (docs/cleaning-rules.md).

    \b
    Example:
      towline-server cleaning publish demo ASSIST-B rules-b.json --by bureau
      towline-server cleaning replay demo ASSIST-B --dry-run
    """


@cleaning_group.command("publish")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("party_id", metavar="PARTY")
@click.argument("path", metavar="FILE.json", type=click.Path(path_type=Path, dir_okay=False))
@by_option
@db_option
@json_option
@lang_option
def publish(
    tenant_id: str,
    party_id: str,
    path: Path,
    login: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Publish FILE.json as the next version of PARTY's cleaning rules (`version` may be
    left out: it is filled in).

    \b
    Example:
      towline-server cleaning publish demo ASSIST-B examples/orders/cleaning-assist-b.json

    Exit codes: 0 done; 2 unreadable or invalid rules (every problem with its path); 3
    unknown tenant, party or user, or the file names a version already taken.
    """
    from server.parties import cleaning as cleaning_store

    chosen = common.lang(lang)

    def work() -> Any:
        document = common.read(path, RULESET)
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            actor = _actor(conn, tenant_id, login)
            return cleaning_store.publish(
                conn,
                tenant_id,
                party_id,
                document,
                actor=actor,
                now=common.now(),
                path=str(path.name),
            )

    made = common.run(chosen, work)
    human = (
        f"Règles de nettoyage {party_id} v{made['version']} publiées ({made['rules']} règle(s))."
        if chosen == "fr"
        else f"Cleaning rules {party_id} v{made['version']} published ({made['rules']} rule(s))."
    )
    common.emit(made, as_json, human)


@cleaning_group.command("replay")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("party_id", metavar="PARTY")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@by_option
@db_option
@json_option
@lang_option
def replay(
    tenant_id: str,
    party_id: str,
    dry_run: bool,
    login: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Clean PARTY's open files again with its latest rules, from the orders as
    received. A mission a tablet valued, or the office corrected by hand, is reported,
    never changed.

    \b
    Example:
      towline-server cleaning replay demo ASSIST-B --dry-run

    Exit codes: 0 done; 3 unknown tenant, party or user, or no rules published.
    """
    from server.parties import replay as replay_module

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            actor = _actor(conn, tenant_id, login)
            return replay_module.replay(
                conn, tenant_id, party_id, actor=actor, now=common.now(), dry_run=dry_run
            )

    done = common.run(chosen, work)
    head = (
        f"{party_id} v{done['version']} : {len(done['files'])} mission(s) concernée(s)."
        if chosen == "fr"
        else f"{party_id} v{done['version']}: {len(done['files'])} mission(s) affected."
    )
    rows = [
        f"  {f['file_number']:<20} {f['mission_id']:<30} {f['outcome']:<12} "
        + (f["note"][chosen] if f.get("note") else "")
        for f in done["files"]
    ]
    common.emit(done, as_json, "\n".join([head, *rows]))


# --- files ----------------------------------------------------------------------------------


@click.group("files")
def files_group() -> None:
    """Ordering parties' files and their logs.

    \b
    Example:
      towline-server files list demo --party ASSIST-A --state sent
      towline-server files show demo ASSIST-A A-2026-0101
    """


@files_group.command("list")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--party", "party_id", default=None, help="One ordering party.")
@click.option(
    "--state",
    default=None,
    type=click.Choice(
        [
            "waiting_for_order",
            "not_integrated",
            "integrated",
            "sent",
            "awaiting_payment",
            "done",
            "cancelled",
        ]
    ),
)
@db_option
@json_option
@lang_option
def list_files(
    tenant_id: str,
    party_id: str | None,
    state: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """The tenant's files, last moved first.

    \b
    Example:
      towline-server files list demo --state integrated

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.parties import file_views

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return file_views.list_files(conn, tenant_id, party_id=party_id, state=state)

    rows = common.run(chosen, work)
    lines = [
        f"{f['party_id']:<12} {f['file_number']:<24} {f['state_label'][chosen]:<24}"
        + (f" ⚠ {f['warning'][chosen]}" if f["warning"] else "")
        for f in rows
    ]
    empty = "Aucun dossier." if chosen == "fr" else "No files."
    common.emit(rows, as_json, "\n".join(lines) or empty)


@files_group.command("show")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("party_id", metavar="PARTY")
@click.argument("file_number", metavar="FILE_NUMBER")
@db_option
@json_option
@lang_option
def show_file(
    tenant_id: str,
    party_id: str,
    file_number: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """One file: its state, warning and whole log.

    \b
    Example:
      towline-server files show demo ASSIST-A A-2026-0101 --lang en

    Exit codes: 0 done; 3 unknown tenant or file.
    """
    from server.parties import file_views

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return file_views.file_detail(conn, tenant_id, party_id, file_number)

    found = common.run(chosen, work)
    lines = [f"{party_id} {file_number} — {found['state_label'][chosen]}"]
    if found["warning"]:
        lines.append(f"⚠ {found['warning'][chosen]}")
    for e in found["history"]:
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        move = f"{e['state_before'] or '∅'} → {e['state_after']}" if e["state_after"] else ""
        lines.append(f"  {e['at']:%Y-%m-%d %H:%M} {e['source']:<7} {e['event']:<20} {move}")
        lines.append(f"      {detail[:200]}")
    common.emit(found, as_json, "\n".join(lines))


COMMANDS: list[click.Command] = [orders_group, keys_group, cleaning_group, files_group]
