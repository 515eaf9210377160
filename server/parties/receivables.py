"""Receivables: what each ordering party still owes, aged by the invoice's date
(docs/claims-and-payments.md).

A claim's open amount is `amount − credited − paid` (never below zero; see
`server.parties.claim_reading`). At a date, each open claim issued on or before it falls in
one bucket by its age in days (`at − issued_on`): 0–30, 31–60, 61–90, over 90. Amounts are the
claims' current state (payments and credit notes recorded so far), aged at `at`: the
question a person chasing payments asks is "what is still unpaid today, and how late
is it", not a reconstruction of the past.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office.invoicing import timezone_of
from server.parties import claim_reading, claim_states
from server.platform.tables import claims, ordering_parties, tenants
from shared.money import from_cents, wire

# (name, first day, last day) — the last bucket has no end.
BUCKETS: Sequence[tuple[str, int, int | None]] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("over_90", 91, None),
)


def bucket_of(age_days: int) -> str:
    """The bucket of a claim `age_days` old (0 or more)."""
    for name, first, last in BUCKETS:
        if age_days >= first and (last is None or age_days <= last):
            return name
    raise ValueError(f"a claim cannot be {age_days} days old")


def local_today(conn: sa.Connection, tenant_id: str, now: datetime) -> date:
    """The tenant's calendar day at `now` (Europe/Paris unless its settings say)."""
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    return now.astimezone(ZoneInfo(timezone_of(settings or {}))).date()


def _money(cents: dict[str, int]) -> dict[str, str]:
    return {name: wire(from_cents(value)) for name, value in cents.items()}


def receivables(
    conn: sa.Connection, tenant_id: str, at: date, *, party_id: str | None = None
) -> dict[str, Any]:
    """Per ordering party: open amounts by age bucket at `at`, the party's total and the
    number of open claims; then the totals of every party. Amounts are strings."""
    query = sa.select(claims).where(
        claims.c.tenant_id == tenant_id,
        claims.c.status.in_([s.value for s in claim_states.OPEN]),
        claims.c.issued_on <= at,
    )
    if party_id is not None:
        query = query.where(claims.c.party_id == party_id)
    rows = conn.execute(query.order_by(claims.c.party_id, claims.c.issued_on)).all()
    credited = claim_reading.credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    names = {
        str(r.id): str(r.name)
        for r in conn.execute(
            sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
                ordering_parties.c.tenant_id == tenant_id
            )
        )
    }
    empty = {name: 0 for name, _, _ in BUCKETS}
    parties: dict[str, dict[str, Any]] = {}
    totals = dict(empty)
    for row in rows:
        owed = claim_reading.accounts_of(row, credited.get(row.invoice_number, 0)).open
        if owed <= 0:
            continue
        bucket = bucket_of((at - row.issued_on).days)
        party = parties.setdefault(
            row.party_id, {"buckets": dict(empty), "claims": 0, "oldest": row.issued_on}
        )
        party["buckets"][bucket] += owed
        party["claims"] += 1
        party["oldest"] = min(party["oldest"], row.issued_on)
        totals[bucket] += owed
    return {
        "at": at.isoformat(),
        "parties": [
            {
                "party_id": pid,
                "name": names.get(pid),
                "claims": data["claims"],
                "oldest_invoice": data["oldest"].isoformat(),
                "buckets": _money(data["buckets"]),
                "total": wire(from_cents(sum(data["buckets"].values()))),
            }
            for pid, data in sorted(parties.items())
        ],
        "totals": {
            "claims": sum(p["claims"] for p in parties.values()),
            "buckets": _money(totals),
            "total": wire(from_cents(sum(totals.values()))),
        },
    }
