"""A person's monthly commission statement as a PDF (fpdf2, like the invoices), in
French or English: every line of the report with its document, base, rate and amount,
then the total. Nothing here reads the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fpdf import FPDF

from server.people.tenant_time import day_words
from shared.money import format_amount, parse_amount

KINDS = {
    "percent": ("Pourcentage", "Percentage"),
    "per_mission": ("Forfait mission", "Per mission"),
    "reversal": ("Avoir (reprise)", "Credit note (reversed)"),
    "tier": ("Palier mensuel", "Monthly tier"),
}
MONTHS_FR = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
MONTHS_EN = [
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


def _text(value: object) -> str:
    text = str(value).replace("\u202f", "\u00a0")
    return text.encode("cp1252", "replace").decode("cp1252")


def _money(value: str, lang: str) -> str:
    return format_amount(parse_amount(value), lang)


def _month(start: date, lang: str) -> str:
    names = MONTHS_FR if lang == "fr" else MONTHS_EN
    return f"{names[start.month - 1]} {start.year}"


def statement_pdf(
    *,
    seller: Mapping[str, Any] | None,
    person: str,
    name: str,
    start: date,
    end: date,
    lines: Sequence[Mapping[str, Any]],
    total: str,
    lang: str,
    made_at: datetime,
) -> bytes:
    fr = lang == "fr"
    doc = FPDF(format="A4", orientation="L")
    doc.core_fonts_encoding = "windows-1252"
    doc.set_creation_date(made_at)
    title = (
        f"Relevé de commissions – {name} – {_month(start, lang)}"
        if fr
        else f"Commission statement – {name} – {_month(start, lang)}"
    )
    doc.set_title(_text(title))
    doc.set_margins(15, 15, 15)
    doc.set_auto_page_break(True, margin=15)
    doc.add_page()
    doc.set_font("Helvetica", "B", 12)
    doc.cell(0, 6, _text((seller or {}).get("name", "")), new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    doc.set_font("Helvetica", "B", 15)
    doc.cell(0, 8, _text(title), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=9)
    period = (
        f"Période du {start:%d/%m/%Y} au {end:%d/%m/%Y} – {person}"
        if fr
        else f"Period {day_words(start, 'en')} to {day_words(end, 'en')} – {person}"
    )
    doc.cell(0, 5, _text(period), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    heads = (
        ("Date", "Type", "Mission", "Pièce", "Code / facture", "Base HT", "Taux %", "Commission")
        if fr
        else ("Date", "Kind", "Mission", "Document", "Code / invoice", "Base", "Rate %", "Amount")
    )
    doc.set_font("Helvetica", size=8)
    with doc.table(
        col_widths=(22, 36, 28, 30, 36, 30, 18, 30),
        text_align=("LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=4.6,
        first_row_as_headings=True,
    ) as table:
        header = table.row()
        for head in heads:
            header.cell(_text(head))
        for line in lines:
            day = date.fromisoformat(line["day"])
            row = table.row()
            for cell in (
                day_words(day, "fr" if fr else "en"),
                KINDS[line["kind"]][0 if fr else 1],
                line["mission_id"] or "",
                line["document"] or "",
                line["code"] or "",
                _money(line["base"], lang) if line["kind"] != "per_mission" else "",
                line["rate"],
                _money(line["commission"], lang),
            ):
                row.cell(_text(cell))
    doc.ln(3)
    doc.set_font("Helvetica", "B", 11)
    label = "Total des commissions" if fr else "Total commission"
    doc.cell(
        0,
        6,
        _text(f"{label} : {_money(total, lang)}" if fr else f"{label}: {_money(total, lang)}"),
        align="R",
    )
    return bytes(doc.output())
