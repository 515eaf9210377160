"""What an issued document looks like: its PDF (fpdf2, in French) and, for an ordering
party, its Factur-X e-invoice (docs/invoicing.md).

Both are made from the document's data, once, when it is issued, and stored with it;
nothing here reads the database. The PDF carries the French mandatory mentions (the
seller's identity with SIREN, SIRET and VAT number, the number, the issue date, the date
of the service, the recipient, the lines, the VAT per rate and the totals; for a credit
note, the invoice it corrects; for a beneficiary's invoice, what was paid on the spot).

Factur-X: a CII XML (profile EN 16931, the "comfort" level) checked against the profile's
XSD with `facturx.xml_check_xsd`, then embedded in the PDF by
`facturx.generate_from_binary`. The PDF uses the standard Helvetica font (Windows-1252
text), which is not embedded: a strict PDF/A-3 validator asks for embedded fonts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import facturx
from fpdf import FPDF

from server.office.seller import legal_lines
from shared.money import ZERO, format_amount, parse_amount

FACTURX_LEVEL = "en16931"
GUIDELINE = "urn:cen.eu:en16931:2017"
TYPE_CODES = {"invoice": "380", "credit_note": "381"}  # UNTDID 1001
PAYMENT_DAYS = 30  # an ordering party's invoice falls due 30 days after its issue date
LATE_PAYMENT = (
    "En cas de retard de paiement, pénalités au taux d'intérêt de la BCE majoré de 10 "
    "points et indemnité forfaitaire pour frais de recouvrement de 40 € (art. L441-10 et "
    "D441-5 du code de commerce)."
)
NO_DISCOUNT = "Pas d'escompte pour paiement anticipé."
TITLES = {"invoice": "FACTURE", "credit_note": "AVOIR"}


# --- helpers ------------------------------------------------------------------------


def _amount(value: object) -> Decimal:
    return parse_amount(value) if not isinstance(value, Decimal) else value


def money(value: object) -> str:
    """An amount as printed: "1 234,50 €"."""
    return format_amount(_amount(value), "fr")


def day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def rate_text(rate: str) -> str:
    """ "20" → "20 %", "5.5" → "5,5 %"."""
    return f"{Decimal(rate):f}".replace(".", ",") + " %"


def due_date(document: Mapping[str, Any]) -> date:
    issued: date = document["issue_date"]
    return issued + timedelta(days=PAYMENT_DAYS)


def _text(value: object) -> str:
    """Text for the PDF's standard font (Windows-1252): a narrow no-break space becomes a
    no-break space; a character the font lacks, "?"."""
    text = str(value).replace("\u202f", "\u00a0")
    return text.encode("cp1252", "replace").decode("cp1252")


# --- the PDF ------------------------------------------------------------------------


class _Pdf(FPDF):
    number = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 5, _text(f"{self.number} – page {self.page_no()}/{{nb}}"), align="R")


def pdf(document: Mapping[str, Any]) -> bytes:
    """The document's PDF, in French."""
    seller = document["seller"]
    kind = document["kind"]
    doc = _Pdf(format="A4")
    doc.core_fonts_encoding = "windows-1252"
    doc.number = document["number"]
    issued_at: datetime = document["issued_at"]
    doc.set_creation_date(issued_at)
    doc.set_title(_text(f"{TITLES[kind].capitalize()} {document['number']}"))
    doc.set_author(_text(seller["name"]))
    doc.set_lang("fr-FR")
    doc.set_margins(15, 15, 15)
    doc.set_auto_page_break(True, margin=18)
    doc.add_page()
    width = doc.epw

    def line(text: str, size: float = 9, bold: bool = False, height: float = 4.6) -> None:
        doc.set_font("Helvetica", "B" if bold else "", size)
        doc.multi_cell(0, height, _text(text), new_x="LMARGIN", new_y="NEXT")

    # the seller, with its mandatory mentions
    line(seller["name"], 13, bold=True, height=6)
    for part in str(seller["address"]).splitlines():
        line(part)
    line(f"{seller['postcode']} {seller['city']}")
    for text in legal_lines(seller):
        line(text, 8)
    contact = " – ".join(str(seller[k]) for k in ("phone", "email") if seller.get(k))
    if contact:
        line(contact, 8)
    doc.ln(4)

    # what the document is
    line(f"{TITLES[kind]} N° {document['number']}", 15, bold=True, height=8)
    line(f"Date d'émission : {day(document['issue_date'])}")
    line(f"Date de la prestation : {day(document['service_date'])}")
    reference = f"Mission : {document['mission_id']}"
    if document.get("file_number"):
        reference += f" – Dossier : {document['file_number']}"
    if document.get("vehicle_plate"):
        reference += f" – Véhicule : {document['vehicle_plate']}"
    line(reference)
    if kind == "credit_note":
        line(
            f"Avoir sur la facture N° {document['corrects']} du "
            f"{day(document['corrects_issue_date'])}",
            bold=True,
        )
        line(f"Motif : {document['reason']}")
    doc.ln(3)

    # to whom
    recipient = document["recipient"]
    if document["recipient_kind"] == "ordering_party":
        who = f"Donneur d'ordre : {recipient['name']}"
        if recipient.get("id") and recipient["id"] != recipient["name"]:
            who += f" ({recipient['id']})"
    else:
        who = f"Bénéficiaire : {recipient['name']}"
    line("Facturé à" if kind == "invoice" else "Destinataire", 8)
    line(who, 10, bold=True, height=5.5)
    for part in recipient.get("address") or ():  # a beneficiary's postal address
        line(str(part))
    doc.ln(3)

    # the lines
    basis = {line_["price_basis"] for line_ in document["lines"]}
    unit = "P.U. TTC" if basis == {"incl_vat"} else "P.U. HT"
    doc.set_font("Helvetica", size=8)
    with doc.table(
        col_widths=(22, 70, 14, 22, 14, 22, 22),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        width=width,
        line_height=4.4,
        first_row_as_headings=True,
    ) as table:
        header = table.row()
        for title in ("Code", "Désignation", "Qté", unit, "TVA", "Montant HT", "Montant TTC"):
            header.cell(_text(title))
        for item in document["lines"]:
            row = table.row()
            label = item["label"]["fr"]
            if item.get("amount") and _amount(item["share"]) != _amount(item["amount"]):
                label += f" (quote-part de {money(item['share'])} sur {money(item['amount'])})"
            for text in (
                item["code"],
                label,
                _quantity(item["quantity"]),
                money(item["unit_price"]),
                rate_text(item["rate"]),
                money(item["excl_vat"]),
                money(item["incl_vat"]),
            ):
                row.cell(_text(text))
    doc.ln(3)

    # VAT per rate, then the totals
    doc.set_font("Helvetica", size=8)
    with doc.table(
        col_widths=(30, 35, 35, 35),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        width=135,
        align="RIGHT",
        line_height=4.4,
    ) as table:
        header = table.row()
        for title in ("Taux de TVA", "Base HT", "TVA", "TTC"):
            header.cell(_text(title))
        for row_ in document["by_rate"]:
            row = table.row()
            for text in (
                rate_text(row_["rate"]),
                money(row_["excl_vat"]),
                money(row_["vat"]),
                money(row_["incl_vat"]),
            ):
                row.cell(_text(text))
    doc.ln(2)
    total = document["total"]
    for label, value, bold in (
        ("Total HT", total["excl_vat"], False),
        ("Total TVA", total["vat"], False),
        ("Total TTC", total["incl_vat"], True),
    ):
        doc.set_font("Helvetica", "B" if bold else "", 10 if bold else 9)
        doc.cell(width - 35, 5.5, _text(label), align="R")
        doc.cell(35, 5.5, _text(money(value)), align="R", new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)

    # how it is paid
    for text, bold in _settlement(document):
        line(text, 9, bold=bold)
    doc.ln(2)
    for text in _mentions(document):
        line(text, 7, height=3.6)
    return bytes(doc.output())


