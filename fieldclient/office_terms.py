"""A mission's deposit and payment moment set by hand in the office, as the server last
announced them (pull feed kind `mission_terms`, docs/sync-protocol.md).

The tablet keeps the latest announcement per mission (table `office_terms`) and gives it
to the core: `shared.deposit.resolve_deposit` lets the office's deposit win over the
contract's, and the gate guards the office's payment moment. Nothing on the tablet
writes this table but the pull: a valuation, a site fact or a push never replaces it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from shared.deposit import NO_OFFICE_TERMS, OfficeTerms, office_terms_from_wire

KIND = "mission_terms"


def keep(db: sqlite3.Connection, change: Mapping[str, Any]) -> bool:
    """Apply a `mission_terms` change (inside the pull page's transaction); an older one
    than the one kept, or one this version cannot read, changes nothing. Returns whether
    it was kept."""
    mission_id = str(change.get("id"))
    seq = int(change.get("seq") or 0)
    data = change.get("data")
    held = db.execute("SELECT feed_seq FROM office_terms WHERE mission_id = ?", [mission_id])
    row = held.fetchone()
    if row is not None and int(row[0]) > seq:
        return False
    if not isinstance(data, Mapping):
        return False  # terms set by a person are never withdrawn by a tombstone
    try:
        office_terms_from_wire(data)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return False
    db.execute(
        "INSERT INTO office_terms (mission_id, feed_seq, data) VALUES (?, ?, ?)"
        " ON CONFLICT (mission_id) DO UPDATE SET feed_seq = excluded.feed_seq,"
        " data = excluded.data",
        [mission_id, seq, json.dumps(dict(data), sort_keys=True)],
    )
    return True


def terms(db: sqlite3.Connection, mission_id: str) -> OfficeTerms:
    row = db.execute("SELECT data FROM office_terms WHERE mission_id = ?", [mission_id]).fetchone()
    if row is None:
        return NO_OFFICE_TERMS
    return office_terms_from_wire(json.loads(row[0]))
