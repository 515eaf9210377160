"""Payments back on SQLite and PostgreSQL: payment advices and bank lines read like the
card settlement files (every bad line named), each file imported once, each line matched
to a claim by reference and amount (exact, partial, too much, unknown, already paid), a
paid claim closing its file, the mismatches listed for the office, the nightly command
that imports the inbox once and moves every file — and every euro accounted for over
random sequences of payments and credit notes (Hypothesis)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.cli import main as cli  # noqa: F401  # first: server.cli.main registers cli_claims
from server.cli.payments import nightly, process_inbox
from server.office import missions
from server.parties import claim_reading, payment_files
from server.parties import files as party_files
from server.parties import payments as payments_in
from server.platform.errors import Conflict, Unprocessable
from server.platform.tables import claims as claims_table
from server.platform.tables import file_events, payment_imports, payment_lines
from shared.errors import InvalidDocument
from shared.file_lifecycle import Event, State
from tests.conftest import example
from tests.invoicing_support import NOW, store_valuation
from tests.storage import engine  # noqa: F401
from tests.test_claims import (  # noqa: F401  # `api` and `shop` are fixtures
    ASSIST_A,
    act,
    api,
    credit,
    file_log,
    file_state,
    get,
    issue,
    shop,
)

ADVICE_HEAD = "reference;amount;date;party\n"


def import_(eng, content, source="advice", name="avis.csv", tenant="acme"):
    with eng.begin() as conn:
        return payments_in.import_file(
            conn, tenant, source, name, content.encode("utf-8"), actor="bureau", now=NOW
        )


def lines_of(eng, import_id):
    with eng.connect() as conn:
        return conn.execute(
            sa.select(payment_lines)
            .where(payment_lines.c.import_id == import_id)
            .order_by(payment_lines.c.line_no)
        ).all()


@pytest.fixture
def billed(shop):  # noqa: F811
    """Four ASSIST-A claims: F2026-000001 250.00 (M-A-0003), F2026-000003 144.00
    (M-A-0001), F2026-000004 198.00 (M-A-0002), F2026-000005 216.00 (M-A-0005)."""
    numbers = [issue(shop, m) for m in ("M-A-0003", "M-A-0001", "M-A-0002", "M-A-0005")]
    assert numbers == ["F2026-000001", "F2026-000003", "F2026-000004", "F2026-000005"]
    return shop


# --- reading the files ---------------------------------------------------------------------


def test_advices_read_like_settlement_files():
    lines, ignored = payment_files.parse(
        (
            "Référence;Montant;Date;Donneur d'ordre\n"
            "F2026-000001;250,00;2026-04-02;ASSIST-A\n"
            "f2026000003;+1 234.5;02/04/2026;\n"
            "ASSIST-A-2026-0002;198;2026-04-02;Assistance A\n"
        ).encode(),
        "advice",
    )
    assert ignored == 0
    assert [(x.line_no, x.paid_on, x.reference, x.cents, x.party) for x in lines] == [
        (2, date(2026, 4, 2), "F2026-000001", 25000, "ASSIST-A"),
        (3, date(2026, 4, 2), "F2026-000003", 123450, None),  # normalised
        (4, date(2026, 4, 2), "ASSIST-A-2026-0002", 19800, "Assistance A"),  # its file number
    ]


def test_bank_lines_find_the_invoice_number_in_the_label_and_skip_debits():
    lines, ignored = payment_files.parse(
        (
            b"date,label,amount\n"
            b"2026-04-03,VIR SEPA ASSISTANCE A REF F2026-000004 DOSSIER 2026-0002,198.00\n"
            b'2026-04-03,"PRLV EDF, FACTURE 12",-80.00\n'
            b"2026-04-04,VIR IMA REGLT f 2026 000005,216.00\n"
            b"2026-04-04,VIR CLIENT SANS REFERENCE,30.00\n"
            b"2026-04-05,F2026-0000011 is not a number; nor is XF2026-000001,5.00\n"
        ),
        "bank",
    )
    assert ignored == 1  # the debit
    assert [(x.line_no, x.reference, x.cents) for x in lines] == [
        (2, "F2026-000004", 19800),
        (4, "F2026-000005", 21600),
        (5, "", 3000),
        (6, "", 500),
    ]
    assert lines[0].label.startswith("VIR SEPA")
    assert payment_files.invoice_numbers_in("F2026-000001 et F2026-000003, F2026-000001") == [
        "F2026-000001",
        "F2026-000003",
    ]


def test_every_bad_line_is_named_with_its_number_and_nothing_is_read():
    with pytest.raises(InvalidDocument) as bad:
        payment_files.parse(
            (
                ADVICE_HEAD + "F2026-000001;abc;2026-04-02;\n"
                "F2026-000003;10.00;2026-04-02;\n"
                ";10.00;2026-04-02;\n"
                "F2026-000004;10.00;31/02/2026;\n"
                "F2026-000005;-3;2026-04-02;\n"
            ).encode(),
            "advice",
        )
    assert [p.path for p in bad.value.problems] == ["2", "4", "5", "6"]
    assert "ligne illisible (montant)" in bad.value.message("fr")
    assert "unreadable line (reference)" in bad.value.message("en")
    assert "unreadable line (date)" in bad.value.message("en")
    with pytest.raises(InvalidDocument) as missing:
        payment_files.parse(b"date;amount\n2026-04-02;1.00\n", "bank")
    assert "1: missing columns: label" in missing.value.message("en")
    with pytest.raises(InvalidDocument):
        payment_files.parse(ADVICE_HEAD.encode(), "advice")
    with pytest.raises(InvalidDocument):
        payment_files.parse("reference;amount;date\n".encode("utf-16"), "advice")
    with pytest.raises(Unprocessable):
        payment_files.parse(b"x", "cheques")


# --- matching -------------------------------------------------------------------------------


def test_an_exact_payment_pays_the_claim_and_closes_its_file(billed):
    done = import_(billed, ADVICE_HEAD + "F2026-000001;250.00;2026-04-02;ASSIST-A\n")
    assert (done["lines"], done["matched"], done["applied"]) == (1, 1, "250.00")
    assert done["claims_paid"] == ["F2026-000001"] and done["mismatches"] == []
    claim = get(billed, "F2026-000001")
    assert (claim["status"], claim["paid"], claim["open"]) == ("paid", "250.00", "0.00")
    assert file_state(billed) is State.DONE
    advice = [e for e in file_log(billed) if e["event"] == "payment_advice"]
    assert [(e["source"], e["message_id"], e["state_after"]) for e in advice] == [
        ("payment", f"payment:{done['id']}:2", "done")
    ]
    [line] = lines_of(billed, done["id"])
    assert (line.outcome, line.invoice_number, line.amount_cents, line.party_id) == (
        "matched",
        "F2026-000001",
        25000,
        "ASSIST-A",
    )


def test_a_partial_payment_is_applied_and_listed_and_the_rest_pays_it(billed):
    first = import_(billed, ADVICE_HEAD + "F2026-000003;100.00;2026-04-02;\n", name="a1.csv")
    assert (first["amount_differs"], first["applied"]) == (1, "100.00")
    claim = get(billed, "F2026-000003")
    assert (claim["status"], claim["paid"], claim["open"]) == ("to_create", "100.00", "44.00")
    assert file_state(billed, "ASSIST-A-2026-0001") is State.INTEGRATED
    with billed.connect() as conn:
        [listed] = payments_in.mismatches(conn, "acme")
    assert (listed["outcome"], listed["amount"], listed["invoice_number"]) == (
        "amount_differs",
        "100.00",
        "F2026-000003",
    )
    assert (listed["claim"]["paid"], listed["claim"]["open"]) == ("100.00", "44.00")
    second = import_(billed, ADVICE_HEAD + "F2026-000003;44.00;2026-04-09;\n", name="a2.csv")
    assert second["matched"] == 1
    assert get(billed, "F2026-000003")["status"] == "paid"
    assert file_state(billed, "ASSIST-A-2026-0001") is State.DONE


def test_unknown_references_duplicates_and_overpayments_are_mismatches(billed):
    done = import_(
        billed,
        ADVICE_HEAD + "F2026-000004;198.00;2026-04-02;\n"  # pays it
        "F2026-000004;198.00;2026-04-02;\n"  # the same again: already paid
        "F2026-000777;50.00;2026-04-02;\n"  # no such invoice
        "F2026-000005;300.00;2026-04-02;\n"  # more than owed: not applied
        "F2026-000001;250.00;2026-04-02;IMA\n",  # another party's reference
    )
    assert {k: done[k] for k in payments_in.OUTCOMES} == {
        "matched": 1,
        "amount_differs": 1,
        "unknown_reference": 2,
        "already_paid": 1,
    }
    assert done["applied"] == "198.00"
    assert [(m["line_no"], m["outcome"]) for m in done["mismatches"]] == [
        (3, "already_paid"),
        (4, "unknown_reference"),
        (5, "amount_differs"),
        (6, "unknown_reference"),
    ]
    assert get(billed, "F2026-000005")["paid"] == "0.00"
    assert get(billed, "F2026-000001")["paid"] == "0.00"
    with billed.connect() as conn:
        listed = payments_in.mismatches(conn, "acme")
        assert payments_in.mismatches(conn, "other") == []
    assert [(m["line_no"], m["outcome"], m["invoice_number"]) for m in listed] == [
        (3, "already_paid", "F2026-000004"),
        (4, "unknown_reference", None),
        (5, "amount_differs", "F2026-000005"),
        (6, "unknown_reference", None),
    ]
    assert listed[2]["claim"]["open"] == "216.00"


def test_a_file_is_imported_once(billed):
    content = ADVICE_HEAD + "F2026-000001;100.00;2026-04-02;\n"
    first = import_(billed, content)
    with pytest.raises(payments_in.AlreadyImported) as again:
        import_(billed, content, name="renamed.csv")
    assert again.value.status == 409 and again.value.code == "payment_file_already_imported"
    assert "avis.csv" in again.value.message("en")
    with billed.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(payment_lines)).scalar() == 1
    assert get(billed, "F2026-000001")["paid"] == "100.00"
    # another tenant may import the same bytes: it matches nothing of acme's
    other = import_(billed, content, tenant="other")
    assert other["id"] == first["id"]
    assert (other["matched"], other["unknown_reference"]) == (0, 1)  # other has no claims
    assert get(billed, "F2026-000001")["paid"] == "100.00"


def test_bank_lines_match_by_the_number_in_the_label(billed):
    done = import_(
        billed,
        "date;libellé;montant\n"
        "03/04/2026;VIR ASSISTANCE A F2026000004;198,00\n"
        "03/04/2026;VIR ASSISTANCE A FACT F2026-000005 ET F2026-000001;216,00\n"
        "03/04/2026;FRAIS BANCAIRES;-4,00\n",
        source="bank",
        name="releve.csv",
    )
    assert (done["matched"], done["ignored"], done["claims_paid"]) == (
        2,
        1,
        ["F2026-000004", "F2026-000005"],
    )
    assert [(x.reference, x.outcome) for x in lines_of(billed, done["id"])] == [
        ("F2026-000004", "matched"),
        ("F2026-000005", "matched"),
    ]


def test_an_advice_may_name_the_partys_file_number(billed):
    done = import_(billed, ADVICE_HEAD + "ASSIST-A-2026-0002;198.00;2026-04-02;Assistance A\n")
    assert done["matched"] == 1 and done["claims_paid"] == ["F2026-000004"]


def test_a_file_holding_two_claims_is_done_when_both_are_paid(billed):
    with billed.begin() as conn:
        second = {**example("missions", "a-tuesday-30km"), "id": "M-A-0011", "file_sequence": 2}
        missions.create(conn, "acme", second, None, actor="t", now=NOW)
        store_valuation(conn, "acme", second, ASSIST_A)
    number = issue(billed, "M-A-0011")
    assert get(billed, number)["file_number"] == "ASSIST-A-2026-0001"
    import_(billed, ADVICE_HEAD + "F2026-000003;144.00;2026-04-02;\n", name="a1.csv")
    assert file_state(billed, "ASSIST-A-2026-0001") is State.INTEGRATED
    import_(billed, ADVICE_HEAD + f"{number};144.00;2026-04-02;\n", name="a2.csv")
    assert file_state(billed, "ASSIST-A-2026-0001") is State.DONE


def test_a_replayed_payment_advice_changes_nothing_on_the_file(billed):
    done = import_(billed, ADVICE_HEAD + "F2026-000001;250.00;2026-04-02;\n")
    with billed.begin() as conn:
        replay = party_files.record(
            conn,
            "acme",
            "ASSIST-A",
            "ASSIST-A-2026-0003",
            Event.PAYMENT_ADVICE,
            source="payment",
            actor="x",
            now=NOW,
            message_id=f"payment:{done['id']}:2",
        )
    assert replay.duplicate
    assert len([e for e in file_log(billed) if e["event"] == "payment_advice"]) == 1


def test_a_credit_note_after_payment_shows_a_refund_due(billed):
    import_(billed, ADVICE_HEAD + "F2026-000001;250.00;2026-04-02;\n")
    credit(billed, "F2026-000001", "30.00")
    claim = get(billed, "F2026-000001")
    assert (claim["status"], claim["open"], claim["refund_due"]) == ("paid", "0.00", "30.00")


def test_a_credit_note_for_the_unpaid_rest_settles_a_partly_paid_claim(billed):
    import_(billed, ADVICE_HEAD + "F2026-000001;200.00;2026-04-02;\n")
    act(billed, "F2026-000001", "create")
    credit(billed, "F2026-000001", "50.00")  # the party will not pay the rest: agreed
    claim = get(billed, "F2026-000001")
    assert (claim["status"], claim["paid"], claim["credited"], claim["open"]) == (
        "paid",
        "200.00",
        "50.00",
        "0.00",
    )
    assert file_state(billed) is State.DONE
    settled = [e for e in file_log(billed) if e["event"] == "payment_advice"]
    assert [(e["source"], e["message_id"]) for e in settled] == [("office", "credit:A2026-000001")]


# --- every euro accounted for --------------------------------------------------------------

CLAIMS = ["F2026-000001", "F2026-000003", "F2026-000004", "F2026-000005"]
AMOUNTS = {
    "F2026-000001": 25000,
    "F2026-000003": 14400,
    "F2026-000004": 19800,
    "F2026-000005": 21600,
}
# A payment's amount is drawn relative to what the claim still owes when it arrives (the
# whole rest, a little more or less, or any amount), so every outcome is likely.
PAY = st.tuples(
    st.just("pay"),
    st.sampled_from([*CLAIMS, None]),
    st.sampled_from(["rest", "more", "less", "any"]),
    st.integers(1, 30000),
)
CREDIT = st.tuples(
    st.just("credit"),
    st.sampled_from(CLAIMS),
    st.sampled_from(["rest", "less", "any"]),
    st.integers(1, 26000),
)
STEP = st.one_of(PAY, CREDIT)


def amount_for(mode, value, left):
    """Cents for a step: `left` is what the claim still owes (or could be credited)."""
    small = value % 300 + 1
    chosen = {"rest": left, "more": left + small, "less": left - small, "any": value}[mode]
    return max(chosen, 1)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=7))
def test_every_euro_of_every_claim_is_accounted_for(billed, steps):
    model = {n: {"paid": 0, "credited": 0, "closed": False, "refund": False} for n in CLAIMS}
    received = applied = not_applied = 0
    with billed.connect() as conn:
        trans = conn.begin()
        try:
            for index, (kind, number, mode, value) in enumerate(steps):
                if kind == "credit":
                    m = model[number]
                    cents = amount_for(mode, value, AMOUNTS[number] - m["credited"] - m["paid"])
                    try:
                        with conn.begin_nested():
                            claims_invoicing_credit(conn, number, cents)
                    except Conflict:
                        assert cents > AMOUNTS[number] - m["credited"]
                        continue
                    m["credited"] += cents
                    left = AMOUNTS[number] - m["credited"] - m["paid"]
                    m["refund"] = m["refund"] or left < 0
                    m["closed"] = m["closed"] or left <= 0
                    continue
                reference = number or "F2026-000999"
                owed = 0
                if number is not None:
                    owed = AMOUNTS[number] - model[number]["credited"] - model[number]["paid"]
                cents = amount_for(mode, value, owed)
                amount = f"{cents // 100}.{cents % 100:02d}"
                text = f"reference;amount;date;step\n{reference};{amount};2026-04-02;{index}\n"
                done = payments_in.import_file(
                    conn, "acme", "advice", f"s{index}.csv", text.encode(), actor="t", now=NOW
                )
                received += cents
                applied += int(done["applied"].replace(".", ""))
                if number is None:
                    assert done["unknown_reference"] == 1
                    not_applied += cents
                    continue
                m = model[number]
                left = AMOUNTS[number] - m["credited"] - m["paid"]
                if m["closed"] or left <= 0:
                    expected, not_applied = "already_paid", not_applied + cents
                elif cents == left:
                    expected, m["paid"], m["closed"] = "matched", m["paid"] + cents, True
                elif cents < left:
                    expected, m["paid"] = "amount_differs", m["paid"] + cents
                else:
                    expected, not_applied = "amount_differs", not_applied + cents
                assert done[expected] == 1, (steps, index, done)
            accounts = claim_reading.all_accounts(conn, "acme")
            statuses = dict(
                conn.execute(
                    sa.select(claims_table.c.invoice_number, claims_table.c.status).where(
                        claims_table.c.tenant_id == "acme"
                    )
                ).all()
            )
        finally:
            trans.rollback()
    for number in CLAIMS:
        money, m = accounts[number], model[number]
        assert (money.paid, money.credited) == (m["paid"], m["credited"])
        # the invoice's amount: what was paid, what was credited, what is still owed,
        # less what is owed back after a credit note that came after the money
        assert money.amount == AMOUNTS[number]
        assert money.amount == money.paid + money.credited + money.open - money.refund_due
        assert money.open >= 0 and money.refund_due >= 0
        assert money.refund_due == 0 or m["refund"]
        assert (statuses[number] in ("paid", "cancelled")) == m["closed"]
        assert (money.open == 0) == (statuses[number] in ("paid", "cancelled"))
    # the money received is on the claims, or on a mismatch line left for the office
    assert applied == sum(a.paid for a in accounts.values())
    assert received == applied + not_applied


def claims_invoicing_credit(conn, number, cents):
    from server.office import invoicing
    from tests.invoicing_support import KEY

    invoicing.credit_note(
        conn,
        "acme",
        number,
        amount=f"{cents // 100}.{cents % 100:02d}",
        reason="Geste",
        key=KEY,
        actor="t",
        now=NOW,
    )


# --- the API --------------------------------------------------------------------------------


def test_the_api_imports_once_and_lists_mismatches(api):  # noqa: F811
    issue(api.engine)
    office = api.auth("acme.office")
    body = {
        "source": "advice",
        "file_name": "avis-0402.csv",
        "content": ADVICE_HEAD + "F2026-000001;200.00;2026-04-02;\nF2026-000042;5.00;2026-04-02;\n",
    }
    made = api.client.post("/api/v1/payments/import", json=body, headers=office)
    assert made.status_code == 201, made.json
    assert (made.json["amount_differs"], made.json["unknown_reference"]) == (1, 1)
    again = api.client.post("/api/v1/payments/import", json=body, headers=office)
    assert again.status_code == 409 and again.json["code"] == "payment_file_already_imported"
    bad = api.client.post(
        "/api/v1/payments/import",
        json={**body, "content": ADVICE_HEAD + "F2026-000001;x;2026-04-02;\n"},
        headers={**office, "Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert bad.json["problems"][0]["path"] == "2"
    listed = api.client.get("/api/v1/payments/mismatches", headers=office)
    assert [(m["line_no"], m["outcome"]) for m in listed.json] == [
        (2, "amount_differs"),
        (3, "unknown_reference"),
    ]
    assert listed.json[0]["claim"]["open"] == "50.00"
    assert api.client.get("/api/v1/payments/mismatches", headers=api.auth("other.admin")).json == []
    clerk = api.auth("acme.clerk")
    assert api.client.get("/api/v1/payments/mismatches", headers=clerk).status_code == 403
    assert api.client.post("/api/v1/payments/import", json=body, headers=clerk).status_code == 403
    wrong = api.client.post(
        "/api/v1/payments/import", json={**body, "source": "cheque"}, headers=office
    )
    assert wrong.status_code == 422


# --- the nightly command --------------------------------------------------------------------


def database_url(eng) -> str:
    """A URL the command line can open on the test's database (its schema on PostgreSQL)."""
    url = eng.url.render_as_string(hide_password=False)
    if eng.dialect.name != "postgresql":
        return url
    with eng.connect() as conn:
        schema = conn.exec_driver_sql("SHOW search_path").scalar()
    return f"{url}?options=-csearch_path%3D{schema}"


