"""What the tablet's own checks found wrong, and the report that tells the office.

A `Finding` is one problem, worded for a person (the sentence `journal verify` prints).
When a sync finds any, it keeps them as a report (table `integrity_reports`, append-only)
and sends every report the server has not confirmed with the push's `integrity_report`
(docs/sync-protocol.md "Integrity report"), at this sync or, offline, at the next one
that reaches the server. A report's id is the SHA-256 of its findings: the same problems
found again are the same report, told once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.canonical import canonical_json
from shared.i18n import Text
from sync.protocol import MAX_REPORT_FINDINGS


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: a short code (`bad_signature`, `key_replaced`…), the sentence, and
    the entry it is about when there is one."""

    kind: str
    text: Text
    seq: int | None = None

    def wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "fr": self.text.fr, "en": self.text.en}


def report_body(findings: Sequence[Finding], found_at: str) -> dict[str, Any]:
    """The wire report (`sync.schemas.IntegrityReport`): its id covers every finding, the
    body lists the first MAX_REPORT_FINDINGS and says how many there are."""
    listed = [f.wire() for f in findings]
    return {
        "id": hashlib.sha256(canonical_json(listed)).hexdigest(),
        "found_at": found_at,
        "total": len(listed),
        "findings": listed[:MAX_REPORT_FINDINGS],
    }


def keep(db: sqlite3.Connection, findings: Sequence[Finding], found_at: str) -> str:
    """Inside `store.write()`: keep the report (once per id); returns its id."""
    body = report_body(findings, found_at)
    db.execute(
        "INSERT INTO integrity_reports (id, found_at, body) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        [body["id"], found_at, json.dumps(body, ensure_ascii=False, sort_keys=True)],
    )
    return str(body["id"])


def pending(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """The reports the server has not confirmed yet, oldest first."""
    rows = db.execute(
        "SELECT body FROM integrity_reports WHERE id NOT IN (SELECT id FROM"
        " integrity_reports_told) ORDER BY found_at, id"
    ).fetchall()
    return [json.loads(body) for (body,) in rows]


def told(db: sqlite3.Connection, report_id: str, at: str) -> None:
    """Inside `store.write()`: the server said it recorded this report."""
    db.execute(
        "INSERT INTO integrity_reports_told (id, told_at) VALUES (?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        [report_id, at],
    )
