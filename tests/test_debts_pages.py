"""Money owed by beneficiaries through the API and the desk: the month of
tests/debts_support.py seen by the office — the ageing with its exact figures, a
customer's account, a payment recorded in one form (its balance follows on the invoice's
own page), a credit applied and refunded, the reminders made in one click and their
PDF, the terms; the right `record_payments` is needed to record (the manager has none),
bad input changes nothing, another company sees nothing; English on request."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import sqlalchemy as sa

from server.app import create_app
from server.office import issued_documents
from server.people import hashing, identity
from server.platform.tables import office_payments, payment_reminders
from tests.debts_support import TENANT, Month, at, build
from tests.desk_support import post, sign_in
from tests.invoicing_support import pdf_text, set_up
from tests.server_support import PASSWORD, Clock
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


class Office:
    def __init__(self, engine: sa.Engine, tmp: Any, month: Month) -> None:  # noqa: F811
        self.engine = engine
        self.month = month
        self.clock = Clock(at(3, 31, 16))
        self.app = create_app(
            {"ENGINE": engine, "VAR_DIR": str(tmp / "var"), "SECRET_KEY": "t", "CLOCK": self.clock}
        )
        self.app.config["TESTING"] = True
        with engine.begin() as conn:
            for login, role in (("bureau", "office"), ("gerant", "manager")):
                identity.create_user(
                    conn, TENANT, login, login.title(), PASSWORD, role, actor="t", now=at(1, 1)
                )
            set_up(conn, "other")
            identity.create_user(
                conn, "other", "bureau", "Autre", PASSWORD, "office", actor="t", now=at(1, 1)
            )
        self.tokens: dict[tuple[str, str], str] = {}

    def api(self, login: str, tenant: str = TENANT) -> dict[str, str]:
        if (tenant, login) not in self.tokens:
            answer = self.app.test_client().post(
                "/api/v1/auth/login", json={"tenant": tenant, "login": login, "password": PASSWORD}
            )
            self.tokens[(tenant, login)] = answer.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[(tenant, login)]}"}

    def desk(self, login: str = "bureau", tenant: str = TENANT) -> Any:
        client = self.app.test_client()
        assert sign_in(client, login, tenant=tenant, password=PASSWORD).status_code == 302
        return client

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.fixture
def office(engine, tmp_path, monkeypatch) -> Office:  # noqa: F811
    monkeypatch.setattr(hashing, "N", 2**8)
    return Office(engine, tmp_path, build(engine))


def flat(answer: Any) -> str:
    """A page's text with no-break spaces as plain spaces."""
    text = answer if isinstance(answer, str) else answer.get_data(as_text=True)
    return html.unescape(text).replace("\u00a0", " ").replace("\u202f", " ")


def cells(html: str, attribute: str) -> dict[str, str]:
    """{data-<attribute> value: the cell's text} of a page."""
    found = re.findall(rf'data-{attribute}="([^"]+)">(?:<strong>|<b[^>]*>)?([^<]+)', html)
    return {k: v.strip().replace("\u00a0", " ").replace("\u202f", " ") for k, v in found}


# --- the API -----------------------------------------------------------------------------------


