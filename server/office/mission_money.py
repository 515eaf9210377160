"""One truth across tablets: the money of a mission as the server holds it, announced in
the pull feed so every tablet counts what the others collected.

Whenever a push stores entries that move a mission's money (a collection, a reversal, a
discount, a deferral), `announce` records a `mission_money` change for that mission
(docs/sync-protocol.md "Money recorded elsewhere"): every such entry any tablet recorded
on it, with the office's voids, and the totals. A tablet folds the other tablets'
entries into the mission's money (fieldclient/elsewhere.py), so a driver who changes
tablets, or a second tablet on the mission, never asks to collect again what was
collected and synced. The change is tenant-wide (scope None): a mission reassigned to
another driver, or a tablet enrolled later, learns it too; it carries amounts, methods
and entry references, nothing about a person.

Ingest calls `entries_stored` after a push (server/devices/ingest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from server.office import seller
from server.office.office_journal import PREFIX as SERVER_CHAIN
from server.platform import changes
from server.platform.tables import decisions, journal_entries
from shared.money import ZERO, parse_amount, wire

KIND = "mission_money"
MONEY_TYPES = ("collection", "reversal", "discount", "deferral")
CHUNK = 500


def entries_stored(
    conn: sa.Connection,
    tenant_id: str,
    entries: Iterable[Any],
    *,
    now: datetime,
) -> list[str]:
    """After a push: announce the money of every mission the batch's money entries touch
    (`entries`: `shared.journal.SignedEntry`), and the seller's identity if the tablets
    never had it (`seller.announce_once`). Returns the missions announced."""
    seller.announce_once(conn, tenant_id, now=now)
    touched = sorted(
        {
            str(s.entry.payload.get("mission_id"))
            for s in entries
            if str(s.entry.type) in MONEY_TYPES
            and isinstance(s.entry.payload.get("mission_id"), str)
        }
    )
    announce(conn, tenant_id, touched, now=now)
    return touched


def announce(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str], *, now: datetime
) -> None:
    """Record one `mission_money` change per mission, in the caller's transaction."""
    for start in range(0, len(mission_ids), CHUNK):
        chunk = list(mission_ids[start : start + CHUNK])
        for mission_id, data in money_of(conn, tenant_id, chunk).items():
            changes.record(conn, tenant_id, KIND, mission_id, data, scope=None, now=now)


def money_of(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """{mission: its money entries from every tablet, the office's voids, the totals}."""
    found: dict[str, list[dict[str, Any]]] = {m: [] for m in mission_ids}
    rows = conn.execute(
        sa.select(
            journal_entries.c.device_id,
            journal_entries.c.seq,
            journal_entries.c.type,
            journal_entries.c.mission_id,
            journal_entries.c.hash,
            journal_entries.c.body,
        )
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id.in_(mission_ids),
            journal_entries.c.type.in_(MONEY_TYPES),
            ~journal_entries.c.device_id.startswith(SERVER_CHAIN),
        )
        .order_by(journal_entries.c.device_id, journal_entries.c.seq)
    )
    for row in rows:
        payload = json.loads(row.body).get("payload") or {}
        item: dict[str, Any] = {
            "device_id": row.device_id,
            "seq": int(row.seq),
            "hash": row.hash,
            "type": row.type,
        }
        if row.type == "reversal":
            reverses = payload.get("reverses")
            if isinstance(reverses, Mapping) and isinstance(reverses.get("hash"), str):
                item["reverses"] = reverses["hash"]
        else:
            item["amount"] = _amount(payload.get("amount"))
        if row.type == "collection":
            item["method"] = str(payload.get("method"))
        found.setdefault(row.mission_id, []).append(item)
    for decided in conn.execute(
        sa.select(decisions.c.id, decisions.c.mission_id, decisions.c.data).where(
            decisions.c.tenant_id == tenant_id,
            decisions.c.type == "void_collection",
            decisions.c.mission_id.in_(mission_ids),
        )
    ):
        data = json.loads(decided.data) if isinstance(decided.data, str) else decided.data
        collection = data.get("collection") if isinstance(data, Mapping) else None
        if isinstance(collection, Mapping) and isinstance(collection.get("hash"), str):
            found.setdefault(decided.mission_id, []).append(
                {"type": "void", "ref": f"office:{decided.id}", "reverses": collection["hash"]}
            )
    return {m: _with_totals(m, items) for m, items in found.items()}


def _amount(value: object) -> str:
    try:
        return wire(parse_amount(value))
    except (TypeError, ValueError, ArithmeticError):
        return "0.00"  # an unreadable amount moves nothing here; reconciliation names it


def _with_totals(mission_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    voided = {i["reverses"] for i in items if i["type"] in ("reversal", "void") and "reverses" in i}
    total: dict[str, Decimal] = {"collection": ZERO, "discount": ZERO, "deferral": ZERO}
    for item in items:
        if item["type"] in total and not (item["type"] == "collection" and item["hash"] in voided):
            total[item["type"]] += parse_amount(item["amount"])
    return {
        "mission_id": mission_id,
        "entries": items,
        "collected": wire(total["collection"]),
        "discounted": wire(total["discount"]),
        "deferred": wire(total["deferral"]),
    }
