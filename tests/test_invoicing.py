"""Invoices and credit notes on SQLite and PostgreSQL: each payer invoiced for its share
of the server's valuation, with the French mandatory mentions in the PDF and the data,
a Factur-X e-invoice for the ordering party that passes the factur-x library's check,
never changed nor deleted once issued, corrected by credit notes that add up exactly,
numbered without gap even by parallel issuers, each signed into the server journal."""

from __future__ import annotations

import hashlib
import json
import threading
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import facturx
import pytest
import sqlalchemy as sa
from lxml import etree

from server.office import (
    contracts,
    document_amounts,
    document_files,
    invoice_render,
    invoicing,
    issued_documents,
    missions,
    office_journal,
    seller,
)
from server.people import identity
from server.platform.errors import Conflict, NotFound, Unprocessable
from server.platform.tables import (
    IMMUTABLE_DOCUMENTS,
    anomalies,
    audit_log,
    documents,
    number_series,
)
from server.platform.tables import jobs as jobs_table
from shared import signing
from shared.chain_verifier import verify_chain
from shared.errors import InvalidDocument
from tests.conftest import example
from tests.invoicing_support import (
    KEY,
    NOW,
    SELLER,
    SIREN,
    SIRET,
    VAT,
    field_entry,
    pdf_text,
    render,
    set_up,
    siren_of,
    siret_of,
    store_valuation,
)
from tests.storage import engine  # noqa: F401

RSM = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}"
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


@pytest.fixture
def office(engine):  # noqa: F811
    with engine.begin() as conn:
        set_up(conn)
        set_up(conn, "other")
    return engine


def issue(eng, mission_id="M-A-0003", tenant="acme", now=NOW):
    """Issue, then let a worker make the files; the documents as they are then."""
    with eng.begin() as conn:
        made = invoicing.issue_for_mission(conn, tenant, mission_id, key=KEY, actor="u1", now=now)
    render(eng, now)
    with eng.connect() as conn:
        return [issued_documents.get_document(conn, tenant, d["number"]) for d in made]


def credit(eng, number, amount=None, reason="Geste commercial", tenant="acme"):
    with eng.begin() as conn:
        made = invoicing.credit_note(
            conn, tenant, number, amount=amount, reason=reason, key=KEY, actor="u1", now=NOW
        )
    render(eng)
    with eng.connect() as conn:
        return issued_documents.get_document(conn, tenant, made["number"])


def rows(eng, table, **where):
    query = sa.select(table)
    for name, wanted in where.items():
        query = query.where(table.c[name] == wanted)
    with eng.connect() as conn:
        return conn.execute(query).all()


def file_of(eng, number, facturx=False, tenant="acme"):
    with eng.connect() as conn:
        return issued_documents.document_file(conn, tenant, number, facturx=facturx)


def cents(text):
    return int(Decimal(text) * 100)


# --- issuing -------------------------------------------------------------------------


def test_each_payer_is_invoiced_for_its_share_once(office):
    made = issue(office)
    assert [(d["number"], d["recipient_kind"]) for d in made] == [
        ("F2026-000001", "ordering_party"),
        ("F2026-000002", "beneficiary"),
    ]
    party, beneficiary = made
    assert party["recipient"] == {"id": "ASSIST-A", "name": "Assistance A"}
    assert party["total"] == {"excl_vat": "208.33", "vat": "41.67", "incl_vat": "250.00"}
    assert party["by_rate"] == [
        {"rate": "20", "excl_vat": "208.33", "vat": "41.67", "incl_vat": "250.00"}
    ]
    # the ordering party's lines: tow, week-end surcharge, and its share of the winching
    assert [(x["code"], x["share"], x["excl_vat"], x["vat"]) for x in party["lines"]] == [
        ("TOW.VL.P", "120.00", "120.00", "24.00"),
        ("TOW.VL.P", "60.00", "60.00", "12.00"),
        ("WIN.VL.P", "28.33", "28.33", "5.67"),  # VAT 41.67 spread: 24.00 + 12.00 + 5.67
    ]
    assert beneficiary["recipient"] == {
        "customer": None,
        "name": "Client (véhicule GH-482-KL)",
        "vehicle_plate": "GH-482-KL",
    }
    assert beneficiary["total"] == {"excl_vat": "136.67", "vat": "27.33", "incl_vat": "164.00"}
    assert [(x["code"], x["excl_vat"], x["incl_vat"]) for x in beneficiary["lines"]] == [
        ("WIN.VL.P", "51.67", "62.00"),
        ("KM.VL.P", "45.00", "54.00"),
        ("ACC.VL.P", "40.00", "48.00"),
    ]
    for doc in made:
        assert doc["kind"] == "invoice" and doc["corrects"] is None
        assert (doc["mission_id"], doc["file_number"]) == ("M-A-0003", "ASSIST-A-2026-0003")
        assert (doc["issued_at"], doc["service_date"]) == (NOW.isoformat(), "2026-03-14")
        assert doc["seller"]["siren"] == SIREN and doc["seller"]["siret"] == SIRET
        assert doc["seller"]["vat_number"] == VAT
        assert doc["created_by"] == "u1"
    assert party["facturx_sha256"] and beneficiary["facturx_sha256"] is None
    # again: nothing new, the same documents
    assert issue(office) == made
    assert len(rows(office, documents)) == 2
    assert [r.last_seq for r in rows(office, number_series, tenant_id="acme")] == [2]


