"""Reminders for unpaid beneficiary invoices (docs/customer-debts.md "Reminders").

The tenant chooses its delays in days after the due date (`debt_terms.reminder_days`,
by default 15, 30 and 45). An open invoice is due for its next letter — level 1, then
2, then 3… — once it is at least that level's delay late and, after the first, once the
gap between the two delays has passed since the previous letter: levels go in order,
so a forgotten invoice gets its first reminder before its formal notice, and two letters
never leave on the same day. Each letter sent is kept (its PDF, the amount it asked
for, who sent it: table `payment_reminders`, append-only) and shows on the customer's
history. A level is never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from server.office import customers, debt_terms
from server.office.customer_debts import open_invoices
from server.office.invoice_balances import InvoiceBalance, local_day, tenant_zone
from server.office.reminder_render import Letter, letter_pdf, title
from server.office.seller import get_seller
from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import documents, payment_reminders
from shared.i18n import LANGS
from shared.money import from_cents, parse_amount, to_cents, wire


def _last_sent(
    conn: sa.Connection, tenant_id: str, numbers: list[str]
) -> dict[str, tuple[int, date]]:
    """{invoice: (highest level sent, the day it was sent)}."""
    out: dict[str, tuple[int, date]] = {}
    for i in range(0, len(numbers), 500):
        rows = conn.execute(
            sa.select(
                payment_reminders.c.invoice_number,
                payment_reminders.c.level,
                payment_reminders.c.sent_on,
            ).where(
                payment_reminders.c.tenant_id == tenant_id,
                payment_reminders.c.invoice_number.in_(numbers[i : i + 500]),
            )
        )
        for number, level, sent_on in rows:
            if number not in out or level > out[number][0]:
                out[number] = (int(level), sent_on)
    return out


def _next_level(
    balance: InvoiceBalance,
    last: tuple[int, date] | None,
    terms: debt_terms.DebtTerms,
    at: date,
) -> int | None:
    """The level due at `at`: the next one once the invoice is that late, and (after the
    first) once as many days have passed since the last letter as the tenant's delays
    leave between the two levels, so letters never pile up on one day."""
    sent, sent_on = last if last is not None else (0, None)
    level = sent + 1
    days = terms.reminder_days
    if level > len(days) or balance.days_late(at) < days[level - 1]:
        return None
    if sent_on is not None and (at - sent_on).days < days[level - 1] - days[level - 2]:
        return None
    return level


def due(conn: sa.Connection, tenant_id: str, at: date) -> list[dict[str, Any]]:
    """The letters due at `at`: each open invoice late enough for its next level."""
    terms = debt_terms.current(conn, tenant_id)
    invoices = open_invoices(conn, tenant_id, at)
    sent = _last_sent(conn, tenant_id, [b.number for b in invoices])
    out = []
    for b in invoices:
        level = _next_level(b, sent.get(b.number), terms, at)
        if level is None:
            continue
        lang = terms.lang_for(b.customer)
        last = level == len(terms.reminder_days)
        out.append(
            {
                **b.to_wire(),
                "days_late": b.days_late(at),
                "level": level,
                "last_level": last,
                "lang": lang,
                "title": title(level, last, lang),
            }
        )
    return out


def send(
    conn: sa.Connection,
    tenant_id: str,
    at: date,
    *,
    invoices: Iterable[str] | None = None,
    lang: str | None = None,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Make and keep the letters due at `at` (only these invoices', if named: each must
    be due, else 409 `reminder_not_due`); `lang` overrides the customer's language.
    Returns the letters made, without their PDF (read it with `letter`)."""
    if lang is not None and lang not in LANGS:
        raise Unprocessable(
            "Langue des lettres : « fr » ou « en ».",
            'Letters\' language: "fr" or "en".',
            code="lang_unknown",
        )
    found = due(conn, tenant_id, at)
    if invoices is not None:
        wanted = list(dict.fromkeys(invoices))
        by_number = {d["number"]: d for d in found}
        missing = [n for n in wanted if n not in by_number]
        if missing:
            raise Conflict(
                "Pas de relance à envoyer à cette date pour : " + ", ".join(missing) + ".",
                "No reminder due at this date for: " + ", ".join(missing) + ".",
                code="reminder_not_due",
            )
        found = [by_number[n] for n in wanted]
    seller = get_seller(conn, tenant_id)
    zone = tenant_zone(conn, tenant_id)
    made = []
    for item in found:
        chosen = lang or item["lang"]
        row = conn.execute(
            sa.select(documents.c.seller).where(
                documents.c.tenant_id == tenant_id, documents.c.number == item["number"]
            )
        ).scalar_one()
        letter = Letter(
            lang=chosen,
            level=item["level"],
            last_level=item["last_level"],
            seller=seller or dict(row),
            recipient=item["name"],
            plate=item["vehicle_plate"],
            invoice=item["number"],
            mission_id=item["mission_id"],
            issued_on=date.fromisoformat(item["issued_on"]),
            due_on=date.fromisoformat(item["due_on"]),
            sent_on=local_day(now, zone),
            total=_cents(item["total"]),
            paid=_cents(item["paid"]) + _cents(item["paid_in_office"]),
            credited=_cents(item["credited"]),
            open=_cents(item["open"]),
            created_at=now,
        )
        conn.execute(
            sa.insert(payment_reminders).values(
                tenant_id=tenant_id,
                invoice_number=item["number"],
                level=item["level"],
                lang=chosen,
                customer=item["customer"],
                due_on=letter.due_on,
                sent_on=letter.sent_on,
                open_cents=letter.open,
                pdf=letter_pdf(letter),
                sent_at=now,
                sent_by=actor[:64],
            )
        )
        record = {
            "invoice": item["number"],
            "level": item["level"],
            "lang": chosen,
            "title": title(item["level"], item["last_level"], chosen),
            "customer": item["customer"],
            "customer_label": customers.label(item["customer"]),
            "name": item["name"],
            "open": item["open"],
            "sent_on": letter.sent_on.isoformat(),
        }
        audit(conn, tenant_id, actor, "reminder.sent", item["number"], now, detail=record)
        made.append(record)
    return made


