"""Receipts on the tablet: the number each collection gets, and the receipt read back.

**Numbering.** Each tablet numbers its receipts 1, 2, 3… with no gap: the number is the
previous collection's plus one, read inside the collection's own write transaction
(`store.write`, BEGIN IMMEDIATE) and written into the signed `collection` entry
(`receipt.number`). The entry and its number commit together or not at all, so a crash
never skips, repeats or loses a number (tests/test_field_receipt_crash.py kills the
client mid-collection 200 times).

**Reading back.** A receipt is made from the collection entry, the tablet's
`valuation_recorded` entry it followed, the seller's identity the pull feed gave
(`seller` change kind, kept in `meta`) and the driver's name: `shared.receipt.build`,
the same as the server's PDF.

**The seller as printed.** The collection names the identity the tablet held then
(`receipt.seller`: its digest and the server's version number), and the tablet keeps every
identity it was given by digest, so a receipt read back later — here or on the server —
prints the company as it was at the roadside, not as it is now.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fieldclient import beneficiaries, store
from fieldclient.ledger import unpack
from shared.balance import MissionMoney
from shared.errors import Refused
from shared.receipt import (
    Receipt,
    build,
    number_of,
    receipt_block,
    seller_digest,
    seller_ref,
    seller_ref_of,
)

SELLER_KEY = "seller"  # meta: the seller's identity as the pull feed gave it (JSON)
SELLER_VERSION_KEY = "seller_version"  # meta: the server's number for that identity
SELLER_BY_DIGEST = "seller@"  # meta: every identity the tablet held, "seller@<digest>"
TIMEZONE_KEY = "timezone"  # meta: the tenant's time zone


def next_number(db: sqlite3.Connection) -> int:
    """The number the next collection gets. Call inside the collection's transaction."""
    last = db.execute(
        "SELECT payload FROM journal WHERE type = 'collection' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    if last is None:
        return 1
    number = number_of(unpack(last[0]))
    return 1 if number is None else number + 1


def block_for(
    db: sqlite3.Connection, money: MissionMoney, document: Mapping[str, Any]
) -> dict[str, Any]:
    """The `receipt` block of the collection about to be recorded (`money`: the mission's
    money before it; `document`: the mission as ordered), with who pays and where as
    the tablet knows them now."""
    settled = money.net_collected + money.discounted + money.deferred
    payer = beneficiaries.of_mission(db, money.mission_id, document)
    place = beneficiaries.place_of(db, money.mission_id)
    held = seller(db)
    version = store.get_meta(db, SELLER_VERSION_KEY)
    named = seller_ref(held, int(version) if version and version.isdigit() else None)
    return receipt_block(next_number(db), settled, payer, place, named)


def keep_seller(db: sqlite3.Connection, data: object) -> None:
    """Apply a `seller` change of the pull feed (inside the page's transaction):
    `{"seller": {...}, "timezone": "Europe/Paris"}`; None (a tombstone) forgets it."""
    if not isinstance(data, Mapping):
        store.set_meta(db, SELLER_KEY, None)
        store.set_meta(db, SELLER_VERSION_KEY, None)
        return
    seller = data.get("seller")
    if isinstance(seller, Mapping):
        text = json.dumps(dict(seller), sort_keys=True, ensure_ascii=False)
        store.set_meta(db, SELLER_KEY, text)
        store.set_meta(db, SELLER_BY_DIGEST + seller_digest(seller), text)
        version = data.get("version")
        known = isinstance(version, int) and not isinstance(version, bool)
        store.set_meta(db, SELLER_VERSION_KEY, str(version) if known else None)
    zone = data.get("timezone")
    if isinstance(zone, str) and zone:
        store.set_meta(db, TIMEZONE_KEY, zone)


def seller(db: sqlite3.Connection, digest: str | None = None) -> dict[str, Any] | None:
    """The identity held now, or the one of `digest` when the tablet held it (else the
    one held now: the tablet only ever printed identities it held)."""
    text = store.get_meta(db, SELLER_BY_DIGEST + digest) if digest else None
    text = text or store.get_meta(db, SELLER_KEY)
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def _collections(db: sqlite3.Connection, mission_id: str | None) -> list[tuple[Any, ...]]:
    where = "type = 'collection'" + (" AND mission_id = ?" if mission_id else "")
    return db.execute(
        f"SELECT seq, at, driver_id, payload FROM journal WHERE {where} ORDER BY seq",
        [mission_id] if mission_id else [],
    ).fetchall()


def numbers(db: sqlite3.Connection, mission_id: str) -> list[int]:
    """The receipt numbers of a mission's collections, in order."""
    found = (number_of(unpack(row[3])) for row in _collections(db, mission_id))
    return [n for n in found if n is not None]


def receipt(
    db: sqlite3.Connection,
    *,
    device_id: str,
    timezone: str,
    mission_id: str,
    number: int | None = None,
) -> Receipt:
    """One receipt of the mission: `number`, or the latest. Refused (exit 3) when the
    mission has none, or not that one."""
    rows = [r for r in _collections(db, mission_id) if number_of(unpack(r[3])) is not None]
    if number is not None:
        rows = [r for r in rows if number_of(unpack(r[3])) == number]
    if not rows:
        raise _none(mission_id, number)
    seq, at, driver_id, stored = rows[-1]
    collection = unpack(stored)
    valued = db.execute(
        "SELECT payload FROM journal WHERE mission_id = ? AND type = 'valuation_recorded'"
        " AND seq < ? ORDER BY seq DESC LIMIT 1",
        [mission_id, seq],
    ).fetchone()
    valuation = unpack(valued[0]) if valued else {}
    name = db.execute("SELECT name FROM drivers WHERE id = ?", [driver_id]).fetchone()
    return build(
        device_id=device_id,
        at=datetime.fromisoformat(str(at).replace("Z", "+00:00")),
        collection=collection,
        valuation=valuation.get("valuation") or {},
        mission=valuation.get("mission") or {},
        seller=seller(db, seller_ref_of(collection)),
        timezone=timezone,
        driver=name[0] if name else driver_id,
    )


def _none(mission_id: str, number: int | None) -> Refused:
    if number is None:
        return Refused(
            f"Aucun reçu pour la mission {mission_id} : rien n'y a été encaissé sur cette"
            " tablette.",
            f"No receipt for mission {mission_id}: nothing was collected on it on this tablet.",
        )
    return Refused(
        f"Pas de reçu n° {number} pour la mission {mission_id} sur cette tablette.",
        f"No receipt no. {number} for mission {mission_id} on this tablet.",
    )