def test_lines_divide_each_rate_exactly_with_prices_incl_vat(office):
    [doc] = issue(office, "M-P-0002")
    assert doc["recipient_kind"] == "beneficiary"
    assert doc["by_rate"] == [
        {"rate": "10", "excl_vat": "40.91", "vat": "4.09", "incl_vat": "45.00"},
        {"rate": "20", "excl_vat": "162.50", "vat": "32.50", "incl_vat": "195.00"},
    ]
    assert [
        (x["code"], x["rate"], x["excl_vat"], x["vat"], x["incl_vat"]) for x in doc["lines"]
    ] == [
        ("TOW.VL.P", "20", "125.00", "25.00", "150.00"),
        ("STO.VL.P", "10", "40.91", "4.09", "45.00"),
        ("KM.VL.P", "20", "37.50", "7.50", "45.00"),
    ]
    assert {x["price_basis"] for x in doc["lines"]} == {"incl_vat"}
    assert doc["total"] == {"excl_vat": "203.41", "vat": "36.59", "incl_vat": "240.00"}


def test_allocate_splits_in_whole_cents_that_add_up():
    assert document_amounts.allocate(4167, [12000, 6000, 2833]) == [2400, 1200, 567]
    assert document_amounts.allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert document_amounts.allocate(0, [5, 5]) == [0, 0]
    assert sum(document_amounts.allocate(99_999, [3, 7, 11, 13])) == 99_999
    with pytest.raises(ValueError):
        document_amounts.allocate(5, [0, 0])


def test_every_document_is_signed_into_the_server_journal_and_audited(office):
    made = issue(office)
    note = credit(office, "F2026-000001", "50.00")
    with office.connect() as conn:
        chain = office_journal.entries(conn, "acme")
    assert verify_chain(chain, device_id="server:acme", public_key=signing.public_key_of(KEY)) == ()
    # Issued in the transaction; the files signed once a worker made them, after it.
    assert [(e.seq, str(e.entry.type), e.entry.payload["number"]) for e in chain] == [
        (1, "invoice_issued", "F2026-000001"),
        (2, "invoice_issued", "F2026-000002"),
        (3, "document_rendered", "F2026-000001"),
        (4, "document_rendered", "F2026-000002"),
        (5, "credit_note_issued", "A2026-000001"),
        (6, "document_rendered", "A2026-000001"),
    ]
    first = dict(chain[0].entry.payload)
    assert first == {
        "number": "F2026-000001",
        "kind": "invoice",
        "mission_id": "M-A-0003",
        "recipient_kind": "ordering_party",
        "recipient": {"id": "ASSIST-A", "name": "Assistance A"},
        "issued_at": NOW.isoformat(),
        "by_rate": [{"rate": "20", "excl_vat": "208.33", "vat": "41.67", "incl_vat": "250.00"}],
        "total": {"excl_vat": "208.33", "vat": "41.67", "incl_vat": "250.00"},
    }
    assert dict(chain[2].entry.payload) == {
        "number": "F2026-000001",
        "pdf_sha256": made[0]["pdf_sha256"],
        "facturx_sha256": made[0]["facturx_sha256"],
    }
    assert "facturx_sha256" not in chain[3].entry.payload  # the beneficiary's
    last = chain[4].entry.payload
    assert (last["corrects"], last["reason"], last["total"]["incl_vat"]) == (
        "F2026-000001",
        "Geste commercial",
        "50.00",
    )
    assert chain[0].entry.driver_id == "u1"
    assert [d["journal_seq"] for d in [*made, note]] == [1, 2, 5]
    # the stored PDF is the one the journal vouches for
    pdf = file_of(office, "F2026-000001")
    assert hashlib.sha256(pdf).hexdigest() == chain[2].entry.payload["pdf_sha256"]
    actions = [(r.action, r.target) for r in rows(office, audit_log, tenant_id="acme")]
    assert ("document.invoice", "F2026-000001") in actions
    assert ("document.credit_note", "A2026-000001") in actions


