"""The tablets' collections of a period, net of voids, for the reports (docs/reports.md):
read for the period only, however long the history (docs/scaling.md "The desk at a year").

A collection counts on the day the server received it. A reversal received in the period
takes back the collection it names (by hash) when the server received that collection
before it, once: a second reversal of the same collection counts for nothing, and a
reversal received before its collection neither counts nor uses up the void. This is
what reading every collection and reversal up to the period's end in order gives; here
the period's collections and reversals are read, the earlier reversals (few), and the
voided collections found by the key their reversal names (device and sequence), checked
against its hash; one that cannot be found so is looked for by hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from server.office.issued_documents import TABLET_ENTRY
from server.platform.tables import journal_entries

T = TypeVar("T")
COLUMNS = (
    journal_entries.c.type,
    journal_entries.c.device_id,
    journal_entries.c.seq,
    journal_entries.c.hash,
    journal_entries.c.driver_id,
    journal_entries.c.mission_id,
    journal_entries.c.body,
    journal_entries.c.received_at,
)
CHUNK = 500


def _order(row: Any) -> tuple[datetime, str, int]:
    return (row.received_at, row.device_id, int(row.seq))


def _reversed(row: Any) -> tuple[str, Any, Any] | None:
    """(the hash a reversal names, its device, its seq), None when unreadable."""
    try:
        reverses = json.loads(row.body)["payload"]["reverses"]
        return str(reverses["hash"]), reverses.get("device_id"), reverses.get("seq")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def net_collections(
    conn: sa.Connection,
    tenant_id: str,
    first: datetime,
    after: datetime,
    read: Callable[[Any], T | None],
) -> tuple[list[tuple[Any, T]], list[tuple[Any, T]]]:
    """(the collections received in [first, after) that `read` accepts, with what it
    read; the collections voided by a reversal received in [first, after), with what
    `read` read of them). `read(row)` reads a collection's row (type, device_id, seq,
    hash, driver_id, mission_id, body, received_at); None: the collection is unreadable
    and does not count, nor does a void of it."""
    tablet = [journal_entries.c.tenant_id == tenant_id, TABLET_ENTRY]
    collected: list[tuple[Any, T]] = []
    for row in conn.execute(
        sa.select(*COLUMNS)
        .where(
            *tablet,
            journal_entries.c.type == "collection",
            journal_entries.c.received_at >= first,
            journal_entries.c.received_at < after,
        )
        .order_by(journal_entries.c.received_at, journal_entries.c.device_id, journal_entries.c.seq)
    ):
        value = read(row)
        if value is not None:
            collected.append((row, value))
    reversals = []
    for row in conn.execute(
        sa.select(*COLUMNS)
        .where(*tablet, journal_entries.c.type == "reversal", journal_entries.c.received_at < after)
        .order_by(journal_entries.c.received_at, journal_entries.c.device_id, journal_entries.c.seq)
    ):
        named = _reversed(row)
        if named is not None:
            reversals.append((row, *named))
    wanted = {h: (d, s) for row, h, d, s in reversals if row.received_at >= first}
    if not wanted:
        return collected, []
    targets = _collections_by_hash(conn, tenant_id, after, wanted)
    voided: list[tuple[Any, T]] = []
    used: set[str] = set()
    for row, ref, _, _ in reversals:  # in the order received
        target = targets.get(ref)
        if target is None or ref in used or _order(target) >= _order(row):
            continue
        value = read(target)
        if value is None:
            continue
        used.add(ref)
        if row.received_at >= first:
            voided.append((target, value))
    return collected, voided


def _collections_by_hash(
    conn: sa.Connection, tenant_id: str, after: datetime, wanted: dict[str, tuple[Any, Any]]
) -> dict[str, Any]:
    """{hash: the tablet's collection with that hash received before `after`}."""
    found: dict[str, Any] = {}
    keys = [
        (str(d), int(s))
        for d, s in wanted.values()
        if isinstance(d, str) and isinstance(s, int) and not isinstance(s, bool)
    ]
    base = [
        journal_entries.c.tenant_id == tenant_id,
        TABLET_ENTRY,
        journal_entries.c.type == "collection",
        journal_entries.c.received_at < after,
    ]
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        for row in conn.execute(
            sa.select(*COLUMNS).where(
                *base, sa.tuple_(journal_entries.c.device_id, journal_entries.c.seq).in_(chunk)
            )
        ):
            if row.hash in wanted:
                found[row.hash] = row
    missing = sorted(h for h in wanted if h not in found)
    for start in range(0, len(missing), CHUNK):  # a reversal naming the wrong key: by hash
        for row in conn.execute(
            sa.select(*COLUMNS).where(
                *base, journal_entries.c.hash.in_(missing[start : start + CHUNK])
            )
        ):
            found[row.hash] = row
    return found
