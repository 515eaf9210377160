"""Money other tablets recorded on a mission, as the server holds it: one truth across
tablets.

A driver who changes tablets, or two tablets on one mission, must see the same money:
the server announces, whenever it stores entries of a mission, every collection,
reversal, office void, discount and deferral any tablet recorded on it (pull feed kind
`mission_money`, docs/sync-protocol.md). The tablet keeps the latest announcement per
mission (table `money_elsewhere`) and folds the other tablets' entries into the
mission's money (`events`), keyed by their entry hashes like its own, so the gate, the
remaining amount, the cash limit and the receipt count what another tablet collected:
a tablet never asks to collect again what another one collected and synced.

Its own entries come from its own journal, never from the announcement (they may be
newer than the server's copy). When both tablets were offline, each collected in good
faith; the server's reconciliation sees the over-collection (docs/anomalies.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.balance import Collected, Deferred, Discounted, Event, Reversed
from shared.i18n import Text
from shared.money import ZERO, format_amount, parse_amount
from shared.payment_terms import Method

KIND = "mission_money"


def keep(db: sqlite3.Connection, change: Mapping[str, Any], own_device: str) -> None:
    """Apply a `mission_money` change (inside the pull page's transaction). A change older
    than the one kept is ignored; a tombstone forgets the mission's."""
    mission_id = str(change.get("id"))
    seq = int(change.get("seq") or 0)
    data = change.get("data")
    held = db.execute(
        "SELECT feed_seq FROM money_elsewhere WHERE mission_id = ?", [mission_id]
    ).fetchone()
    if held is not None and int(held[0]) > seq:
        return
    if not isinstance(data, Mapping):
        db.execute("DELETE FROM money_elsewhere WHERE mission_id = ?", [mission_id])
        return
    settled = _net(data, own_device)
    db.execute(
        "INSERT INTO money_elsewhere (mission_id, feed_seq, settled_cents, data)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (mission_id) DO UPDATE SET"
        " feed_seq = excluded.feed_seq, settled_cents = excluded.settled_cents,"
        " data = excluded.data",
        [mission_id, seq, int(settled * 100), json.dumps(dict(data), sort_keys=True)],
    )


def _entries(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = data.get("entries")
    return [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []


def _others(data: Mapping[str, Any], own_device: str) -> list[Mapping[str, Any]]:
    return [e for e in _entries(data) if e.get("device_id") != own_device]


def _settled(entry: Mapping[str, Any]) -> Decimal:
    if entry.get("type") in ("collection", "discount", "deferral"):
        try:
            return max(parse_amount(entry.get("amount")), ZERO)
        except (TypeError, ValueError, ArithmeticError):
            return ZERO
    return ZERO


def _net(data: Mapping[str, Any], own_device: str) -> Decimal:
    """Collected (less what a reversal or an office void takes back, each collection
    once), discounted and deferred by the other tablets."""
    voided = {
        str(e.get("reverses"))
        for e in _entries(data)
        if e.get("type") in ("reversal", "void") and e.get("reverses")
    }
    return sum(
        (
            _settled(e)
            for e in _others(data, own_device)
            if not (e.get("type") == "collection" and str(e.get("hash")) in voided)
        ),
        ZERO,
    )


def _data(db: sqlite3.Connection, mission_id: str) -> Mapping[str, Any] | None:
    row = db.execute(
        "SELECT data FROM money_elsewhere WHERE mission_id = ?", [mission_id]
    ).fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, Mapping) else None


def events(db: sqlite3.Connection, mission_id: str, own_device: str) -> list[Event]:
    """The other tablets' money events on the mission, for `shared.balance.fold`."""
    data = _data(db, mission_id)
    if data is None:
        return []
    others = {
        str(e.get("hash")) for e in _others(data, own_device) if e.get("type") == "collection"
    }
    out: list[Event] = []
    for entry in _entries(data):
        kind, ref = entry.get("type"), str(entry.get("hash") or entry.get("ref") or "")
        if not ref:
            continue
        if kind in ("reversal", "void"):
            if str(entry.get("reverses")) in others:
                out.append(Reversed(ref, mission_id, str(entry["reverses"])))
            continue
        if entry.get("device_id") == own_device:
            continue
        try:  # the server's word, read defensively: what does not read counts for nothing
            amount = parse_amount(entry.get("amount"))
            if kind == "collection":
                method = Method(str(entry.get("method")))
                out.append(Collected(ref, mission_id, method, amount))
            elif kind == "discount":
                out.append(Discounted(ref, mission_id, amount))
            elif kind == "deferral":
                out.append(Deferred(ref, mission_id, amount))
        except (TypeError, ValueError, ArithmeticError):
            continue
    return out


def settled_elsewhere(db: sqlite3.Connection, mission_id: str, own_device: str) -> Decimal:
    """What other tablets settled on the mission (collected net of voids, discounts,
    deferrals), as the server last said."""
    data = _data(db, mission_id)
    return ZERO if data is None else _net(data, own_device)


def note(db: sqlite3.Connection, mission_id: str, own_device: str, lang: str) -> str | None:
    """The sentence `show` and the screen add when another tablet settled something."""
    amount = settled_elsewhere(db, mission_id, own_device)
    if not amount:
        return None
    return Text(
        f"Dont {format_amount(amount, 'fr')} réglés sur une autre tablette (selon le bureau).",
        f"Of which {format_amount(amount, 'en')} settled on another tablet (per the office).",
    )(lang)
