"""What reconciliation reads of a tablet's entry, written beside it when it is stored.

A push's reconciliation must cost what the push touched, not what the tenant holds. Two
columns of `journal_entries`, derived from the entry once, when it is stored
(`server.devices.journal_store`), make that so:

- `facts`: the payload's fields the rules read (amounts, steps, references; see
  `RULE_KEYS`), as canonical JSON, a few dozen bytes where the body is several hundred:
  a mission's history is read without parsing a single body;
- `ref`: the key that finds the entries a new one is judged with, through an index: a
  card payment's (terminal reference, amount), the approval code a discount or a
  deferral cites, the collection a reversal takes back.

A row without `facts` (stored before migration 0006 wrote them, or by a writer that
does not, as some tests do) is read from its body as before, so the columns are a
shortcut, never a second truth: `server.office.reconcile` checks such rows too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from server.office.reconcile_rules import Item, cents, normalise_ref
from server.platform.tables import journal_entries
from shared.canonical import canonical_json, plain

# Every payload field a reconciliation rule reads (server.office.reconcile_rules,
# server.office.card_days): adding a rule that reads another field means adding it here
# and writing the column again for the rows already stored (as migration 0006 does).
RULE_KEYS = frozenset(
    {
        "mission_id",
        "amount",
        "method",
        "terminal_ref",
        "reverses",
        "from",
        "to",
        "remaining",
        "approval_ref",
        "reason",
        "variance",
        "counted",
        "expected",
    }
)
REF_LENGTH = 200  # the column's size; longer keys are stored as their digest
IN_CHUNK = 1000  # values per IN list
CARD, APPROVAL, REVERSES = "card:", "approval:", "reverses:"


def rule_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's fields the rules read, as plain JSON data: what `facts` holds."""
    facts: dict[str, Any] = plain({k: v for k, v in payload.items() if k in RULE_KEYS})
    return facts


def facts_of(payload: Mapping[str, Any]) -> str:
    """The payload's fields the rules read, as canonical JSON."""
    return canonical_json({k: v for k, v in payload.items() if k in RULE_KEYS}).decode("utf-8")


