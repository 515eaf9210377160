"""Card-terminal settlement files: imported by the office, matched against the tablets'
card collections by reconciliation (`card_unmatched`).

The CSV format (docs/anomalies.md): a header line, then one line per card payment the
terminal settled, with at least the columns `date` (YYYY-MM-DD or DD/MM/YYYY),
`reference` (the authorisation reference printed on the receipt; also accepted:
`terminal_ref`, `autorisation`) and `amount` (`12.50` or `12,50`). `;` or `,` separates
the columns. The file covers the days from its first to its last date: card collections
of those days are checked against it. A file already imported is refused.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from server.office.reconcile_facts import card_key
from server.people.identity import audit
from server.platform import csv_files
from server.platform.errors import Conflict
from server.platform.tables import card_settlement_lines, card_settlements
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.money import parse_amount

FILE = Text("Fichier de remises carte invalide", "Invalid card settlement file")
_DATE = ("date", "jour", "day")
_REFERENCE = ("reference", "référence", "terminal_ref", "autorisation", "authorisation")
_AMOUNT = ("amount", "montant")
MAX_LINES = 200_000


def parse(content: bytes) -> list[tuple[date, str, int]]:
    """The file's lines as (day, reference, cents), or every problem with its line."""
    table = csv_files.rows(content, FILE)
    header, body = table[0], table[1:]
    columns = {
        "date": csv_files.column(header, _DATE),
        "reference": csv_files.column(header, _REFERENCE),
        "amount": csv_files.column(header, _AMOUNT),
    }
    missing = [name for name, index in columns.items() if index is None]
    if missing:
        raise InvalidDocument(
            FILE,
            [
                Problem(
                    "1",  # the header line
                    Text(
                        f"colonnes manquantes : {', '.join(missing)}",
                        f"missing columns: {', '.join(missing)}",
                    ),
                )
            ],
        )
    if len(body) > MAX_LINES:
        raise InvalidDocument(
            FILE, [Problem("", Text(f"plus de {MAX_LINES} lignes", f"over {MAX_LINES} lines"))]
        )
    lines: list[tuple[date, str, int]] = []
    problems: list[Problem] = []
    for number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        at_date, at_ref, at_amount = (int(columns[k] or 0) for k in ("date", "reference", "amount"))
        try:
            day = csv_files.day(row[at_date])
            reference = row[at_ref].strip()
            amount = parse_amount(row[at_amount].strip().replace(",", "."))
            if not reference or amount <= 0:
                raise ValueError
        except (ValueError, IndexError):
            problems.append(
                Problem(
                    str(number),  # the line number
                    Text(
                        "ligne illisible (date, référence ou montant) : " + ";".join(row),
                        "unreadable line (date, reference or amount): " + ";".join(row),
                    ),
                )
            )
            continue
        lines.append((day, reference[:64], int(amount * 100)))
    if problems:
        raise InvalidDocument(FILE, problems)
    if not lines:
        raise InvalidDocument(FILE, [Problem("", Text("aucune ligne", "no lines"))])
    return lines


def import_file(
    conn: sa.Connection, tenant_id: str, name: str, content: bytes, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Store a settlement file (refused whole if any line is unreadable)."""
    lines = parse(content)
    digest = hashlib.sha256(content).hexdigest()
    known = conn.execute(
        sa.select(card_settlements.c.id).where(
            card_settlements.c.tenant_id == tenant_id, card_settlements.c.file_sha256 == digest
        )
    ).first()
    if known is not None:
        raise Conflict(
            "Ce fichier de remises a déjà été importé.",
            "This settlement file was already imported.",
            code="settlement_already_imported",
        )
    days = sorted(day for day, _, _ in lines)
    settlement_id = conn.execute(
        sa.insert(card_settlements)
        .values(
            tenant_id=tenant_id,
            file_name=name[:200],
            file_sha256=digest,
            period_from=days[0].isoformat(),
            period_to=days[-1].isoformat(),
            imported_by=actor,
            imported_at=now,
        )
        .returning(card_settlements.c.id)
    ).scalar_one()
    conn.execute(
        sa.insert(card_settlement_lines),
        [
            {
                "settlement_id": settlement_id,
                "line_no": index,
                "tenant_id": tenant_id,
                "day": day.isoformat(),
                "terminal_ref": reference,
                "amount_cents": amount,
                "ref": card_key(reference, amount),
            }
            for index, (day, reference, amount) in enumerate(lines, start=1)
        ],
    )
    summary = {
        "id": settlement_id,
        "file_name": name,
        "lines": len(lines),
        "period_from": days[0].isoformat(),
        "period_to": days[-1].isoformat(),
    }
    audit(conn, tenant_id, actor, "settlement.import", str(settlement_id), now, detail=summary)
    return summary
