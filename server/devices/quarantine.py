"""A revoked tablet's pushes: set aside, bounded, one alert per tablet (docs/sync-protocol.md
"Push", step 1).

A revoked tablet may still open a session, so what it sends is recognised and kept as
received: never verified, never in the journal. Bounds apply *before* anything is kept,
so a revoked (or stolen) tablet cannot fill the database or the desk:

- per push: at most `MAX_PUSH_ENTRIES` entries and `BATCH_CHARS` characters of JSON
  (`413 batch_too_large`, `413 body_too_large`);
- per tablet: at most `DEVICE_BATCHES` batches and `DEVICE_CHARS` characters in all;
  beyond, `403 device_revoked` and nothing more is kept;
- a batch identical to one already kept is acknowledged as kept, not kept twice (a
  revoked tablet sends its whole outbox again at every sync);
- one open `quarantined_push` alert per tablet: later pushes add to the quarantine, not
  to the desk, until the office has dealt with the alert.

Refusing keeps nothing but loses nothing either: the tablet's outbox is never
acknowledged, so its entries stay on the tablet for the office to collect by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office.anomalies import open_anomaly
from server.platform.tables import anomalies, quarantine
from shared.i18n import Text
from shared.journal import Head
from sync.protocol import MAX_PUSH_ENTRIES, ErrorCode

REASON = "device_revoked"  # the quarantine row's reason
KIND = "quarantined_push"  # the anomaly
BATCH_CHARS = 4 * 1024 * 1024  # one push, as kept (JSON text); the wire's own limit is 4 MiB
DEVICE_BATCHES = 100  # batches kept per tablet, in all
DEVICE_CHARS = 32 * 1024 * 1024  # characters kept per tablet, in all
_SEQS_LISTED = 1000  # seqs named in the alert


@dataclass(frozen=True, slots=True)
class Kept:
    """What became of a revoked tablet's push: `refused` is None when it was kept (or was
    already), else the error code, with `text` for a person in both cases."""

    refused: ErrorCode | None
    text: Text
    quarantine_id: int | None = None


SET_ASIDE = Text(
    "Cette tablette a été retirée du service : ses envois sont mis de côté au bureau, "
    "rien n'est perdu. Appelez le bureau.",
    "This tablet was taken out of service: what it sends is set aside at the office, "
    "nothing is lost. Call the office.",
)


def keep(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    label: str,
    head: Head,
    entries: Sequence[Mapping[str, Any]] | Sequence[Any],
    now: datetime,
) -> Kept:
    """Set a revoked tablet's batch aside within the bounds above; see the module docstring."""
    if len(entries) > MAX_PUSH_ENTRIES:
        return Kept(
            ErrorCode.BATCH_TOO_LARGE,
            Text(
                f"Lot trop grand : {len(entries)} entrées, {MAX_PUSH_ENTRIES} au plus.",
                f"Batch too large: {len(entries)} entries, at most {MAX_PUSH_ENTRIES}.",
            ),
        )
    body = json.dumps(list(entries), sort_keys=True, ensure_ascii=False, default=str)
    if len(body) > BATCH_CHARS:
        return Kept(
            ErrorCode.BODY_TOO_LARGE,
            Text(
                f"Envoi trop volumineux pour être mis de côté ({BATCH_CHARS} caractères au "
                "plus) : envoyez des lots plus petits.",
                f"Push too large to be set aside (at most {BATCH_CHARS} characters): send "
                "smaller batches.",
            ),
        )
    mine = sa.and_(quarantine.c.tenant_id == tenant_id, quarantine.c.device_id == device_id)
    # Compared by the database, row by row: bounded by DEVICE_BATCHES and DEVICE_CHARS.
    already = conn.execute(
        sa.select(quarantine.c.id).where(mine, quarantine.c.body == body).limit(1)
    ).scalar_one_or_none()
    if already is not None:
        return Kept(None, SET_ASIDE, int(already))
    batches, chars = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sa.func.length(quarantine.c.body)), 0)
        ).where(mine)
    ).one()
    if int(batches) >= DEVICE_BATCHES or int(chars) + len(body) > DEVICE_CHARS:
        return Kept(
            ErrorCode.DEVICE_REVOKED,
            Text(
                "Cette tablette est retirée du service et le bureau a déjà mis de côté tout "
                "ce qu'il peut garder de ses envois : rien de plus n'est accepté. Les "
                "entrées restent sur la tablette ; appelez le bureau.",
                "This tablet is out of service and the office already set aside all it "
                "keeps of its pushes: nothing more is accepted. The entries stay on the "
                "tablet; call the office.",
            ),
        )
    quarantine_id = int(
        conn.execute(
            sa.insert(quarantine)
            .values(
                tenant_id=tenant_id, device_id=device_id, reason=REASON, body=body, received_at=now
            )
            .returning(quarantine.c.id)
        ).scalar_one()
    )
    _alert_once(conn, tenant_id, device_id, label, head, entries, quarantine_id, now)
    return Kept(None, SET_ASIDE, quarantine_id)


def _alert_once(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    label: str,
    head: Head,
    entries: Sequence[Any],
    quarantine_id: int,
    now: datetime,
) -> None:
    """The tablet's alert, unless one is still open: the desk sees a revoked tablet once,
    however often it pushes (the quarantine keeps every batch)."""
    open_one = conn.execute(
        sa.select(anomalies.c.id)
        .where(
            anomalies.c.tenant_id == tenant_id,
            anomalies.c.status == "open",
            anomalies.c.kind == KIND,
            anomalies.c.device_id == device_id,
        )
        .limit(1)
    ).first()
    if open_one is not None:
        return
    seqs = [
        s
        for s in (e.get("seq") for e in entries if isinstance(e, Mapping))
        if isinstance(s, int) and not isinstance(s, bool)
    ]
    drivers = sorted(
        {
            d
            for d in (e.get("driver_id") for e in entries if isinstance(e, Mapping))
            if isinstance(d, str) and 0 < len(d) <= 64
        }
    )
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind=KIND,
        subject=device_id,
        device_id=device_id,
        driver_id=drivers[0] if len(drivers) == 1 else None,
        detail={
            "fr": f"La tablette « {label} » ({device_id}), retirée du service, envoie encore "
            f"des entrées : {len(entries)} mises de côté sans être vérifiées ni comptées "
            "(ses envois suivants aussi, sans nouvelle alerte tant que celle-ci est ouverte).",
            "en": f"Tablet “{label}” ({device_id}), taken out of service, still sends "
            f"entries: {len(entries)} set aside, neither verified nor counted (its next "
            "pushes too, with no new alert while this one is open).",
            "tablet": {"device_id": device_id, "label": label},
            "drivers": drivers[:50],
            "quarantine_id": quarantine_id,
            "entries": len(entries),
            "seqs": seqs[:_SEQS_LISTED],
            "acknowledged": {"seq": head.seq, "hash": head.hash},
            "limits": {
                "batch_chars": BATCH_CHARS,
                "device_batches": DEVICE_BATCHES,
                "device_chars": DEVICE_CHARS,
            },
        },
        now=now,
    )
