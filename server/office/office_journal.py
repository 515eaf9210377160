"""The server's own journal: one signed hash chain per tenant, like a tablet's.

Every office act with fiscal weight (an invoice or credit note issued, a resolution, a
closing) is an entry of the chain `server:<tenant id>`, built by `shared.journal.append`,
signed with the installation's Ed25519 key and stored in `journal_entries` beside the
tablets' chains, so the same verifier (`shared.chain_verifier`) checks both with public
keys only. The head is the tenant row's `journal_seq`, bumped by an UPDATE in the
caller's transaction: concurrent writers of one tenant queue on that row lock, so the
chain never forks and never skips a number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.platform.tables import journal_entries, tenants
from shared import journal, signing

PREFIX = "server:"


def chain_id(tenant_id: str) -> str:
    """The chain's `device_id` in journal entries: `server:<tenant id>`."""
    return PREFIX + tenant_id


def append(
    conn: sa.Connection,
    tenant_id: str,
    type_: journal.EntryType | str,
    payload: Mapping[str, Any],
    *,
    key: signing.PrivateKey,
    actor: str,
    now: datetime,
    mission_id: str | None = None,
) -> journal.SignedEntry:
    """Sign and store the next entry of the tenant's server journal, in the caller's
    transaction. `actor` (the office user, or "system") goes in the entry's `driver_id`
    field: every entry names who made it."""
    seq = conn.execute(
        sa.update(tenants)
        .where(tenants.c.id == tenant_id)
        .values(journal_seq=tenants.c.journal_seq + 1)
        .returning(tenants.c.journal_seq)
    ).scalar_one()
    chain = chain_id(tenant_id)
    if seq == 1:
        head = journal.genesis(chain)
    else:
        previous = conn.execute(
            sa.select(journal_entries.c.hash).where(
                journal_entries.c.device_id == chain, journal_entries.c.seq == seq - 1
            )
        ).scalar_one()
        head = journal.Head(chain, int(seq) - 1, str(previous))
    signed = journal.append(
        head,
        type=journal.EntryType(type_),
        at=journal.utc_timestamp(now),
        driver_id=actor[:64],
        payload=payload,
        private_key=key,
    )
    entry = signed.entry
    conn.execute(
        sa.insert(journal_entries).values(
            device_id=chain,
            seq=entry.seq,
            tenant_id=tenant_id,
            type=str(entry.type),
            at=entry.at,
            driver_id=entry.driver_id,
            mission_id=mission_id,
            hash=signed.hash,
            prev_hash=entry.prev_hash,
            sig=signed.sig,
            body=entry.canonical().decode("utf-8"),
            received_at=now,
        )
    )
    return signed


def entries(
    conn: sa.Connection, tenant_id: str, *, after: int = 0, limit: int | None = None
) -> list[journal.SignedEntry]:
    """The tenant's server journal in order, read back for verification or export."""
    query = (
        sa.select(journal_entries.c.body, journal_entries.c.hash, journal_entries.c.sig)
        .where(journal_entries.c.device_id == chain_id(tenant_id), journal_entries.c.seq > after)
        .order_by(journal_entries.c.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        journal.from_wire({**json.loads(row.body), "hash": row.hash, "sig": row.sig})
        for row in conn.execute(query)
    ]
