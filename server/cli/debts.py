"""`towline-server debts …`: money owed by beneficiaries on the command line — the
ageing, a customer's account, payments received in the office (with credit applied or
refunded), reminder letters and the payment terms (docs/customer-debts.md). The same
functions as the API and the desk.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option, var_option
from server.cli.debt_payments import apply, pay, payments, read_day, refund, signing_key

BUCKETS_FR = {
    "not_due": "non échu",
    "0-30": "0-30 j",
    "31-60": "31-60 j",
    "61-90": "61-90 j",
    "over_90": "> 90 j",
}
BUCKETS_EN = {
    "not_due": "not due",
    "0-30": "0-30 d",
    "31-60": "31-60 d",
    "61-90": "61-90 d",
    "over_90": "> 90 d",
}


def _today(conn: Any, tenant_id: str) -> date:
    from server.office.invoice_balances import local_day, tenant_zone

    return local_day(common.now(), tenant_zone(conn, tenant_id))


@click.group("debts")
def debts() -> None:
    """Money owed by beneficiaries: ageing, accounts, payments received, reminders.

    \b
    Example:
      towline-server debts ageing demo
      towline-server debts pay demo --amount 64.00 --method cheque \\
          --received-on 2026-03-24 --reference "CHQ 1234567" --invoice F2026-000006
    """


@debts.command("ageing")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--at", "at_text", default=None, help="YYYY-MM-DD (default: today).")
@db_option
@json_option
@lang_option
def ageing(
    tenant_id: str, at_text: str | None, database_url: str, as_json: bool, lang: str | None
) -> None:
    """Per customer, what is open by days past the due date, and their credit.

    \b
    Example:
      towline-server debts ageing demo --at 2026-03-31

    Exit codes: 0 done; 2 bad date; 3 unknown tenant.
    """
    from server.office import customer_debts

    chosen = common.lang(lang)
    at = read_day(at_text, "--at", chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return customer_debts.ageing(conn, tenant_id, at or _today(conn, tenant_id))

    aged = common.run(chosen, work)
    names = BUCKETS_FR if chosen == "fr" else BUCKETS_EN
    head = f"{'Client' if chosen == 'fr' else 'Customer':<24}" + "".join(
        f"{names[k]:>12}" for k in names
    )
    head += f"{'Total':>12}{'Avoir' if chosen == 'fr' else 'Credit':>10}"
    lines = [head]
    for c in aged["customers"]:
        lines.append(
            f"{c['customer_label'][:24]:<24}"
            + "".join(f"{c['buckets'][k]:>12}" for k in names)
            + f"{c['total']:>12}{c['credit']:>10}"
        )
    t = aged["totals"]
    lines.append(
        f"{'Total':<24}"
        + "".join(f"{t['buckets'][k]:>12}" for k in names)
        + f"{t['total']:>12}{t['credit']:>10}"
    )
    common.emit(aged, as_json, "\n".join(lines))


@debts.command("invoices")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--customer", default=None, help="One customer's key, e.g. plate:AB-123-CD.")
@click.option("--at", "at_text", default=None, help="YYYY-MM-DD (default: today).")
@db_option
@json_option
@lang_option
def open_list(
    tenant_id: str,
    customer: str | None,
    at_text: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """The beneficiary invoices still open, oldest first, with their due date.

    \b
    Example:
      towline-server debts invoices demo --customer GARAGE-DUPONT

    Exit codes: 0 done; 2 bad date; 3 unknown tenant.
    """
    from server.office import customer_debts

    chosen = common.lang(lang)
    at = read_day(at_text, "--at", chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            day = at or _today(conn, tenant_id)
            return [
                {**b.to_wire(), "days_late": b.days_late(day)}
                for b in customer_debts.open_invoices(conn, tenant_id, day, customer=customer)
            ]

    rows = common.run(chosen, work)
    lines = [
        f"{r['number']:<14} {r['customer_label'][:20]:<20} {r['due_on']} "
        f"{r['days_late']:>5} {r['total']:>10} {r['open']:>10}"
        for r in rows
    ]
    empty = "Rien n'est dû." if chosen == "fr" else "Nothing is owed."
    common.emit(rows, as_json, "\n".join(lines) or empty)


@debts.command("account")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("customer")
@click.option("--at", "at_text", default=None, help="YYYY-MM-DD (default: today).")
@db_option
@json_option
@lang_option
def account(
    tenant_id: str,
    customer: str,
    at_text: str | None,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """A customer's invoices, payments, credit and reminders, and its history.

    \b
    Example:
      towline-server debts account demo plate:AB-123-CD

    Exit codes: 0 done; 2 bad date; 3 unknown tenant or customer.
    """
    from server.office import customer_debts

    chosen = common.lang(lang)
    at = read_day(at_text, "--at", chosen)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return customer_debts.account(conn, tenant_id, customer, at or _today(conn, tenant_id))

    found = common.run(chosen, work)
    t = found["totals"]
    lines = [
        f"{found['name']} ({found['customer_label']})",
        (
            f"Facturé {t['billed']}  avoirs {t['credited']}  payé {t['paid']}  "
            f"reste dû {t['open']}  avoir client {t['credit']}"
            if chosen == "fr"
            else f"Billed {t['billed']}  credited {t['credited']}  paid {t['paid']}  "
            f"open {t['open']}  credit {t['credit']}"
        ),
    ]
    for h in found["history"]:
        lines.append(f"  {h['on']}  {h['event']:<15} {h['ref']:<14} {h['amount']:>10}")
    common.emit(found, as_json, "\n".join(lines))


@debts.command("remind")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--at", "at_text", default=None, help="YYYY-MM-DD (default: today).")
@click.option("--invoice", "invoices", multiple=True, help="Only this invoice (repeatable).")
@click.option("--letter-lang", type=click.Choice(["fr", "en"]), default=None)
@click.option("--send", is_flag=True, help="Make the letters (else: list what is due).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="With --send: write each letter's PDF in this folder.",
)
@click.option("--by", "actor", default="cli", help="The office user who sends them.")
@db_option
@json_option
@lang_option
def remind(
    tenant_id: str,
    at_text: str | None,
    invoices: tuple[str, ...],
    letter_lang: str | None,
    send: bool,
    out: Path | None,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """List the reminder letters due, or --send them (each kept on the customer's
    history; a level is never sent twice).

    \b
    Example:
      towline-server debts remind demo
      towline-server debts remind demo --send --out relances/ --by bureau

    Exit codes: 0 done; 2 bad date; 3 unknown tenant, or a named invoice not due.
    """
    from server.office import reminders

    chosen = common.lang(lang)
    at = read_day(at_text, "--at", chosen)

    def work() -> Any:
        eng = common.engine(database_url)
        with eng.begin() if send else eng.connect() as conn:
            common.require_tenant(conn, tenant_id)
            day = at or _today(conn, tenant_id)
            if not send:
                return reminders.due(conn, tenant_id, day)
            made = reminders.send(
                conn,
                tenant_id,
                day,
                invoices=list(invoices) or None,
                lang=letter_lang,
                actor=actor,
                now=common.now(),
            )
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                for letter in made:
                    pdf = reminders.letter(conn, tenant_id, letter["invoice"], letter["level"])
                    path = out / f"relance-{letter['invoice']}-{letter['level']}.pdf"
                    path.write_bytes(pdf)
                    letter["file"] = str(path)
            return made

    rows = common.run(chosen, work)
    lines = [
        f"{r.get('number') or r.get('invoice'):<14} {r['level']} {r['lang']} "
        f"{r['customer_label'][:20]:<20} {r['open']:>10}"
        + (f"  {r['file']}" if r.get("file") else "")
        for r in rows
    ]
    empty = "Aucune relance." if chosen == "fr" else "No reminders."
    common.emit(rows, as_json, "\n".join(lines) or empty)


@debts.command("terms")
@click.argument("tenant_id", metavar="TENANT")
@click.option(
    "--set",
    "document",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A JSON file with the new terms (else: show them).",
)
@click.option("--by", "actor", default="cli", help="Who sets them (audit log).")
@db_option
@json_option
@lang_option
def terms(
    tenant_id: str,
    document: Path | None,
    actor: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Show, or --set, the payment terms and the reminder delays.

    \b
    Example:
      towline-server debts terms demo --set terms.json
      (terms.json: {"payment_days": 0, "customers": {"GARAGE-DUPONT": 30},
                    "reminder_days": [15, 30, 45], "letter_lang": "fr"})

    Exit codes: 0 done; 2 unreadable or invalid terms (every problem listed); 3 unknown
    tenant.
    """
    from server.office import debt_terms
    from shared.i18n import Text

    chosen = common.lang(lang)

    def work() -> Any:
        data = None
        if document is not None:
            data = common.read(document, Text("Conditions de paiement", "Payment terms"))
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            if data is None:
                return debt_terms.to_wire(debt_terms.current(conn, tenant_id))
            made = debt_terms.set_terms(conn, tenant_id, data, actor=actor, now=common.now())
            return debt_terms.to_wire(made)

    found = common.run(chosen, work)
    common.emit(found, as_json, json.dumps(found, ensure_ascii=False, indent=2))


