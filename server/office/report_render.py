"""The manager's tables as PDF files (fpdf2, like the invoices and the commission
statements), in French or English: per ordering party, per driver, profitability. The
figures are the report's own strings, formatted, never recomputed; nothing here reads
the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from server.people.tenant_time import day_words
from shared.money import format_amount, parse_amount

Column = tuple[str, str, str, float]  # (key, French heading, English heading, width mm)

PARTY_COLUMNS: tuple[Column, ...] = (
    ("missions", "Missions", "Missions", 16),
    ("revenue", "CA HT", "Revenue excl. VAT", 24),
    ("beneficiary_share", "dont bénéficiaires", "of which beneficiaries", 24),
    ("shifted_by_caps", "dont plafonds/franchises", "of which caps/deductibles", 26),
    ("credit_notes", "Avoirs TTC", "Credit notes incl. VAT", 22),
    ("paid_by_party", "Payé par le DO", "Paid by the party", 24),
    ("paid_by_beneficiaries", "Payé par bénéf.", "Paid by beneficiaries", 24),
    ("days_to_pay", "Délai (j)", "Days to pay", 16),
    ("owed", "Reste dû", "Still owed", 24),
)
DRIVER_METHODS = ("cash", "card", "cheque", "transfer", "payment_link")
METHOD_WORDS = {
    "cash": ("Espèces", "Cash"),
    "card": ("Carte", "Card"),
    "cheque": ("Chèque", "Cheque"),
    "transfer": ("Virement", "Transfer"),
    "payment_link": ("Lien", "Link"),
}
DRIVER_COLUMNS: tuple[Column, ...] = (
    ("missions", "Missions", "Missions", 16),
    *((f"collected.{m}", *METHOD_WORDS[m], 20) for m in DRIVER_METHODS),
    ("collected_total", "Encaissé", "Collected", 22),
    ("closings", "Clôtures", "Closings", 16),
    ("unbalanced", "Écarts", "Unbalanced", 16),
    ("variance", "Écart total", "Variance", 20),
    ("anomalies", "Anomalies", "Anomalies", 18),
    ("commission", "Commission", "Commission", 22),
)
AMOUNTS = {
    "revenue",
    "beneficiary_share",
    "shifted_by_caps",
    "credit_notes",
    "paid_by_party",
    "paid_by_beneficiaries",
    "owed",
    "collected_total",
    "variance",
    "commission",
    "invoiced",
    "at_cost",
    "km_cost",
    "commissions",
    "costs",
    "margin",
    *(f"collected.{m}" for m in DRIVER_METHODS),
}


def _text(value: object) -> str:
    text = str(value).replace("\u202f", "\u00a0")
    return text.encode("cp1252", "replace").decode("cp1252")


def _cell(row: Mapping[str, Any], key: str, lang: str) -> str:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return "—"
    if key in AMOUNTS:
        return format_amount(parse_amount(value), lang)
    if key == "days_to_pay" and lang == "fr":
        return str(value).replace(".", ",")
    return str(value)


def table_pdf(
    *,
    title: str,
    seller: Mapping[str, Any] | None,
    start: date,
    end: date,
    first: tuple[str, str, float],
    columns: Sequence[Column],
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    lang: str,
    made_at: datetime,
    note: str = "",
) -> bytes:
    """A landscape A4 table: the first column names the row, then `columns`; the last
    row (the totals) in bold. `rows`: (the row's name, its report row)."""
    fr = lang == "fr"
    doc = FPDF(format="A4", orientation="L")
    doc.core_fonts_encoding = "windows-1252"
    doc.set_creation_date(made_at)
    doc.set_title(_text(title))
    doc.set_margins(12, 12, 12)
    doc.set_auto_page_break(True, margin=12)
    doc.add_page()
    doc.set_font("Helvetica", "B", 12)
    doc.cell(0, 6, _text((seller or {}).get("name", "")), new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    doc.set_font("Helvetica", "B", 15)
    doc.cell(0, 8, _text(title), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=9)
    period = (
        f"Période du {start:%d/%m/%Y} au {end:%d/%m/%Y}"
        if fr
        else f"Period {day_words(start, 'en')} to {day_words(end, 'en')}"
    )
    doc.cell(0, 5, _text(period), new_x="LMARGIN", new_y="NEXT")
    if note:
        doc.multi_cell(0, 4.5, _text(note), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    doc.set_font("Helvetica", size=8)
    widths = (first[2], *(c[3] for c in columns))
    with doc.table(
        col_widths=widths,
        text_align=("LEFT", *("RIGHT" for _ in columns)),
        line_height=4.6,
        first_row_as_headings=True,
    ) as table:
        header = table.row()
        for head in (first[0 if fr else 1], *(c[1 if fr else 2] for c in columns)):
            header.cell(_text(head))
        bold = FontFace(emphasis="BOLD")
        for n, (name, row) in enumerate(rows):
            style = bold if n == len(rows) - 1 else None
            line = table.row()
            line.cell(_text(name), style=style)
            for column in columns:
                line.cell(_text(_cell(row, column[0], lang)), style=style)
    return bytes(doc.output())


def _named(
    found: Mapping[str, Any], key: str, name_of: Callable[[Mapping[str, Any]], str], lang: str
) -> list[tuple[str, Mapping[str, Any]]]:
    return [(name_of(row), row) for row in found[key]] + [("Total", found["totals"])]


def parties_pdf(
    found: Mapping[str, Any],
    *,
    seller: Mapping[str, Any] | None,
    lang: str,
    made_at: datetime,
) -> bytes:
    fr = lang == "fr"
    private = "Particuliers" if fr else "Private customers"
    return table_pdf(
        title="Par donneur d'ordre" if fr else "Per ordering party",
        seller=seller,
        start=date.fromisoformat(found["start"]),
        end=date.fromisoformat(found["end"]),
        first=("Donneur d'ordre", "Ordering party", 50),
        columns=PARTY_COLUMNS,
        rows=_named(
            found, "parties", lambda r: r.get("name") or r.get("party_id") or private, lang
        ),
        lang=lang,
        made_at=made_at,
        note=(
            "Montants en euros ; CA HT net des avoirs ; reste dû : au jour du document."
            if fr
            else "Amounts in euros; revenue excl. VAT net of credit notes; still owed: as of "
            "the day of this document."
        ),
    )


def drivers_pdf(
    found: Mapping[str, Any],
    *,
    seller: Mapping[str, Any] | None,
    lang: str,
    made_at: datetime,
) -> bytes:
    fr = lang == "fr"
    return table_pdf(
        title="Par chauffeur" if fr else "Per driver",
        seller=seller,
        start=date.fromisoformat(found["start"]),
        end=date.fromisoformat(found["end"]),
        first=("Chauffeur", "Driver", 40),
        columns=DRIVER_COLUMNS,
        rows=_named(found, "drivers", lambda r: r.get("name") or r.get("driver_id") or "?", lang),
        lang=lang,
        made_at=made_at,
        note=(
            "Encaissé : net des annulations, par jour de réception au serveur."
            if fr
            else "Collected: net of voids, by the day the server received it."
        ),
    )


PROFIT_COLUMNS: tuple[Column, ...] = (
    ("missions", "Missions", "Missions", 16),
    ("km", "Km", "Km", 16),
    ("invoiced", "Facturé HT", "Invoiced excl. VAT", 24),
    ("credit_notes", "Avoirs HT", "Credit notes", 22),
    ("revenue", "CA HT", "Revenue", 24),
    ("commissions", "Commissions", "Commissions", 24),
    ("at_cost", "Débours", "At cost", 22),
    ("km_cost", "Coût km", "Km cost", 22),
    ("costs", "Coûts", "Costs", 24),
    ("margin", "Marge", "Margin", 24),
)


def profitability_pdf(
    found: Mapping[str, Any],
    *,
    seller: Mapping[str, Any] | None,
    lang: str,
    made_at: datetime,
) -> bytes:
    fr = lang == "fr"
    private = "Particuliers" if fr else "Private customers"
    rates = ", ".join(f"{k} {v}" for k, v in found["cost_per_km"].get("per_km", {}).items())
    version = found["cost_per_km"].get("version", 0)
    return table_pdf(
        title="Rentabilité par donneur d'ordre" if fr else "Profitability per ordering party",
        seller=seller,
        start=date.fromisoformat(found["start"]),
        end=date.fromisoformat(found["end"]),
        first=("Donneur d'ordre", "Ordering party", 46),
        columns=PROFIT_COLUMNS,
        rows=_named(
            found, "parties", lambda r: r.get("name") or r.get("party_id") or private, lang
        ),
        lang=lang,
        made_at=made_at,
        note=(
            f"Montants HT en euros. Coût au km (version {version}) : {rates or 'aucun'}."
            if fr
            else f"Amounts excl. VAT in euros. Cost per km (version {version}): {rates or 'none'}."
        ),
    )