def drop(root: Path, folder: str, name: str, text: str, tenant: str = "acme") -> Path:
    where = root / tenant / folder
    where.mkdir(parents=True, exist_ok=True)
    path = where / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_nightly_command_imports_the_inbox_once_and_moves_every_file(billed, tmp_path):
    root = tmp_path / "inbox"
    drop(root, "advices", "avis-0402.csv", ADVICE_HEAD + "F2026-000001;250.00;2026-04-02;\n")
    drop(root, "advices", "illisible.csv", ADVICE_HEAD + "F2026-000003;12,5,0;2026-04-02;\n")
    drop(root, "bank", "releve.csv", "date;label;amount\n2026-04-03;VIR F2026-000004;190.00\n")
    drop(root, "bank", "notes.txt", "not a CSV: left alone")
    url = database_url(billed)
    run = CliRunner().invoke(
        nightly, ["acme", "--inbox", str(root), "--database", url, "--lang", "en"]
    )
    assert run.exit_code == 2, run.output  # one unreadable file
    assert "acme/advices/avis-0402.csv — avis-0402.csv: 1 line(s), 1 matched" in run.output
    assert "amount_differs" in run.output and "F2026-000004" in run.output
    assert sorted(p.name for p in (root / "acme/advices/done").iterdir()) == ["avis-0402.csv"]
    assert sorted(p.name for p in (root / "acme/bank/done").iterdir()) == ["releve.csv"]
    refused = root / "acme/advices/refused"
    assert sorted(p.name for p in refused.iterdir()) == ["illisible.csv", "illisible.csv.why.txt"]
    why = (refused / "illisible.csv.why.txt").read_text("utf-8")
    assert "ligne illisible (montant)" in why and "2: unreadable line (amount)" in why
    assert (root / "acme/bank/notes.txt").exists()
    assert get(billed, "F2026-000001")["status"] == "paid"
    assert get(billed, "F2026-000004")["paid"] == "190.00"

    again = CliRunner().invoke(nightly, ["acme", "--inbox", str(root), "--database", url, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == []
    with billed.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(payment_imports)).scalar() == 2
    assert get(billed, "F2026-000004")["paid"] == "190.00"  # not twice


def test_a_run_interrupted_after_the_import_moves_the_file_without_importing_it_again(
    billed, tmp_path
):
    root = tmp_path / "inbox"
    text = ADVICE_HEAD + "F2026-000003;44.00;2026-04-02;\n"
    path = drop(root, "advices", "avis.csv", text)
    [first] = process_inbox(billed, "acme", root, actor="nightly", now=NOW)
    assert (first.outcome, first.summary["amount_differs"]) == ("imported", 1)
    shutil.copy(root / "acme/advices/done/avis.csv", path)  # as if the move never happened
    [second] = process_inbox(billed, "acme", root, actor="nightly", now=NOW)
    assert second.outcome == "already_imported"
    assert sorted(p.name for p in (root / "acme/advices/done").iterdir()) == [
        "avis-2.csv",
        "avis.csv",
    ]
    drop(root, "advices", "avis-renamed.csv", text)  # the same bytes, another name
    [third] = process_inbox(billed, "acme", root, actor="nightly", now=NOW)
    assert third.outcome == "refused"
    assert (root / "acme/advices/refused/avis-renamed.csv.why.txt").exists()
    assert get(billed, "F2026-000003")["paid"] == "44.00"
    with billed.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(file_events)
            .where(file_events.c.event == "payment_partial")
        ).scalar()
    assert count == 1


