"""Reading the CSV files the office imports (card settlements, payment advices, bank
statements): UTF-8 with or without BOM, `;` or `,` chosen from the header line, columns
found by any of their accepted names, days as YYYY-MM-DD or DD/MM/YYYY.

One place for it, so every import refuses the same bad bytes the same way: a file the
csv module cannot read (a lone carriage return inside a field, a field beyond its size
limit) is an `InvalidDocument` naming the line, never an unhandled `csv.Error`.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from shared.errors import InvalidDocument, Problem
from shared.i18n import Text


def rows(content: bytes, what: Text) -> list[list[str]]:
    """Every line of the file, header first; refuses undecodable, unreadable or empty files."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidDocument(what, [Problem("", Text("pas en UTF-8", "not UTF-8"))]) from None
    dialect = ";" if text.split("\n", 1)[0].count(";") >= 1 else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect)
    found: list[list[str]] = []
    try:
        for row in reader:
            found.append(row)
    except csv.Error as exc:
        line = str(reader.line_num)
        raise InvalidDocument(
            what, [Problem(line, Text(f"CSV illisible : {exc}", f"unreadable CSV: {exc}"))]
        ) from None
    if not found:
        raise InvalidDocument(what, [Problem("", Text("fichier vide", "empty file"))])
    return found


def column(header: list[str], names: tuple[str, ...]) -> int | None:
    """Where the first of `names` (any case, spaces around ignored) is in the header."""
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def day(text: str) -> date:
    """A day written YYYY-MM-DD or DD/MM/YYYY; ValueError otherwise."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)
