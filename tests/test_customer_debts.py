"""Money owed by beneficiaries, on SQLite and PostgreSQL: a month of bill-later invoices,
partial and full payments recorded in the office, an overpayment kept as a credit (part
applied, part refunded), a credit note and reminders due; the ageing and the balances
agree with the invoices to the cent, every payment is a signed entry of the server
journal, bad input changes nothing, and nothing recorded can be changed or deleted."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from server.office import (
    customer_debts,
    debt_terms,
    invoice_balances,
    issued_documents,
    office_journal,
    office_payments,
    received_payments,
    reminders,
)
from server.office.office_payments import Use
from server.platform.errors import ApiError, Conflict, NotFound, Unprocessable
from server.platform.tables import audit_log, office_payment_uses, payment_reminders
from server.platform.tables import office_payments as payments_table
from shared.chain_verifier import verify_chain
from shared.errors import InvalidDocument
from shared.money import from_cents, parse_amount, to_cents
from tests.debts_support import END, TENANT, Month, at, build
from tests.invoicing_support import KEY, pdf_text
from tests.storage import engine  # noqa: F401

D = Decimal


@pytest.fixture
def month(engine) -> Month:  # noqa: F811
    return build(engine)


def cents(text: str) -> int:
    return to_cents(parse_amount(text))


def counts(eng: sa.Engine) -> tuple[int, int, int, int]:
    with eng.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (payments_table, office_payment_uses, payment_reminders, audit_log)
        )


def test_the_months_ageing_and_balances_agree_with_the_invoices_to_the_cent(engine, month):  # noqa: F811
    n = month.numbers
    with engine.connect() as conn:
        aged = customer_debts.ageing(conn, TENANT, END)
        terms = debt_terms.current(conn, TENANT)
        every = invoice_balances.balances(conn, TENANT, terms)
        one_by_one = {
            b.number: issued_documents.beneficiary_balance(conn, TENANT, b.number) for b in every
        }
    assert aged["totals"]["buckets"] == {
        "not_due": "130.60",  # GARAGE-DUPONT: 210.60 − 50.00 − 30.00, due 01/04 (30 days)
        "0-30": "160.00",  # IJ-789-KL: 180.00 − the 20.00 credit note, 28 days late
        "31-60": "0.00",
        "61-90": "180.00",  # MN-321-OP, issued 10/01, 80 days late
        "over_90": "0.00",
    }
    assert aged["totals"]["total"] == "470.60" and aged["totals"]["invoices"] == 3
    assert aged["totals"]["credit"] == "10.00"  # 300.00 − 240.00 − 30.00 applied − 20.00 refunded
    by_customer = {c["customer"]: c for c in aged["customers"]}
    assert by_customer["plate:AB-123-CD"]["credit"] == "10.00"
    assert by_customer["plate:AB-123-CD"]["total"] == "0.00"
    assert by_customer["GARAGE-DUPONT"]["oldest_due"] == "2026-04-01"
    assert "plate:GH-482-KL" not in by_customer  # 100.00 cash + 64.00 cheque: settled
    # the buckets are the open amounts of the invoices, each read on its own
    opened = sum(cents(b["open"]) for b in one_by_one.values())
    assert sum(cents(v) for v in aged["totals"]["buckets"].values()) == opened
    for b in every:  # the batch reading and the one-invoice reading agree on everything
        single = one_by_one[b.number]
        wired = b.to_wire()
        for key in ("total", "paid", "paid_in_office", "discounted", "deferred", "credited"):
            assert wired[key] == single[key], (b.number, key)
        assert (wired["open"], wired["overpaid"], wired["status"]) == (
            single["open"],
            single["overpaid"],
            single["status"],
        )
        # and each balance is the invoice's own arithmetic
        assert b.open == max(b.total - b.field_paid - b.discounted - b.credited - b.office_paid, 0)
    assert one_by_one[n["M-A-0003"]]["status"] == "paid"
    assert one_by_one[n["M-A-0003"]]["paid_in_office"] == "64.00"
    assert one_by_one[n["M-P-0001"]]["status"] == "partly_paid"
    assert one_by_one[n["M-P-0001"]]["deferred"] == "117.00"  # billed later: still open


def test_every_office_payment_is_a_signed_entry_and_no_euro_is_lost(engine, month):  # noqa: F811
    with engine.connect() as conn:
        chain = office_journal.entries(conn, TENANT)
        listed = received_payments.list_payments(conn, TENANT)
    assert (
        verify_chain(chain, device_id=office_journal.chain_id(TENANT), public_key=KEY.public_key())
        == ()
    )
    acts = [dict(e.entry.payload) for e in chain if str(e.entry.type) == "office_payment"]
    assert [a["act"] for a in acts] == [
        "received",
        "received",
        "received",
        "credit_applied",
        "refunded",
    ]
    assert [a["amount"] for a in acts] == ["50.00", "64.00", "300.00", "30.00", "20.00"]
    assert acts[2]["uses"] == [{"invoice": month.numbers["M-P-0006"], "amount": "240.00"}]
    assert acts[2]["credit"] == "60.00"
    assert {e.entry.driver_id for e in chain if str(e.entry.type) == "office_payment"} == {"bureau"}
    assert [p["number"] for p in listed] == ["R2026-000003", "R2026-000002", "R2026-000001"]
    for p in listed:  # amount = what went on invoices + refunds + the credit left
        used = sum(cents(u["amount"]) for u in p["uses"])
        assert cents(p["amount"]) == used + cents(p["credit"])
    big = listed[0]
    assert [(u["kind"], u["invoice"], u["amount"]) for u in big["uses"]] == [
        ("invoice", month.numbers["M-P-0006"], "240.00"),
        ("invoice", month.numbers["M-P-0001"], "30.00"),
        ("refund", None, "20.00"),
    ]
    assert big["credit"] == "10.00"


def test_a_customers_account_tells_its_story_in_order(engine, month):  # noqa: F811
    n = month.numbers
    with engine.connect() as conn:
        garage = customer_debts.account(conn, TENANT, "GARAGE-DUPONT", END)
        plate = customer_debts.account(conn, TENANT, "plate:AB-123-CD", END)
        with pytest.raises(NotFound):
            customer_debts.account(conn, TENANT, "plate:ZZ-999-ZZ", END)
    assert [(h["on"], h["event"], h["ref"], h["amount"]) for h in garage["history"]] == [
        ("2026-03-02", "invoice", n["M-P-0001"], "210.60"),
        ("2026-03-20", "payment", "R2026-000001", "50.00"),
        ("2026-03-27", "credit_applied", "R2026-000003", "30.00"),  # AB-123-CD's credit
    ]
    assert garage["totals"] == {
        "billed": "210.60",
        "credited": "0.00",
        "paid": "80.00",
        "open": "130.60",
        "credit": "0.00",
    }
    assert garage["terms"]["payment_days"] == 30
    assert [(h["event"], h.get("invoice")) for h in plate["history"]] == [
        ("invoice", None),
        ("payment", None),
        ("credit_applied", n["M-P-0001"]),
        ("refund", None),
    ]
    assert plate["totals"]["credit"] == "10.00" and plate["totals"]["open"] == "0.00"


def test_reminders_go_out_level_by_level_in_the_customers_language(engine, month):  # noqa: F811
    n = month.numbers
    late, recent = n["M-P-0005"], n["M-P-0004"]  # 80 and 28 days late at 31/03
    garage = n["M-P-0001"]  # due 01/04
    with engine.connect() as conn:
        due = reminders.due(conn, TENANT, END)
    assert [(d["number"], d["level"], d["lang"], d["days_late"]) for d in due] == [
        (late, 1, "fr", 80),
        (recent, 1, "en", 28),
    ]
    rounds = []
    for day_ in (
        END,
        END,
        date(2026, 4, 9),
        date(2026, 4, 10),
        date(2026, 4, 20),
        date(2026, 5, 30),
    ):
        with engine.begin() as conn:
            rounds.append(
                [
                    (r["invoice"], r["level"])
                    for r in reminders.send(
                        conn, TENANT, day_, actor="bureau", now=at(day_.month, day_.day, 16)
                    )
                ]
            )
    assert rounds == [
        [(late, 1), (recent, 1)],
        [],  # the next levels wait 10 days after the first letters
        [],
        [(late, 2), (recent, 2)],
        [(late, 3), (garage, 1), (recent, 3)],  # the garage's 30 days ran out on 01/04
        [(garage, 2)],  # nothing after the formal notices
    ]
    with engine.connect() as conn:
        first = pdf_text(reminders.letter(conn, TENANT, late, 1))
        notice = pdf_text(reminders.letter(conn, TENANT, late, 3))
        english = pdf_text(reminders.letter(conn, TENANT, recent, 2))
        history = customer_debts.account(conn, TENANT, "plate:MN-321-OP", END)["history"]
        sent_on = [r["sent_on"] for r in reminders.sent(conn, TENANT) if r["invoice"] == late]
    assert "Relance : facture impayée" in first and late in first
    assert "180,00 €" in first and "10/01/2026" in first and "Dépannage Acme SAS" in first
    assert "Mise en demeure de payer" in notice
    assert "Second reminder" in english and "€160.00" in english and "3 March 2026" in english
    assert sent_on == ["2026-04-20", "2026-04-10", "2026-03-31"]
    assert [(h["event"], h.get("level")) for h in history] == [
        ("invoice", None),
        ("reminder", 1),
        ("reminder", 2),
        ("reminder", 3),
    ]


def test_naming_an_invoice_whose_reminder_is_not_due_refuses_everything(engine, month):  # noqa: F811
    before = counts(engine)
    with engine.begin() as conn, pytest.raises(Conflict) as refused:
        reminders.send(
            conn, TENANT, END, invoices=[month.numbers["M-P-0005"], month.numbers["M-P-0001"]],
            actor="bureau", now=at(3, 31, 16),
        )  # fmt: skip
    assert refused.value.code == "reminder_not_due"
    assert month.numbers["M-P-0001"] in refused.value.message("en")
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"amount": "0.00"}, Unprocessable, "amount_invalid"),
        ({"amount": "12.345"}, Unprocessable, "amount_invalid"),
        ({"amount": "-5"}, Unprocessable, "amount_invalid"),
        ({"method": "bitcoin"}, Unprocessable, "method_invalid"),
        ({"method": "cash", "amount": "1000.01"}, Unprocessable, "cash_limit_exceeded"),
        ({"reference": "  "}, Unprocessable, "reference_missing"),
        ({"received_on": date(2026, 4, 2)}, Unprocessable, "date_in_future"),
        ({"uses": [Use("F2026-000005")]}, Unprocessable, "not_a_beneficiary_invoice"),
        ({"uses": [Use("F2026-000404")]}, Unprocessable, "not_a_beneficiary_invoice"),
        ({"uses": [Use("F2026-000007")]}, Conflict, "invoice_already_paid"),
        ({"uses": [Use("F2026-000001"), Use("F2026-000001")]}, Unprocessable, "invoice_twice"),
        ({"uses": [Use("F2026-000001", 18001)]}, Conflict, "use_exceeds_invoice"),
        (
            {"uses": [Use("F2026-000001", 6000)], "amount": "50.00"},
            Unprocessable,
            "uses_exceed_payment",
        ),
        ({"uses": []}, Unprocessable, "customer_missing"),
    ],
)
def test_a_refused_payment_says_why_and_changes_nothing(engine, month, change, error, code):  # noqa: F811
    given_ = {
        "amount": "100.00",
        "method": "transfer",
        "received_on": date(2026, 3, 31),
        "reference": "VIR 42",
        "uses": [Use(month.numbers["M-P-0005"])],
        **change,
    }
    before = counts(engine)
    with engine.begin() as conn, pytest.raises(error) as refused:
        office_payments.record(conn, TENANT, key=KEY, actor="bureau", now=at(4, 1, 8), **given_)
    assert refused.value.code == code
    assert refused.value.message("fr") and refused.value.message("en")
    assert counts(engine) == before


def test_a_payment_without_invoices_is_the_customers_credit_then_settles_an_invoice(engine, month):  # noqa: F811
    late = month.numbers["M-P-0005"]
    with engine.begin() as conn:
        made = office_payments.record(
            conn, TENANT, amount="200.00", method="payment_link", received_on=date(2026, 3, 31),
            reference="PL-99", customer="plate:MN-321-OP", key=KEY, actor="bureau",
            now=at(3, 31, 9),
        )  # fmt: skip
    assert made["credit"] == "200.00" and made["payer"] == "MN-321-OP"
    with engine.begin() as conn:
        applied = office_payments.apply_credit(
            conn, TENANT, made["number"], late, key=KEY, actor="bureau", now=at(3, 31, 10)
        )
        with pytest.raises(Conflict) as beyond:
            office_payments.refund(
                conn, TENANT, made["number"], amount="20.01", reference="R",
                key=KEY, actor="bureau", now=at(3, 31, 11),
            )  # fmt: skip
    assert applied["credit"] == "20.00"  # 180.00 was owed: the rest stays
    assert beyond.value.code == "refund_exceeds_credit"
    with engine.connect() as conn:
        assert issued_documents.beneficiary_balance(conn, TENANT, late)["status"] == "paid"
        with pytest.raises(Conflict) as nothing_owed:
            office_payments.apply_credit(
                conn, TENANT, made["number"], late, key=KEY, actor="bureau", now=at(3, 31, 12)
            )
    assert nothing_owed.value.code == "invoice_already_paid"
    with engine.begin() as conn:
        office_payments.refund(
            conn,
            TENANT,
            made["number"],
            reference="VIR REMB",
            key=KEY,
            actor="b",
            now=at(3, 31, 13),
        )
    with engine.connect() as conn, pytest.raises(Conflict) as empty:
        office_payments.refund(
            conn, TENANT, made["number"], reference="again", key=KEY, actor="b", now=at(3, 31, 14)
        )
    assert empty.value.code == "no_credit_left"


def test_office_payments_and_letters_can_never_be_changed_nor_deleted(engine, month):  # noqa: F811
    with engine.begin() as conn:
        reminders.send(conn, TENANT, END, actor="bureau", now=at(3, 31, 16))
    for statement in (
        sa.update(payments_table).values(amount_cents=1),
        sa.delete(payments_table),
        sa.update(office_payment_uses).values(amount_cents=1),
        sa.delete(office_payment_uses),
        sa.delete(payment_reminders),
    ):
        with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        listed = received_payments.list_payments(conn, TENANT)
    assert sum(cents(p["amount"]) for p in listed) == 41400


def test_payment_terms_are_checked_and_versioned(engine, month):  # noqa: F811
    with engine.begin() as conn, pytest.raises(InvalidDocument) as refused:
        debt_terms.set_terms(
            conn, TENANT,
            {"payment_days": -1, "reminder_days": [30, 10], "letter_lang": "de", "other": 1},
            actor="gerant", now=at(3, 31),
        )  # fmt: skip
    paths = {p.path for p in refused.value.problems}
    assert paths == {"payment_days", "reminder_days", "letter_lang", "other"}
    with engine.begin() as conn:
        again = debt_terms.set_terms(
            conn, TENANT, debt_terms.current(conn, TENANT).document(), actor="g", now=at(3, 31)
        )
        newer = debt_terms.set_terms(conn, TENANT, {"payment_days": 8}, actor="g", now=at(3, 31))
    assert again.version == 1  # the same terms add no version
    assert newer.version == 2 and newer.reminder_days == (15, 30, 45)
    with engine.connect() as conn:  # due dates follow the new terms at once
        aged = customer_debts.ageing(conn, TENANT, END)
    assert aged["totals"]["buckets"] == {
        "not_due": "0.00",  # GARAGE-DUPONT lost its own 30 days: due 10/03, 21 days late
        "0-30": "290.60",  # with IJ-789-KL's 160.00, due 11/03
        "31-60": "0.00",
        "61-90": "180.00",  # due 18/01, 72 days late
        "over_90": "0.00",
    }


def test_another_tenants_invoice_is_not_found(engine, month):  # noqa: F811
    from tests.invoicing_support import set_up

    with engine.begin() as conn:
        set_up(conn, "other")
    with engine.begin() as conn, pytest.raises(ApiError) as refused:
        office_payments.record(
            conn, "other", amount="10.00", method="cheque", received_on=date(2026, 3, 1),
            reference="CHQ", uses=[Use(month.numbers["M-P-0005"])], key=KEY, actor="x",
            now=at(3, 31),
        )  # fmt: skip
    assert refused.value.code == "not_a_beneficiary_invoice"


def test_clerks_racing_on_one_invoice_never_pay_it_twice(engine, month):  # noqa: F811
    """Six clerks record, at once, a payment of the whole amount on the same open invoice:
    one pays it, the others are told it owes nothing, and nothing is double-counted."""
    late = month.numbers["M-P-0005"]  # 180.00 open
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def clerk(n: int) -> None:
        start.wait()
        try:
            with engine.begin() as conn:
                office_payments.record(
                    conn, TENANT, amount="180.00", method="transfer",
                    received_on=date(2026, 3, 31), reference=f"VIR {n}", uses=[Use(late)],
                    key=KEY, actor=f"clerk{n}", now=at(3, 31, 9),
                )  # fmt: skip
            outcomes.append("paid")
        except Conflict as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=clerk, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["invoice_already_paid"] * 5 + ["paid"]
    with engine.connect() as conn:
        balance = issued_documents.beneficiary_balance(conn, TENANT, late)
        chain = office_journal.entries(conn, TENANT)
    assert balance["paid_in_office"] == "180.00" and balance["overpaid"] == "0.00"
    numbers = [
        e.entry.payload.get("number") for e in chain if str(e.entry.type) == "office_payment"
    ]
    assert numbers[-1] == "R2026-000004"  # no number lost to a refused clerk


# --- the split of a payment, as a property ------------------------------------------------------

owed = st.lists(st.integers(min_value=0, max_value=50_000), min_size=1, max_size=6)


@given(owed, st.integers(min_value=1, max_value=200_000), st.data())
def test_a_payment_is_split_without_exceeding_any_invoice_and_the_rest_is_credit(
    opens: list[int], amount: int, data: st.DataObject
) -> None:
    balances = {
        f"F{i}": invoice_balances.InvoiceBalance(
            f"F{i}",
            "m",
            "c",
            "n",
            None,
            date(2026, 1, 1),
            date(2026, 1, 1),
            total=o,
            field_paid=0,
            discounted=0,
            deferred=0,
            credited=0,
            office_paid=0,
        )
        for i, o in enumerate(opens)
    }
    uses = []
    for number, b in balances.items():
        explicit = data.draw(st.one_of(st.none(), st.integers(min_value=1, max_value=b.open or 1)))
        uses.append(Use(number, explicit))
    try:
        parts = office_payments.split_payment(uses, balances, amount)
    except ApiError as refused:
        assert refused.code in {"invoice_already_paid", "uses_exceed_payment"}
        return
    for number, part in parts:
        assert 0 < part <= balances[number].open
    assert sum(part for _, part in parts) <= amount
    credit = amount - sum(part for _, part in parts)
    # the credit is only left when every invoice without an amount was paid in full
    if credit > 0:
        given_in_full = {u.invoice for u in uses if u.amount is None}
        paid = dict(parts)
        assert all(paid.get(i, 0) == balances[i].open for i in given_in_full)
    assert from_cents(amount) == from_cents(sum(p for _, p in parts)) + from_cents(credit)
