"""'Anything new for me?': what an online tablet asks every few seconds between syncs.

One aggregate over the change feed's primary key (tenant_id, seq), read from `since` on:
the highest change this device may see (its drivers', its own, the tenant-wide ones) and
the highest of all. Nothing is written. The tablet pulls only when the first exists; the
second lets it skip, at its next question, the changes meant for other tablets, so a
question costs a range read over the changes recorded since the previous one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from server.devices.pull import scopes
from server.platform.tables import changes


@dataclass(frozen=True, slots=True)
class Probe:
    changed: bool  # a change this device may see was recorded after `since`
    cursor: int  # the last change recorded (any scope), or `since` when there is none


def probe(
    conn: sa.Connection,
    *,
    tenant_id: str,
    driver_ids: Collection[str],
    device_id: str,
    since: int,
) -> Probe:
    since = max(since, 0)
    seen = scopes(driver_ids, device_id)
    visible = sa.or_(changes.c.scope.is_(None), changes.c.scope.in_(sorted(seen)))
    row = conn.execute(
        sa.select(
            sa.func.max(changes.c.seq),
            sa.func.max(sa.case((visible, changes.c.seq), else_=None)),
        ).where(changes.c.tenant_id == tenant_id, changes.c.seq > since)
    ).one()
    last, mine = row
    return Probe(changed=mine is not None, cursor=int(last) if last is not None else since)