def _cents(text: str) -> int:
    return to_cents(parse_amount(text))


def letter(conn: sa.Connection, tenant_id: str, invoice: str, level: int) -> bytes:
    """A sent letter's PDF, as it was made."""
    pdf = conn.execute(
        sa.select(payment_reminders.c.pdf).where(
            payment_reminders.c.tenant_id == tenant_id,
            payment_reminders.c.invoice_number == invoice,
            payment_reminders.c.level == level,
        )
    ).scalar_one_or_none()
    if pdf is None:
        raise not_found("Relance", "Reminder", f"{invoice} n° {level}")
    return bytes(pdf)


def sent(conn: sa.Connection, tenant_id: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """The letters sent, latest first."""
    rows = conn.execute(
        sa.select(
            payment_reminders.c.invoice_number,
            payment_reminders.c.level,
            payment_reminders.c.lang,
            payment_reminders.c.customer,
            payment_reminders.c.sent_on,
            payment_reminders.c.open_cents,
            payment_reminders.c.sent_by,
        )
        .where(payment_reminders.c.tenant_id == tenant_id)
        .order_by(payment_reminders.c.sent_at.desc(), payment_reminders.c.invoice_number)
        .limit(limit)
    )
    return [
        {
            "invoice": r.invoice_number,
            "level": int(r.level),
            "lang": r.lang,
            "customer": r.customer,
            "customer_label": customers.label(r.customer),
            "sent_on": r.sent_on.isoformat(),
            "open": wire(from_cents(int(r.open_cents))),
            "sent_by": r.sent_by,
        }
        for r in rows
    ]