def _quantity(value: str) -> str:
    text = f"{Decimal(value):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _settlement(document: Mapping[str, Any]) -> list[tuple[str, bool]]:
    total = _amount(document["total"]["incl_vat"])
    if document["kind"] == "credit_note":
        return [(f"Montant de l'avoir : {money(total)} TTC, à déduire de vos règlements.", True)]
    if document["recipient_kind"] == "ordering_party":
        return [
            (
                f"Échéance : {day(due_date(document))} (paiement à {PAYMENT_DAYS} jours), "
                f"net à payer : {money(total)}",
                True,
            )
        ]
    field = document.get("field") or {}
    paid = _amount(field.get("paid", "0.00"))
    discounted = _amount(field.get("discounted", "0.00"))
    deferred = _amount(field.get("deferred", "0.00"))
    out = [(f"Déjà réglé sur place : {money(paid)}", False)]
    if discounted:
        out.append((f"Remise accordée sur place : {money(discounted)}", False))
    if deferred:
        out.append((f"Paiement différé accordé : {money(deferred)}", False))
    rest = max(total - paid - discounted, ZERO)
    if rest == 0:
        out.append(("Facture acquittée.", True))
    else:
        out.append((f"Reste à payer : {money(rest)}, payable à réception.", True))
    return out


def _mentions(document: Mapping[str, Any]) -> list[str]:
    out = [NO_DISCOUNT]
    if document["recipient_kind"] == "ordering_party":
        out.append(LATE_PAYMENT)
    return out


