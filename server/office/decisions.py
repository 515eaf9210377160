"""Office decisions the tablets apply (docs/sync-protocol.md "Office decisions").

A decision is stored once (table `decisions`), announced as a `decision` change of the
pull feed (id = the decision id, `data` = the decision) and audited, all in the caller's
transaction. Its scope says which tablets receive it:

- `void_collection`: the office voids a collection; the collecting driver's tablets
  receive it, and the tablet that recorded the collection writes a `reversal` entry
  citing the decision. A collection is voided at most once. When no invoice bills the
  beneficiary, the customer gets a refund receipt (`refund_receipts`); when one does,
  the invoice answers (a resolution's credit note, or the invoice open again).
- `discount` / `deferral`: approved after the fact; the mission's driver's tablets
  record a `discount` / `deferral` entry with `approval_ref` "office:<decision id>".
- `unlock_approvals`: the tablet's wrong approval codes are forgotten (for one mission
  or all); only that tablet receives it (scope `device:<id>`).

Every query is scoped by the tenant; input shapes are checked before (API or command
line schemas), what needs the database is checked here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from server.office import approvals, refund_receipts
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import decisions, devices, journal_entries, missions
from shared.journal import EntryType
from shared.money import wire

VOID_COLLECTION = "void_collection"
DISCOUNT = "discount"
DEFERRAL = "deferral"
UNLOCK_APPROVALS = "unlock_approvals"
TYPES = (VOID_COLLECTION, DISCOUNT, DEFERRAL, UNLOCK_APPROVALS)
MAX_SEQ = 2**63 - 1  # journal seqs are BIGINT


def new_id() -> str:
    return "dec_" + secrets.token_hex(10)


def _record(
    conn: sa.Connection,
    tenant_id: str,
    type_: str,
    body: Mapping[str, Any],
    *,
    scope: str,
    actor: str,
    now: datetime,
    reason: str | None = None,
    mission_id: str | None = None,
    device_id: str | None = None,
    entry_seq: int | None = None,
    driver_id: str | None = None,
) -> dict[str, Any]:
    """Store the decision, announce it to the tablets of `scope`, audit it; returns its
    data (what the tablets receive)."""
    decision_id = new_id()
    data = {
        "id": decision_id,
        "type": type_,
        **body,
        "decided_by": actor,
        "decided_at": now.astimezone(UTC).isoformat(),
    }
    conn.execute(
        sa.insert(decisions).values(
            tenant_id=tenant_id,
            id=decision_id,
            type=type_,
            mission_id=mission_id,
            device_id=device_id,
            entry_seq=entry_seq,
            driver_id=driver_id,
            data=json.dumps(data, sort_keys=True, ensure_ascii=False),
            decided_by=actor,
            decided_at=now,
        )
    )
    changes.record(conn, tenant_id, "decision", decision_id, data, scope=scope, now=now)
    audit(conn, tenant_id, actor, f"decision.{type_}", decision_id, now, reason=reason, detail=data)
    return data


# --- voiding a collection ---------------------------------------------------------------


def _collection_entry(conn: sa.Connection, tenant_id: str, device_id: str, seq: int) -> Any:
    """The stored `collection` entry (locked until the transaction ends, so two voids of
    one collection queue), or the refusal."""
    ref = f"{device_id}#{seq}"
    row = None
    if 1 <= seq <= MAX_SEQ:
        row = conn.execute(
            sa.select(journal_entries)
            .where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.device_id == device_id,
                journal_entries.c.seq == seq,
            )
            .with_for_update()
        ).first()
    if row is None:
        raise not_found("Écriture", "Journal entry", ref)
    if row.type != EntryType.COLLECTION.value:
        raise Unprocessable(
            f"L'écriture {ref} n'est pas un encaissement ({row.type}) : seul un encaissement "
            "peut être annulé.",
            f"Entry {ref} is not a collection ({row.type}): only a collection can be voided.",
            code="not_a_collection",
        )
    voided = conn.execute(
        sa.select(decisions.c.id, decisions.c.decided_by, decisions.c.decided_at).where(
            decisions.c.tenant_id == tenant_id,
            decisions.c.type == VOID_COLLECTION,
            decisions.c.device_id == device_id,
            decisions.c.entry_seq == seq,
        )
    ).first()
    if voided is not None:
        when = voided.decided_at.strftime("%Y-%m-%d %H:%M UTC")
        raise Conflict(
            f"L'encaissement {ref} est déjà annulé (décision {voided.id}, par "
            f"{voided.decided_by}, le {when}).",
            f"Collection {ref} is already voided (decision {voided.id}, by "
            f"{voided.decided_by}, on {when}).",
            code="collection_already_voided",
        )
    return row


def void_collection(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    seq: int,
    reason: str,
    *,
    actor: str,
    now: datetime,
    key: Any = None,
) -> dict[str, Any]:
    """Void the collection recorded as entry `seq` of the tablet `device_id`. With the
    server's signing `key` (every caller but a few tests passes it), a refund receipt is
    issued when no invoice bills the beneficiary (`refund_receipts`): returned as
    `refund_receipt` (its number), None when an invoice answers the void instead."""
    entry = _collection_entry(conn, tenant_id, device_id, seq)
    payload = json.loads(entry.body).get("payload") or {}
    body = {
        "mission_id": entry.mission_id,
        "driver_id": entry.driver_id,
        "collection": {"device_id": device_id, "seq": int(entry.seq), "hash": entry.hash},
        "method": payload.get("method"),
        "amount": payload.get("amount"),
        "reason": reason,
    }
    decided = _record(
        conn,
        tenant_id,
        VOID_COLLECTION,
        body,
        # The collecting driver's tablets; an entry without a driver, its tablet alone.
        scope=entry.driver_id or changes.device_scope(device_id),
        actor=actor,
        now=now,
        reason=reason,
        mission_id=entry.mission_id,
        device_id=device_id,
        entry_seq=int(entry.seq),
        driver_id=entry.driver_id,
    )
    if key is None:
        return decided
    refund = refund_receipts.issue_for_void(
        conn, tenant_id, decided, payload, key=key, actor=actor, now=now
    )
    return {**decided, "refund_receipt": refund["number"] if refund else None}


# --- a discount or a deferral approved by the office ------------------------------------


def approve(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    kind: str,
    amount: object,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A discount or a deferral of `amount` on the mission, for its driver's tablets."""
    chosen = approvals.kind_of(kind).value
    value = approvals.positive_amount(amount)
    row = conn.execute(
        sa.select(missions.c.driver_id).where(
            missions.c.tenant_id == tenant_id, missions.c.id == mission_id
        )
    ).first()
    if row is None:
        raise not_found("Mission", "Mission", mission_id)
    if row.driver_id is None:
        raise Conflict(
            f"La mission {mission_id} n'a pas de chauffeur : aucune tablette ne peut "
            "appliquer cette décision. Assignez-la d'abord.",
            f"Mission {mission_id} has no driver: no tablet can apply this decision. "
            "Assign it first.",
            code="mission_unassigned",
        )
    body = {
        "mission_id": mission_id,
        "driver_id": row.driver_id,
        "amount": wire(value),
        "reason": reason,
    }
    return _record(
        conn,
        tenant_id,
        chosen,
        body,
        scope=row.driver_id,
        actor=actor,
        now=now,
        reason=reason,
        mission_id=mission_id,
        driver_id=row.driver_id,
    )


# --- unlocking a tablet's approval codes ------------------------------------------------


def unlock_approvals(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    mission_id: str | None,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Clear the tablet's wrong approval codes: for one mission, or all (None)."""
    device = conn.execute(
        sa.select(devices.c.revoked_at).where(
            devices.c.tenant_id == tenant_id, devices.c.id == device_id
        )
    ).first()
    if device is None:
        raise not_found("Tablette", "Device", device_id)
    if device.revoked_at is not None:
        raise Conflict(
            f"La tablette {device_id} est révoquée : elle ne recevrait pas ce déblocage.",
            f"Device {device_id} is revoked: it would never receive this unlock.",
            code="device_revoked",
        )
    if mission_id is not None:
        known = conn.execute(
            sa.select(missions.c.id).where(
                missions.c.tenant_id == tenant_id, missions.c.id == mission_id
            )
        ).first()
        if known is None:
            raise not_found("Mission", "Mission", mission_id)
    return _record(
        conn,
        tenant_id,
        UNLOCK_APPROVALS,
        {"device_id": device_id, "mission_id": mission_id},
        scope=changes.device_scope(device_id),
        actor=actor,
        now=now,
        mission_id=mission_id,
        device_id=device_id,
    )
