"""Payments received in the office from beneficiaries (docs/customer-debts.md "Payments").

A transfer, a cheque by post, a card payment taken by phone or a payment link: the office
records it once, against one or several of the customer's open invoices, in part or in
whole. One act (`record`), one right (`record_payments`, a payments-module right: seed
004), in the caller's transaction:

- a receipt number (`R2026-000001`, gapless like the invoices: `server.office.numbering`);
- one signed entry of the tenant's server journal (`office_payment`, act `received`);
- the payment's row and where its money went (`office_payment_uses`), and an audit line.

Money beyond what the invoices owe is never lost: it stays on the payment as the
customer's **credit**, until the office applies it to an invoice (`apply_credit`) or pays
it back (`refund`), each again one signed entry. So does an invoice overpaid on site:
its excess is the customer's credit until the office refunds it (`refund_overpayment`,
act `overpayment_refunded`) or applies it to another of the customer's open invoices
(`apply_overpayment`, act `overpayment_applied`), each one signed entry. Balances are derived
(`server.office.invoice_balances`): they change everywhere at once. Nothing here is ever
updated or deleted (database triggers refuse it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from server.office import (
    cash_limits,
    customers,
    debt_terms,
    numbering,
    office_journal,
    payment_uses,
    received_payments,
)
from server.office.invoice_balances import (
    InvoiceBalance,
    balances,
    field_events,
    local_day,
    tenant_zone,
)
from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import office_payment_uses, office_payments, tenants
from shared.balance import fold
from shared.i18n import Text
from shared.journal import EntryType
from shared.money import ZERO, format_amount, from_cents, parse_amount, to_cents, wire
from shared.payment_terms import Method

METHODS: Mapping[str, Text] = {
    "cash": Text("espèces", "cash"),  # within the legal limit (server.office.cash_limits)
    "transfer": Text("virement", "bank transfer"),
    "cheque": Text("chèque", "cheque"),
    "card": Text("carte bancaire (à distance)", "card (by phone)"),
    "payment_link": Text("lien de paiement", "payment link"),
}
MAX_AMOUNT = 10_000_000  # cents: 100 000,00 €, beyond is a typing mistake
MAX_INVOICES = 50
REFERENCE_MAX = 120
NOTE_MAX = 500


def method_label(method: str, lang: str) -> str:
    found = METHODS.get(method)
    return found(lang) if found else method


def _amount(value: object) -> int:
    try:
        cents = to_cents(parse_amount(value))
    except (ValueError, TypeError, ArithmeticError):
        cents = 0
    if not 0 < cents <= MAX_AMOUNT:
        raise Unprocessable(
            "Montant invalide : un montant positif avec deux décimales au plus, par exemple "
            '"120.00" (100 000,00 € au plus).',
            'Invalid amount: a positive amount with at most two decimals, e.g. "120.00" '
            "(€100,000.00 at most).",
            code="amount_invalid",
        )
    return cents


REFERENCE = (
    "la référence du règlement (n° de chèque, référence du virement, autorisation carte…)",
    "the payment's reference (cheque number, transfer reference, card authorisation…)",
)
REFUND_REFERENCE = (
    "la référence du remboursement (virement ou chèque émis)",
    "the refund's reference (the transfer or cheque sent)",
)
NOTE = ("la note", "the note")
PAYER = ("le nom du payeur", "the payer's name")


def _text(value: object, field: tuple[str, str], limit: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Unprocessable(
                f"Indiquez {field[0]}.", f"Give {field[1]}.", code="reference_missing"
            )
        return None
    text = " ".join(str(value).split())
    if len(text) > limit:
        raise Unprocessable(
            f"{field[0][0].upper()}{field[0][1:]} : {limit} caractères au plus.",
            f"{field[1][0].upper()}{field[1][1:]}: {limit} characters at most.",
            code="text_too_long",
        )
    return text


@dataclass(frozen=True, slots=True)
class Use:
    """Part of a payment put on an invoice: `amount` in cents, or None for "as much as
    the invoice still owes, within what is left of the payment"."""

    invoice: str
    amount: int | None = None


def parse_uses(items: Sequence[Mapping[str, Any] | str]) -> list[Use]:
    """`[{"invoice": "F2026-000004", "amount": "50.00"}, "F2026-000007"]` → uses."""
    out: list[Use] = []
    for item in items:
        if isinstance(item, str):
            out.append(Use(item.strip()))
            continue
        amount = item.get("amount")
        out.append(
            Use(
                str(item.get("invoice", "")).strip(),
                None if amount in (None, "") else _amount(amount),
            )
        )
    return out


