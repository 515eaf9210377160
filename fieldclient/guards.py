"""What protects money on the tablet, read from the signed journal rather than from a
table of its own, so that wiping a table resets nothing:

- wrong manager's codes: one `approval_refused` entry per code that fits nothing (the
  core's counted refusals), forgotten only after an office unlock, itself an
  `office_decision_applied` entry;
- approval codes already used: the `approval_ref` of the `discount` and `deferral`
  entries;
- wrong PINs: one `pin_refused` entry each; a driver is held while the last PIN_LOCK
  holds PIN_TRIES of them (by the tablet's corrected clock).

Resetting any of these means removing signed entries, which `journal verify` and the
server see (docs/field-client.md "What protects money"). The entries are read through
the `journal_by_type` index: a handful of rows, whatever the journal's size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fieldclient.ledger import Ledger, unpack
from shared.approvals import COUNTED, ApprovalRefused, Attempts, Kind
from shared.journal import EntryType, utc_timestamp
from shared.money import wire

PIN_TRIES = 5  # wrong PINs within PIN_LOCK before the driver must wait
PIN_LOCK = timedelta(minutes=15)
UNLOCK = "unlock_approvals"  # the office decision that forgets wrong codes


def _of_types(
    db: sqlite3.Connection, *types: EntryType
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    marks = ", ".join("?" for _ in types)
    for type_, at, payload in db.execute(
        f"SELECT type, at, payload FROM journal WHERE type IN ({marks}) ORDER BY seq",
        [str(t) for t in types],
    ):
        yield str(type_), str(at), unpack(payload)


def approval_attempts(db: sqlite3.Connection) -> Attempts:
    """Wrong codes per mission since the office last unlocked it (or the whole tablet)."""
    counts: dict[str, int] = {}
    for type_, _at, body in _of_types(
        db, EntryType.APPROVAL_REFUSED, EntryType.OFFICE_DECISION_APPLIED
    ):
        mission = body.get("mission_id")
        if type_ == EntryType.APPROVAL_REFUSED:
            counts[str(mission)] = counts.get(str(mission), 0) + 1
        elif body.get("type") == UNLOCK:
            if mission:
                counts.pop(str(mission), None)
            else:
                counts.clear()
    # Wrong codes typed before this version were rows of `approval_failures`; they still
    # count until the office unlocks (that table is no longer written).
    for mission, number in db.execute(
        "SELECT mission_id, COUNT(*) FROM approval_failures WHERE cleared = 0 GROUP BY mission_id"
    ):
        counts[str(mission)] = counts.get(str(mission), 0) + int(number)
    return Attempts(tuple(sorted(counts.items())))


def used_approvals(db: sqlite3.Connection) -> set[str]:
    """The approval codes the journal already cites (a code works once)."""
    return {
        str(body.get("approval_ref"))
        for _type, _at, body in _of_types(db, EntryType.DISCOUNT, EntryType.DEFERRAL)
    }


def record_refused_code(
    ledger: Ledger,
    refused: ApprovalRefused,
    *,
    mission_id: str,
    kind: Kind,
    amount: Decimal,
    driver_id: str,
    at: str,
) -> bool:
    """Inside `store.write()`: a counted refusal becomes a signed entry (the code itself
    is not kept: it may be authentic for another mission). Returns whether it counted."""
    if refused.reason not in COUNTED:
        return False  # a typo, an expired or reused code: guessing cannot produce them
    ledger.append(
        EntryType.APPROVAL_REFUSED,
        {
            "mission_id": mission_id,
            "kind": kind.value,
            "amount": wire(amount),
            "reason": refused.reason.value,
        },
        driver_id=driver_id,
        at=at,
    )
    return True


def pin_failures(db: sqlite3.Connection, driver_id: str, now: datetime) -> int:
    """Wrong PINs typed for `driver_id` within the last PIN_LOCK."""
    since = utc_timestamp(now - PIN_LOCK)
    rows = db.execute(
        "SELECT payload FROM journal WHERE type = ? AND at > ? ORDER BY seq",
        [str(EntryType.PIN_REFUSED), since],
    )
    return sum(1 for (payload,) in rows if unpack(payload).get("driver") == driver_id)


def record_wrong_pin(ledger: Ledger, driver_id: str, at: str) -> None:
    """Inside `store.write()`. Nobody is signed in by a wrong PIN: the entry names no
    driver, its payload says whose PIN was tried."""
    ledger.append(EntryType.PIN_REFUSED, {"driver": driver_id}, driver_id=None, at=at)
