"""Serving a pull: one page of the tenant's change feed, as the device's drivers may see it.

A thin layer over `server.changes.page`: it bounds the page to the protocol's limits and
shapes the answer. The feed is numbered per tenant without gaps, so a client that stores
each page together with its `next_cursor` resumes exactly where it stopped. An empty
incremental pull is a single range read on the (tenant_id, seq) primary key.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server import changes
from sync.protocol import DEFAULT_PAGE, MAX_PAGE


@dataclass(frozen=True, slots=True)
class PullPage:
    changes: list[changes.Change]  # data None: a tombstone (the entity was removed)
    next_cursor: int
    has_more: bool

    def to_wire(self) -> dict[str, Any]:
        """The `PullResponse` body."""
        return {
            "changes": [c.to_wire() for c in self.changes],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


def pull(
    conn: sa.Connection,
    *,
    tenant_id: str,
    driver_ids: Collection[str],
    cursor: int,
    limit: int | None = None,
) -> PullPage:
    """Changes after `cursor` for a device whose drivers are `driver_ids`.

    Changes scoped to other drivers are skipped but still move the cursor, so a device
    never asks for them again and learns nothing of them but their number.
    """
    size = max(1, min(limit or DEFAULT_PAGE, MAX_PAGE, changes.MAX_PAGE))
    found, next_cursor, has_more = changes.page(
        conn, tenant_id, max(cursor, 0), frozenset(driver_ids), size
    )
    return PullPage(found, next_cursor, has_more)
