"""`towline-server approval-code` and `void`: the office's decisions sent to tablets."""

from __future__ import annotations

from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option, var_option


@click.command("approval-code")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("device_id", metavar="DEVICE")
@click.argument("mission_id", metavar="MISSION")
@click.option(
    "--kind",
    type=click.Choice(["discount", "deferral", "site_facts"]),
    required=True,
    help="discount, deferral (“bill later”), or site_facts (facts beyond the tolerance:"
    " the amount is the mission's total the tablet names).",
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
    from server.office.approvals import issue
    from shared.approvals import KIND_LABELS, Kind
    from shared.money import format_amount, parse_amount

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return issue(
                conn, tenant_id, device_id, mission_id, kind, amount, actor="cli", now=common.now()
            )

    made = common.run(chosen, work)
    what = KIND_LABELS[Kind(made["kind"])](chosen)
    money = format_amount(parse_amount(made["amount"]), chosen)
    from server.cli import local_times

    zone = local_times.zone_of(common.engine(database_url), tenant_id)
    until = local_times.clock(made["expires_at"], zone, chosen)
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
    common.emit(out, as_json, human)


@click.command("void")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("device_id", metavar="DEVICE")
@click.argument("seq", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (sent to the tablet, kept in the audit log).")
@db_option
@var_option
@json_option
@lang_option
def void(
    tenant_id: str,
    device_id: str,
    seq: int,
    reason: str,
    database_url: str,
    var_dir: Any,
    as_json: bool,
    lang: str | None,
) -> None:
    """Void the collection recorded as entry SEQ of tablet DEVICE.

    The tablet records the reversal at its next sync. A collection is voided once.
    When no invoice bills the customer, a refund receipt is issued for them (its own
    gapless series, RR2026-000001, signed in the server journal; PDF from the desk's
    mission page or GET /api/v1/refund-receipts/NUMBER/pdf). When an invoice bills
    them, no document is issued: the invoice is open again for what is no longer paid.

    \b
    Example:
      towline-server void acme dev_0123abcd 42 --reason "Paid twice"

    Exit codes: 0 voided; 2 empty reason, or the entry is not a collection; 3 unknown
    tenant or entry, or already voided.
    """
    from server.api.decisions import ReasonIn
    from server.office.decisions import void_collection
    from server.platform.keys import server_key

    chosen = common.lang(lang)

    def work() -> Any:
        data = ReasonIn().load({"reason": reason})
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return void_collection(
                conn,
                tenant_id,
                device_id,
                seq,
                data["reason"].strip(),
                actor="cli",
                now=common.now(),
                key=server_key(var_dir),
            )

    made = common.run(chosen, work)
    ref = f"{device_id}#{seq}"
    refund = made.get("refund_receipt")
    human = (
        f"Encaissement {ref} annulé : décision {made['id']} (la tablette l'appliquera à sa "
        "prochaine synchronisation). "
        + (
            f"Reçu de remboursement {refund} émis pour le client."
            if refund
            else "Une facture porte cet encaissement : elle redevient due, aucun document émis."
        )
        if chosen == "fr"
        else f"Collection {ref} voided: decision {made['id']} (the tablet applies it at its "
        "next sync). "
        + (
            f"Refund receipt {refund} issued to the customer."
            if refund
            else "An invoice carries this collection: it is due again, no document issued."
        )
    )
    common.emit(made, as_json, human)


COMMANDS: list[click.Command] = [approval_code, void]
