"""`towline-server reconcile`, `anomalies list|resolve` and `settlements import`: the
reconciliation desk on the command line (the same functions as the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option, var_option


@click.command("reconcile")
@click.argument("tenant_id", metavar="TENANT")
@db_option
@json_option
@lang_option
def reconcile_command(tenant_id: str, database_url: str, as_json: bool, lang: str | None) -> None:
    """Reconcile every mission, register, approval code and card payment of TENANT.

    Pushes already reconcile what they bring; run this after importing settlements, after
    publishing a corrected contract, or nightly. It commits a batch of missions at a time,
    so the pushes meanwhile wait for one batch only; stopped half-way, run it again.

    \b
    Example:
      towline-server reconcile demo

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.office import reconcile

    chosen = common.lang(lang)

    def work() -> Any:
        engine = common.engine(database_url)
        with engine.begin() as conn:
            common.require_tenant(conn, tenant_id)
        # A batch of missions per transaction: pushes meanwhile wait for one batch only.
        return reconcile.reconcile_tenant_in_steps(engine, tenant_id, now=common.now())

    summary = common.run(chosen, work)
    body = {
        "missions": summary.missions,
        "found": summary.found,
        "opened": summary.opened,
        "cleared": summary.cleared,
        "by_kind": summary.by_kind,
    }
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary.by_kind.items())) or "—"
    human = (
        f"{summary.missions} mission(s) rapprochée(s) : {summary.found} anomalie(s) constatée(s)"
        f" ({kinds}), {summary.opened} nouvelle(s), {summary.cleared} levée(s)."
        if chosen == "fr"
        else f"{summary.missions} mission(s) reconciled: {summary.found} anomal(y/ies) found"
        f" ({kinds}), {summary.opened} new, {summary.cleared} cleared."
    )
    common.emit(body, as_json, human)


@click.group("anomalies")
def anomalies_group() -> None:
    """What does not add up, and its resolution in one action.

    \b
    Example:
      towline-server anomalies list demo --status open
      towline-server anomalies resolve demo 12 void --reason "Encaissement fictif" --by bureau
    """


@anomalies_group.command("list")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--status", type=click.Choice(["open", "resolved", "cleared"]), default=None)
@click.option("--kind", default=None, help="e.g. fictitious_collection")
@db_option
@json_option
@lang_option
def list_anomalies(
    tenant_id: str,
    status: str | None,
    kind: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """The tenant's anomalies, newest first.

    \b
    Example:
      towline-server anomalies list demo --status open --kind fictitious_collection
    """
    import sqlalchemy as sa

    from server.api.anomalies import wire
    from server.platform.tables import anomalies

    chosen = common.lang(lang)

    def work() -> Any:
        query = sa.select(anomalies).where(anomalies.c.tenant_id == tenant_id)
        if status:
            query = query.where(anomalies.c.status == status)
        if kind:
            query = query.where(anomalies.c.kind == kind)
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return [wire(r) for r in conn.execute(query.order_by(anomalies.c.id.desc()))]

    rows = common.run(chosen, work)
    lines = [
        f"{r['id']:>5}  {r['status']:<8} {r['kind']:<26} {r['mission_id'] or '':<14}"
        f" {r['amount'] or '':>9}  {r['detail'].get(chosen, '')}"
        for r in rows
    ]
    empty = "Aucune anomalie." if chosen == "fr" else "No anomalies."
    common.emit(rows, as_json, "\n".join(lines) or empty)


@anomalies_group.command("resolve")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("anomaly_id", type=int, metavar="ID")
@click.argument(
    "action",
    type=click.Choice(
        ["void", "approve", "refuse", "acknowledge", "accept_dispute", "invoice_overrun"]
    ),
)
@click.option("--reason", required=True, help="Why: recorded in the journal and the audit log.")
@click.option("--by", "actor", required=True, help="The office user who decides.")
@click.option(
    "--as",
    "as_kind",
    type=click.Choice(["deferral", "discount"]),
    default="deferral",
    help="approve on money still owed: bill later (default) or a discount.",
)
@var_option
@db_option
@json_option
@lang_option
def resolve_anomaly(
    tenant_id: str,
    anomaly_id: int,
    action: str,
    reason: str,
    actor: str,
    as_kind: str,
    var_dir: Path,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Resolve anomaly ID in one action, with the reason.

    \b
    Actions: void (the collection; a refund receipt when no invoice bills the
    customer, else a credit note only for what the invoice bills beyond what is due),
    approve, refuse, acknowledge, accept_dispute (re-value with the contract held now;
    a total credit note and a new invoice only if the mission is already invoiced),
    invoice_overrun. Resolving an anomaly also resolves those it causes.

    \b
    Example:
      towline-server anomalies resolve demo 12 void --reason "Le client n'a rien payé" --by bureau

    Exit codes: 0 done; 2 empty reason; 3 unknown tenant or anomaly, not open, or the
    action does not fit the anomaly.
    """
    from server.office import resolutions
    from server.platform import keys

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return resolutions.resolve(
                conn,
                tenant_id,
                anomaly_id,
                action,
                reason,
                key=keys.server_key(var_dir),
                actor=actor,
                now=common.now(),
                as_kind=as_kind,
            )

    done = common.run(chosen, work)
    human = (
        f"Anomalie {anomaly_id} résolue ({action}) ; entrée {done['journal_seq']} du journal."
        if chosen == "fr"
        else f"Anomaly {anomaly_id} resolved ({action}); journal entry {done['journal_seq']}."
    )
    common.emit(done, as_json, human)


@click.group("settlements")
def settlements_group() -> None:
    """Card-terminal settlement files, matched against card collections.

    \b
    Example:
      towline-server settlements import demo remises-2026-03-10.csv
    """


@settlements_group.command("import")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--by", "actor", default="cli", help="Who imports it (audit log).")
@db_option
@json_option
@lang_option
def import_settlements(
    tenant_id: str, path: Path, actor: str, database_url: str, as_json: bool, lang: str | None
) -> None:
    """Import a settlement file (CSV: date;reference;amount) and reconcile card payments.

    \b
    Example:
      towline-server settlements import demo remises-2026-03-10.csv

    Exit codes: 0 imported; 2 unreadable file (every bad line listed); 3 unknown tenant,
    or the file was already imported.
    """
    from server.office import reconcile, settlements

    chosen = common.lang(lang)

    def work() -> Any:
        engine = common.engine(database_url)
        with engine.begin() as conn:
            common.require_tenant(conn, tenant_id)
            done = settlements.import_file(
                conn, tenant_id, path.name, path.read_bytes(), actor=actor, now=common.now()
            )
        # The file is kept; then the reconciliation, a batch of missions a transaction (as
        # `towline-server reconcile`: run that again if this one is stopped half-way).
        summary = reconcile.reconcile_tenant_in_steps(engine, tenant_id, now=common.now())
        assert summary is not None  # only a job's lease taken over stops it
        return {**done, "card_unmatched": summary.by_kind.get("card_unmatched", 0)}

    done = common.run(chosen, work)
    human = (
        f"{done['lines']} ligne(s) importée(s) ({done['period_from']} → {done['period_to']}) ;"
        f" paiements carte sans remise : {done['card_unmatched']}."
        if chosen == "fr"
        else f"{done['lines']} line(s) imported ({done['period_from']} → {done['period_to']});"
        f" card payments without settlement: {done['card_unmatched']}."
    )
    common.emit(done, as_json, human)


COMMANDS: list[click.Command] = [reconcile_command, anomalies_group, settlements_group]
