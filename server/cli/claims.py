"""`towline-server claims …`: claims on the command line, invoices to ordering parties
followed until paid (the same functions as the API; docs/claims-and-payments.md). Payments
back, receivables and the nightly import are in `server.cli.payments`."""

from __future__ import annotations

from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option

ACTIONS = {
    "create": "create",
    "attach-check": "attach_check",
    "submit": "submit",
    "validate": "validate",
    "reject": "reject",
    "resubmit": "resubmit",
}


def _claim_line(c: dict[str, Any], lang: str) -> str:
    return (
        f"{c['invoice_number']:<14} {c['party_id']:<12} {c['file_number'] or '':<20}"
        f" {c['status_label'][lang]:<28} {c['amount']:>10} {c['paid']:>10} {c['open']:>10}"
    )


@click.group("claims")
def claims_group() -> None:
    """Claims: invoices to ordering parties, followed until paid.

    \b
    Example:
      towline-server claims list demo --status to_validate
      towline-server claims act demo F2026-000012 submit --by bureau
    """


@claims_group.command("list")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--party", "party_id", default=None, help="One ordering party, e.g. ASSIST-A.")
@click.option("--status", default=None, help="e.g. to_validate, rejected, paid.")
@db_option
@json_option
@lang_option
def list_claims(
    tenant_id: str,
    party_id: str | None,
    status: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """The tenant's claims, oldest invoice first: status, amount, paid, open.

    \b
    Example:
      towline-server claims list demo --party ASSIST-A --status rejected

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.parties import claim_reading

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return claim_reading.list_claims(conn, tenant_id, party_id=party_id, status=status)

    rows = common.run(chosen, work)
    empty = "Aucune demande." if chosen == "fr" else "No claims."
    common.emit(rows, as_json, "\n".join(_claim_line(c, chosen) for c in rows) or empty)


@claims_group.command("act")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("number", metavar="INVOICE")
@click.argument("action", type=click.Choice(list(ACTIONS)))
@click.option("--reason", "reasons", multiple=True, help="reject: a reason (repeatable).")
@click.option("--by", "actor", default="cli", help="The office user who acts (file log).")
@db_option
@json_option
@lang_option
def act(
    tenant_id: str,
    number: str,
    action: str,
    reasons: tuple[str, ...],
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Act on the claim of invoice INVOICE: create, attach-check, submit, validate,
    reject (with --reason) or resubmit.

    \b
    Example:
      towline-server claims act demo F2026-000012 reject --reason "Photo floue" --by bureau

    Exit codes: 0 done; 2 reject without a reason; 3 unknown tenant or claim, the status
    does not allow it, or a required document is missing (each one named).
    """
    from server.parties import claims

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return claims.act(
                conn,
                tenant_id,
                number,
                ACTIONS[action],
                actor=actor,
                now=common.now(),
                reasons=reasons,
            )

    done = common.run(chosen, work)
    human = (
        f"Demande {number} : {done['status_label']['fr']}."
        if chosen == "fr"
        else f"Claim {number}: {done['status_label']['en']}."
    )
    common.emit(done, as_json, human)


@claims_group.command("requirements")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("party_id", metavar="PARTY")
@click.argument("kinds", nargs=-1)
@click.option("--set", "set_", is_flag=True, help="Set KINDS as the new list (else: show).")
@click.option("--by", "actor", default="cli", help="Who sets them (audit log).")
@db_option
@json_option
@lang_option
def requirements(
    tenant_id: str,
    party_id: str,
    kinds: tuple[str, ...],
    set_: bool,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Show, or --set, the documents PARTY requires with a claim.

    \b
    Example:
      towline-server claims requirements demo ASSIST-A --set invoice_pdf vehicle_photo

    Exit codes: 0 done; 2 invalid kind; 3 unknown tenant or party.
    """
    from server.parties import claim_documents

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if set_:
                return claim_documents.set_requirements(
                    conn, tenant_id, party_id, list(kinds), actor=actor, now=common.now()
                )
            claim_documents.require_party(conn, tenant_id, party_id)
            return claim_documents.requirements(conn, tenant_id, party_id)

    made = common.run(chosen, work)
    names = ", ".join(claims_label(k, chosen) for k in made["kinds"]) or "—"
    human = (
        f"{party_id} v{made['version']} : {names}"
        if chosen == "fr"
        else f"{party_id} v{made['version']}: {names}"
    )
    common.emit(made, as_json, human)


def claims_label(kind: str, lang: str) -> str:
    from server.parties.claim_documents import document_label

    return document_label(kind)(lang)


COMMANDS: list[click.Command] = [claims_group]