def test_the_api_ages_and_records_a_payment_whose_balance_shows_everywhere(office):
    client = office.app.test_client()
    bureau = office.api("bureau")
    aged = client.get("/api/v1/customer-debts", headers=bureau)
    assert aged.status_code == 200
    assert aged.get_json()["totals"]["buckets"]["61-90"] == "180.00"
    assert aged.get_json()["at"] == "2026-03-31"  # the app's clock, in Lyon
    late = office.month.numbers["M-P-0005"]
    made = client.post(
        "/api/v1/office-payments",
        json={
            "amount": "200.00",
            "method": "cheque",
            "received_on": "2026-03-31",
            "reference": "CHQ 7654321",
            "invoices": [{"invoice": late}],
        },
        headers=bureau,
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["number"] == "R2026-000004" and body["credit"] == "20.00"
    assert body["uses"][0]["invoice"] == late and body["uses"][0]["amount"] == "180.00"
    with office.engine.connect() as conn:  # the invoice's own balance (GET /documents/<n>)
        balance = issued_documents.beneficiary_balance(conn, TENANT, late)
    assert balance["paid_in_office"] == "180.00" and balance["status"] == "paid"
    still_open = client.get("/api/v1/customer-debts/invoices", headers=bureau).get_json()
    assert late not in {i["number"] for i in still_open}
    again = client.get("/api/v1/customer-debts", headers=bureau).get_json()
    assert again["totals"]["buckets"]["61-90"] == "0.00"
    assert again["totals"]["credit"] == "30.00"  # 10.00 before, 20.00 now
    account = client.get("/api/v1/customers/plate:MN-321-OP/account", headers=bureau)
    assert account.get_json()["totals"]["credit"] == "20.00"
    refunded = client.post(
        f"/api/v1/office-payments/{body['number']}/refund",
        json={"reference": "VIR REMB"},
        headers=bureau,
    )
    assert refunded.status_code == 200 and refunded.get_json()["credit"] == "0.00"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": "20", "method": "bitcoin"}, 422, None),  # not an office method
        ({"amount": "1000.01", "method": "cash"}, 422, "cash_limit_exceeded"),
        ({"amount": "20.001"}, 422, None),
        ({"received_on": "2026-04-01"}, 422, "date_in_future"),
        ({"invoices": [{"invoice": "F2026-000005"}]}, 422, "not_a_beneficiary_invoice"),
        ({"invoices": [{"invoice": "F2026-000007"}]}, 409, "invoice_already_paid"),
        ({"unknown": 1}, 422, None),
    ],
)
def test_a_bad_payment_is_refused_by_the_api_and_changes_nothing(office, body, status, code):
    before = office.count(office_payments)
    given = {
        "amount": "20.00",
        "method": "transfer",
        "received_on": "2026-03-31",
        "reference": "VIR 1",
        "invoices": [{"invoice": office.month.numbers["M-P-0005"]}],
        **body,
    }
    answer = office.app.test_client().post(
        "/api/v1/office-payments", json=given, headers=office.api("bureau")
    )
    assert answer.status_code == status, answer.get_json()
    if code:
        assert answer.get_json()["code"] == code
    assert office.count(office_payments) == before


def test_recording_needs_the_right_and_another_tenant_sees_nothing(office):
    client = office.app.test_client()
    body = {
        "amount": "20.00",
        "method": "transfer",
        "received_on": "2026-03-31",
        "reference": "VIR 1",
        "invoices": [{"invoice": office.month.numbers["M-P-0005"]}],
    }
    manager = client.post("/api/v1/office-payments", json=body, headers=office.api("gerant"))
    assert manager.status_code == 403 and manager.get_json()["code"] == "right_missing"
    stranger = office.api("bureau", "other")
    foreign = client.post("/api/v1/office-payments", json=body, headers=stranger)
    assert foreign.get_json()["code"] == "not_a_beneficiary_invoice"
    assert client.get("/api/v1/office-payments/R2026-000001", headers=stranger).status_code == 404
    account = client.get("/api/v1/customers/GARAGE-DUPONT/account", headers=stranger)
    assert account.status_code == 404
    assert client.get("/api/v1/customer-debts", headers=stranger).get_json()["customers"] == []
    assert office.count(office_payments) == 3


def test_reminders_through_the_api_and_the_terms(office):
    client = office.app.test_client()
    bureau = office.api("bureau")
    due = client.get("/api/v1/reminders/due", headers=bureau).get_json()
    assert [d["number"] for d in due] == [
        office.month.numbers["M-P-0005"],
        office.month.numbers["M-P-0004"],
    ]
    sent = client.post("/api/v1/reminders", json={}, headers=bureau)
    assert sent.status_code == 201 and [r["level"] for r in sent.get_json()] == [1, 1]
    pdf = client.get(f"/api/v1/reminders/{due[0]['number']}/1/pdf", headers=bureau)
    assert pdf.mimetype == "application/pdf" and "Relance" in pdf_text(pdf.data)
    terms = client.get("/api/v1/debt-terms", headers=bureau).get_json()
    assert terms["reminder_days"] == [10, 20, 30] and terms["version"] == 1
    refused = client.put(
        "/api/v1/debt-terms", json={"payment_days": 5}, headers=office.api("gerant")
    )
    assert refused.status_code == 403
    changed = client.put("/api/v1/debt-terms", json={"reminder_days": [3]}, headers=bureau)
    assert changed.status_code == 200 and changed.get_json()["version"] == 2


# --- the desk ------------------------------------------------------------------------------------


