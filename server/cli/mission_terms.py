"""`towline-server mission-terms show|set`: a mission's deposit and payment moment set by
hand in the office (docs/customer-debts.md "Deposits set by hand")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option, var_option


@click.group("mission-terms")
def mission_terms_group() -> None:
    """A mission's deposit and payment moment, set by hand in the office.

    \b
    Example:
      towline-server mission-terms set demo M-P-0001 --deposit 50.00 \\
          --deposit-when at_order --reason "Client inconnu, véhicule de valeur"
    """


@mission_terms_group.command("show")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("mission_id", metavar="MISSION")
@db_option
@json_option
@lang_option
def show(
    tenant_id: str, mission_id: str, database_url: str, as_json: bool, lang: str | None
) -> None:
    """The mission's terms: the contract's, the office's, those in force, and every act.

    \b
    Example:
      towline-server mission-terms show demo M-P-0001 --json

    Exit codes: 0 shown; 3 unknown tenant or mission.
    """
    from server.office import mission_terms

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return mission_terms.terms_of(conn, tenant_id, mission_id)

    found = common.run(chosen, work)
    common.emit(found, as_json, _text(found, chosen))


@mission_terms_group.command("set")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("mission_id", metavar="MISSION")
@click.option("--deposit", "amount", default=None, help='The deposit, e.g. "50.00"; 0: none.')
@click.option(
    "--deposit-when",
    type=click.Choice(["at_order", "before_departure", "exempt"]),
    default=None,
    help="When the deposit is due (required with --deposit).",
)
@click.option(
    "--pays",
    type=click.Choice(["at_order", "before_departure", "at_delivery", "on_invoice"]),
    default=None,
    help="When the beneficiary pays the rest (the step the tablet's gate guards).",
)
@click.option("--reason", required=True, help="Why: it goes in the signed journal entry.")
@click.option("--by", "actor", default="cli", help="The office user who sets them.")
@db_option
@var_option
@json_option
@lang_option
def set_command(
    tenant_id: str,
    mission_id: str,
    amount: str | None,
    deposit_when: str | None,
    pays: str | None,
    reason: str,
    actor: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Set a mission's deposit, its payment moment, or both, by hand. One signed entry in
    the server journal; the tablet applies it at its next pull, and no recomputation or
    sync replaces it.

    \b
    Examples:
      towline-server mission-terms set demo M-P-0001 --deposit 50.00 \\
          --deposit-when at_order --reason "Client inconnu" --by bureau
      towline-server mission-terms set demo M-P-0001 --pays on_invoice \\
          --reason "Garage partenaire, payera sur facture"

    Exit codes: 0 set; 2 bad input (amount, moment, no reason, nothing to set); 3 unknown
    tenant or mission, a cancelled mission.
    """
    from server.cli.debt_payments import signing_key
    from server.office import mission_terms

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return mission_terms.set_terms(
                conn,
                tenant_id,
                mission_id,
                deposit_amount=amount,
                deposit_when=deposit_when,
                pays=pays,
                reason=reason,
                key=signing_key(var_dir),
                actor=actor,
                now=common.now(),
            )

    made = common.run(chosen, work)
    common.emit(made, as_json, _text(made, chosen))


def _text(terms: dict[str, Any], chosen: str) -> str:
    from server.office.mission_terms import PAY_WHEN

    force = terms["in_force"]
    deposit = force["deposit"]
    lines = [f"{terms['mission_id']}: {deposit['explanation'][chosen]}"]
    if force["pays"] is not None:
        source = force["pays_source"]
        by = (
            ("fixé par le bureau" if chosen == "fr" else "set by the office")
            if source == "office"
            else ("selon le contrat" if chosen == "fr" else "under the contract")
        )
        moment = PAY_WHEN[force["pays"]](chosen)
        lines.append(f"  {'paiement' if chosen == 'fr' else 'payment'}: {moment} ({by})")
    for act in terms["history"]:
        parts = []
        if act["deposit"] is not None:
            parts.append(f"{act['deposit']['amount']} {act['deposit']['when']}")
        if act["pays"] is not None:
            parts.append(f"pays={act['pays']}")
        lines.append(
            f"  #{act['journal_seq']} {act['at']} {act['by']}: {', '.join(parts)} — {act['reason']}"
        )
    return "\n".join(lines)


COMMANDS: list[click.Command] = [mission_terms_group]
