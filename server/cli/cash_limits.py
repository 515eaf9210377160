"""`towline-server cash-limits TENANT [--resident AMOUNT] [--non-resident AMOUNT]`: the
legal limit on a debt paid in cash at the office, as the tenant sets it
(docs/customer-debts.md "Cash at the office")."""

from __future__ import annotations

from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option


@click.command("cash-limits")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--resident", default=None, help="Tax domicile in France or a business (≤ 1000.00).")
@click.option("--non-resident", default=None, help="A private person not domiciled (≤ 15000.00).")
@click.option("--by", "actor", default="cli", help="The office user who sets them.")
@db_option
@json_option
@lang_option
def cash_limits_command(
    tenant_id: str,
    resident: str | None,
    non_resident: str | None,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Show the cash limits in force, or set them (each at most the law's: Code monétaire
    et financier art. D112-3; a company may be stricter). Each change is a new version.

    \b
    Examples:
      towline-server cash-limits demo
      towline-server cash-limits demo --resident 500.00 --by gerant

    Exit codes: 0 done; 2 an amount above the law's or unreadable; 3 unknown tenant.
    """
    from server.office import cash_limits

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if resident is None and non_resident is None:
                return cash_limits.current(conn, tenant_id).to_wire()
            held = cash_limits.current(conn, tenant_id).to_wire()
            document = {
                "resident": resident if resident is not None else held["resident"],
                "non_resident": non_resident if non_resident is not None else held["non_resident"],
            }
            return cash_limits.set_limits(
                conn, tenant_id, document, actor=actor, now=common.now()
            ).to_wire()

    found = common.run(chosen, work)
    version = found["version"] or ("la loi" if chosen == "fr" else "the law")
    human = (
        f"espèces : {found['resident']} (résident ou professionnel), "
        f"{found['non_resident']} (particulier non résident) — version {version}"
        if chosen == "fr"
        else f"cash: {found['resident']} (resident or business), "
        f"{found['non_resident']} (private non-resident) — version {version}"
    )
    common.emit(found, as_json, human)


COMMANDS: list[click.Command] = [cash_limits_command]
