"""Money owed by beneficiaries on the desk (docs/customer-debts.md), for the person who
chases the motorists and garages who still owe something:

- the ageing: per customer, what is open by days past the due date, with their credit;
- a customer's account: invoices with their due date and balance, payments received in
  the office (with the credit left: apply it to an invoice, or refund it), reminders
  sent (their PDF), and the whole history in order;
- recording a payment received (transfer, cheque, card by phone, payment link) against
  one or several of the customer's open invoices, in one form and one action;
- the reminders due, made in one click, and the letters sent;
- the payment terms and reminder delays.

Reading needs `reconcile`; recording, applying and refunding need `record_payments`
(seed 004: nobody records a transaction until a role is given that right); the terms
need `edit_contracts`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from server.desk import refused_forms
from server.desk.blueprint import desk, money, not_found, t
from server.desk.session import current, page
from server.office import (
    customer_debts,
    customers,
    debt_terms,
    invoice_balances,
    office_payments,
    reminders,
)
from server.office.office_payments import Use
from server.people.rights import Right
from server.people.tenant_time import day_words
from server.platform.errors import ApiError, NotFound
from server.platform.web import engine, lang, now, reader, server_private_key
from shared.errors import InvalidDocument, TowlineError

BUCKET_LABELS = {
    "not_due": ("Non échu", "Not due yet"),
    "0-30": ("0 à 30 jours", "0–30 days"),
    "31-60": ("31 à 60 jours", "31–60 days"),
    "61-90": ("61 à 90 jours", "61–90 days"),
    "over_90": ("plus de 90 jours", "over 90 days"),
}
EVENT_LABELS = {
    "invoice": ("Facture", "Invoice"),
    "paid_on_site": ("Réglé sur place", "Paid on the spot"),
    "credit_note": ("Avoir", "Credit note"),
    "payment": ("Règlement reçu", "Payment received"),
    "credit_applied": ("Avoir affecté", "Credit applied"),
    "refund": ("Remboursement", "Refund"),
    "overpayment_refunded": ("Trop-perçu remboursé", "Overpayment refunded"),
    "overpayment_applied": ("Trop-perçu affecté", "Overpayment applied"),
    "reminder": ("Relance envoyée", "Reminder sent"),
}
STATUS_LABELS = {
    "paid": ("payée", "paid"),
    "partly_paid": ("payée en partie", "partly paid"),
    "open": ("à payer", "open"),
}
MAX_LINES = 20  # invoices offered on the payment form


def day(value: date | str | None) -> str:
    if value is None or value == "":
        return "—"
    moment = date.fromisoformat(value) if isinstance(value, str) else value
    return day_words(moment, lang())


def _today() -> date:
    with reader().connect() as conn:
        zone = invoice_balances.tenant_zone(conn, current().tenant_id)
    return invoice_balances.local_day(now(), zone)


def _at() -> tuple[date, str]:
    """The `at` date of the query string (today by default), or an error sentence."""
    text = (request.args.get("at") or "").strip()
    if not text:
        return _today(), ""
    try:
        return customer_debts.check_day(date.fromisoformat(text)), ""
    except (ValueError, ApiError):
        return _today(), t(
            f"Date illisible : « {text[:20]} » (AAAA-MM-JJ attendu, de 2000 à 2099).",
            f"Unreadable date: '{text[:20]}' (YYYY-MM-DD expected, 2000 to 2099).",
        )


def _helpers() -> dict[str, Any]:
    return {
        "day": day,
        "bucket_label": lambda name: t(*BUCKET_LABELS[name]),
        "event_label": lambda name: t(*EVENT_LABELS.get(name, (name, name))),
        "status_label": lambda name: t(*STATUS_LABELS.get(name, (name, name))),
        "method_label": lambda name: office_payments.method_label(name, lang()),
        "may_record": Right.RECORD_PAYMENTS in current().rights,
        "may_set_terms": Right.EDIT_CONTRACTS in current().rights,
        "buckets": customer_debts.BUCKET_NAMES,
    }


@desk.route("/debts", endpoint="debts")
@page(Right.RECONCILE)
def ageing_page() -> Any:
    """Per customer, what is open at a date by days late, with their credit."""
    at, error = _at()
    with reader().connect() as conn:
        aged = customer_debts.ageing(conn, current().tenant_id, at)
        due = len(reminders.due(conn, current().tenant_id, at))
    html = render_template("desk/debts.html", aged=aged, at=at, error=error, due=due, **_helpers())
    return (html, 400) if error else html


@desk.route("/debts/customers/<path:customer>", endpoint="debt_account")
@page(Right.RECONCILE)
def account_page(customer: str) -> Any:
    if len(customer) > 160:
        return not_found()
    at, error = _at()
    with reader().connect() as conn:
        try:
            found = customer_debts.account(conn, current().tenant_id, customer, at)
        except NotFound:
            return not_found()
    credit = [p for p in found["payments"] if p["credit"] != "0.00"]
    owing = [i for i in found["invoices"] if i["open"] != "0.00"]
    html = render_template(
        "desk/debt_account.html",
        a=found,
        at=at,
        error=error,
        credit=credit,
        owing=owing,
        **_helpers(),
    )
    return (html, 400) if error else html


# --- recording a payment -----------------------------------------------------------------------


def _pay_page(customer: str | None, *, status: int = 200, error: str = "", form: Any = None) -> Any:
    with reader().connect() as conn:
        offered: list[dict[str, Any]] = []
        if customer:
            offered = [
                b.to_wire()
                for b in customer_debts.open_invoices(
                    conn, current().tenant_id, customer_debts.LAST_DAY, customer=customer
                )
            ][:MAX_LINES]
    html = render_template(
        "desk/debt_pay.html",
        customer=customer,
        customer_label=customers.label(customer) if customer else "",
        offered=offered,
        methods=office_payments.METHODS,
        error=error,
        form=form or {"received_on": _today().isoformat()},
        **_helpers(),
    )
    return html, status


_KEPT = "debt_pay"


def _refuse_pay(customer: str | None, form: dict[str, Any], error: str, status: int) -> Any:
    """Back to the form with what was typed and why it was refused (Post/Redirect/Get: a
    reload records nothing); a form too large for the session is answered with `status`."""
    if refused_forms.keep(_KEPT, {**form, "customer": customer or ""}, {"": error}):
        return refused_forms.back_to(
            "desk.debt_pay", **({"customer": customer} if customer else {})
        )
    return _pay_page(customer, status=status, error=error, form=form)


@desk.route("/debts/pay", endpoint="debt_pay")
@page(Right.RECORD_PAYMENTS)
def pay_form() -> Any:
    kept = refused_forms.take_back(_KEPT)
    if kept is not None:  # a refused payment, as typed (see _refuse_pay)
        form, problems = kept
        return _pay_page(form.get("customer") or None, error=str(problems[""]), form=form)
    customer = (request.args.get("customer") or "").strip()[:160] or None
    invoice = (request.args.get("invoice") or "").strip()[:32]
    if invoice and customer is None:
        with reader().connect() as conn:
            terms = debt_terms.current(conn, current().tenant_id)
            found = invoice_balances.balances(conn, current().tenant_id, terms, numbers=[invoice])
        if found:
            customer = found[0].customer
    return _pay_page(customer)


def _uses_from_form() -> list[Use]:
    """The ticked invoices (each with its amount, if typed), then the other numbers."""
    picked = request.form.getlist("invoice")
    given = []
    for number in picked[:MAX_LINES]:
        amount = (request.form.get(f"amount_{number}") or "").strip().replace(",", ".")
        given.append({"invoice": number.strip(), "amount": amount or None})
    others = (request.form.get("others") or "").replace(",", " ").split()
    given += [{"invoice": number, "amount": None} for number in others[:MAX_LINES]]
    return office_payments.parse_uses(given)


@desk.route("/debts/pay", methods=["POST"])
@page(Right.RECORD_PAYMENTS)
def pay() -> Any:
    user = current()
    form: dict[str, Any] = {
        k: request.form.get(k, "") for k in ("amount", "method", "received_on", "reference")
    }
    form |= {k: request.form.get(k, "") for k in ("payer", "note", "others", "cash_payer")}
    form["picked"] = request.form.getlist("invoice")[:MAX_LINES]
    form["amounts"] = {  # each ticked invoice's typed amount, shown again on a refusal
        number: request.form.get(f"amount_{number}", "")[:16] for number in form["picked"]
    }
    customer = (request.form.get("customer") or "").strip()[:160] or None
    try:
        received_on = date.fromisoformat(form["received_on"].strip())
    except ValueError:
        problem = t("Date de réception illisible (AAAA-MM-JJ).", "Unreadable date received.")
        return _refuse_pay(customer, form, problem, 422)
    try:
        uses = _uses_from_form()
        with engine().begin() as conn:
            made = office_payments.record(
                conn,
                user.tenant_id,
                amount=form["amount"].strip().replace(",", "."),
                method=form["method"],
                received_on=received_on,
                reference=form["reference"],
                uses=uses,
                customer=customer,
                payer=form["payer"] or None,
                note=form["note"] or None,
                cash_payer=(form["cash_payer"] or None) if form["method"] == "cash" else None,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except ApiError as refused:
        return _refuse_pay(customer, form, refused.text(lang()), refused.status)
    refused_forms.drop()
    flash(
        t(
            f"Règlement {made['number']} enregistré : {money(made['amount'])}"
            + (f", avoir restant {money(made['credit'])}." if made["credit"] != "0.00" else "."),
            f"Payment {made['number']} recorded: {money(made['amount'])}"
            + (f", credit left {money(made['credit'])}." if made["credit"] != "0.00" else "."),
        ),
        "ok",
    )
    return redirect(url_for("desk.debt_account", customer=made["customer"]))


def _after_credit_act(customer: str, done: Any, error: TowlineError | None) -> Any:
    if error is not None:
        flash(error.text(lang()), "error")
    else:
        flash(
            t(
                f"Règlement {done['number']} : avoir restant {money(done['credit'])}.",
                f"Payment {done['number']}: credit left {money(done['credit'])}.",
            ),
            "ok",
        )
    return redirect(url_for("desk.debt_account", customer=customer))


@desk.route("/debts/payments/<string:number>/apply", methods=["POST"])
@page(Right.RECORD_PAYMENTS)
def apply_credit(number: str) -> Any:
    user = current()
    customer = (request.form.get("customer") or "").strip()[:160]
    amount = (request.form.get("amount") or "").strip().replace(",", ".") or None
    try:
        with engine().begin() as conn:
            done = office_payments.apply_credit(
                conn,
                user.tenant_id,
                number[:32],
                (request.form.get("invoice") or "").strip()[:32],
                amount=amount,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except NotFound:
        return not_found()
    except ApiError as refused:
        return _after_credit_act(customer, None, refused)
    return _after_credit_act(customer or done["customer"], done, None)


@desk.route("/debts/payments/<string:number>/refund", methods=["POST"])
@page(Right.RECORD_PAYMENTS)
def refund(number: str) -> Any:
    user = current()
    customer = (request.form.get("customer") or "").strip()[:160]
    amount = (request.form.get("amount") or "").strip().replace(",", ".") or None
    try:
        with engine().begin() as conn:
            done = office_payments.refund(
                conn,
                user.tenant_id,
                number[:32],
                reference=request.form.get("reference"),
                amount=amount,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except NotFound:
        return not_found()
    except ApiError as refused:
        return _after_credit_act(customer, None, refused)
    return _after_credit_act(customer or done["customer"], done, None)


@desk.route("/debts/invoices/<string:number>/refund", methods=["POST"])
@page(Right.RECORD_PAYMENTS)
def refund_overpaid(number: str) -> Any:
    """Refund the credit an invoice overpaid on site holds (one signed entry)."""
    user = current()
    customer = (request.form.get("customer") or "").strip()[:160]
    amount = (request.form.get("amount") or "").strip().replace(",", ".") or None
    try:
        with engine().begin() as conn:
            done = office_payments.refund_overpayment(
                conn,
                user.tenant_id,
                number[:32],
                reference=request.form.get("reference"),
                amount=amount,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except NotFound:
        return not_found()
    except ApiError as refused:
        flash(refused.text(lang()), "error")
        return redirect(url_for("desk.debt_account", customer=customer))
    left = money(done["balance"]["credit"])
    flash(
        t(
            f"Facture {number} : {money(done['amount'])} remboursés, avoir restant {left}.",
            f"Invoice {number}: {money(done['amount'])} refunded, credit left {left}.",
        ),
        "ok",
    )
    return redirect(url_for("desk.debt_account", customer=customer or done["customer"]))


@desk.route("/debts/invoices/<string:number>/apply", methods=["POST"])
@page(Right.RECORD_PAYMENTS)
def apply_overpaid(number: str) -> Any:
    """Apply the credit an invoice overpaid on site holds to another open invoice of the
    same customer (one signed entry)."""
    user = current()
    customer = (request.form.get("customer") or "").strip()[:160]
    amount = (request.form.get("amount") or "").strip().replace(",", ".") or None
    try:
        with engine().begin() as conn:
            done = office_payments.apply_overpayment(
                conn,
                user.tenant_id,
                number[:32],
                (request.form.get("invoice") or "").strip()[:32],
                amount=amount,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except NotFound:
        return not_found()
    except ApiError as refused:
        flash(refused.text(lang()), "error")
        return redirect(url_for("desk.debt_account", customer=customer))
    left, owed = money(done["balance"]["credit"]), money(done["to_balance"]["open"])
    flash(
        t(
            f"Facture {number} : {money(done['amount'])} affectés à la facture {done['to']} "
            f"(reste dû {owed}), avoir restant {left}.",
            f"Invoice {number}: {money(done['amount'])} applied to invoice {done['to']} "
            f"({owed} still owed), credit left {left}.",
        ),
        "ok",
    )
    return redirect(url_for("desk.debt_account", customer=customer or done["customer"]))


# --- reminders -------------------------------------------------------------------------------


@desk.route("/debts/reminders", endpoint="debt_reminders")
@page(Right.RECONCILE)
def reminders_page() -> Any:
    at, error = _at()
    with reader().connect() as conn:
        due = reminders.due(conn, current().tenant_id, at)
        sent = reminders.sent(conn, current().tenant_id, limit=200)
    html = render_template(
        "desk/debt_reminders.html", due=due, sent=sent, at=at, error=error, **_helpers()
    )
    return (html, 400) if error else html


@desk.route("/debts/reminders/send", methods=["POST"])
@page(Right.RECONCILE)
def reminders_send() -> Any:
    user = current()
    try:
        at = customer_debts.check_day(date.fromisoformat(request.form.get("at", "")))
    except (ValueError, ApiError):
        at = _today()
    picked = request.form.getlist("invoice") or None
    try:
        with engine().begin() as conn:
            made = reminders.send(
                conn, user.tenant_id, at, invoices=picked, actor=user.id, now=now()
            )
    except ApiError as refused:
        flash(refused.text(lang()), "error")
        return redirect(url_for("desk.debt_reminders", at=at.isoformat()))
    flash(
        t(f"{len(made)} lettre(s) de relance faite(s).", f"{len(made)} reminder letter(s) made."),
        "ok",
    )
    return redirect(url_for("desk.debt_reminders", at=at.isoformat()))


@desk.route("/debts/reminders/<string:invoice>/<int:level>.pdf", endpoint="debt_letter")
@page(Right.RECONCILE)
def letter(invoice: str, level: int) -> Any:
    if len(invoice) > 32 or not 0 < level <= debt_terms.MAX_REMINDERS:
        return not_found()
    with reader().connect() as conn:
        try:
            data = reminders.letter(conn, current().tenant_id, invoice, level)
        except NotFound:
            return not_found()
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="relance-{invoice}-{level}.pdf"'},
    )


# --- terms ------------------------------------------------------------------------------------


def _terms_page(*, status: int = 200, errors: list[str] | None = None, form: Any = None) -> Any:
    with reader().connect() as conn:
        terms = debt_terms.current(conn, current().tenant_id)
    shown = form or {
        "payment_days": str(terms.payment_days),
        "reminder_days": ", ".join(str(d) for d in terms.reminder_days),
        "letter_lang": terms.letter_lang,
        "customers": "\n".join(f"{k} = {v}" for k, v in sorted(terms.customers.items())),
        "languages": "\n".join(f"{k} = {v}" for k, v in sorted(terms.languages.items())),
    }
    html = render_template(
        "desk/debt_terms.html", terms=terms, form=shown, errors=errors or [], **_helpers()
    )
    return html, status


@desk.route("/debts/terms", endpoint="debt_terms")
@page(Right.RECONCILE)
def terms_page() -> Any:
    return _terms_page()


def _pairs(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


@desk.route("/debts/terms", methods=["POST"])
@page(Right.EDIT_CONTRACTS)
def terms_set() -> Any:
    form = {
        k: request.form.get(k, "")
        for k in ("payment_days", "reminder_days", "letter_lang", "customers", "languages")
    }

    def number(text: str) -> object:
        text = text.strip()
        return int(text) if text.isdigit() and len(text) < 6 else text

    data = {
        "payment_days": number(form["payment_days"]),
        "reminder_days": [number(d) for d in form["reminder_days"].replace(";", ",").split(",")],
        "letter_lang": form["letter_lang"],
        "customers": {k: number(v) for k, v in _pairs(form["customers"]).items()},
        "languages": _pairs(form["languages"]),
    }
    user = current()
    try:
        with engine().begin() as conn:
            made = debt_terms.set_terms(conn, user.tenant_id, data, actor=user.id, now=now())
    except InvalidDocument as refused:
        lines = [p.message(lang()) for p in refused.problems]
        return _terms_page(status=422, errors=lines, form=form)
    flash(
        t(
            f"Conditions de paiement enregistrées (version {made.version}).",
            f"Payment terms saved (version {made.version}).",
        ),
        "ok",
    )
    return redirect(url_for("desk.debt_terms"))
