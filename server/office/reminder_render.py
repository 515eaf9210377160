"""A reminder letter for an unpaid beneficiary invoice, as a PDF in French or English
(fpdf2, like the invoices: `server.office.invoice_render`). Nothing here reads the
database: `letter` gets everything it prints.

Level 1 is a reminder, level 2 a second reminder, and the last level the tenant set a
formal notice (*mise en demeure*). The letter names the invoice, its date, its due date,
what was paid and credited, what is left, and asks for payment within 8 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fpdf import FPDF

from server.office.seller import legal_lines
from shared.money import format_amount, from_cents

PAY_WITHIN_DAYS = 8


@dataclass(frozen=True, slots=True)
class Letter:
    """What one reminder letter says."""

    lang: str
    level: int
    last_level: bool
    seller: Mapping[str, Any]
    recipient: str
    plate: str | None
    invoice: str
    mission_id: str
    issued_on: date
    due_on: date
    sent_on: date
    total: int  # cents
    paid: int
    credited: int
    open: int
    created_at: datetime


def _text(value: object) -> str:
    """Text for the PDF's standard font (Windows-1252)."""
    text = str(value).replace("\u202f", "\u00a0")
    return text.encode("cp1252", "replace").decode("cp1252")


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _day(value: date, lang: str) -> str:
    """ "14/03/2026" in French, "14 March 2026" in English (never the machine's locale)."""
    if lang == "fr":
        return value.strftime("%d/%m/%Y")
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def _money(cents: int, lang: str) -> str:
    return format_amount(from_cents(cents), lang)


def title(level: int, last_level: bool, lang: str) -> str:
    if last_level and level > 1:
        return "Mise en demeure de payer" if lang == "fr" else "Formal notice to pay"
    if level == 1:
        return "Relance : facture impayée" if lang == "fr" else "Reminder: unpaid invoice"
    if lang == "fr":
        return "Deuxième relance" if level == 2 else f"Relance n° {level}"
    return "Second reminder" if level == 2 else f"Reminder no. {level}"


def _body(letter: Letter) -> list[str]:
    lang = letter.lang
    plate = f", {'véhicule' if lang == 'fr' else 'vehicle'} {letter.plate}" if letter.plate else ""
    rest = _money(letter.open, lang)
    if lang == "fr":
        out = [
            "Madame, Monsieur,",
            f"Sauf erreur de notre part, notre facture N° {letter.invoice} du "
            f"{_day(letter.issued_on, lang)} (intervention {letter.mission_id}{plate}), "
            f"échue le {_day(letter.due_on, lang)}, n'est pas entièrement réglée : il reste "
            f"{rest} à payer.",
        ]
        if letter.last_level and letter.level > 1:
            out.append(
                f"Malgré nos précédentes relances, cette somme reste due. Nous vous mettons en "
                f"demeure de régler {rest} sous {PAY_WITHIN_DAYS} jours à compter de la "
                "réception de ce courrier. À défaut, nous engagerons une procédure de "
                "recouvrement."
            )
        else:
            out.append(
                f"Nous vous remercions de bien vouloir régler {rest} sous {PAY_WITHIN_DAYS} "
                "jours, par virement, chèque ou carte bancaire, en rappelant le numéro de la "
                "facture."
            )
        out.append(
            "Si votre règlement a croisé ce courrier, merci de ne pas tenir compte de cette "
            "relance."
        )
        out.append("Nous vous prions d'agréer, Madame, Monsieur, nos salutations distinguées.")
        return out
    out = [
        "Dear Sir or Madam,",
        f"Unless we are mistaken, our invoice no. {letter.invoice} of "
        f"{_day(letter.issued_on, lang)} (job {letter.mission_id}{plate}), due on "
        f"{_day(letter.due_on, lang)}, is not fully paid: {rest} remains to be paid.",
    ]
    if letter.last_level and letter.level > 1:
        out.append(
            f"Despite our previous reminders, this sum is still owed. We formally require you "
            f"to pay {rest} within {PAY_WITHIN_DAYS} days of receiving this letter. Failing "
            "that, we will start recovery proceedings."
        )
    else:
        out.append(
            f"Please pay {rest} within {PAY_WITHIN_DAYS} days, by bank transfer, cheque or "
            "card, quoting the invoice number."
        )
    out.append("If your payment has crossed this letter in the post, please disregard it.")
    out.append("Yours faithfully,")
    return out


def letter_pdf(letter: Letter) -> bytes:
    """The letter's PDF."""
    lang = letter.lang
    seller = letter.seller
    doc = FPDF(format="A4")
    doc.core_fonts_encoding = "windows-1252"
    doc.set_creation_date(letter.created_at)
    doc.set_title(_text(f"{title(letter.level, letter.last_level, lang)} – {letter.invoice}"))
    doc.set_author(_text(seller.get("name", "")))
    doc.set_lang("fr-FR" if lang == "fr" else "en-GB")
    doc.set_margins(20, 18, 20)
    doc.add_page()

    def line(text: str, size: float = 10, bold: bool = False, height: float = 5.0) -> None:
        doc.set_font("Helvetica", "B" if bold else "", size)
        doc.multi_cell(0, height, _text(text), new_x="LMARGIN", new_y="NEXT")

    line(str(seller.get("name", "")), 13, bold=True, height=6)
    for part in str(seller.get("address", "")).splitlines():
        line(part, 9)
    line(f"{seller.get('postcode', '')} {seller.get('city', '')}", 9)
    if seller.get("siren"):
        for text in legal_lines(seller):
            line(text, 7.5, height=3.8)
    contact = " – ".join(str(seller[k]) for k in ("phone", "email") if seller.get(k))
    if contact:
        line(contact, 8)
    doc.ln(8)
    doc.set_x(110)
    doc.set_font("Helvetica", "B", 11)
    doc.multi_cell(80, 5.5, _text(letter.recipient), new_x="LMARGIN", new_y="NEXT")
    doc.ln(8)
    place = str(seller.get("city", ""))
    dated = (
        f"{place}, le {_day(letter.sent_on, lang)}"
        if lang == "fr"
        else f"{place}, {_day(letter.sent_on, lang)}"
    )
    line(dated.strip(", "), 10)
    doc.ln(4)
    subject = f"{title(letter.level, letter.last_level, lang)} – {letter.invoice}"
    line(f"Objet : {subject}" if lang == "fr" else f"Subject: {subject}", 11, bold=True)
    doc.ln(4)
    for paragraph in _body(letter)[:-2]:
        line(paragraph, 10)
        doc.ln(2)
    labels = (
        ("Montant de la facture TTC", "Déjà réglé", "Avoirs", "Reste à payer")
        if lang == "fr"
        else ("Invoice total incl. VAT", "Already paid", "Credit notes", "Left to pay")
    )
    values = (letter.total, letter.paid, letter.credited, letter.open)
    for label, cents in zip(labels, values, strict=True):
        bold = label == labels[-1]
        doc.set_font("Helvetica", "B" if bold else "", 10)
        doc.cell(110, 6, _text(label))
        doc.cell(50, 6, _text(_money(cents, lang)), align="R", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    for paragraph in _body(letter)[-2:]:
        line(paragraph, 10)
        doc.ln(2)
    doc.ln(6)
    line(str(seller.get("name", "")), 10, bold=True)
    return bytes(doc.output())