# --- mandatory mentions --------------------------------------------------------------


def test_the_pdf_carries_the_mandatory_mentions(office):
    issue(office)
    text = pdf_text(file_of(office, "F2026-000001"))
    for mention in (
        "Dépannage Acme SAS",
        "12 rue des Lilas",
        "69003 Lyon",
        "SIREN 732 829 320",
        "SIRET 732 829 320 00017",
        f"N° TVA intracommunautaire : {VAT}",
        "SAS au capital de 10 000,00 € RCS Lyon 732 829 320",
        "FACTURE N° F2026-000001",
        "Date d'émission : 14/03/2026",
        "Date de la prestation : 14/03/2026",
        "Dossier : ASSIST-A-2026-0003",
        "Donneur d'ordre : Assistance A (ASSIST-A)",
        "Remorquage",
        "Treuillage (quote-part de 28,33 € sur 80,00 €)",
        "208,33 €",
        "41,67 €",
        "Total TTC 250,00 €",
        "Échéance : 13/04/2026",
        "indemnité forfaitaire pour frais de recouvrement de 40 €",
        "Pas d'escompte",
    ):
        assert mention in text, mention
    beneficiary = pdf_text(file_of(office, "F2026-000002"))
    for mention in (
        "Bénéficiaire : Client (véhicule GH-482-KL)",
        "Kilomètres supplémentaires",
        "Total TTC 164,00 €",
        "Déjà réglé sur place : 0,00 €",
        "Reste à payer : 164,00 €",
        f"N° TVA intracommunautaire : {VAT}",
    ):
        assert mention in beneficiary, mention


def test_a_beneficiary_invoice_shows_what_was_paid_on_the_spot(office):
    with office.begin() as conn:
        field_entry(
            conn,
            "acme",
            "collection",
            {"mission_id": "M-A-0003", "method": "card", "amount": "164.00"},
            ref="h1",
            seq=1,
        )
    _, beneficiary = issue(office)
    text = pdf_text(file_of(office, beneficiary["number"]))
    assert "Déjà réglé sur place : 164,00 €" in text
    assert "Facture acquittée." in text and "Reste à payer" not in text


def test_a_credit_note_names_the_invoice_it_corrects(office):
    issue(office)
    note = credit(office, "F2026-000001", "100.00", reason="  Remorquage   facturé deux fois ")
    assert (note["number"], note["kind"], note["corrects"]) == (
        "A2026-000001",
        "credit_note",
        "F2026-000001",
    )
    assert note["reason"] == "Remorquage facturé deux fois"
    assert note["recipient"] == {"id": "ASSIST-A", "name": "Assistance A"}
    text = pdf_text(file_of(office, "A2026-000001"))
    for mention in (
        "AVOIR N° A2026-000001",
        "Avoir sur la facture N° F2026-000001 du 14/03/2026",
        "Motif : Remorquage facturé deux fois",
        "SIRET 732 829 320 00017",
        "Total TTC 100,00 €",
    ):
        assert mention in text, mention


# --- Factur-X ------------------------------------------------------------------------


def _xml(eng, number):
    name, xml = facturx.get_facturx_xml_from_pdf(file_of(eng, number, facturx=True))
    assert name == "factur-x.xml"
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # raises if invalid
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"  # the library's own reading
    return ET.fromstring(xml)


def _find(root, path):
    return root.find(path.replace("ram:", RAM).replace("rsm:", RSM))


def test_the_ordering_partys_facturx_passes_the_check_and_is_extractable(office):
    issue(office)
    root = _xml(office, "F2026-000001")
    text = {
        "id": "./rsm:ExchangedDocument/ram:ID",
        "type": "./rsm:ExchangedDocument/ram:TypeCode",
        "siren": ".//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID",
        "vat": ".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID",
        "buyer": ".//ram:BuyerTradeParty/ram:Name",
        "reference": ".//ram:BuyerReference",
        "lines": ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:LineTotalAmount",
        "basis": ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxBasisTotalAmount",
        "tax": ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount",
        "grand": ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount",
        "due": ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount",
    }
    found = {k: _find(root, p).text for k, p in text.items()}
    assert found == {
        "id": "F2026-000001",
        "type": "380",
        "siren": SIREN,
        "vat": VAT,
        "buyer": "Assistance A",
        "reference": "ASSIST-A-2026-0003",
        "lines": "208.33",
        "basis": "208.33",
        "tax": "41.67",
        "grand": "250.00",
        "due": "250.00",
    }
    line_totals = [Decimal(e.text) for e in root.iter(f"{RAM}LineTotalAmount") if e is not None][
        :-1
    ]  # the last one is the header's
    assert sum(line_totals) == Decimal("208.33")
    # a beneficiary's invoice has none
    with pytest.raises(NotFound) as missing:
        file_of(office, "F2026-000002", facturx=True)
    assert missing.value.code == "no_facturx"