def _lock_tenant(conn: sa.Connection, tenant_id: str) -> None:
    """Payments of one tenant queue here: what an invoice owes is read, then used, by one
    act at a time (the journal's head row would serialise them anyway, later)."""
    found = conn.execute(
        sa.select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update()
    ).first()
    if found is None:
        raise not_found("Société", "Tenant", tenant_id)


def _open_invoices(
    conn: sa.Connection, tenant_id: str, terms: debt_terms.DebtTerms, numbers: list[str]
) -> dict[str, InvoiceBalance]:
    found = {b.number: b for b in balances(conn, tenant_id, terms, numbers=numbers)}
    for number in numbers:
        if number not in found:
            raise Unprocessable(
                f"{number} n'est pas une facture à un bénéficiaire de cette société : un "
                "règlement reçu au bureau ne s'applique qu'aux factures des clients "
                "(les donneurs d'ordre paient par avis de paiement).",
                f"{number} is not one of this company's beneficiary invoices: a payment "
                "received in the office only goes on customers' invoices (ordering parties "
                "pay through payment advices).",
                code="not_a_beneficiary_invoice",
            )
    return found


def split_payment(
    uses: list[Use], open_: Mapping[str, InvoiceBalance], amount: int
) -> list[tuple[str, int]]:
    """(invoice, cents) for each use: explicit amounts first (each at most what the
    invoice owes), then the others in the order given, each as much as it owes within
    what is left. Refused when the explicit amounts exceed the payment, when an invoice
    owes nothing, or when one is named twice."""
    seen: set[str] = set()
    for use in uses:
        if use.invoice in seen:
            raise Unprocessable(
                f"La facture {use.invoice} est citée deux fois.",
                f"Invoice {use.invoice} is named twice.",
                code="invoice_twice",
            )
        seen.add(use.invoice)
        owed = open_[use.invoice].open
        if owed <= 0:
            raise Conflict(
                f"La facture {use.invoice} ne doit plus rien : retirez-la du règlement "
                "(le surplus reste en avoir au client).",
                f"Invoice {use.invoice} owes nothing: leave it out of the payment (any "
                "surplus stays as the customer's credit).",
                code="invoice_already_paid",
            )
        if use.amount is not None and use.amount > owed:
            raise Conflict(
                f"{format_amount(from_cents(use.amount), 'fr')} sur la facture {use.invoice}, "
                f"qui ne doit que {format_amount(from_cents(owed), 'fr')} : le surplus reste "
                "en avoir au client si vous ne précisez pas de montant.",
                f"{format_amount(from_cents(use.amount), 'en')} on invoice {use.invoice}, "
                f"which owes only {format_amount(from_cents(owed), 'en')}: leave the amount "
                "out and the surplus stays as the customer's credit.",
                code="use_exceeds_invoice",
            )
    explicit = sum(u.amount for u in uses if u.amount is not None)
    if explicit > amount:
        raise Unprocessable(
            "Les montants répartis sur les factures dépassent le règlement.",
            "The amounts put on the invoices are more than the payment.",
            code="uses_exceed_payment",
        )
    left = amount - explicit
    out = []
    for use in uses:
        if use.amount is not None:
            out.append((use.invoice, use.amount))
            continue
        part = min(open_[use.invoice].open, left)
        left -= part
        if part > 0:
            out.append((use.invoice, part))
    return out