def ref_of(type_: str, payload: Mapping[str, Any]) -> str | None:
    """The lookup key of an entry, or None when no check looks it up."""
    if type_ == "collection":
        if payload.get("method") != "card":
            return None
        try:
            amount = cents(payload["amount"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return None  # unreadable: the check of this very entry says so, when pushed
        return card_key(str(payload.get("terminal_ref", "")), amount)
    if type_ in ("discount", "deferral"):
        ref = payload.get("approval_ref")
        return None if ref is None else approval_key(str(ref))
    if type_ == "reversal":
        reverses = payload.get("reverses")
        if isinstance(reverses, Mapping) and isinstance(reverses.get("hash"), str):
            return reversal_key(reverses["hash"])
    return None


def card_key(terminal_ref: str, amount_cents: int) -> str:
    """What a settlement line matches a card payment by (`card_findings`)."""
    return _bounded(CARD, f"{normalise_ref(terminal_ref)}:{amount_cents}")


def approval_key(ref: str) -> str:
    return _bounded(APPROVAL, ref)


def reversal_key(collection_hash: str) -> str:
    return _bounded(REVERSES, collection_hash)


def _bounded(kind: str, text: str) -> str:
    key = kind + text
    if len(key) <= REF_LENGTH:
        return key
    return f"{kind}#{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def columns(type_: str, payload: Mapping[str, Any]) -> dict[str, str | None]:
    """The two columns of a tablet entry's row."""
    return {"facts": facts_of(payload), "ref": ref_of(type_, payload)}


# Entries a reconciliation counts however often they repeat: the money its rules add up
# and the disputes each raised on its own. Any other entry that repeats an earlier one of
# its tablet and mission changes no verdict (server.office.reconcile `_entries`).
EVERY_ONE = frozenset({"collection", "discount", "deferral", "reversal", "dispute"})


def mark_repeats(
    conn: sa.Connection, tenant_id: str, device_id: str, rows: list[dict[str, Any]]
) -> None:
    """Set each new row's `repeats`: True when it repeats an earlier entry of the tablet
    and mission (same driver, type and facts; not one of `EVERY_ONE`), else None. The
    earlier ones are looked up among the first occurrences already stored for the batch's
    missions (the partial index `ix_journal_mission_firsts`), so the cost follows what those
    missions hold that matters, not their history."""
    for row in rows:
        row["repeats"] = None
    candidates = [
        r
        for r in rows
        if r["mission_id"] is not None and r["facts"] is not None and r["type"] not in EVERY_ONE
    ]
    if not candidates:
        return
    j = journal_entries.c
    seen: set[tuple[Any, ...]] = set()
    missions = sorted({r["mission_id"] for r in candidates})
    for start in range(0, len(missions), IN_CHUNK):
        seen.update(
            tuple(row)
            for row in conn.execute(
                sa.select(j.driver_id, j.type, j.mission_id, j.facts).where(
                    j.tenant_id == tenant_id,
                    j.mission_id.in_(missions[start : start + IN_CHUNK]),
                    j.repeats.is_(None),
                    j.device_id == device_id,
                )
            )
        )
    for r in candidates:
        key = (r["driver_id"], r["type"], r["mission_id"], r["facts"])
        if key in seen:
            r["repeats"] = True
        else:
            seen.add(key)


# --- reading them back (server.office.reconcile) ---------------------------------------------

# What an item is made of: the facts the rules read, written when the entry was stored
# (above); the body only for a row stored without them.
ITEM_COLUMNS = (
    journal_entries.c.device_id,
    journal_entries.c.seq,
    journal_entries.c.type,
    journal_entries.c.at,
    journal_entries.c.driver_id,
    journal_entries.c.hash,
    journal_entries.c.facts,
    sa.case((journal_entries.c.facts.is_(None), journal_entries.c.body)).label("body"),
)


def items_of(rows: Iterable[Any], *, received: bool = False) -> Iterator[Item]:
    """Stored entries as items; `received`: the rows carry `received_at` (card checks)."""
    loads = json.loads
    # Unpacked by position (ITEM_COLUMNS' order), not by name: a whole reconciliation
    # reads every entry of the tenant, and a Row's attributes cost more than its items.
    for device_id, seq, type_, at, driver_id, hash_, facts, body, *more in rows:
        yield Item(
            device_id,
            int(seq),
            type_,
            at,
            driver_id,
            loads(facts) if facts is not None else loads(body)["payload"],
            hash_,
            more[0] if received else None,
        )


def typed(
    conn: sa.Connection,
    tenant_id: str,
    types: Sequence[str],
    *,
    refs: Iterable[str] | None = None,
) -> list[Item]:
    """A tenant's entries of `types`, in device order. With `refs`, only those a check
    finds by one of these keys (`ref_of`): through the index, and among rows stored
    without facts (a partial index finds them) by their payload."""
    query = sa.select(*ITEM_COLUMNS, journal_entries.c.received_at).where(
        journal_entries.c.tenant_id == tenant_id, journal_entries.c.type.in_(types)
    )
    order = (journal_entries.c.device_id, journal_entries.c.seq)
    if refs is None:
        return list(items_of(conn.execute(query.order_by(*order)), received=True))
    keys = sorted(set(refs))
    found: dict[tuple[str, int], Item] = {}
    # A key names its entry's type (its prefix): the type is checked here, not in the
    # lookup, or the database would rather walk the tenant's entries of that type.
    keyed = sa.select(*ITEM_COLUMNS, journal_entries.c.received_at).where(
        journal_entries.c.tenant_id == tenant_id
    )
    for start in range(0, len(keys), IN_CHUNK):
        chunk = keys[start : start + IN_CHUNK]
        rows = conn.execute(keyed.where(journal_entries.c.ref.in_(chunk)))
        found.update(
            ((i.device_id, i.seq), i) for i in items_of(rows, received=True) if i.type in types
        )
    wanted = set(keys)
    unread = conn.execute(query.where(journal_entries.c.facts.is_(None)))
    found.update(
        ((i.device_id, i.seq), i)
        for i in items_of(unread, received=True)
        if ref_of(i.type, i.payload) in wanted
    )
    return [found[key] for key in sorted(found)]
