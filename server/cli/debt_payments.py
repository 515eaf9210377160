"""`towline-server debts pay|apply|refund|payments`: payments received in the office,
their credit applied or refunded (docs/customer-debts.md "Payments"). The commands
join the `debts` group (server.cli.debts)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import EXIT_INPUT, db_option, json_option, lang_option, var_option


def read_day(text: str | None, option: str, chosen: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        click.echo(
            f"{option} : date AAAA-MM-JJ attendue, pas « {text} »."
            if chosen == "fr"
            else f"{option}: a YYYY-MM-DD date is expected, not '{text}'.",
            err=True,
        )
        raise SystemExit(EXIT_INPUT) from None


def signing_key(var_dir: Path) -> Any:
    from server.platform.keys import server_key

    return server_key(var_dir)


def _uses(items: tuple[str, ...], chosen: str) -> list[Any]:
    """`--invoice F2026-000004` or `--invoice F2026-000004=50.00`, checked."""
    from server.office.office_payments import parse_uses
    from server.platform.errors import ApiError

    given = []
    for item in items:
        number, _, amount = item.partition("=")
        given.append({"invoice": number, "amount": amount or None})
    try:
        return parse_uses(given)
    except ApiError as error:
        click.echo(error.message(chosen), err=True)
        raise SystemExit(EXIT_INPUT) from None


@click.command("pay")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--amount", required=True, help='The amount received, e.g. "120.00".')
@click.option(
    "--method",
    required=True,
    type=click.Choice(["cash", "transfer", "cheque", "card", "payment_link"]),
    help="cash (within the legal limit), transfer, cheque, card (by phone) or payment_link.",
)
@click.option(
    "--cash-payer",
    type=click.Choice(["resident", "non_resident"]),
    default=None,
    help="Cash only: resident (tax domicile in France or a business; 1,000 €, the default)"
    " or non_resident (a private person; 15,000 €).",
)
@click.option("--received-on", "received_text", required=True, help="YYYY-MM-DD.")
@click.option(
    "--reference", default=None, help="Cheque number, transfer reference… (not for cash)."
)
@click.option(
    "--invoice",
    "invoices",
    multiple=True,
    help="INVOICE or INVOICE=AMOUNT (repeatable); without an amount: what it owes.",
)
@click.option("--customer", default=None, help="Whose credit, when no invoice is named.")
@click.option("--payer", default=None, help="The payer's name (default: the invoice's).")
@click.option("--note", default=None, help="A note for the office.")
@click.option("--by", "actor", default="cli", help="The office user who records it.")
@db_option
@var_option
@json_option
@lang_option
def pay(
    tenant_id: str,
    amount: str,
    method: str,
    received_text: str,
    reference: str | None,
    invoices: tuple[str, ...],
    customer: str | None,
    payer: str | None,
    note: str | None,
    cash_payer: str | None,
    actor: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Record a payment received in the office, against one or several invoices, in
    part or in whole; what they do not owe stays as the customer's credit.

    \b
    Example:
      towline-server debts pay demo --amount 300.00 --method transfer \\
          --received-on 2026-03-26 --reference "VIR AB123CD" \\
          --invoice F2026-000004 --invoice F2026-000002=30.00 --by bureau

    Cash is refused beyond the legal limit (Code monétaire et financier art. D112-3, a
    tenant setting: towline-server cash-limits).

    Exit codes: 0 done; 2 bad input (amount, date, method, reference, an invoice that is
    not a beneficiary's, more put on invoices than received, cash beyond the limit); 3
    unknown tenant, an invoice that owes nothing or less than asked.
    """
    from server.office import office_payments

    chosen = common.lang(lang)
    received_on = read_day(received_text, "--received-on", chosen)
    uses = _uses(invoices, chosen)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return office_payments.record(
                conn,
                tenant_id,
                amount=amount,
                method=method,
                received_on=received_on,  # type: ignore[arg-type]  # required option
                reference=reference,
                uses=uses,
                customer=customer,
                payer=payer,
                note=note,
                cash_payer=cash_payer,
                key=signing_key(var_dir),
                actor=actor,
                now=common.now(),
            )

    made = common.run(chosen, work)
    common.emit(made, as_json, _payment_text(made, chosen))


def _payment_text(p: dict[str, Any], chosen: str) -> str:
    from server.office.office_payments import method_label

    method = method_label(p["method"], chosen)
    lines = [f"{p['number']} {p['received_on']} {method} {p['amount']} ({p['payer']})"]
    for u in p["uses"]:
        what = u["invoice"] or ("remboursé" if chosen == "fr" else "refunded")
        lines.append(f"  {what:<14} {u['amount']:>10}")
    lines.append(f"  {'avoir restant' if chosen == 'fr' else 'credit left':<14} {p['credit']:>10}")
    return "\n".join(lines)


@click.command("apply")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("payment")
@click.argument("invoice")
@click.option("--amount", default=None, help="Default: as much as both allow.")
@click.option("--by", "actor", default="cli", help="The office user.")
@db_option
@var_option
@json_option
@lang_option
def apply(
    tenant_id: str,
    payment: str,
    invoice: str,
    amount: str | None,
    actor: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Put the credit left on PAYMENT onto INVOICE.

    \b
    Example:
      towline-server debts apply demo R2026-000003 F2026-000002 --amount 30.00

    Exit codes: 0 done; 2 bad amount or not a beneficiary's invoice; 3 unknown tenant or
    payment, no credit left, an invoice that owes nothing or less than asked.
    """
    from server.office import office_payments

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return office_payments.apply_credit(
                conn,
                tenant_id,
                payment,
                invoice,
                amount=amount,
                key=signing_key(var_dir),
                actor=actor,
                now=common.now(),
            )

    made = common.run(chosen, work)
    common.emit(made, as_json, _payment_text(made, chosen))


@click.command("refund")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("payment")
@click.option("--reference", required=True, help="The refund's transfer or cheque.")
@click.option("--amount", default=None, help="Default: all the credit left.")
@click.option("--by", "actor", default="cli", help="The office user.")
@db_option
@var_option
@json_option
@lang_option
def refund(
    tenant_id: str,
    payment: str,
    reference: str,
    amount: str | None,
    actor: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Pay back the credit left on PAYMENT.

    \b
    Example:
      towline-server debts refund demo R2026-000003 --reference "VIR REMB 0328"

    Exit codes: 0 done; 2 bad amount or reference; 3 unknown tenant or payment, more than
    the credit left.
    """
    from server.office import office_payments

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return office_payments.refund(
                conn,
                tenant_id,
                payment,
                reference=reference,
                amount=amount,
                key=signing_key(var_dir),
                actor=actor,
                now=common.now(),
            )

    made = common.run(chosen, work)
    common.emit(made, as_json, _payment_text(made, chosen))


@click.command("payments")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--customer", default=None, help="One customer's key.")
@click.option("--with-credit", is_flag=True, help="Only payments with credit left.")
@db_option
@json_option
@lang_option
def payments(
    tenant_id: str,
    customer: str | None,
    with_credit: bool,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """Payments received in the office, latest first.

    \b
    Example:
      towline-server debts payments demo --with-credit

    Exit codes: 0 done; 3 unknown tenant.
    """
    from server.office import received_payments

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return received_payments.list_payments(
                conn, tenant_id, customer=customer, with_credit=with_credit
            )

    rows = common.run(chosen, work)
    empty = "Aucun règlement." if chosen == "fr" else "No payments."
    common.emit(rows, as_json, "\n".join(_payment_text(p, chosen) for p in rows) or empty)
