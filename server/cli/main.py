"""`towline-server`: the office server's command line.

Exit codes (docs/cli.md): 0 ok; 2 bad input (usage, unreadable or invalid document, a
value the schema refuses); 3 refused (already exists, unknown tenant or device…).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from server.cli_documents import documents
from shared.catalogue import DEFAULT_CATALOGUE
from shared.contract_schema import CONTRACT, load_contract
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text, choose_lang
from shared.schema_tools import parse_json

EXIT_INPUT = 2
EXIT_REFUSED = 3


def _lang(explicit: str | None) -> str:
    return choose_lang(
        explicit, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )


def _read(path: Path, what: Text) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidDocument(
            what,
            [Problem(str(path), Text(f"lecture impossible : {reason}", f"cannot read: {reason}"))],
        ) from None
    return parse_json(text, what)


lang_option = click.option(
    "--lang",
    type=click.Choice(["fr", "en"]),
    default=None,
    help="Language of the output (default: TOWLINE_LANG, then the locale, then French).",
)


class _Commands(click.Group):
    """Every command: a database without Towline's schema gets a sentence, not a trace."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            text = str(error.orig)
            if "no such table" not in text and "does not exist" not in text:
                raise
            click.echo(
                "La base de données n'a pas le schéma de Towline : lancez « towline-server "
                "init-db » (avec la même --database ou TOWLINE_DATABASE_URL). / The database "
                "has no Towline schema: run `towline-server init-db` first.",
                err=True,
            )
            sys.exit(EXIT_REFUSED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Towline's office server: contracts, sync, documents, reconciliation.

    \b
    Example:
      towline-server rules check examples/contracts/assist-a.json
    """


@main.group()
def rules() -> None:
    """Ordering parties' contracts (pricing rules).

    \b
    Example:
      towline-server rules check examples/contracts/assist-b.json
    """


@rules.command()
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lang_option
def check(contract: Path, as_json: bool, lang: str | None) -> None:
    """Validate a CONTRACT document and list every error with its path.

    \b
    Example:
      towline-server rules check examples/contracts/assist-a.json

    Exit codes: 0 valid, 2 invalid or unreadable.
    """
    chosen = _lang(lang)
    try:
        terms = load_contract(_read(contract, CONTRACT))
    except InvalidDocument as error:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "valid": False,
                        "errors": [
                            {"path": p.path, "message": p.text(chosen)} for p in error.problems
                        ],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            click.echo(error.message(chosen), err=True)
        sys.exit(EXIT_INPUT)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "valid": True,
                    "id": terms.id,
                    "version": terms.version,
                    "digest": terms.source_digest,
                },
                indent=2,
            )
        )
        return
    validity = f"{terms.valid_from.isoformat()} → {terms.valid_until or '…'}"
    if chosen == "fr":
        click.echo(f"Convention {terms.id} v{terms.version} valide ({validity}).")
    else:
        click.echo(f"Contract {terms.id} v{terms.version} is valid ({validity}).")


@rules.command()
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the codes as JSON.")
@lang_option
def codes(contract: Path | None, as_json: bool, lang: str | None) -> None:
    """List every structured service code a catalogue generates, with its label.

    Uses the CONTRACT's catalogue, or the default catalogue without one.

    \b
    Example:
      towline-server rules codes --lang en
    """
    chosen = _lang(lang)
    catalogue = DEFAULT_CATALOGUE
    if contract is not None:
        try:
            catalogue = load_contract(_read(contract, CONTRACT)).catalogue
        except InvalidDocument as error:
            click.echo(error.message(chosen), err=True)
            sys.exit(EXIT_INPUT)
    rows = list(catalogue.generate())
    if as_json:
        click.echo(
            json.dumps([{"code": c, "label": t(chosen)} for c, t in rows], ensure_ascii=False)
        )
        return
    for code, label in rows:
        click.echo(f"{code:<12} {label(chosen)}")


# --- the server: database, tenants, users, drivers, devices --------------------------
# Imported here, not at the top: `rules` must keep working without Flask's start-up cost.


def _now() -> datetime:
    return datetime.now(UTC)


db_option = click.option(
    "--database",
    "database_url",
    envvar="TOWLINE_DATABASE_URL",
    default="sqlite:///var/towline.db",
    show_default=True,
    help="Database URL (or TOWLINE_DATABASE_URL): sqlite:///path or postgresql://…",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _engine(url: str) -> Any:
    from server.db import make_engine

    return make_engine(url)


def _emit(data: Any, as_json: bool, human: str) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human)


def _fail(error: Exception, chosen: str) -> None:
    """Print a refusal for a person and exit with its documented code."""
    from marshmallow import ValidationError

    from server.errors import ApiError
    from shared.errors import TowlineError
    from shared.schema_tools import problems

    if isinstance(error, ValidationError):
        for problem in problems(error.messages):
            click.echo(problem.message(chosen), err=True)
        sys.exit(EXIT_INPUT)
    if isinstance(error, TowlineError):
        click.echo(error.message(chosen), err=True)
        bad_input = isinstance(error, InvalidDocument) or (
            isinstance(error, ApiError) and error.status in (400, 422)
        )
        sys.exit(EXIT_INPUT if bad_input else EXIT_REFUSED)
    raise error


def _require_tenant(conn: Any, tenant_id: str) -> None:
    """Refuse a command naming a tenant that does not exist (exit code 3)."""
    from server.errors import not_found
    from server.identity import get_tenant

    if get_tenant(conn, tenant_id) is None:
        raise not_found("Société", "Tenant", tenant_id)


def _run(chosen: str, work: Any) -> Any:
    from marshmallow import ValidationError

    from shared.errors import TowlineError

    try:
        return work()
    except (ValidationError, TowlineError) as error:
        _fail(error, chosen)


@main.command("init-db")
@db_option
@lang_option
def init_db(database_url: str, lang: str | None) -> None:
    """Create the database schema, or upgrade it to this version (idempotent).

    \b
    Example:
      towline-server init-db --database postgresql://towline@127.0.0.1/towline

    Exit codes: 0 done.
    """
    from server.db import upgrade

    engine = _engine(database_url)
    upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    chosen = _lang(lang)
    click.echo(f"Schéma à jour : {where}" if chosen == "fr" else f"Schema up to date: {where}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@db_option
@click.option("--debug", is_flag=True, help="Flask's reloader and debugger (never in production).")
def run(host: str, port: int, database_url: str, debug: bool) -> None:
    """Run the development server (production: gunicorn "server.app:create_app()").

    \b
    Example:
      towline-server run --port 8080
    """
    from server.app import create_app

    app = create_app({"DATABASE_URL": database_url})
    click.echo(f"Towline: http://{host}:{port}/api/v1/docs", err=True)
    app.run(host=host, port=port, debug=debug)


@main.command()
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
    from server.db import upgrade

    chosen = _lang(lang)

    def work() -> Any:
        engine = _engine(database_url)
        upgrade(engine)
        with engine.begin() as conn:
            return demo_data.seed(conn, _now())

    made = _run(chosen, work)
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
        *(f"  {c['code']}  {c['label']}  (→ {c['expires_at']:%H:%M} UTC)" for c in made.codes),
    ]
    _emit(data, as_json, "\n".join(lines))


@main.group()
def tenants() -> None:
    """Tenants (towing companies) hosted by this server.

    \b
    Example:
      towline-server tenants create acme --name "Dépannage Acme" --payments
    """


@tenants.command("create")
@click.argument("tenant_id")
@click.option("--name", required=True, help="The company's name, for people.")
@click.option(
    "--payments/--no-payments",
    default=False,
    help="Switch the payments module on, and give the default roles their payment rights "
    "(driver: collect; manager: approve discounts, void; office: void, credit notes).",
)
@db_option
@json_option
@lang_option
def tenants_create(
    tenant_id: str, name: str, payments: bool, database_url: str, as_json: bool, lang: str | None
) -> None:
    """Create a tenant with the default roles (driver, manager, office, admin).

    \b
    Example:
      towline-server tenants create acme --name "Dépannage Acme" --payments

    Exit codes: 0 created; 2 bad identifier; 3 the tenant exists.
    """
    from marshmallow import ValidationError

    from server.identity import create_tenant
    from server.views.fields import IDENT, NAME

    chosen = _lang(lang)

    def work() -> Any:
        for field, check, value in (("tenant", IDENT, tenant_id), ("name", NAME, name)):
            try:
                check(value)
            except ValidationError as error:
                raise ValidationError({field: error.messages}) from None
        with _engine(database_url).begin() as conn:
            return create_tenant(conn, tenant_id, name, payments_enabled=payments, now=_now())

    tenant = _run(chosen, work)
    state = (
        ("activé" if payments else "désactivé") if chosen == "fr" else ("on" if payments else "off")
    )
    human = (
        f"Société {tenant.id} créée (module Paiements {state})."
        if chosen == "fr"
        else f"Tenant {tenant.id} created (payments module {state})."
    )
    _emit({"id": tenant.id, "name": tenant.name, "payments_enabled": payments}, as_json, human)


@tenants.command("list")
@db_option
@json_option
def tenants_list(database_url: str, as_json: bool) -> None:
    """List the tenants.

    \b
    Example:
      towline-server tenants list --json
    """
    from server.db import reading
    from server.identity import list_tenants

    with reading(_engine(database_url)).connect() as conn:
        found = list_tenants(conn)
    rows = [{"id": t.id, "name": t.name, "payments_enabled": t.payments_enabled} for t in found]
    human = "\n".join(
        f"{t.id:<20} {'payments' if t.payments_enabled else '-':<9} {t.name}" for t in found
    )
    _emit(rows, as_json, human)


@tenants.command("payments")
@click.argument("tenant_id")
@click.argument("state", type=click.Choice(["on", "off"]))
@db_option
@lang_option
def tenants_payments(tenant_id: str, state: str, database_url: str, lang: str | None) -> None:
    """Switch a tenant's payments module on or off (roles keep their rights).

    \b
    Example:
      towline-server tenants payments acme on

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.identity import set_payments

    chosen = _lang(lang)

    def work() -> None:
        with _engine(database_url).begin() as conn:
            set_payments(conn, tenant_id, state == "on", now=_now())

    _run(chosen, work)
    click.echo(f"{tenant_id}: payments {state}")


@main.group()
def users() -> None:
    """Office users of a tenant.

    \b
    Example:
      towline-server users create acme marie --name "Marie Dupont" --role admin
    """


@users.command("create")
@click.argument("tenant_id")
@click.argument("login")
@click.option("--name", required=True, help="The person's name.")
@click.option("--role", default="office", show_default=True, help="driver, manager, office, admin…")
@click.option(
    "--password",
    envvar="TOWLINE_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given (or TOWLINE_PASSWORD); 10 characters at least.",
)
@db_option
@json_option
@lang_option
def users_create(
    tenant_id: str,
    login: str,
    name: str,
    role: str,
    password: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Create an office user (the password is asked for, hidden).

    \b
    Example:
      towline-server users create acme marie --name "Marie Dupont" --role admin

    Exit codes: 0 created; 2 bad value (login, password too short, unknown role);
    3 login taken or unknown tenant.
    """
    from server.identity import create_user
    from server.views.users import UserIn

    chosen = _lang(lang)

    def work() -> Any:
        data = UserIn().load({"login": login, "name": name, "password": password, "role": role})
        with _engine(database_url).begin() as conn:
            return create_user(
                conn,
                tenant_id,
                data["login"],
                data["name"],
                data["password"],
                data["role"],
                actor="cli",
                now=_now(),
            )

    user = _run(chosen, work)
    out = {"id": user.id, "login": user.login, "name": user.name, "role": user.role}
    _emit(out, as_json, f"{user.login} ({user.role}) : {user.id}")


@users.command("list")
@click.argument("tenant_id")
@db_option
@json_option
def users_list(tenant_id: str, database_url: str, as_json: bool) -> None:
    """List a tenant's office users with their role and rights.

    \b
    Example:
      towline-server users list acme
    """
    from server.db import reading
    from server.identity import list_users

    with reading(_engine(database_url)).connect() as conn:
        found = list_users(conn, tenant_id)
    rows = [
        {"id": u.id, "login": u.login, "name": u.name, "role": u.role, "rights": sorted(u.rights)}
        for u in found
    ]
    human = "\n".join(f"{u.login:<20} {u.role:<10} {u.name}" for u in found)
    _emit(rows, as_json, human)


@main.group()
def drivers() -> None:
    """Drivers of a tenant (they sign in on tablets with a PIN).

    \b
    Example:
      towline-server drivers create acme D1 --name "Luc Martin"
    """


@drivers.command("create")
@click.argument("tenant_id")
@click.argument("driver_id")
@click.option("--name", required=True, help="The driver's name.")
@click.option("--role", default="driver", show_default=True)
@click.option(
    "--pin",
    envvar="TOWLINE_PIN",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="4 to 8 digits; asked for when not given (or TOWLINE_PIN).",
)
@db_option
@json_option
@lang_option
def drivers_create(
    tenant_id: str,
    driver_id: str,
    name: str,
    role: str,
    pin: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Create a driver with a PIN (stored hashed).

    \b
    Example:
      towline-server drivers create acme D1 --name "Luc Martin"

    Exit codes: 0 created; 2 bad value (PIN format, unknown role); 3 driver exists.
    """
    from server.identity import create_driver
    from server.views.drivers import DriverIn

    chosen = _lang(lang)

    def work() -> Any:
        data = DriverIn().load({"id": driver_id, "name": name, "pin": pin, "role": role})
        with _engine(database_url).begin() as conn:
            _require_tenant(conn, tenant_id)
            return create_driver(
                conn,
                tenant_id,
                data["id"],
                data["name"],
                data["pin"],
                data["role"],
                actor="cli",
                now=_now(),
            )

    driver = _run(chosen, work)
    driver.pop("pin_hash", None)
    _emit(driver, as_json, f"{driver['id']} ({driver['role']}) : {driver['name']}")


@main.command("enroll-code")
@click.argument("tenant_id")
@click.option(
    "--driver", "driver_ids", multiple=True, required=True, help="A driver allowed on the tablet."
)
@click.option("--label", default="", help="The tablet's name, e.g. 'Truck 3'.")
@click.option("--ttl-minutes", default=15, show_default=True, type=click.IntRange(1, 24 * 60))
@db_option
@json_option
@lang_option
def enroll_code(
    tenant_id: str,
    driver_ids: tuple[str, ...],
    label: str,
    ttl_minutes: int,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Print a one-time code that enrols one tablet for the given drivers.

    The code is shown once, lives 15 minutes and allows 5 attempts.

    \b
    Example:
      towline-server enroll-code acme --driver D1 --driver D2 --label "Truck 3"

    Exit codes: 0 printed; 2 unknown driver or bad value; 3 unknown tenant.
    """
    from server.devices import create_enrolment_code
    from server.views.devices import EnrolmentCodeIn

    chosen = _lang(lang)

    def work() -> Any:
        data = EnrolmentCodeIn().load(
            {"driver_ids": list(driver_ids), "label": label or "tablet", "ttl_minutes": ttl_minutes}
        )
        with _engine(database_url).begin() as conn:
            _require_tenant(conn, tenant_id)
            return create_enrolment_code(
                conn,
                tenant_id,
                data["driver_ids"],
                data["label"],
                created_by="cli",
                now=_now(),
                ttl=timedelta(minutes=data["ttl_minutes"]),
            )

    made = _run(chosen, work)
    until = made["expires_at"].strftime("%H:%M UTC")
    human = (
        f"{made['code']}\n(valable jusqu'à {until}, une seule tablette)"
        if chosen == "fr"
        else f"{made['code']}\n(valid until {until}, one tablet)"
    )
    _emit(made, as_json, human)


@main.group()
def devices() -> None:
    """Enrolled tablets.

    \b
    Example:
      towline-server devices revoke dev_0123abcd --reason "Tablet stolen"
    """


@devices.command("list")
@click.argument("tenant_id")
@db_option
@json_option
def devices_list(tenant_id: str, database_url: str, as_json: bool) -> None:
    """List a tenant's tablets, revoked ones included.

    \b
    Example:
      towline-server devices list acme --json
    """
    from server.db import reading
    from server.devices import list_devices

    with reading(_engine(database_url)).connect() as conn:
        found = list_devices(conn, tenant_id)
    human = "\n".join(
        f"{d['id']:<26} {'REVOKED' if d['revoked_at'] else 'active':<8} "
        f"{','.join(d['driver_ids']):<20} {d['label']}"
        for d in found
    )
    _emit(found, as_json, human)


@devices.command("revoke")
@click.argument("device_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@db_option
@lang_option
def devices_revoke(device_id: str, reason: str, database_url: str, lang: str | None) -> None:
    """Revoke a tablet: it can no longer sync; what it pushes goes to quarantine.

    \b
    Example:
      towline-server devices revoke dev_0123abcd --reason "Tablet stolen"

    Exit codes: 0 revoked; 2 empty reason; 3 unknown or already revoked device.
    """
    import sqlalchemy as sa

    from server.devices import revoke_device
    from server.errors import Unprocessable, not_found
    from server.tables import devices as devices_table

    chosen = _lang(lang)

    def work() -> None:
        if not reason.strip():
            raise Unprocessable("Indiquez une raison.", "Give a reason.", code="reason_missing")
        with _engine(database_url).begin() as conn:
            tenant_id = conn.execute(
                sa.select(devices_table.c.tenant_id).where(devices_table.c.id == device_id)
            ).scalar_one_or_none()
            if tenant_id is None:
                raise not_found("Tablette", "Device", device_id)
            revoke_device(conn, tenant_id, device_id, reason.strip(), actor="cli", now=_now())

    _run(chosen, work)
    click.echo(f"{device_id} révoquée." if chosen == "fr" else f"{device_id} revoked.")


@main.command("approval-code")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("device_id", metavar="DEVICE")
@click.argument("mission_id", metavar="MISSION")
@click.option(
    "--kind",
    type=click.Choice(["discount", "deferral"]),
    required=True,
    help="discount, or deferral (“bill later”).",
)
@click.option("--amount", required=True, help='The exact amount approved, e.g. "20.00".')
@db_option
@json_option
@lang_option
def approval_code(
    tenant_id: str,
    device_id: str,
    mission_id: str,
    kind: str,
    amount: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Issue a manager approval code for one tablet, mission, kind and amount.

    The manager reads the code out; the tablet checks it offline. It lives 30 minutes
    and is kept in the audit log.

    \b
    Example:
      towline-server approval-code acme dev_0123abcd M-A-0003 --kind discount --amount 20.00

    Exit codes: 0 issued; 2 bad amount; 3 unknown tenant, device or mission, or a revoked
    device.
    """
    from server.approvals import issue
    from shared.approvals import KIND_LABELS, Kind
    from shared.money import format_amount, parse_amount

    chosen = _lang(lang)

    def work() -> Any:
        with _engine(database_url).begin() as conn:
            _require_tenant(conn, tenant_id)
            return issue(
                conn, tenant_id, device_id, mission_id, kind, amount, actor="cli", now=_now()
            )

    made = _run(chosen, work)
    what = KIND_LABELS[Kind(made["kind"])](chosen)
    money = format_amount(parse_amount(made["amount"]), chosen)
    until = made["expires_at"].strftime("%H:%M UTC")
    human = (
        f"{made['spoken']}\n(code d'accord pour {what} de {money} sur la mission "
        f"{made['mission_id']}, tablette {made['device_id']} ; valable jusqu'à {until})"
        if chosen == "fr"
        else f"{made['spoken']}\n(approval code for {what} of {money} on mission "
        f"{made['mission_id']}, device {made['device_id']}; valid until {until})"
    )
    out = {
        **made,
        "issued_at": made["issued_at"].isoformat(),
        "expires_at": made["expires_at"].isoformat(),
    }
    _emit(out, as_json, human)


@main.command("void")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("device_id", metavar="DEVICE")
@click.argument("seq", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (sent to the tablet, kept in the audit log).")
@db_option
@json_option
@lang_option
def void(
    tenant_id: str,
    device_id: str,
    seq: int,
    reason: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Void the collection recorded as entry SEQ of tablet DEVICE.

    The tablet records the reversal at its next sync. A collection is voided once.

    \b
    Example:
      towline-server void acme dev_0123abcd 42 --reason "Paid twice"

    Exit codes: 0 voided; 2 empty reason, or the entry is not a collection; 3 unknown
    tenant or entry, or already voided.
    """
    from server.decisions import void_collection
    from server.views.decisions import ReasonIn

    chosen = _lang(lang)

    def work() -> Any:
        data = ReasonIn().load({"reason": reason})
        with _engine(database_url).begin() as conn:
            _require_tenant(conn, tenant_id)
            return void_collection(
                conn, tenant_id, device_id, seq, data["reason"].strip(), actor="cli", now=_now()
            )

    made = _run(chosen, work)
    ref = f"{device_id}#{seq}"
    human = (
        f"Encaissement {ref} annulé : décision {made['id']} (la tablette l'appliquera à sa "
        "prochaine synchronisation)."
        if chosen == "fr"
        else f"Collection {ref} voided: decision {made['id']} (the tablet applies it at its "
        "next sync)."
    )
    _emit(made, as_json, human)


# Commands kept in their own modules. They import the helpers above, so either side may be
# imported first: a module imported before this one is still half-made here (no COMMANDS
# yet) and adds its commands itself, at its end (`register`).
def register(commands: list[click.Command]) -> None:
    for command in commands:
        main.add_command(command)


for _name in ("cli_reconcile", "cli_archive", "cli_claims", "cli_orders"):
    register(getattr(importlib.import_module(f"server.{_name}"), "COMMANDS", []))

main.add_command(documents)
