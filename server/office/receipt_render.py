"""A receipt as a PDF (fpdf2), in French or English: every mention the driver's receipt
carries (shared/receipt.py `blocks`), laid out on one A5 page, so the office can send
the customer the receipt they were shown at the roadside.

Made from the receipt's data, on demand; nothing here reads the database. The standard
Helvetica font (Windows-1252 text) is not embedded, like the invoices'
(server/office/invoice_render.py).
"""

from __future__ import annotations

from fpdf import FPDF

from shared.receipt import Receipt, blocks, title


def _text(value: object) -> str:
    """Text for the standard font: narrow no-break spaces become no-break spaces; a
    character the font lacks, "?"."""
    text = str(value).replace("\u202f", "\u00a0")
    return text.encode("cp1252", "replace").decode("cp1252")


def pdf(receipt: Receipt, lang: str = "fr") -> bytes:
    """The receipt's PDF in `lang` (fr or en). The same receipt gives the same bytes."""
    doc = FPDF(format="A5")
    doc.core_fonts_encoding = "windows-1252"
    doc.set_creation_date(receipt.written_at)
    doc.set_title(_text(title(receipt, lang)))
    if receipt.seller and receipt.seller.get("name"):
        doc.set_author(_text(receipt.seller["name"]))
    doc.set_lang("fr-FR" if lang == "fr" else "en-GB")
    doc.set_margins(10, 10, 10)
    doc.set_auto_page_break(True, margin=10)
    doc.add_page()

    doc.set_font("Helvetica", "B", 13)
    doc.multi_cell(0, 7, _text(title(receipt, lang)), new_x="LMARGIN", new_y="NEXT")
    for block in blocks(receipt, lang):
        doc.ln(1.5)
        doc.set_font("Helvetica", "B", 8)
        doc.multi_cell(0, 4.5, _text(block.title.upper()), new_x="LMARGIN", new_y="NEXT")
        labelled = any(left for left, _ in block.rows)
        for index, (left, right) in enumerate(block.rows):
            strong = index in block.strong
            doc.set_font("Helvetica", "B" if strong else "", 10 if strong else 8)
            if labelled:
                doc.cell(38, 4.2, _text(left))
                doc.multi_cell(0, 4.2, _text(right), new_x="LMARGIN", new_y="NEXT")
            else:
                doc.multi_cell(0, 4.2, _text(right), new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())
