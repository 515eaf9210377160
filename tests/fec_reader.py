"""Reading a FEC file the way the administration's tool (Test Compta Demat) checks it,
written from the text of article A47 A-1 of the LPF, not from Towline's writer: the
file name, the character set, the 18 columns in order, dates YYYYMMDD, amounts with a
decimal comma, no empty mandatory field, account numbers whose first three characters are
digits, entries numbered without gap within a journal, each entry balanced, listed by
validation date. Every problem is collected, not only the first."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

COLUMNS = [
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
]  # fmt: skip
MANDATORY = [
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "ValidDate",
]  # fmt: skip
DATES = ["EcritureDate", "PieceDate", "ValidDate"]
NAME = re.compile(r"^(\d{9})FEC(\d{8})\.txt$")
NUMBER = re.compile(r"^\d+,\d{2}$")


@dataclass
class Fec:
    siren: str
    closing: date
    rows: list[dict[str, str]]
    problems: list[str] = field(default_factory=list)

    def amount(self, row: dict[str, str], column: str) -> Decimal:
        return Decimal(row[column].replace(",", "."))

    def entries(self) -> dict[tuple[str, str], list[dict[str, str]]]:
        out: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
        for row in self.rows:
            out[(row["JournalCode"], row["EcritureNum"])].append(row)
        return out

    def balance(self, account_prefix: str) -> Decimal:
        """Credit − debit over the accounts starting with the prefix."""
        return sum(
            (
                self.amount(r, "Credit") - self.amount(r, "Debit")
                for r in self.rows
                if r["CompteNum"].startswith(account_prefix)
            ),
            Decimal(0),
        )


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date() if len(text) == 8 else None
    except ValueError:
        return None


def read(name: str, content: bytes) -> Fec:
    problems: list[str] = []
    named = NAME.match(name)
    if not named:
        problems.append(f"file name {name!r}: SIREN + FEC + YYYYMMDD + .txt expected")
    siren, closing = (named.group(1), _day(named.group(2))) if named else ("", None)
    try:
        text = content.decode("iso-8859-15")
    except UnicodeDecodeError as error:
        return Fec(siren, closing or date.min, [], [f"not ISO 8859-15: {error}"])
    if "\t" not in text.splitlines()[0]:
        problems.append("the separator must be a tab (or |)")
    lines = text.split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    if header != COLUMNS:
        problems.append(f"header: {header}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            problems.append(f"line {number}: {len(cells)} fields")
            continue
        row = dict(zip(COLUMNS, cells, strict=True))
        for column in MANDATORY:
            if not row[column].strip():
                problems.append(f"line {number}: {column} is empty")
        for column in DATES:
            if _day(row[column]) is None:
                problems.append(f"line {number}: {column} {row[column]!r} is not YYYYMMDD")
        for column in ("Debit", "Credit"):
            if not NUMBER.match(row[column]):
                problems.append(f"line {number}: {column} {row[column]!r} is not 0,00")
        if not row["CompteNum"][:3].isdigit():
            problems.append(f"line {number}: CompteNum {row['CompteNum']!r}")
        if bool(row["CompAuxNum"]) != bool(row["CompAuxLib"]):
            problems.append(f"line {number}: CompAuxNum and CompAuxLib go together")
        if row["DateLet"] and not row["EcritureLet"]:
            problems.append(f"line {number}: DateLet without EcritureLet")
        rows.append(row)
    fec = Fec(siren, closing or date.min, rows, problems)
    auxiliaries: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row["CompAuxNum"]:
            auxiliaries[row["CompAuxNum"]].add(row["CompAuxLib"])
    for number, names in sorted(auxiliaries.items()):
        if len(names) > 1:
            problems.append(f"auxiliary account {number} has several labels: {sorted(names)}")
    last_valid = ""
    numbers: dict[str, list[int]] = defaultdict(list)
    for (journal, ecriture), lines_ in fec.entries().items():
        debit = sum(fec.amount(r, "Debit") for r in lines_)
        credit = sum(fec.amount(r, "Credit") for r in lines_)
        if debit != credit:
            problems.append(f"entry {journal} {ecriture}: debit {debit} ≠ credit {credit}")
        if len({(r["EcritureDate"], r["PieceRef"], r["ValidDate"]) for r in lines_}) != 1:
            problems.append(f"entry {journal} {ecriture}: its lines disagree on date or piece")
        digits = re.sub(r"\D", "", ecriture)
        numbers[journal].append(int(digits) if digits else -1)
    for journal, seen in numbers.items():
        if sorted(seen) != list(range(1, len(seen) + 1)):
            problems.append(f"journal {journal}: entry numbers with a gap")
    for row in rows:
        if row["ValidDate"] < last_valid:
            problems.append(f"not in validation order at {row['EcritureNum']}")
        last_valid = row["ValidDate"]
    return fec