def record(
    conn: sa.Connection,
    tenant_id: str,
    *,
    amount: object,
    method: str,
    received_on: date,
    reference: object,
    uses: Sequence[Use] = (),
    customer: str | None = None,
    payer: str | None = None,
    note: object = None,
    cash_payer: str | None = None,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Record a payment received in the office; returns it as `to_wire` shows it.

    `cash_payer` (cash only): `resident` (tax domicile in France, or acting for a
    business; the default, the stricter) or `non_resident` (a private person whose tax
    domicile is not in France): which legal cash limit applies."""
    cents = _amount(amount)
    if method not in METHODS:
        raise Unprocessable(
            "Mode de règlement inconnu : espèces (cash), virement (transfer), chèque "
            "(cheque), carte à distance (card) ou lien de paiement (payment_link).",
            "Unknown payment method: cash, transfer, cheque, card (by phone) or payment_link.",
            code="method_invalid",
        )
    status = _cash_payer(method, cash_payer)
    # Cash handed over the counter has no outside reference; every other method has one.
    ref = _text(reference, REFERENCE, REFERENCE_MAX, required=method != "cash")
    memo = _text(note, NOTE, NOTE_MAX, required=False)
    named = _text(payer, PAYER, 200, required=False)
    uses = list(uses)
    if len(uses) > MAX_INVOICES:
        raise Unprocessable(
            f"{MAX_INVOICES} factures au plus par règlement.",
            f"{MAX_INVOICES} invoices at most per payment.",
            code="too_many_invoices",
        )
    _lock_tenant(conn, tenant_id)
    zone = tenant_zone(conn, tenant_id)
    if received_on < date(2000, 1, 1) or received_on > local_day(now, zone):
        raise Unprocessable(
            f"Date de réception impossible : {received_on.isoformat()} (dans le futur, ou "
            "avant 2000).",
            f"Impossible date received: {received_on.isoformat()} (in the future, or before 2000).",
            code="date_in_future",
        )
    terms = debt_terms.current(conn, tenant_id)
    open_ = _open_invoices(conn, tenant_id, terms, [u.invoice for u in uses])
    parts = split_payment(uses, open_, cents)
    if status is not None:
        check_cash(
            conn, tenant_id, cents, parts, status, {n: b.mission_id for n, b in open_.items()}
        )
    first = open_[uses[0].invoice] if uses else None
    who = customer.strip() if customer and customer.strip() else None
    if who is None and first is not None:
        who = first.customer
    if who is None:
        raise Unprocessable(
            "Un règlement sans facture doit nommer son client (--customer) : il reste en "
            "avoir à son nom.",
            "A payment without invoices must name its customer (--customer): it stays as "
            "that customer's credit.",
            code="customer_missing",
        )
    payer_name = named or (first.name if first is not None else customers.label(who))
    credit = cents - sum(part for _, part in parts)
    number = numbering.next_number(
        conn, tenant_id, numbering.RECEIPT, now, timezone=str(zone.key)
    ).text
    payload = {
        "act": "received",
        "number": number,
        "received_on": received_on.isoformat(),
        "method": method,
        "amount": wire(from_cents(cents)),
        "reference": ref,
        "customer": who,
        "payer": payer_name,
        "uses": [{"invoice": inv, "amount": wire(from_cents(part))} for inv, part in parts],
        "credit": wire(from_cents(credit)),
    }
    if status is not None:
        payload["cash_payer"] = status
    signed = office_journal.append(
        conn, tenant_id, EntryType.OFFICE_PAYMENT, payload, key=key, actor=actor, now=now
    )
    conn.execute(
        sa.insert(office_payments).values(
            tenant_id=tenant_id,
            number=number,
            received_on=received_on,
            method=method,
            amount_cents=cents,
            reference=ref,
            customer=who[:160],
            payer=payer_name[:200],
            note=memo,
            recorded_at=now,
            recorded_by=actor[:64],
            journal_seq=signed.entry.seq,
        )
    )
    for line_no, (invoice, part) in enumerate(parts, start=1):
        conn.execute(
            sa.insert(office_payment_uses).values(
                tenant_id=tenant_id,
                payment_number=number,
                line_no=line_no,
                kind=payment_uses.INVOICE_USE,
                invoice_number=invoice,
                amount_cents=part,
                on_date=received_on,
                reference=None,
                at=now,
                by=actor[:64],
                journal_seq=signed.entry.seq,
            )
        )
    audit(conn, tenant_id, actor, "payment.received", number, now, detail=payload)
    return received_payments.get_payment(conn, tenant_id, number)


def _cash_payer(method: str, given: str | None) -> str | None:
    if method != "cash":
        if given:
            raise Unprocessable(
                "Le statut du payeur pour les espèces ne vaut que pour un règlement en espèces.",
                "The payer's cash status only applies to a payment in cash.",
                code="cash_payer_not_cash",
            )
        return None
    chosen = given or cash_limits.RESIDENT
    if chosen not in cash_limits.PAYERS:
        raise Unprocessable(
            "Statut du payeur inconnu : resident (domicilié fiscalement en France ou "
            "professionnel) ou non_resident (particulier sans domicile fiscal en France).",
            "Unknown payer status: resident (tax domicile in France, or a business) or "
            "non_resident (a private person without a tax domicile in France).",
            code="cash_payer_invalid",
        )
    return chosen


def on_site_cash_cents(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]
) -> dict[str, int]:
    """{mission: cents the drivers collected in cash on site, net of reversals}."""
    events = field_events(conn, tenant_id, mission_ids)
    out = {}
    for mission_id in set(mission_ids):
        money = fold(mission_id, ZERO, events.get(mission_id, ()))
        out[mission_id] = to_cents(money.net_collected_by(Method.CASH))
    return out


def check_cash(
    conn: sa.Connection,
    tenant_id: str,
    cents: int,
    parts: Sequence[tuple[str, int]],
    status: str,
    missions: Mapping[str, str],
) -> None:
    """Refuse cash beyond the legal limit (Code monétaire et financier, art. D112-3):
    for the payment, and for each invoice (`missions`: its mission) with the cash already
    paid on that debt — at the office, and by the drivers on site for its mission (a debt
    is not split into payments to pass the limit)."""
    limit = cash_limits.current(conn, tenant_id).cents[status]
    numbers = [inv for inv, _ in parts]
    office = payment_uses.cash_paid_cents(conn, tenant_id, numbers)
    site = on_site_cash_cents(conn, tenant_id, [missions[inv] for inv in numbers])
    paid = {inv: (office.get(inv, 0), site.get(missions[inv], 0)) for inv in numbers}
    over: list[tuple[str | None, int, int]] = [(None, 0, 0)] if cents > limit else []
    over += [(inv, *paid[inv]) for inv, part in parts if sum(paid[inv]) + part > limit]
    if not over:
        return
    invoice, at_office, on_site = over[0]
    law = (
        "Le Code monétaire et financier (art. D112-3) limite le paiement d'une dette en espèces à "
        f"{format_amount(from_cents(limit), 'fr')} (payeur {cash_limits.PAYERS[status].fr})",
        "The Code monétaire et financier (art. D112-3) limits paying a debt in cash to "
        f"{format_amount(from_cents(limit), 'en')} (payer: {cash_limits.PAYERS[status].en})",
    )
    told = ("", "")
    if invoice is not None:
        told = (
            f" ; déjà réglé en espèces sur la facture {invoice} : "
            f"{format_amount(from_cents(at_office), 'fr')} au bureau, "
            f"{format_amount(from_cents(on_site), 'fr')} au chauffeur sur place",
            f"; already paid in cash on invoice {invoice}: "
            f"{format_amount(from_cents(at_office), 'en')} at the office, "
            f"{format_amount(from_cents(on_site), 'en')} to the driver on site",
        )
    raise Unprocessable(
        f"Paiement en espèces refusé. {law[0]}{told[0]}. Faites régler le reste par "
        "virement, chèque ou carte.",
        f"Cash payment refused. {law[1]}{told[1]}. Have the rest paid by transfer, cheque or card.",
        code="cash_limit_exceeded",
    )


def _next_line(conn: sa.Connection, tenant_id: str, number: str) -> int:
    last = conn.execute(
        sa.select(sa.func.max(office_payment_uses.c.line_no)).where(
            office_payment_uses.c.tenant_id == tenant_id,
            office_payment_uses.c.payment_number == number,
        )
    ).scalar_one_or_none()
    return int(last or 0) + 1


def _credit_left(conn: sa.Connection, tenant_id: str, row: Any) -> int:
    used = payment_uses.used_cents(conn, tenant_id, [row.number]).get(row.number, 0)
    return int(row.amount_cents) - used


def _no_credit(number: str) -> Conflict:
    return Conflict(
        f"Le règlement {number} n'a plus d'avoir : tout est déjà affecté ou remboursé.",
        f"Payment {number} has no credit left: all of it is used or refunded.",
        code="no_credit_left",
    )


def _use(
    conn: sa.Connection,
    tenant_id: str,
    row: Any,
    *,
    kind: str,
    invoice: str | None,
    cents: int,
    on_date: date,
    reference: str | None,
    act: str,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "act": act,
        "number": row.number,
        "customer": row.customer,
        "amount": wire(from_cents(cents)),
        "on": on_date.isoformat(),
    }
    if invoice is not None:
        payload["invoice"] = invoice
    if reference is not None:
        payload["reference"] = reference
    signed = office_journal.append(
        conn, tenant_id, EntryType.OFFICE_PAYMENT, payload, key=key, actor=actor, now=now
    )
    conn.execute(
        sa.insert(office_payment_uses).values(
            tenant_id=tenant_id,
            payment_number=row.number,
            line_no=_next_line(conn, tenant_id, row.number),
            kind=kind,
            invoice_number=invoice,
            amount_cents=cents,
            on_date=on_date,
            reference=reference,
            at=now,
            by=actor[:64],
            journal_seq=signed.entry.seq,
        )
    )
    audit(conn, tenant_id, actor, f"payment.{act}", row.number, now, detail=payload)
    return received_payments.get_payment(conn, tenant_id, row.number)


def apply_credit(
    conn: sa.Connection,
    tenant_id: str,
    number: str,
    invoice: str,
    *,
    amount: object = None,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Put the credit left on payment `number` on `invoice`: `amount`, or as much as both
    allow (what the invoice owes, what the payment has left)."""
    _lock_tenant(conn, tenant_id)
    row = received_payments.payment_row(conn, tenant_id, number)
    left = _credit_left(conn, tenant_id, row)
    if left <= 0:
        raise _no_credit(number)
    terms = debt_terms.current(conn, tenant_id)
    owed = _open_invoices(conn, tenant_id, terms, [invoice])[invoice]
    wanted = None if amount in (None, "") else _amount(amount)
    part = split_payment([Use(invoice, wanted)], {invoice: owed}, left)
    if not part:
        raise _no_credit(number)
    cents = part[0][1]
    zone = tenant_zone(conn, tenant_id)
    return _use(
        conn,
        tenant_id,
        row,
        kind=payment_uses.INVOICE_USE,
        invoice=invoice,
        cents=cents,
        on_date=local_day(now, zone),
        reference=None,
        act="credit_applied",
        key=key,
        actor=actor,
        now=now,
    )


def refund(
    conn: sa.Connection,
    tenant_id: str,
    number: str,
    *,
    reference: object,
    amount: object = None,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Pay back the credit left on payment `number` (all of it, or `amount`), with the
    reference of the transfer or cheque that returns it."""
    ref = _text(reference, REFUND_REFERENCE, REFERENCE_MAX, required=True)
    _lock_tenant(conn, tenant_id)
    row = received_payments.payment_row(conn, tenant_id, number)
    left = _credit_left(conn, tenant_id, row)
    if left <= 0:
        raise _no_credit(number)
    cents = left if amount in (None, "") else _amount(amount)
    if cents > left:
        raise Conflict(
            f"Le remboursement ({format_amount(from_cents(cents), 'fr')}) dépasse l'avoir "
            f"du règlement {number} ({format_amount(from_cents(left), 'fr')}).",
            f"The refund ({format_amount(from_cents(cents), 'en')}) is more than the credit "
            f"left on payment {number} ({format_amount(from_cents(left), 'en')}).",
            code="refund_exceeds_credit",
        )
    zone = tenant_zone(conn, tenant_id)
    return _use(
        conn,
        tenant_id,
        row,
        kind=payment_uses.REFUND_USE,
        invoice=None,
        cents=cents,
        on_date=local_day(now, zone),
        reference=ref,
        act="refunded",
        key=key,
        actor=actor,
        now=now,
    )


def refund_overpayment(
    conn: sa.Connection,
    tenant_id: str,
    invoice: str,
    *,
    reference: object,
    amount: object = None,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Pay back the credit an overpaid invoice holds (`InvoiceBalance.credit`: the
    overpayment, less a void's money and what was refunded; all of it, or `amount`), with
    the reference of the transfer or cheque that returns it. One signed `office_payment`
    entry, act `overpayment_refunded`, with the invoice's mission: the only record of it
    (no receipt number, no payment row: no payment was received in the office)."""
    ref = _text(reference, REFUND_REFERENCE, REFERENCE_MAX, required=True)
    _lock_tenant(conn, tenant_id)
    terms = debt_terms.current(conn, tenant_id)
    held = _overpaid(conn, tenant_id, terms, invoice)
    left = held.credit
    cents = left if amount in (None, "") else _amount(amount)
    if cents > left:
        raise Conflict(
            f"Le remboursement ({format_amount(from_cents(cents), 'fr')}) dépasse l'avoir "
            f"de la facture {invoice} ({format_amount(from_cents(left), 'fr')}).",
            f"The refund ({format_amount(from_cents(cents), 'en')}) is more than the credit "
            f"invoice {invoice} holds ({format_amount(from_cents(left), 'en')}).",
            code="refund_exceeds_credit",
        )
    return _overpayment_act(
        conn,
        tenant_id,
        terms,
        held,
        {"act": payment_uses.OVERPAYMENT_REFUNDED, "reference": ref},
        cents,
        key=key,
        actor=actor,
        now=now,
    )


def _overpaid(
    conn: sa.Connection, tenant_id: str, terms: debt_terms.DebtTerms, invoice: str
) -> InvoiceBalance:
    """The overpaid invoice whose credit is refunded or applied: refused when it holds none."""
    held = _open_invoices(conn, tenant_id, terms, [invoice])[invoice]
    if held.credit <= 0:
        raise Conflict(
            f"La facture {invoice} n'a pas d'avoir : elle n'est pas payée au-delà de ce "
            "qu'elle facture (ou c'est déjà remboursé ou affecté, ou une annulation "
            "d'encaissement rend l'argent).",
            f"Invoice {invoice} holds no credit: it is not paid beyond what it bills (or that "
            "was refunded or applied already, or a voided collection gives the money back).",
            code="no_credit_left",
        )
    return held


def _overpayment_act(
    conn: sa.Connection,
    tenant_id: str,
    terms: debt_terms.DebtTerms,
    held: InvoiceBalance,
    act: dict[str, Any],
    cents: int,
    *,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """One signed `office_payment` entry for an overpaid invoice's credit (with the
    invoice's mission), its audit line; the invoice (and the one it went to) after it."""
    zone = tenant_zone(conn, tenant_id)
    payload = {
        "act": act["act"],
        "invoice": held.number,
        "customer": held.customer,
        "amount": wire(from_cents(cents)),
        "on": local_day(now, zone).isoformat(),
        **{k: v for k, v in act.items() if k != "act"},
    }
    signed = office_journal.append(
        conn,
        tenant_id,
        EntryType.OFFICE_PAYMENT,
        payload,
        key=key,
        actor=actor,
        now=now,
        mission_id=held.mission_id,
    )
    audit(conn, tenant_id, actor, f"payment.{act['act']}", held.number, now, detail=payload)
    after = {b.number: b for b in balances(conn, tenant_id, terms, numbers=[held.number])}
    out = {**payload, "journal_seq": signed.entry.seq, "balance": after[held.number].to_wire()}
    if "to" in act:
        [target] = balances(conn, tenant_id, terms, numbers=[str(act["to"])])
        out["to_balance"] = target.to_wire()
    return out


def apply_overpayment(
    conn: sa.Connection,
    tenant_id: str,
    invoice: str,
    to: str,
    *,
    amount: object = None,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Put the credit an overpaid invoice holds on another open invoice of the same
    customer: `amount`, or as much as both allow (what `to` owes, what `invoice` holds).
    One signed `office_payment` entry, act `overpayment_applied`,
    `{"act", "invoice", "customer", "amount", "on", "to"}`, with the overpaid invoice's
    mission; `to` then counts it as paid in the office (`payment_uses`)."""
    _lock_tenant(conn, tenant_id)
    terms = debt_terms.current(conn, tenant_id)
    target = to.strip()
    if target == invoice:
        raise Unprocessable(
            f"La facture {invoice} ne peut pas recevoir son propre avoir.",
            f"Invoice {invoice} cannot take its own credit.",
            code="invoice_twice",
        )
    held = _overpaid(conn, tenant_id, terms, invoice)
    owed = _open_invoices(conn, tenant_id, terms, [target])[target]
    if owed.customer != held.customer:
        raise Unprocessable(
            f"La facture {target} est celle d'un autre client ({customers.label(owed.customer)}) "
            f"que la facture {invoice} ({customers.label(held.customer)}) : un avoir ne "
            "s'affecte qu'aux factures de son client.",
            f"Invoice {target} belongs to another customer ({customers.label(owed.customer)}) "
            f"than invoice {invoice} ({customers.label(held.customer)}): a credit only goes on "
            "its own customer's invoices.",
            code="customer_mismatch",
        )
    wanted = None if amount in (None, "") else _amount(amount)
    if wanted is not None and wanted > held.credit:
        raise Conflict(
            f"{format_amount(from_cents(wanted), 'fr')} dépasse l'avoir de la facture "
            f"{invoice} ({format_amount(from_cents(held.credit), 'fr')}).",
            f"{format_amount(from_cents(wanted), 'en')} is more than the credit invoice "
            f"{invoice} holds ({format_amount(from_cents(held.credit), 'en')}).",
            code="apply_exceeds_credit",
        )
    # The same rule as a payment's credit: at most what the invoice owes (split_payment).
    [(_, cents)] = split_payment([Use(target, wanted)], {target: owed}, held.credit)
    return _overpayment_act(
        conn,
        tenant_id,
        terms,
        held,
        {"act": payment_uses.OVERPAYMENT_APPLIED, "to": target},
        cents,
        key=key,
        actor=actor,
        now=now,
    )