@debts.command("refund-overpaid")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("invoice")
@click.option("--reference", required=True, help="The refund's transfer or cheque.")
@click.option("--amount", default=None, help="Default: all the credit the invoice holds.")
@click.option("--by", "actor", default="cli", help="The office user.")
@db_option
@var_option
@json_option
@lang_option
def refund_overpaid(
    tenant_id: str,
    invoice: str,
    reference: str,
    amount: str | None,
    actor: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Pay back the credit INVOICE holds: what was collected on site beyond what it bills
    (after a credit note, say), less a voided collection's money and earlier refunds.

    \b
    Example:
      towline-server debts refund-overpaid demo F2026-000004 --reference "VIR REMB 0402"

    Exit codes: 0 done; 2 bad amount or reference, not a beneficiary invoice; 3 unknown
    tenant, no credit on the invoice, more than its credit.
    """
    from server.office import office_payments

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return office_payments.refund_overpayment(
                conn,
                tenant_id,
                invoice,
                reference=reference,
                amount=amount,
                key=signing_key(var_dir),
                actor=actor,
                now=common.now(),
            )

    made = common.run(chosen, work)
    left = made["balance"]["credit"]
    text = (
        f"Remboursé {made['amount']} de l'avoir de la facture {made['invoice']} "
        f"(réf. {made['reference']}) ; avoir restant {left}."
        if chosen == "fr"
        else f"Refunded {made['amount']} of invoice {made['invoice']}'s credit "
        f"(ref. {made['reference']}); credit left {left}."
    )
    common.emit(made, as_json, text)


@debts.command("apply-overpaid")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("invoice")
@click.argument("to")
@click.option("--amount", default=None, help="Default: as much as both invoices allow.")
@click.option("--by", "actor", default="cli", help="The office user.")
@db_option
@var_option
@json_option
@lang_option
def apply_overpaid(
    tenant_id: str,
    invoice: str,
    to: str,
    amount: str | None,
    actor: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Put the credit INVOICE holds (paid on site beyond what it bills) on TO, another
    open invoice of the same customer: one signed entry.

    \b
    Example:
      towline-server debts apply-overpaid demo F2026-000007 F2026-000008 --amount 20.00

    Exit codes: 0 done; 2 bad amount, not a beneficiary invoice, another customer's
    invoice; 3 unknown tenant, no credit on INVOICE, TO owes nothing or less than asked.
    """
    from server.office import office_payments

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return office_payments.apply_overpayment(
                conn,
                tenant_id,
                invoice,
                to,
                amount=amount,
                key=signing_key(var_dir),
                actor=actor,
                now=common.now(),
            )

    made = common.run(chosen, work)
    left, owed = made["balance"]["credit"], made["to_balance"]["open"]
    text = (
        f"Affecté {made['amount']} de l'avoir de la facture {made['invoice']} à la facture "
        f"{made['to']} ; avoir restant {left}, reste dû sur {made['to']} {owed}."
        if chosen == "fr"
        else f"Applied {made['amount']} of invoice {made['invoice']}'s credit to invoice "
        f"{made['to']}; credit left {left}, {made['to']} still owes {owed}."
    )
    common.emit(made, as_json, text)


for _command in (pay, apply, refund, payments):
    debts.add_command(_command)

COMMANDS = [debts]
