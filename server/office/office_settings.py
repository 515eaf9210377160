"""Settings the office keeps as versioned documents: the payment terms and reminder
delays of beneficiaries (`server.office.debt_terms`), the chart of accounts
(`server.office.accounts`).

A change is a new version; no version is ever changed or deleted (table
`office_settings`, append-only), so a report or an export can always say which terms it
applied. Setting the same document again adds nothing. The checks belong to the module
that owns the document: it passes them in already checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.people.identity import audit
from server.platform.tables import office_settings


def latest(conn: sa.Connection, tenant_id: str, name: str) -> dict[str, Any] | None:
    """{"version", "document", "set_at", "set_by"} of the latest version, or None."""
    row = conn.execute(
        sa.select(office_settings)
        .where(office_settings.c.tenant_id == tenant_id, office_settings.c.name == name)
        .order_by(office_settings.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "version": int(row.version),
        "document": dict(row.document),
        "set_at": row.set_at,
        "set_by": row.set_by,
    }


def history(conn: sa.Connection, tenant_id: str, name: str) -> list[dict[str, Any]]:
    """Every version, oldest first."""
    rows = conn.execute(
        sa.select(office_settings)
        .where(office_settings.c.tenant_id == tenant_id, office_settings.c.name == name)
        .order_by(office_settings.c.version)
    )
    return [
        {
            "version": int(r.version),
            "document": dict(r.document),
            "set_at": r.set_at,
            "set_by": r.set_by,
        }
        for r in rows
    ]


def store(
    conn: sa.Connection,
    tenant_id: str,
    name: str,
    document: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Add `document` (checked by its owner) as the next version, unless it is the
    latest already; returns the version in force."""
    current = latest(conn, tenant_id, name)
    if current is not None and current["document"] == dict(document):
        return current
    version = 1 if current is None else current["version"] + 1
    conn.execute(
        sa.insert(office_settings).values(
            tenant_id=tenant_id,
            name=name,
            version=version,
            document=dict(document),
            set_at=now,
            set_by=actor[:64],
        )
    )
    audit(conn, tenant_id, actor, f"settings.{name}", str(version), now, detail=dict(document))
    return {"version": version, "document": dict(document), "set_at": now, "set_by": actor}


def in_force(
    conn: sa.Connection, tenant_id: str, name: str, moment: datetime
) -> dict[str, Any] | None:
    """The version set at or before `moment` (the one that applied then), or None."""
    row = conn.execute(
        sa.select(office_settings)
        .where(
            office_settings.c.tenant_id == tenant_id,
            office_settings.c.name == name,
            office_settings.c.set_at <= moment,
        )
        .order_by(office_settings.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "version": int(row.version),
        "document": dict(row.document),
        "set_at": row.set_at,
        "set_by": row.set_by,
    }
