"""`towline-server enroll-code` and `devices`: the tablets, enrolled and revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option


@click.command("enroll-code")
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
    from server.api.devices import EnrolmentCodeIn
    from server.devices.tablets import create_enrolment_code

    chosen = common.lang(lang)

    def work() -> Any:
        data = EnrolmentCodeIn().load(
            {"driver_ids": list(driver_ids), "label": label or "tablet", "ttl_minutes": ttl_minutes}
        )
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return create_enrolment_code(
                conn,
                tenant_id,
                data["driver_ids"],
                data["label"],
                created_by="cli",
                now=common.now(),
                ttl=timedelta(minutes=data["ttl_minutes"]),
            )

    made = common.run(chosen, work)
    from server.cli import local_times

    zone = local_times.zone_of(common.engine(database_url), tenant_id)
    until = local_times.clock(made["expires_at"], zone, chosen)
    human = (
        f"{made['code']}\n(valable jusqu'à {until}, une seule tablette)"
        if chosen == "fr"
        else f"{made['code']}\n(valid until {until}, one tablet)"
    )
    common.emit(made, as_json, human)


@click.group()
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
    from server.devices.tablets import list_devices
    from server.platform.db import reading

    with reading(common.engine(database_url)).connect() as conn:
        found = list_devices(conn, tenant_id)
    human = "\n".join(
        f"{d['id']:<26} {'REVOKED' if d['revoked_at'] else 'active':<8} "
        f"{','.join(d['driver_ids']):<20} {d['label']}"
        for d in found
    )
    common.emit(found, as_json, human)


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

    from server.devices.tablets import revoke_device
    from server.platform.errors import Unprocessable, not_found
    from server.platform.tables import devices as devices_table

    chosen = common.lang(lang)

    def work() -> None:
        if not reason.strip():
            raise Unprocessable("Indiquez une raison.", "Give a reason.", code="reason_missing")
        with common.engine(database_url).begin() as conn:
            tenant_id = conn.execute(
                sa.select(devices_table.c.tenant_id).where(devices_table.c.id == device_id)
            ).scalar_one_or_none()
            if tenant_id is None:
                raise not_found("Tablette", "Device", device_id)
            revoke_device(conn, tenant_id, device_id, reason.strip(), actor="cli", now=common.now())

    common.run(chosen, work)
    click.echo(f"{device_id} révoquée." if chosen == "fr" else f"{device_id} revoked.")


@devices.command("codes")
@click.argument("tenant_id")
@db_option
@json_option
def devices_codes(tenant_id: str, database_url: str, as_json: bool) -> None:
    """List the enrolment codes that could still enrol a tablet (unused, not withdrawn,
    not expired). The codes themselves are never kept: each is named by its number.

    \b
    Example:
      towline-server devices codes acme
    """
    from server.cli import local_times
    from server.devices.tablets import open_codes
    from server.platform.db import reading

    with reading(common.engine(database_url)).connect() as conn:
        found = open_codes(conn, tenant_id, common.now())
    chosen = common.lang(None)
    zone = local_times.zone_of(common.engine(database_url), tenant_id)
    human = "\n".join(
        [
            *(
                f"{c['id']:<6} {local_times.when(c['expires_at'], zone, chosen)}  "
                f"{','.join(c['driver_ids']):<20} {c['label']}"
                for c in found
            ),
            *([local_times.zone_line(zone, chosen)] if found else []),
        ]
    )
    common.emit(found, as_json, human)


@devices.command("withdraw-code")
@click.argument("tenant_id")
@click.argument("code_id", type=int)
@db_option
@lang_option
def devices_withdraw_code(
    tenant_id: str, code_id: int, database_url: str, lang: str | None
) -> None:
    """Withdraw an unused enrolment code (its number from `devices codes`): it can no
    longer enrol a tablet. Logged; the code's row stays.

    \b
    Example:
      towline-server devices withdraw-code acme 12

    Exit codes: 0 withdrawn; 3 unknown tenant or code, or the code is used, expired or
    withdrawn already.
    """
    from server.devices.tablets import withdraw_code

    chosen = common.lang(lang)

    def work() -> None:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            withdraw_code(conn, tenant_id, code_id, actor="cli", now=common.now())

    common.run(chosen, work)
    click.echo(f"Code {code_id} retiré." if chosen == "fr" else f"Code {code_id} withdrawn.")


COMMANDS: list[click.Command] = [enroll_code, devices]