# --- Factur-X -----------------------------------------------------------------------

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def _el(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    prefix, name = tag.split(":")
    node = ET.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrib)
    if text is not None:
        node.text = str(text)
    return node


def _date(parent: ET.Element, tag: str, value: date, kind: str = "udt") -> None:
    holder = _el(parent, tag)
    _el(holder, f"{kind}:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _category(rate: str) -> str:
    """EN 16931 VAT category: S (standard or reduced rate), E (exempt) at 0 %."""
    return "E" if Decimal(rate) == 0 else "S"


def _percent(rate: str) -> str:
    return f"{Decimal(rate):.2f}"


def _address(party: ET.Element, data: Mapping[str, Any]) -> None:
    address = _el(party, "ram:PostalTradeAddress")
    if data.get("postcode"):
        _el(address, "ram:PostcodeCode", data["postcode"])
    lines = [p.strip() for p in str(data.get("address") or "").splitlines() if p.strip()]
    for tag, text in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _el(address, tag, text)
    if data.get("city"):
        _el(address, "ram:CityName", data["city"])
    _el(address, "ram:CountryID", data.get("country") or "FR")


def _xml_line(parent: ET.Element, index: int, item: Mapping[str, Any]) -> None:
    node = _el(parent, "ram:IncludedSupplyChainTradeLineItem")
    _el(_el(node, "ram:AssociatedDocumentLineDocument"), "ram:LineID", index)
    product = _el(node, "ram:SpecifiedTradeProduct")
    _el(product, "ram:SellerAssignedID", item["code"])
    _el(product, "ram:Name", item["label"]["fr"])
    quantity, price = _quantity_and_price(item)
    agreement = _el(node, "ram:SpecifiedLineTradeAgreement")
    _el(_el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", price)
    delivery = _el(node, "ram:SpecifiedLineTradeDelivery")
    unit = "KMT" if item.get("kind") == "distance" and quantity != "1" else "C62"
    _el(delivery, "ram:BilledQuantity", quantity, unitCode=unit)
    settlement = _el(node, "ram:SpecifiedLineTradeSettlement")
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", _category(item["rate"]))
    _el(tax, "ram:RateApplicablePercent", _percent(item["rate"]))
    summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _el(summation, "ram:LineTotalAmount", item["excl_vat"])


def _quantity_and_price(item: Mapping[str, Any]) -> tuple[str, str]:
    """The line's real quantity and net unit price when they give its net amount exactly
    (a whole line, priced excl. VAT); otherwise 1 × the net amount."""
    quantity = Decimal(item["quantity"])
    unit_price = _amount(item["unit_price"])
    whole = item.get("amount") is not None and _amount(item["share"]) == _amount(item["amount"])
    if (
        item["price_basis"] == "excl_vat"
        and whole
        and quantity > 0
        and quantity * unit_price == _amount(item["excl_vat"])
    ):
        return f"{quantity:f}", f"{unit_price:f}"
    return "1", str(item["excl_vat"])


def cii_xml(document: Mapping[str, Any]) -> bytes:
    """The document as a Cross Industry Invoice (Factur-X profile EN 16931)."""
    seller = document["seller"]
    recipient = document["recipient"]
    currency = document["currency"]
    root = ET.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice")
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", document["number"])
    _el(header, "ram:TypeCode", TYPE_CODES[document["kind"]])
    _date(header, "ram:IssueDateTime", document["issue_date"])
    notes = [("PMD", LATE_PAYMENT), ("PMT", LATE_PAYMENT), ("AAB", NO_DISCOUNT)]
    if document["kind"] == "credit_note":
        notes.insert(0, ("ACD", f"Motif : {document['reason']}"))
    for subject, content in notes:
        note = _el(header, "ram:IncludedNote")
        _el(note, "ram:Content", content)
        _el(note, "ram:SubjectCode", subject)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for index, item in enumerate(document["lines"], start=1):
        _xml_line(transaction, index, item)

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    _el(agreement, "ram:BuyerReference", document.get("file_number") or document["mission_id"])
    party = _el(agreement, "ram:SellerTradeParty")
    _el(party, "ram:Name", seller["name"])
    _el(_el(party, "ram:SpecifiedLegalOrganization"), "ram:ID", seller["siren"], schemeID="0002")
    _address(party, seller)
    _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", seller["vat_number"], schemeID="VA")
    buyer = _el(agreement, "ram:BuyerTradeParty")
    if recipient.get("id"):
        _el(buyer, "ram:ID", recipient["id"])
    _el(buyer, "ram:Name", recipient["name"])
    _address(buyer, recipient)

    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
    _date(event, "ram:OccurrenceDateTime", document["service_date"])

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", currency)
    for row in document["by_rate"]:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", row["vat"])
        _el(tax, "ram:TypeCode", "VAT")
        if _category(row["rate"]) == "E":
            _el(tax, "ram:ExemptionReason", "Exonération de TVA")
        _el(tax, "ram:BasisAmount", row["excl_vat"])
        _el(tax, "ram:CategoryCode", _category(row["rate"]))
        _el(tax, "ram:RateApplicablePercent", _percent(row["rate"]))
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    if document["kind"] == "credit_note":
        _el(terms, "ram:Description", "Avoir à déduire de vos prochains règlements.")
    else:
        _el(terms, "ram:Description", f"Paiement à {PAYMENT_DAYS} jours.")
        _date(terms, "ram:DueDateDateTime", due_date(document))
    total = document["total"]
    summation = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summation, "ram:LineTotalAmount", total["excl_vat"])
    _el(summation, "ram:TaxBasisTotalAmount", total["excl_vat"])
    _el(summation, "ram:TaxTotalAmount", total["vat"], currencyID=currency)
    _el(summation, "ram:GrandTotalAmount", total["incl_vat"])
    _el(summation, "ram:DuePayableAmount", total["incl_vat"])
    if document["kind"] == "credit_note":
        referenced = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(referenced, "ram:IssuerAssignedID", document["corrects"])
        _date(referenced, "ram:FormattedIssueDateTime", document["corrects_issue_date"], kind="qdt")
    xml: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return xml


def check_xml(xml: bytes) -> None:
    """The factur-x library's XSD check for the profile (raises if invalid)."""
    facturx.xml_check_xsd(xml, flavor="factur-x", level=FACTURX_LEVEL)


def facturx_pdf(pdf_bytes: bytes, document: Mapping[str, Any]) -> bytes:
    """The PDF with its CII XML embedded (factur-x.xml), checked first."""
    xml = cii_xml(document)
    check_xml(xml)
    kind = "Facture" if document["kind"] == "invoice" else "Avoir"
    seller = document["seller"]["name"]
    made: bytes = facturx.generate_from_binary(
        pdf_bytes,
        xml,
        flavor="factur-x",
        level=FACTURX_LEVEL,
        check_xsd=False,  # just checked
        pdf_metadata={
            "author": seller,
            "keywords": "Factur-X, " + kind,
            "title": f"{seller} : {kind} {document['number']}",
            "subject": f"{kind} {document['number']} du {day(document['issue_date'])}",
        },
        lang="fr-FR",
    )
    return made


def embedded_xml(facturx_bytes: bytes) -> bytes:
    """The CII XML a Factur-X PDF carries (checked against the XSD on the way out)."""
    _name, xml = facturx.get_facturx_xml_from_pdf(facturx_bytes, check_xsd=True)
    return bytes(xml)


def rows_total(rows: Sequence[Mapping[str, Any]], key: str) -> Decimal:
    return sum((_amount(r[key]) for r in rows), ZERO)