def test_nightly_for_every_tenant_and_its_refusals(billed, tmp_path):
    root = tmp_path / "inbox"
    drop(root, "advices", "a.csv", ADVICE_HEAD + "F2026-000001;250.00;2026-04-02;\n")
    drop(root, "advices", "b.csv", ADVICE_HEAD + "F2026-000001;250.00;2026-04-03;\n", "other")
    url = database_url(billed)
    everyone = CliRunner().invoke(nightly, ["--all", "--inbox", str(root), "--database", url])
    assert everyone.exit_code == 0, everyone.output
    assert "acme/advices/a.csv" in everyone.output and "other/advices/b.csv" in everyone.output
    assert "1 rapprochée(s)" in everyone.output
    assert get(billed, "F2026-000001")["status"] == "paid"
    neither = CliRunner().invoke(nightly, ["--inbox", str(root), "--database", url])
    assert neither.exit_code == 2
    unknown = CliRunner().invoke(nightly, ["nobody", "--inbox", str(root), "--database", url])
    assert unknown.exit_code == 3
    assert (
        "Aucun fichier en attente"
        in CliRunner().invoke(nightly, ["acme", "--inbox", str(root), "--database", url]).output
    )


# --- the examples ---------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "payments"


def test_the_example_files_import_as_documented(billed):
    advices = (EXAMPLES / "advices-assist-a.csv").read_text("utf-8")
    done = import_(billed, advices, name="advices-assist-a.csv")
    assert [(m["line_no"], m["outcome"]) for m in done["mismatches"]] == [
        (3, "amount_differs"),  # 100.00 of F2026-000003's 144.00
        (5, "unknown_reference"),
    ]
    assert done["claims_paid"] == ["F2026-000001", "F2026-000004"]  # the second by file number
    bank = (EXAMPLES / "bank-statement.csv").read_text("utf-8")
    done = import_(billed, bank, source="bank", name="bank-statement.csv")
    assert (done["matched"], done["ignored"], done["unknown_reference"]) == (2, 1, 1)
    assert done["claims_paid"] == ["F2026-000005", "F2026-000003"]  # the rest of 000003
    with billed.connect() as conn:
        owed = {n: a.open for n, a in claim_reading.all_accounts(conn, "acme").items()}
    assert owed == {n: 0 for n in CLAIMS}
