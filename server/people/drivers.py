"""Drivers in the database: created with a role and a PIN (hashed), listed, and what a
tablet learns about each (`driver_data`: enough to sign in offline and to know what the
driver may do there). The caller owns the transaction, as in `server.people.identity`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.people.hashing import hash_secret
from server.people.identity import User, audit, refuse_role_above, require_role
from server.people.rights import effective_rights
from server.platform import changes
from server.platform.errors import Conflict, not_found
from server.platform.tables import drivers, roles, tenants


def driver_data(row: Any) -> dict[str, Any]:
    """What a tablet learns about a driver (pull feed and enrolment): enough to let the
    driver sign in offline and to know what the driver may do there (`rights`: the
    role's effective rights, sorted; payment rights only while the tenant's payments
    module is on), nothing more. `row` comes from `driver_rows`."""
    rights = effective_rights(bool(row.payments_enabled), row.role_rights or ())
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "pin_hash": row.pin_hash,
        "active": bool(row.active),
        "rights": sorted(r.value for r in rights),
    }


def driver_rows(conn: sa.Connection, tenant_id: str, driver_ids: Collection[str]) -> list[Any]:
    """The drivers' rows with what `driver_data` needs (the tenant's payments switch and
    the role's rights), ordered by id."""
    if not driver_ids:
        return []
    query = (
        sa.select(drivers, tenants.c.payments_enabled, roles.c.rights.label("role_rights"))
        .select_from(
            drivers.join(tenants, tenants.c.id == drivers.c.tenant_id).outerjoin(
                roles,
                sa.and_(roles.c.tenant_id == drivers.c.tenant_id, roles.c.name == drivers.c.role),
            )
        )
        .where(drivers.c.tenant_id == tenant_id, drivers.c.id.in_(sorted(set(driver_ids))))
        .order_by(drivers.c.id)
    )
    return list(conn.execute(query))


def _driver_row(conn: sa.Connection, tenant_id: str, driver_id: str) -> Any:
    found = driver_rows(conn, tenant_id, [driver_id])
    return found[0] if found else None


def create_driver(
    conn: sa.Connection,
    tenant_id: str,
    driver_id: str,
    name: str,
    pin: str,
    role: str,
    *,
    actor: str,
    now: datetime,
    grantor: User | None = None,
) -> dict[str, Any]:
    """A driver with a hashed PIN; the tablets of that driver learn it from the feed.
    `grantor`: the office user who creates it (None: the command line, the installation's
    administrator); nobody gives a driver a role above their own, as for office users."""
    rights = require_role(conn, tenant_id, role)
    if grantor is not None:
        refuse_role_above(conn, role, rights, grantor)
    if _driver_row(conn, tenant_id, driver_id) is not None:
        raise Conflict(
            f"Le chauffeur {driver_id} existe déjà.",
            f"Driver {driver_id} already exists.",
            code="driver_exists",
        )
    conn.execute(
        sa.insert(drivers).values(
            tenant_id=tenant_id,
            id=driver_id,
            name=name,
            pin_hash=hash_secret(pin),
            role=role,
            active=True,
            created_at=now,
        )
    )
    row = _driver_row(conn, tenant_id, driver_id)
    changes.record(conn, tenant_id, "driver", driver_id, driver_data(row), scope=driver_id, now=now)
    audit(conn, tenant_id, actor, "driver.create", driver_id, now, detail={"role": role})
    return driver_data(row)


def set_pin(
    conn: sa.Connection, tenant_id: str, driver_id: str, pin: str, *, actor: str, now: datetime
) -> None:
    done = conn.execute(
        sa.update(drivers)
        .where(drivers.c.tenant_id == tenant_id, drivers.c.id == driver_id)
        .values(pin_hash=hash_secret(pin))
    )
    if done.rowcount == 0:
        raise not_found("Chauffeur", "Driver", driver_id)
    row = _driver_row(conn, tenant_id, driver_id)
    changes.record(conn, tenant_id, "driver", driver_id, driver_data(row), scope=driver_id, now=now)
    audit(conn, tenant_id, actor, "driver.pin", driver_id, now)


def list_drivers(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(drivers).where(drivers.c.tenant_id == tenant_id).order_by(drivers.c.id)
    )
    return [{"id": r.id, "name": r.name, "role": r.role, "active": bool(r.active)} for r in rows]


def existing_drivers(conn: sa.Connection, tenant_id: str, driver_ids: Collection[str]) -> set[str]:
    """Which of `driver_ids` are active drivers of the tenant."""
    if not driver_ids:
        return set()
    rows = conn.execute(
        sa.select(drivers.c.id).where(
            drivers.c.tenant_id == tenant_id,
            drivers.c.id.in_(list(driver_ids)),
            drivers.c.active.is_(True),
        )
    )
    return {r.id for r in rows}


def driver_transaction_rights(
    conn: sa.Connection, tenant_id: str, driver_id: str
) -> tuple[bool, frozenset[str]]:
    """(payments_enabled, the driver's role rights): the inputs of
    `rights.transaction_refusal` for a driver's journal entry."""
    row = conn.execute(
        sa.select(tenants.c.payments_enabled, roles.c.rights)
        .select_from(
            drivers.join(tenants, tenants.c.id == drivers.c.tenant_id).outerjoin(
                roles,
                sa.and_(roles.c.tenant_id == drivers.c.tenant_id, roles.c.name == drivers.c.role),
            )
        )
        .where(drivers.c.tenant_id == tenant_id, drivers.c.id == driver_id)
    ).first()
    if row is None:
        return False, frozenset()
    return bool(row.payments_enabled), frozenset(row.rights or ())
