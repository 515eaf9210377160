"""The tenant's limits on cash, as the server last announced them (pull feed kind
`cash_limits`, docs/sync-protocol.md "Change kinds").

Kept in the tablet's `meta` table; a collection in cash is held to the `resident` limit
(shared.cash_rule.on_site_limit), the law's 1 000 € until the tenant sets a stricter one.
A tombstone or a change this version cannot read changes nothing: the tablet never
loosens a limit by accident, and never above the law's whatever it holds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fieldclient import store
from shared.cash_rule import KIND, on_site_limit

META_KEY = "cash_limits"  # meta: the limits as the pull feed gave them (JSON)
__all__ = ["KIND", "keep", "limit"]


def keep(db: sqlite3.Connection, data: object) -> bool:
    """Apply a `cash_limits` change (inside the pull page's transaction); returns whether
    it was kept."""
    if not isinstance(data, Mapping) or not isinstance(data.get("resident"), str):
        return False
    kept: dict[str, Any] = {
        k: data[k] for k in ("version", "resident", "non_resident") if k in data
    }
    store.set_meta(db, META_KEY, json.dumps(kept, sort_keys=True))
    return True


def limit(db: sqlite3.Connection) -> Decimal:
    """The limit on cash per mission on this tablet now."""
    text = store.get_meta(db, META_KEY)
    try:
        held = json.loads(text) if text else None
    except ValueError:
        held = None
    return on_site_limit(held if isinstance(held, Mapping) else None)