def test_a_credit_notes_facturx_references_the_invoice(office):
    issue(office)
    credit(office, "F2026-000001", "12.00")
    root = _xml(office, "A2026-000001")
    assert _find(root, "./rsm:ExchangedDocument/ram:TypeCode").text == "381"
    referenced = _find(root, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID")
    assert referenced.text == "F2026-000001"
    grand = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount"
    assert _find(root, grand).text == "12.00"


def test_a_zero_rate_line_is_an_exempt_category_the_xsd_accepts():
    document = {
        "kind": "invoice",
        "number": "F2026-000009",
        "mission_id": "M-1",
        "file_number": None,
        "recipient_kind": "ordering_party",
        "recipient": {"id": "ASSIST-A", "name": "Assistance A"},
        "seller": seller.validate(SELLER),
        "issued_at": NOW,
        "issue_date": date(2026, 3, 14),
        "service_date": date(2026, 3, 13),
        "currency": "EUR",
        "lines": [
            {
                "code": "TOLL.VL.P",
                "kind": "at_cost",
                "label": {"fr": "Péage", "en": "Toll"},
                "quantity": "1",
                "unit_price": "12.40",
                "amount": "12.40",
                "share": "12.40",
                "price_basis": "excl_vat",
                "rate": "0",
                "excl_vat": "12.40",
                "vat": "0.00",
                "incl_vat": "12.40",
            }
        ],
        "by_rate": [{"rate": "0", "excl_vat": "12.40", "vat": "0.00", "incl_vat": "12.40"}],
        "total": {"excl_vat": "12.40", "vat": "0.00", "incl_vat": "12.40"},
    }
    made = invoice_render.facturx_pdf(invoice_render.pdf(document), document)
    root = ET.fromstring(invoice_render.embedded_xml(made))
    assert [e.text for e in root.iter(f"{RAM}CategoryCode")] == ["E", "E"]
    xml = invoice_render.cii_xml(document)
    broken = xml.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")  # BT-3 is mandatory
    assert broken != xml
    with pytest.raises(Exception, match="not valid against the official XML Schema"):
        invoice_render.check_xml(broken)


# --- immutability --------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE documents SET total_incl_cents = 1 WHERE number = 'F2026-000001'",
        "UPDATE documents SET pdf = NULL",
        "DELETE FROM documents WHERE number = 'F2026-000002'",
        "DELETE FROM documents",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_issued_document(office, statement):
    made = issue(office)
    with pytest.raises(sa.exc.DatabaseError) as refused, office.begin() as conn:
        conn.exec_driver_sql(statement)
    assert IMMUTABLE_DOCUMENTS in str(refused.value)
    with office.connect() as conn:
        kept = [
            issued_documents.get_document(conn, "acme", r.number) for r in rows(office, documents)
        ]
    assert sorted(kept, key=lambda d: d["number"]) == made


@pytest.mark.parametrize(
    "statement",
    ["UPDATE document_files SET pdf = pdf", "DELETE FROM document_files"],
)
def test_the_database_refuses_to_change_or_delete_a_rendered_file(office, statement):
    made = issue(office)
    with pytest.raises(sa.exc.DatabaseError) as refused, office.begin() as conn:
        conn.exec_driver_sql(statement)
    assert "document files are immutable" in str(refused.value)
    assert hashlib.sha256(file_of(office, "F2026-000001")).hexdigest() == made[0]["pdf_sha256"]


def test_emptying_the_table_is_refused_too(office):
    issue(office)
    statement = (  # SQLite has no TRUNCATE: an unqualified DELETE is its equivalent
        "TRUNCATE documents CASCADE"
        if office.dialect.name == "postgresql"
        else "DELETE FROM documents"
    )
    with pytest.raises(sa.exc.DatabaseError, match="immutable"), office.begin() as conn:
        conn.exec_driver_sql(statement)
    assert len(rows(office, documents)) == 2


# --- credit notes --------------------------------------------------------------------


def test_partial_and_total_credit_notes_add_up_exactly_and_never_exceed(office):
    [invoice] = issue(office, "M-P-0002")  # 240.00: 45.00 at 10 %, 195.00 at 20 %
    first = credit(office, invoice["number"], "100.00")
    # split in proportion to what remains at each rate: 18.75 at 10 %, 81.25 at 20 %
    assert first["by_rate"] == [
        {"rate": "10", "excl_vat": "17.05", "vat": "1.70", "incl_vat": "18.75"},
        {"rate": "20", "excl_vat": "67.71", "vat": "13.54", "incl_vat": "81.25"},
    ]
    assert first["total"] == {"excl_vat": "84.76", "vat": "15.24", "incl_vat": "100.00"}
    second = credit(office, invoice["number"], "100")
    assert second["total"]["incl_vat"] == "100.00"
    with pytest.raises(Conflict) as beyond:
        credit(office, invoice["number"], "40.01")
    assert beyond.value.code == "credit_exceeds_invoice"
    assert "40,00" in beyond.value.message("fr") and "€40.01" in beyond.value.message("en")
    rest = credit(office, invoice["number"])  # total: exactly what remains, rate by rate
    assert rest["total"]["incl_vat"] == "40.00"
    for column in ("excl_vat", "vat", "incl_vat"):
        for rate in ("10", "20"):
            credited = sum(
                cents(r[column])
                for note in (first, second, rest)
                for r in note["by_rate"]
                if r["rate"] == rate
            )
            billed = next(cents(r[column]) for r in invoice["by_rate"] if r["rate"] == rate)
            assert credited == billed, (column, rate)
    with pytest.raises(Conflict) as done:
        credit(office, invoice["number"], "0.01")
    assert done.value.code == "invoice_fully_credited"
    assert [n["number"] for n in (first, second, rest)] == [
        "A2026-000001",
        "A2026-000002",
        "A2026-000003",
    ]
    with office.connect() as conn:
        shown = issued_documents.get_document(conn, "acme", invoice["number"])
    assert shown["credited"] == "240.00"


@pytest.mark.parametrize(
    ("number", "amount", "reason", "error", "code"),
    [
        ("F2026-000001", "0.00", "x", Unprocessable, "amount_invalid"),
        ("F2026-000001", "-5.00", "x", Unprocessable, "amount_invalid"),
        ("F2026-000001", "12.345", "x", Unprocessable, "amount_invalid"),
        ("F2026-000001", None, "   ", Unprocessable, "reason_missing"),
        ("F2026-000404", None, "x", NotFound, "not_found"),
        ("A2026-000001", None, "x", Unprocessable, "not_an_invoice"),
    ],
)
def test_a_credit_note_needs_an_invoice_a_positive_amount_and_a_reason(
    office, number, amount, reason, error, code
):
    issue(office)
    credit(office, "F2026-000001", "1.00")
    with pytest.raises(error) as refused:
        credit(office, number, amount, reason=reason)
    assert refused.value.code == code
    assert len(rows(office, documents, kind="credit_note")) == 1


# --- what the beneficiary paid -------------------------------------------------------


def test_the_beneficiarys_balance_follows_the_field_entries(office):
    _, invoice = issue(office)  # 164.00
    number = invoice["number"]

    def balance():
        with office.connect() as conn:
            found = issued_documents.beneficiary_balance(conn, "acme", number)
        return {k: found[k] for k in ("paid", "discounted", "deferred", "credited", "open")} | {
            "status": found["status"]
        }

    assert balance() == {
        "paid": "0.00",
        "discounted": "0.00",
        "deferred": "0.00",
        "credited": "0.00",
        "open": "164.00",
        "status": "open",
    }
    with office.begin() as conn:
        pay = {"mission_id": "M-A-0003", "method": "cash"}
        field_entry(conn, "acme", "collection", {**pay, "amount": "100.00"}, ref="c1", seq=1)
        field_entry(conn, "acme", "collection", {**pay, "amount": "64.00"}, ref="c2", seq=2)
        # not this invoice's: another tenant's mission of the same id, the server's chain
        field_entry(conn, "other", "collection", {**pay, "amount": "50.00"}, ref="o1", seq=3)
    assert balance()["status"] == "paid" and balance()["open"] == "0.00"
    with office.begin() as conn:
        reverse = {"mission_id": "M-A-0003", "reverses": {"hash": "c2"}, "amount": "64.00"}
        field_entry(conn, "acme", "reversal", reverse, ref="r1", seq=4)
        field_entry(conn, "acme", "reversal", reverse, ref="r2", seq=5)  # counted once
    assert balance() == {
        "paid": "100.00",
        "discounted": "0.00",
        "deferred": "0.00",
        "credited": "0.00",
        "open": "64.00",
        "status": "partly_paid",
    }
    with office.begin() as conn:
        field_entry(
            conn, "acme", "discount", {"mission_id": "M-A-0003", "amount": "14.00"}, ref="d", seq=6
        )
        field_entry(
            conn, "acme", "deferral", {"mission_id": "M-A-0003", "amount": "50.00"}, ref="f", seq=7
        )
    assert balance() == {
        "paid": "100.00",
        "discounted": "14.00",
        "deferred": "50.00",  # billed later: still open
        "credited": "0.00",
        "open": "50.00",
        "status": "partly_paid",
    }
    credit(office, number, "50.00", reason="Prise en charge par l'assurance")
    assert balance()["credited"] == "50.00" and balance()["status"] == "paid"
    with office.connect() as conn, pytest.raises(Unprocessable):
        issued_documents.beneficiary_balance(conn, "acme", "F2026-000001")  # the ordering party's


# --- refusals --------------------------------------------------------------------------


def test_no_invoice_without_the_sellers_identity(engine):  # noqa: F811
    with engine.begin() as conn:
        set_up(conn, with_seller=False)
    with pytest.raises(Conflict) as refused:
        issue(engine)
    assert refused.value.code == "seller_identity_missing"
    assert "SIRET" in refused.value.message("fr") and "missing" in refused.value.message("en")
    assert rows(engine, documents) == [] and rows(engine, number_series) == []


def test_the_seller_identity_is_checked_with_stdnum(engine):  # noqa: F811
    good = seller.validate(SELLER)
    assert (good["siren"], good["siret"], good["vat_number"]) == (SIREN, SIRET, VAT)
    assert good["capital"] == "10000.00" and good["country"] == "FR"
    assert (
        seller.validate({**SELLER, "siret": "732 829 320 00017", "vat_number": "fr 44 732829320"})[
            "vat_number"
        ]
        == VAT
    )

    def problems(**changes):
        with pytest.raises(InvalidDocument) as refused:
            seller.validate({**SELLER, **changes})
        return {p.path: p.text for p in refused.value.problems}

    wrong_key = problems(siret=SIRET[:-1] + str((int(SIRET[-1]) + 1) % 10))
    assert "clé de contrôle" in wrong_key["siret"].fr and "check digits" in wrong_key["siret"].en
    other = siren_of("55208131")
    elsewhere = problems(siren=SIREN, siret=siret_of(other))  # another company's SIRET
    assert set(elsewhere) == {"siret"}
    assert "ne commence pas par le SIREN" in elsewhere["siret"].fr
    assert "does not start with SIREN" in elsewhere["siret"].en
    moved = problems(siret=siret_of(other))  # its SIREN is then another's than the VAT's
    assert set(moved) == {"vat_number"}
    assert f"FR{VAT[2:]}" in moved["vat_number"].en and other in moved["vat_number"].en
    vat = problems(vat_number="FR00" + SIREN)
    assert "clé de contrôle" in vat["vat_number"].fr
    theirs = problems(vat_number="FR" + "00" + other)
    assert set(theirs) == {"vat_number"}
    mismatch = problems(vat_number=VAT.replace(SIREN, other))
    assert "vat_number" in mismatch
    assert set(problems(siren="123")) == {"siren"}
    assert set(problems(name=" ", city=None, siret="1234")) == {"name", "city", "siret"}
    assert set(problems(country="BE")) == {"country"}
    assert set(problems(capital="dix mille")) == {"capital"}
    with engine.begin() as conn:
        identity.create_tenant(conn, "acme", "Acme", payments_enabled=False, now=NOW)
        with pytest.raises(InvalidDocument):
            seller.set_seller(
                conn, "acme", {**SELLER, "siret": "73282932000018"}, actor="t", now=NOW
            )
        assert seller.get_seller(conn, "acme") is None


def test_no_invoice_without_a_server_valuation_nor_for_a_cancelled_mission(office):
    with office.begin() as conn:
        document = {**example("missions", "a-tuesday-30km"), "id": "M-NEW"}
        missions.create(conn, "acme", document, None, actor="t", now=NOW)
    with pytest.raises(Conflict) as missing:
        issue(office, "M-NEW")
    assert missing.value.code == "valuation_missing"
    with office.begin() as conn:
        missions.cancel(conn, "acme", "M-A-0003", "Client reparti", actor="t", now=NOW)
    with pytest.raises(Conflict) as cancelled:
        issue(office)
    assert cancelled.value.code == "mission_cancelled"
    with pytest.raises(NotFound):
        issue(office, "M-404")
    assert rows(office, documents) == []


def test_a_new_valuation_is_invoiced_only_once_the_old_invoices_are_credited(office):
    first = issue(office)
    with office.begin() as conn:  # the tablet's later valuation: 20 km more on the road
        document = example("missions", "a-saturday-accident-winching")
        document["distance_km"] = {"en_route": "12", "loaded": "100"}
        store_valuation(conn, "acme", document, example("contracts", "assist-a"))
    with pytest.raises(Conflict) as refused:
        issue(office)
    assert refused.value.code == "mission_already_invoiced"
    assert "F2026-000001, F2026-000002" in refused.value.message("en")
    for invoice in first:
        credit(office, invoice["number"], reason="Revalorisation")
    again = issue(office)
    assert [d["number"] for d in again] == ["F2026-000003", "F2026-000004"]
    assert again[1]["total"]["incl_vat"] == "200.00"  # 164.00 + 20 km at 1.50 excl. VAT


# --- tenants ---------------------------------------------------------------------------


def test_a_tenant_sees_only_its_own_documents(office):
    issue(office)
    issue(office, tenant="other")  # its own series: also F2026-000001
    with office.connect() as conn:
        assert issued_documents.get_document(conn, "other", "F2026-000001")["seller"]["name"]
        assert len(issued_documents.list_documents(conn, "acme")) == 2
        assert len(issued_documents.list_documents(conn, "acme", kind="credit_note")) == 0
        assert len(issued_documents.list_documents(conn, "acme", mission_id="M-P-0002")) == 0
    credit(office, "F2026-000001", "1.00", tenant="other")
    with office.connect() as conn:
        assert issued_documents.get_document(conn, "acme", "F2026-000001")["credited"] == "0.00"
        with pytest.raises(NotFound):
            issued_documents.get_document(conn, "acme", "A2026-000001")


# --- the completion hook ---------------------------------------------------------------


def test_the_completion_hook_issues_or_leaves_an_anomaly_and_never_raises(office, monkeypatch):
    def complete(mission_id):
        with office.begin() as conn:
            return invoicing.on_mission_completed(
                conn, "acme", mission_id, key=KEY, actor="system", now=NOW
            )

    def broken(*args, **kwargs):
        raise RuntimeError("journal down")

    monkeypatch.setattr(office_journal, "append", broken)
    assert complete("M-A-0003") == []  # nothing half-issued
    assert rows(office, documents) == [] and rows(office, jobs_table) == []
    assert [r.last_seq for r in rows(office, number_series)] in ([], [0])
    monkeypatch.undo()
    assert complete("M-404") == []
    made = complete("M-A-0003")
    assert [d["number"] for d in made] == ["F2026-000001", "F2026-000002"]  # no gap
    assert [d["files"] for d in made] == ["preparing", "preparing"]  # made after the commit
    render(office)
    assert [d["files"] for d in complete("M-A-0003")] == ["ready", "ready"]  # invoiced once
    found = [(r.kind, r.mission_id, r.detail["code"]) for r in rows(office, anomalies)]
    assert found == [
        ("invoicing_pending", "M-A-0003", "internal_error"),
        ("invoicing_pending", "M-404", "not_found"),
    ]
    with office.connect() as conn:
        assert len(office_journal.entries(conn, "acme")) == 4  # 2 issued, 2 rendered


def test_a_pdf_that_cannot_be_made_is_tried_again_then_becomes_an_anomaly(office, monkeypatch):
    """The numbers are taken and kept; only the rendering waits, is retried with growing
    delays, and after its last attempt the office is told; asked again, it is made."""

    def broken(*args, **kwargs):
        raise RuntimeError("renderer down")

    monkeypatch.setattr(invoice_render, "facturx_pdf", broken)  # the ordering party's only
    with office.begin() as conn:
        invoicing.issue_for_mission(conn, "acme", "M-A-0003", key=KEY, actor="u1", now=NOW)
    moment = NOW
    for attempt in range(1, document_files.MAX_ATTEMPTS + 1):
        render(office, moment)
        [job] = rows(office, jobs_table, key="acme:F2026-000001")
        assert (job.attempts, "renderer down" in job.last_error) == (attempt, True)
        moment = job.available_at + timedelta(seconds=1)
    assert job.state == "failed"
    with pytest.raises(Conflict) as waiting:
        file_of(office, "F2026-000001")
    assert waiting.value.code == "document_being_prepared"
    assert waiting.value.headers == {"Retry-After": "2"}
    assert file_of(office, "F2026-000002")[:5] == b"%PDF-"  # the beneficiary's was made
    [anomaly] = rows(office, anomalies)
    assert (anomaly.kind, anomaly.mission_id) == ("document_render_failed", "M-A-0003")
    assert (anomaly.detail["number"], anomaly.detail["attempts"]) == ("F2026-000001", 5)
    assert [r.number for r in rows(office, documents)] == ["F2026-000001", "F2026-000002"]
    monkeypatch.undo()
    with office.begin() as conn:
        assert document_files.render_again(conn, "acme", "F2026-000001", moment)
        assert not document_files.render_again(conn, "acme", "F2026-000002", moment)
    render(office, moment)
    assert facturx.get_facturx_xml_from_pdf(file_of(office, "F2026-000001", facturx=True))[1]


# --- parallel issuers ------------------------------------------------------------------

WORKERS = 8
PER_WORKER = 25


def test_parallel_issuers_number_real_documents_without_gap(office):
    """8 workers, each with its own connection, invoice 25 missions each (one invoice per
    private mission), all at once; two of them also race on the same missions. The
    invoices are numbered 1..200 without gap or duplicate, each mission invoiced once,
    in issue order, and the journal follows the numbers."""
    contract = example("contracts", "private")
    with office.begin() as conn:
        contracts.publish(conn, "acme", contract, actor="t", now=NOW)
        for n in range(WORKERS * PER_WORKER):
            document = {**example("missions", "private-tow"), "id": f"M-{n:03d}"}
            missions.create(conn, "acme", document, None, actor="t", now=NOW)
            store_valuation(conn, "acme", document, contract)
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS + 1)

    def work(worker: int, missions_: list[str]) -> None:
        try:
            start.wait()
            for step, mission_id in enumerate(missions_):
                issue(office, mission_id, now=NOW + timedelta(milliseconds=step - worker))
        except BaseException as exc:
            errors.append(exc)

    plans = [[f"M-{w * PER_WORKER + i:03d}" for i in range(PER_WORKER)] for w in range(WORKERS)]
    plans.append(list(reversed(plans[0])))  # a ninth worker re-issues worker 0's missions
    threads = [threading.Thread(target=work, args=(w, p)) for w, p in enumerate(plans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    with office.connect() as conn:
        made = conn.execute(
            sa.select(documents.c.seq, documents.c.mission_id, documents.c.issued_at)
            .where(documents.c.tenant_id == "acme")
            .order_by(documents.c.seq)
        ).all()
        chain = office_journal.entries(conn, "acme")
    assert [r.seq for r in made] == list(range(1, WORKERS * PER_WORKER + 1))
    assert len({r.mission_id for r in made}) == WORKERS * PER_WORKER  # each once
    instants = [r.issued_at for r in made]
    assert instants == sorted(instants)
    issued = [e.entry.payload["number"] for e in chain if e.entry.type == "invoice_issued"]
    assert issued == [f"F2026-{seq:06d}" for seq in range(1, WORKERS * PER_WORKER + 1)]
    # every PDF made once, by whichever issuer's worker claimed its job
    rendered = [e.entry.payload["number"] for e in chain if e.entry.type == "document_rendered"]
    assert sorted(rendered) == issued
    assert verify_chain(chain, device_id="server:acme", public_key=signing.public_key_of(KEY)) == ()


def test_the_json_mentions_match_the_stored_columns(office):
    issue(office)
    [row] = rows(office, documents, number="F2026-000001")
    assert (row.total_excl_cents, row.total_vat_cents, row.total_incl_cents) == (20833, 4167, 25000)
    assert row.service_date == date(2026, 3, 14)
    assert row.seller["siret"] == SIRET and row.valuation_digest
    assert json.loads(json.dumps(row.lines))[0]["label"] == {"fr": "Remorquage", "en": "Tow"}


def test_the_demo_company_can_invoice(engine):  # noqa: F811
    from server import demo

    with engine.begin() as conn:
        demo.seed(conn, NOW)
        demo.seed(conn, NOW)  # again: the identity is kept
        made = seller.get_seller(conn, demo.TENANT)
    assert made == seller.validate(demo.SELLER)
    assert made["siret"].startswith(made["siren"]) and made["vat_number"].endswith(made["siren"])
