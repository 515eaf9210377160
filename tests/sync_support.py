"""Helpers for the sync tests (no tests here): a tenant, an enrolled tablet that writes
its signed journal, pushes through `server.devices.push.receive`, and what the server then holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.devices import push
from server.platform.tables import (
    anomalies,
    device_drivers,
    devices,
    drivers,
    journal_entries,
    quarantine,
    roles,
    tenants,
)
from shared import journal, signing
from shared.journal import EntryType, Head, SignedEntry

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
TENANT = "acme"
# The crew the tablets below write for: a role with every right a driver's entry may need,
# so tests of storing and deriving are not tests of rights (tests/test_push_trust.py is).
CREW_RIGHTS = ["approve_discount", "collect", "void_collection"]


def add_tenant(
    engine: sa.Engine,
    tenant_id: str = TENANT,
    *,
    payments: bool = True,
    crew: tuple[str, ...] = ("d1",),
) -> None:
    """A tenant with the role `crew` and the drivers `crew` (the tablets' default driver)."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tenants).values(
                id=tenant_id,
                name=tenant_id,
                payments_enabled=payments,
                settings={},
                change_seq=0,
                created_at=NOW,
            )
        )
        conn.execute(sa.insert(roles).values(tenant_id=tenant_id, name="crew", rights=CREW_RIGHTS))
        for driver_id in crew:
            add_driver(conn, tenant_id, driver_id)


def add_driver(
    conn: sa.Connection, tenant_id: str, driver_id: str, role: str = "crew", name: str = ""
) -> None:
    conn.execute(
        sa.insert(drivers).values(
            tenant_id=tenant_id,
            id=driver_id,
            name=name or driver_id.upper(),
            pin_hash="-",
            role=role,
            active=True,
            created_at=NOW,
        )
    )


@dataclass
class Tablet:
    """A tablet with its key and its own journal (the outbox is `entries`)."""

    device_id: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    entries: list[SignedEntry] = field(default_factory=list)

    @property
    def public_key(self) -> bytes:
        return signing.public_key_to_bytes(self.key.public_key())

    @property
    def head(self) -> Head:
        return self.entries[-1].head if self.entries else journal.genesis(self.device_id)

    def write(
        self,
        count: int = 1,
        *,
        type: EntryType = EntryType.MISSION_STEP,
        driver_id: str | None = "d1",
        at: str = "2026-03-10T09:00:00.000Z",
        **payload: Any,
    ) -> list[SignedEntry]:
        made = []
        for _ in range(count):
            body = payload or {"mission_id": "M-1", "n": len(self.entries) + 1}
            signed = journal.append(
                self.head,
                type=type,
                at=at,
                driver_id=driver_id,
                payload=body,
                private_key=self.key,
            )
            self.entries.append(signed)
            made.append(signed)
        return made

    def wire(self, first: int = 1, last: int | None = None) -> list[dict[str, Any]]:
        """Entries first..last (seq numbers, inclusive) as sent."""
        last = self.entries[-1].seq if last is None else last
        return [journal.to_wire(e) for e in self.entries[first - 1 : last]]


def enrol(
    engine: sa.Engine,
    tablet: Tablet,
    tenant_id: str = TENANT,
    *,
    drivers: tuple[str, ...] = ("d1",),
    label: str = "",
) -> None:
    """The tablet's row, and the drivers who may sign in on it (those of the tenant)."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(devices).values(
                id=tablet.device_id,
                tenant_id=tenant_id,
                label=label or tablet.device_id,
                public_key=tablet.public_key.hex(),
                approval_secret="00" * 32,
                approval_key_id=1,
                enrolled_at=NOW,
                head_seq=0,
            )
        )
        known = existing(conn, tenant_id, drivers)
        for driver_id in drivers:
            if driver_id in known:
                conn.execute(
                    sa.insert(device_drivers).values(
                        tenant_id=tenant_id, device_id=tablet.device_id, driver_id=driver_id
                    )
                )


def existing(conn: sa.Connection, tenant_id: str, driver_ids: tuple[str, ...]) -> set[str]:
    return set(
        conn.execute(
            sa.select(drivers.c.id).where(
                drivers.c.tenant_id == tenant_id, drivers.c.id.in_(driver_ids)
            )
        ).scalars()
    )


def send(
    engine: sa.Engine,
    tablet: Tablet,
    entries: list[dict[str, Any]],
    *,
    revoked: bool = False,
    tenant_id: str = TENANT,
    now: datetime = NOW,
) -> push.PushResult:
    """One push batch in one transaction, committed whatever the result (as the API does)."""
    with engine.begin() as conn:
        return push.receive(
            conn,
            tenant_id=tenant_id,
            device_id=tablet.device_id,
            public_key=tablet.public_key,
            entries=entries,
            revoked=revoked,
            now=now,
        )


def stored(engine: sa.Engine, device_id: str) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(journal_entries.c.seq, journal_entries.c.hash)
            .where(journal_entries.c.device_id == device_id)
            .order_by(journal_entries.c.seq)
        )
        return [(int(row.seq), row.hash) for row in rows]


def head_of(engine: sa.Engine, device_id: str) -> tuple[int, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(devices.c.head_seq, devices.c.head_hash).where(devices.c.id == device_id)
        ).one()
    return int(row.head_seq), row.head_hash


def anomalies_of(engine: sa.Engine, kind: str | None = None) -> list[Any]:
    query = sa.select(anomalies).order_by(anomalies.c.id)
    if kind is not None:
        query = query.where(anomalies.c.kind == kind)
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def quarantined(engine: sa.Engine) -> list[tuple[str, str, list[Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(quarantine).order_by(quarantine.c.id)).all()
    return [(r.device_id, r.reason, json.loads(r.body)) for r in rows]