def test_the_desk_shows_the_ageing_and_a_customers_account_with_exact_figures(office):
    desk = office.desk()
    page = desk.get("/desk/debts").get_data(as_text=True)
    totals = cells(page, "total")
    assert totals["total"] == "470,60 €"
    assert totals["61-90"] == "180,00 €" and totals["not_due"] == "130,60 €"
    assert totals["credit"] == "10,00 €"
    assert "Relances à envoyer" in page and "/desk/debts/customers/GARAGE-DUPONT" in page
    account = desk.get("/desk/debts/customers/GARAGE-DUPONT").get_data(as_text=True)
    figures = cells(account, "total")
    assert figures == {
        "billed": "210,60 €",
        "credited": "0,00 €",
        "paid": "80,00 €",
        "open": "130,60 €",
        "credit": "0,00 €",
    }
    assert "Avoir affecté" in account and "R2026-000003" in account
    english = desk.get("/desk/debts?lang=en").get_data(as_text=True)
    assert "Money owed by customers" in english and "€470.60" in english
    assert desk.get("/desk/debts/customers/plate:NOBODY").status_code == 404


def test_a_payment_recorded_on_the_desk_settles_the_ticked_invoice(office):
    desk = office.desk()
    late = office.month.numbers["M-P-0005"]
    form = desk.get(f"/desk/debts/pay?invoice={late}").get_data(as_text=True)
    assert f'value="{late}"' in form and "MN-321-OP" in form
    answer = post(
        desk,
        "/desk/debts/pay",
        {
            "customer": "plate:MN-321-OP",
            "amount": "150,00",
            "method": "transfer",
            "received_on": "2026-03-30",
            "reference": "VIR MN321",
            "invoice": late,
        },
    )
    assert answer.status_code == 302
    account = flat(desk.get(answer.headers["Location"]))
    assert "Règlement R2026-000004 enregistré : 150,00 €." in account
    assert cells(account, "total")["open"] == "30,00 €"
    document = flat(desk.get(f"/desk/documents/{late}"))
    assert "Réglé au bureau" in document and "150,00 €" in document
    refused = post(
        desk,
        "/desk/debts/pay",
        {
            "customer": "plate:MN-321-OP",
            "amount": "10",
            "method": "transfer",
            "received_on": "2026-03-30",
            "reference": "",
            "invoice": late,
        },
    )
    # Post/Redirect/Get: the form comes back with what was typed; a reload posts nothing.
    assert refused.status_code == 303
    assert refused.headers["Location"] == ("/desk/debts/pay?customer=plate:MN-321-OP&refused=1")
    for _ in range(2):  # the page, then a reload
        shown = desk.get(refused.headers["Location"])
        assert shown.status_code == 200 and "Rien n'a été enregistré" in flat(shown)
        assert 'name="amount" required inputmode="decimal" maxlength="16" value="10"' in (
            shown.get_data(as_text=True)
        )
        assert office.count(office_payments) == 4


def test_a_refused_payment_comes_back_as_typed_and_a_reload_records_nothing(office):
    desk = office.desk()
    late = office.month.numbers["M-P-0005"]
    typed = {
        "customer": "plate:MN-321-OP",
        "amount": "150,00",
        "method": "cheque",
        "received_on": "30/03/2026",  # not YYYY-MM-DD
        "reference": "CHQ 0042",
        "invoice": late,
        f"amount_{late}": "120,00",
        "note": "Reçu par courrier",
    }
    refused = post(desk, "/desk/debts/pay", typed)
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith("refused=1")
    first = desk.get(refused.headers["Location"]).get_data(as_text=True)
    assert desk.get(refused.headers["Location"]).get_data(as_text=True) == first  # reload
    page = flat(first)
    assert "Date de réception illisible (AAAA-MM-JJ)." in page
    assert "Rien n'a été enregistré." in page
    assert 'value="150,00"' in first and 'value="CHQ 0042"' in first
    assert 'value="30/03/2026"' in first and 'value="Reçu par courrier"' in first
    assert f'name="amount_{late}" inputmode="decimal" maxlength="16" value="120,00"' in first
    assert '<option value="cheque" selected>' in first
    assert office.count(office_payments) == 3
    # Opened again from a link, the form is blank.
    blank = desk.get("/desk/debts/pay?customer=plate:MN-321-OP").get_data(as_text=True)
    assert "CHQ 0042" not in blank and "illisible" not in blank


