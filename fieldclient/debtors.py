"""What the server last said of a mission's customer: what they owe on other invoices and
the tenant's choice for "bill later" (pull feed kind `debtor`, docs/sync-protocol.md
"Debtors").

Kept in the tablet's `meta` table (`debtor:<mission id>`), the latest per mission; only
the pull writes it. `shared.debtor_rule.check_deferral` decides, offline, whether the
driver may defer: a tablet that never learnt the flag (pulled before the server sent it)
allows, and reconciliation raises `deferral_to_debtor` when it should not have.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from fieldclient import store
from shared.debtor_rule import DEFAULT, SETTINGS, DebtorFlag, Verdict, check_deferral
from shared.debtor_rule import flag_from_wire as _flag_from_wire

KIND = "debtor"
SETTING_KIND = "debtor_deferral"  # the tenant's new choice, for every mission
PREFIX = "debtor:"
SETTING = "debtor_deferral"  # meta key: {"deferral", "seq"} of the latest choice pulled


def keep(db: sqlite3.Connection, change: Mapping[str, Any]) -> bool:
    """Apply a `debtor` change (inside the pull page's transaction); one this version
    cannot read changes nothing. Returns whether it was kept."""
    data = change.get("data")
    if not isinstance(data, Mapping):
        return False
    try:
        _flag_from_wire(data)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return False
    if data.get("deferral") not in SETTINGS:
        return False
    held = {**dict(data), "seq": int(change.get("seq") or 0)}
    store.set_meta(db, PREFIX + str(change.get("id")), json.dumps(held, sort_keys=True))
    return True


def keep_setting(db: sqlite3.Connection, change: Mapping[str, Any]) -> bool:
    """Apply a `debtor_deferral` change: the tenant's choice, newer than what the
    missions' own `debtor` changes carried."""
    data = change.get("data")
    if not isinstance(data, Mapping) or data.get("debtor_deferral") not in SETTINGS:
        return False
    held = {"deferral": data["debtor_deferral"], "seq": int(change.get("seq") or 0)}
    store.set_meta(db, SETTING, json.dumps(held, sort_keys=True))
    return True


def known(db: sqlite3.Connection, mission_id: str) -> tuple[DebtorFlag | None, str]:
    """The mission's customer's flag and the tenant's choice, as last pulled."""
    held = store.get_meta(db, PREFIX + mission_id)
    tenant = store.get_meta(db, SETTING)
    choice: dict[str, Any] = json.loads(tenant) if tenant else {"deferral": DEFAULT, "seq": 0}
    if held is None:
        return None, str(choice["deferral"])
    data: dict[str, Any] = json.loads(held)
    newer = choice if int(choice["seq"]) > int(data.get("seq") or 0) else data
    return _flag_from_wire(data), str(newer["deferral"])


def verdict(db: sqlite3.Connection, mission_id: str) -> Verdict:
    flag, setting = known(db, mission_id)
    return check_deferral(flag, setting)
