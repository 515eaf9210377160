"""`towline-server tenants`, `users` and `drivers`: who works in Towline."""

from __future__ import annotations

from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option


@click.group()
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

    from server.api.fields import IDENT, NAME
    from server.people.identity import create_tenant

    chosen = common.lang(lang)

    def work() -> Any:
        for field, check, value in (("tenant", IDENT, tenant_id), ("name", NAME, name)):
            try:
                check(value)
            except ValidationError as error:
                raise ValidationError({field: error.messages}) from None
        with common.engine(database_url).begin() as conn:
            return create_tenant(conn, tenant_id, name, payments_enabled=payments, now=common.now())

    tenant = common.run(chosen, work)
    state = (
        ("activé" if payments else "désactivé") if chosen == "fr" else ("on" if payments else "off")
    )
    human = (
        f"Société {tenant.id} créée (module Paiements {state})."
        if chosen == "fr"
        else f"Tenant {tenant.id} created (payments module {state})."
    )
    common.emit(
        {"id": tenant.id, "name": tenant.name, "payments_enabled": payments}, as_json, human
    )


@tenants.command("list")
@db_option
@json_option
def tenants_list(database_url: str, as_json: bool) -> None:
    """List the tenants.

    \b
    Example:
      towline-server tenants list --json
    """
    from server.people.identity import list_tenants
    from server.platform.db import reading

    with reading(common.engine(database_url)).connect() as conn:
        found = list_tenants(conn)
    rows = [{"id": t.id, "name": t.name, "payments_enabled": t.payments_enabled} for t in found]
    human = "\n".join(
        f"{t.id:<20} {'payments' if t.payments_enabled else '-':<9} {t.name}" for t in found
    )
    common.emit(rows, as_json, human)


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
    from server.people.identity import set_payments

    chosen = common.lang(lang)

    def work() -> None:
        with common.engine(database_url).begin() as conn:
            set_payments(conn, tenant_id, state == "on", now=common.now())

    common.run(chosen, work)
    click.echo(f"{tenant_id}: payments {state}")


@click.group()
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
    """Create an office user (the password is asked for, hidden), with any role of the
    tenant: the command line acts as the installation's administrator (docs/cli.md).

    \b
    Example:
      towline-server users create acme marie --name "Marie Dupont" --role admin

    Exit codes: 0 created; 2 bad value (login, password too short, unknown role);
    3 login taken or unknown tenant.
    """
    from server.api.users import UserIn
    from server.people.identity import create_user

    chosen = common.lang(lang)

    def work() -> Any:
        data = UserIn().load({"login": login, "name": name, "password": password, "role": role})
        with common.engine(database_url).begin() as conn:
            return create_user(
                conn,
                tenant_id,
                data["login"],
                data["name"],
                data["password"],
                data["role"],
                actor="cli",
                now=common.now(),
            )

    user = common.run(chosen, work)
    out = {"id": user.id, "login": user.login, "name": user.name, "role": user.role}
    common.emit(out, as_json, f"{user.login} ({user.role}) : {user.id}")


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
    from server.people.identity import list_users
    from server.platform.db import reading

    with reading(common.engine(database_url)).connect() as conn:
        found = list_users(conn, tenant_id)
    rows = [
        {"id": u.id, "login": u.login, "name": u.name, "role": u.role, "rights": sorted(u.rights)}
        for u in found
    ]
    human = "\n".join(f"{u.login:<20} {u.role:<10} {u.name}" for u in found)
    common.emit(rows, as_json, human)


@click.group()
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
    """Create a driver with a PIN (stored hashed), with any role of the tenant: the
    command line acts as the installation's administrator (docs/cli.md).

    \b
    Example:
      towline-server drivers create acme D1 --name "Luc Martin"

    Exit codes: 0 created; 2 bad value (PIN format, unknown role); 3 driver exists.
    """
    from server.api.drivers import DriverIn
    from server.people.drivers import create_driver

    chosen = common.lang(lang)

    def work() -> Any:
        data = DriverIn().load({"id": driver_id, "name": name, "pin": pin, "role": role})
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return create_driver(
                conn,
                tenant_id,
                data["id"],
                data["name"],
                data["pin"],
                data["role"],
                actor="cli",
                now=common.now(),
            )

    driver = common.run(chosen, work)
    driver.pop("pin_hash", None)
    common.emit(driver, as_json, f"{driver['id']} ({driver['role']}) : {driver['name']}")


COMMANDS: list[click.Command] = [tenants, users, drivers]