def test_the_credit_is_applied_then_refunded_from_the_account_page(office):
    desk = office.desk()
    page = flat(desk.get("/desk/debts/customers/plate:AB-123-CD"))
    assert "Affecter l'avoir" in page
    late = office.month.numbers["M-P-0005"]
    applied = post(
        desk,
        "/desk/debts/payments/R2026-000003/apply",
        {"customer": "plate:AB-123-CD", "invoice": late, "amount": "4.00"},
    )
    assert applied.status_code == 302
    shown = flat(desk.get(applied.headers["Location"]))
    assert "avoir restant 6,00 €" in shown
    refunded = post(
        desk,
        "/desk/debts/payments/R2026-000003/refund",
        {"customer": "plate:AB-123-CD", "reference": "VIR REMB 2"},
    )
    shown = flat(desk.get(refunded.headers["Location"]))
    assert "avoir restant 0,00 €" in shown and "Affecter l'avoir" not in shown


def test_reminders_are_made_in_one_click_and_their_letters_open(office):
    desk = office.desk()
    page = desk.get("/desk/debts/reminders").get_data(as_text=True)
    assert "À envoyer (2)" in page and "Mise en demeure" not in page
    answer = post(
        desk,
        "/desk/debts/reminders/send",
        {"at": "2026-03-31", "invoice": office.month.numbers["M-P-0005"]},
    )
    assert answer.status_code == 302
    page = flat(desk.get(answer.headers["Location"]))
    assert "1 lettre(s) de relance faite(s)." in page
    assert "À envoyer (1)" in page  # the other one; the next level waits 10 days
    letter = desk.get(f"/desk/debts/reminders/{office.month.numbers['M-P-0005']}/1.pdf")
    assert letter.mimetype == "application/pdf"
    assert "180,00 €" in flat(pdf_text(letter.data))
    assert office.count(payment_reminders) == 1


def test_the_manager_reads_but_may_not_record_and_a_stranger_sees_nothing(office):
    manager = office.desk("gerant")
    assert manager.get("/desk/debts").status_code == 200
    assert manager.get("/desk/debts/pay").status_code == 403
    assert "Enregistrer un règlement" not in manager.get("/desk/debts").get_data(as_text=True)
    assert manager.get("/desk/debts/terms").status_code == 200
    stranger = office.desk("bureau", "other")
    assert stranger.get("/desk/debts/customers/GARAGE-DUPONT").status_code == 404
    assert "470,60" not in stranger.get("/desk/debts").get_data(as_text=True)


def test_terms_set_on_the_desk_are_checked_first(office):
    admin_less = office.desk()  # the office role has edit_contracts
    refused = post(
        admin_less,
        "/desk/debts/terms",
        {"payment_days": "-3", "reminder_days": "20, 10", "letter_lang": "fr"},
    )
    assert refused.status_code == 422
    assert "reminder_days" in refused.get_data(as_text=True)
    done = post(
        admin_less,
        "/desk/debts/terms",
        {
            "payment_days": "8",
            "reminder_days": "10, 20",
            "letter_lang": "en",
            "customers": "GARAGE-DUPONT = 45",
        },
    )
    assert done.status_code == 302
    assert "version 2" in admin_less.get("/desk/debts/terms").get_data(as_text=True)


# --- in a real browser ----------------------------------------------------------------------


def test_the_clerk_records_a_cheque_from_the_ageing_in_a_browser(browser, office):
    from tests.browser import DESKTOP, LiveServer, new_page, screenshot

    live = LiveServer(office.app)
    try:
        page = new_page(browser, DESKTOP)
        page.goto(f"{live.url}/desk/login")
        page.fill("input[name=tenant]", TENANT)
        page.fill("input[name=login]", "bureau")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.click("header nav >> text=Impayés clients")
        assert page.locator("[data-total=total]").inner_text().replace("\u202f", " ") == (
            "470,60\u00a0€"
        )
        screenshot(page, "desk-debts")
        page.click("tr[data-customer='plate:MN-321-OP'] a")
        page.click("text=Enregistrer un règlement >> nth=-1")
        page.fill("input[name=amount]", "180,00")
        page.select_option("select[name=method]", "cheque")
        page.fill("input[name=received_on]", "2026-03-31")
        page.fill("input[name=reference]", "CHQ 998877")
        screenshot(page, "desk-debt-pay")
        page.click("button:has-text('Enregistrer le règlement')")
        assert "Règlement R2026-000004 enregistré" in page.locator(".flash.ok").inner_text()
        assert page.locator("[data-total=open]").inner_text().startswith("0,00")
        screenshot(page, "desk-debt-account")
        page.click(".subnav >> text=Relances")
        assert page.locator("tr[data-invoice]").count() == 1  # IJ-789-KL's, still late
    finally:
        live.close()
