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
    """List a tenant's office users with their role, rights and state (active,
    deactivated, locked, temporary password).

    \b
    Example:
      towline-server users list acme
    """
    from server.people.user_admin import list_accounts
    from server.platform.db import reading

    moment = common.now()
    with reading(common.engine(database_url)).connect() as conn:
        found = list_accounts(conn, tenant_id)
    rows = [
        {
            "id": a.user.id,
            "login": a.user.login,
            "name": a.user.name,
            "role": a.user.role,
            "rights": sorted(a.user.rights),
            "active": a.user.active,
            "locked": a.locked(moment),
            "password_change_required": a.password_change_required,
        }
        for a in found
    ]
    human = "\n".join(f"{r['login']:<20} {r['role']:<10} {_state(r):<12} {r['name']}" for r in rows)
    common.emit(rows, as_json, human)


def _state(row: dict[str, Any]) -> str:
    if not row["active"]:
        return "deactivated"
    if row["locked"]:
        return "locked"
    return "temporary-pw" if row["password_change_required"] else "active"


def _user_act(tenant_id: str, login: str, database_url: str, chosen: str, act: Any) -> Any:
    """Run `act(conn, user_id)` on the user named by login, in one transaction."""
    from server.people.user_admin import user_id_by_login

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return act(conn, user_id_by_login(conn, tenant_id, login))

    return common.run(chosen, work)


@users.command("unlock")
@click.argument("tenant_id")
@click.argument("login")
@db_option
@lang_option
def users_unlock(tenant_id: str, login: str, database_url: str, lang: str | None) -> None:
    """End a user's lock-out (after five wrong passwords) now; logged.

    \b
    Example:
      towline-server users unlock acme marie

    Exit codes: 0 unlocked; 3 unknown tenant or user, or the account is not locked.
    """
    from server.people.user_admin import unlock_user

    chosen = common.lang(lang)
    _user_act(
        tenant_id,
        login,
        database_url,
        chosen,
        lambda conn, uid: unlock_user(conn, tenant_id, uid, actor=None, now=common.now()),
    )
    click.echo(f"{login} déverrouillé." if chosen == "fr" else f"{login} unlocked.")


@users.command("reset-password")
@click.argument("tenant_id")
@click.argument("login")
@click.option(
    "--password",
    default=None,  # not TOWLINE_PASSWORD: that one is for `users create`
    help="The temporary password (10 characters at least); omitted: one is made and printed once.",
)
@db_option
@json_option
@lang_option
def users_reset_password(
    tenant_id: str,
    login: str,
    password: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Give a user a temporary password: their sessions end now, and they must choose a
    new one at the next sign-in (desk or POST /api/v1/auth/password). Logged.

    \b
    Example:
      towline-server users reset-password acme marie

    Exit codes: 0 reset; 2 password too short; 3 unknown tenant or user.
    """
    from server.people.user_admin import reset_password

    chosen = common.lang(lang)
    temporary = _user_act(
        tenant_id,
        login,
        database_url,
        chosen,
        lambda conn, uid: reset_password(
            conn, tenant_id, uid, actor=None, now=common.now(), password=password
        ),
    )
    human = (
        f"Mot de passe provisoire de {login} (à changer à la prochaine connexion) :\n{temporary}"
        if chosen == "fr"
        else f"Temporary password of {login} (to change at next sign-in):\n{temporary}"
    )
    common.emit({"login": login, "temporary_password": temporary}, as_json, human)


@users.command("deactivate")
@click.argument("tenant_id")
@click.argument("login")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@db_option
@lang_option
def users_deactivate(
    tenant_id: str, login: str, reason: str, database_url: str, lang: str | None
) -> None:
    """Deactivate a user: they cannot sign in and their sessions end now; nothing they
    did is deleted. The last active user who can manage users is never deactivated.

    \b
    Example:
      towline-server users deactivate acme marie --reason "Left the company"

    Exit codes: 0 deactivated; 2 empty reason; 3 unknown tenant or user, already
    deactivated, or the last administrator.
    """
    from server.people.user_admin import deactivate_user
    from server.platform.errors import Unprocessable

    chosen = common.lang(lang)
    why = reason.strip()

    def act(conn: Any, uid: str) -> Any:
        if not why:
            raise Unprocessable("Indiquez une raison.", "Give a reason.", code="reason_missing")
        return deactivate_user(conn, tenant_id, uid, actor=None, now=common.now(), reason=why)

    _user_act(tenant_id, login, database_url, chosen, act)
    click.echo(f"{login} désactivé." if chosen == "fr" else f"{login} deactivated.")


@users.command("reactivate")
@click.argument("tenant_id")
@click.argument("login")
@db_option
@lang_option
def users_reactivate(tenant_id: str, login: str, database_url: str, lang: str | None) -> None:
    """Let a deactivated user sign in again with their password; logged.

    \b
    Example:
      towline-server users reactivate acme marie

    Exit codes: 0 reactivated; 3 unknown tenant or user, or the account is active.
    """
    from server.people.user_admin import reactivate_user

    chosen = common.lang(lang)
    _user_act(
        tenant_id,
        login,
        database_url,
        chosen,
        lambda conn, uid: reactivate_user(conn, tenant_id, uid, actor=None, now=common.now()),
    )
    click.echo(f"{login} réactivé." if chosen == "fr" else f"{login} reactivated.")


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
