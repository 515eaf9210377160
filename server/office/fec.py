"""The FEC: the *fichier des écritures comptables* the tax administration asks for
(article A47 A-1 of the Livre des procédures fiscales; docs/accounting.md).

- the 18 columns, in order, their names on the first line: JournalCode, JournalLib,
  EcritureNum, EcritureDate, CompteNum, CompteLib, CompAuxNum, CompAuxLib, PieceRef,
  PieceDate, EcritureLib, Debit, Credit, EcritureLet, DateLet, ValidDate, Montantdevise,
  Idevise;
- fields separated by a tab, records by CR LF; no tab, line break or `|` inside a field;
- dates `YYYYMMDD`; amounts with a decimal comma and no thousands separator, both Debit
  and Credit on every line (one of them `0,00`); lettering, foreign currency left empty;
- encoded in ISO 8859-15, one of the character sets the text allows (a character it
  lacks is written as its nearest ASCII, else `?`);
- the file named SIREN + `FEC` + the closing day (`732829320FEC20261231.txt`);
- entries numbered without gap within each journal (`VE000001`…), listed by validation
  day, every entry balanced.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from server.office import accounts, ledger
from server.office.seller import require_seller
from shared.money import from_cents

COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
ENCODING = "iso-8859-15"
SEPARATOR = "\t"
NEWLINE = "\r\n"
# Characters ISO 8859-15 lacks, written as their usual ASCII.
_PLAIN = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u202f": " ",
        "\t": " ",
        "\r": " ",
        "\n": " ",
        "|": "/",
    }
)


@dataclass(frozen=True, slots=True)
class FecFile:
    name: str
    content: bytes
    start: date
    end: date
    entries: int
    lines: int
    debit: int  # cents
    credit: int


def text(value: object, limit: int = 200) -> str:
    """A field's text: one line, in ISO 8859-15 (else the nearest ASCII, else `?`)."""
    plain = " ".join(str(value).translate(_PLAIN).split())[:limit]
    out = []
    for char in plain:
        try:
            char.encode(ENCODING)
        except UnicodeEncodeError:
            ascii_ = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            char = ascii_ or "?"
        out.append(char)
    return "".join(out)


def amount(cents: int) -> str:
    """`1234,56`: decimal comma, no thousands separator."""
    return f"{from_cents(cents):f}".replace(".", ",")


def day(value: date) -> str:
    return value.strftime("%Y%m%d")


def rows(chart: accounts.Chart, entries: list[ledger.Entry]) -> list[list[str]]:
    """The FEC's lines (without the header), numbering the entries per journal."""
    counters: dict[str, int] = {}
    out = []
    for entry in entries:
        code, label = chart.journal(entry.journal)
        counters[code] = counters.get(code, 0) + 1
        number = f"{code}{counters[code]:06d}"
        for line in entry.lines:
            out.append(
                [
                    code,
                    text(label),
                    number,
                    day(entry.day),
                    line.account,
                    text(line.account_label),
                    text(line.aux, 40),
                    text(line.aux_label) if line.aux else "",
                    text(entry.piece, 60),
                    day(entry.piece_day),
                    text(entry.label),
                    amount(line.debit),
                    amount(line.credit),
                    "",
                    "",
                    day(entry.valid_day),
                    "",
                    "",
                ]
            )
    return out


def file_name(siren: str, end: date) -> str:
    return f"{siren}FEC{day(end)}.txt"


def build(conn: sa.Connection, tenant_id: str, start: date, end: date) -> FecFile:
    """The FEC of the tenant's period [start, end] (its closing day `end` in the name).
    Needs the seller's identity (its SIREN names the file)."""
    seller = require_seller(conn, tenant_id)
    chart = accounts.current(conn, tenant_id)
    found = ledger.entries(conn, tenant_id, start, end, chart)
    unbalanced = [e.piece for e in found if e.debit != e.credit]
    if unbalanced:  # a bug, never an input: refuse to write a wrong file
        raise AssertionError(f"unbalanced entries: {unbalanced}")
    lines = rows(chart, found)
    body = NEWLINE.join(SEPARATOR.join(fields) for fields in [list(COLUMNS), *lines]) + NEWLINE
    return FecFile(
        name=file_name(str(seller["siren"]), end),
        content=body.encode(ENCODING),
        start=start,
        end=end,
        entries=len(found),
        lines=len(lines),
        debit=sum(e.debit for e in found),
        credit=sum(e.credit for e in found),
    )


def year_bounds(conn: sa.Connection, tenant_id: str, year: int) -> tuple[date, date]:
    """The fiscal year closing in `year`, by the tenant's chart (12-31 by default)."""
    return accounts.current(conn, tenant_id).year(year)


def summary(made: FecFile) -> dict[str, Any]:
    return {
        "file_name": made.name,
        "start": made.start.isoformat(),
        "end": made.end.isoformat(),
        "entries": made.entries,
        "lines": made.lines,
        "debit": f"{from_cents(made.debit):f}",
        "credit": f"{from_cents(made.credit):f}",
        "encoding": ENCODING,
    }
