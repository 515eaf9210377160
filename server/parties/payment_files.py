"""Reading the payment files that come back from ordering parties: the two CSV formats
(`advice`, the party's payment advice, and `bank`, a bank statement export; described in
`server.parties.payments`) read into `Line`s, or every unreadable line named. Nothing here
touches the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from server.platform import csv_files
from server.platform.errors import Unprocessable
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.money import parse_amount, to_cents

ADVICE = "advice"
BANK = "bank"
SOURCES = (ADVICE, BANK)
FILE = Text("Fichier de paiements invalide", "Invalid payment file")
MAX_LINES = 100_000

_DATE = ("date", "paid_on", "date_paiement", "date paiement", "date_operation", "jour", "day")
_REFERENCE = (
    "reference",
    "référence",
    "ref",
    "invoice",
    "invoice_number",
    "facture",
    "numero_facture",
    "n° facture",
)
_AMOUNT = ("amount", "montant", "credit", "crédit")
_PARTY = ("party", "party_id", "ordering_party", "donneur_ordre", "donneur d'ordre", "payer")
_LABEL = ("label", "libellé", "libelle", "description", "wording", "motif")

# An invoice number (numbering: "F" + year + "-" + six digits), as people write it.
INVOICE_IN_TEXT = re.compile(r"(?<![A-Z0-9])F\s?(\d{4})[\s_-]?(\d{6})(?![0-9])", re.IGNORECASE)


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def invoice_numbers_in(text: str) -> list[str]:
    """Every invoice number in `text`, normalised (F2026-000123), in order, once each."""
    found: list[str] = []
    for year, seq in INVOICE_IN_TEXT.findall(text or ""):
        number = f"F{year}-{seq}"
        if number not in found:
            found.append(number)
    return found


@dataclass(frozen=True, slots=True)
class Line:
    """One payment read from a file: `line_no` is its line in the file (header = 1)."""

    line_no: int
    paid_on: date
    reference: str
    cents: int
    party: str | None = None
    label: str | None = None


def checked_source(value: str) -> str:
    if value not in SOURCES:
        raise Unprocessable(
            f"Source de paiements inconnue : « {value} » (advice ou bank).",
            f"Unknown payment source: '{value}' (advice or bank).",
            code="payment_source_invalid",
        )
    return value


def _amount(text: str) -> int:
    """Cents from "1 234,50", "12.50", "+3": spaces (no-break too) and a leading + dropped."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text).removeprefix("+").replace(",", ".")
    return to_cents(parse_amount(cleaned))


def _problem(number: int, row: list[str], what_fr: str, what_en: str) -> Problem:
    return Problem(
        str(number),
        Text(
            f"ligne illisible ({what_fr}) : " + ";".join(row),
            f"unreadable line ({what_en}): " + ";".join(row),
        ),
    )


def parse(content: bytes, source: str) -> tuple[list[Line], int]:
    """The file's payments and how many bank lines were ignored (debits), or every
    problem with its line number."""
    source = checked_source(source)
    table = csv_files.rows(content, FILE)
    header, body = table[0], table[1:]
    wanted = {"date": _DATE, "amount": _AMOUNT}
    wanted.update({"reference": _REFERENCE} if source == ADVICE else {"label": _LABEL})
    columns = {name: csv_files.column(header, names) for name, names in wanted.items()}
    missing = [name for name, index in columns.items() if index is None]
    if missing:
        raise InvalidDocument(
            FILE,
            [
                Problem(
                    "1",
                    Text(
                        f"colonnes manquantes : {', '.join(missing)}",
                        f"missing columns: {', '.join(missing)}",
                    ),
                )
            ],
        )
    party_at = csv_files.column(header, _PARTY)
    reference_at = csv_files.column(header, _REFERENCE)
    if len(body) > MAX_LINES:
        raise InvalidDocument(
            FILE, [Problem("", Text(f"plus de {MAX_LINES} lignes", f"over {MAX_LINES} lines"))]
        )
    lines: list[Line] = []
    problems: list[Problem] = []
    ignored = 0
    for number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            day = csv_files.day(row[int(columns["date"] or 0)])
        except (ValueError, IndexError):
            problems.append(_problem(number, row, "date", "date"))
            continue
        try:
            cell = row[int(columns["amount"] or 0)].strip()
            cents = _amount(cell) if cell or source == ADVICE else 0
        except (ValueError, IndexError, ArithmeticError):
            problems.append(_problem(number, row, "montant", "amount"))
            continue
        party = _cell(row, party_at)[:64] or None
        if source == ADVICE:
            reference = _cell(row, columns["reference"])
            if not reference or cents <= 0:
                what = ("référence", "reference") if not reference else ("montant", "amount")
                problems.append(_problem(number, row, *what))
                continue
            found = invoice_numbers_in(reference)
            if len(found) == 1 and INVOICE_IN_TEXT.fullmatch(reference.strip()):
                reference = found[0]
            lines.append(Line(number, day, reference[:120], cents, party))
            continue
        label = _cell(row, columns["label"])
        if cents <= 0:
            ignored += 1  # a debit: not a payment back
            continue
        numbers = invoice_numbers_in(f"{_cell(row, reference_at)} {label}")
        lines.append(
            Line(number, day, numbers[0] if numbers else "", cents, party, label[:2000] or None)
        )
    if problems:
        raise InvalidDocument(FILE, problems)
    if not lines and not ignored:
        raise InvalidDocument(FILE, [Problem("", Text("aucune ligne", "no lines"))])
    return lines, ignored
