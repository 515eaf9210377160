"""Serving a pull: one page of the tenant's change feed, as the device's drivers may see it.

A thin layer over `server.platform.changes.page`: it bounds the page to the protocol's limits and
shapes the answer. The feed is numbered per tenant without gaps, so a client that stores
each page together with its `next_cursor` resumes exactly where it stopped. An empty
incremental pull is a single range read on the (tenant_id, seq) primary key.

`pull_json` serves the HTTP answer: each change's data is already stored as JSON text
(written by `server.platform.changes.record` from plain, float-free data), so it is copied into
the answer as it is rather than parsed and written again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

import sqlalchemy as sa

from server.platform import changes
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


def scopes(driver_ids: Collection[str], device_id: str | None) -> frozenset[str]:
    """What a device may see beside the tenant-wide changes: its drivers' changes and,
    given its id, the changes meant for it alone (`changes.device_scope`)."""
    own = {changes.device_scope(device_id)} if device_id is not None else set()
    return frozenset(driver_ids) | own


def pull(
    conn: sa.Connection,
    *,
    tenant_id: str,
    driver_ids: Collection[str],
    cursor: int,
    limit: int | None = None,
    device_id: str | None = None,
) -> PullPage:
    """Changes after `cursor` for a device whose drivers are `driver_ids` (and, with
    `device_id`, the changes scoped to that device).

    Changes scoped to other drivers or devices are skipped but still move the cursor, so
    a device never asks for them again and learns nothing of them but their number.
    """
    found, next_cursor, has_more = changes.page(
        conn, tenant_id, max(cursor, 0), scopes(driver_ids, device_id), _size(limit)
    )
    return PullPage(found, next_cursor, has_more)


def pull_json(
    conn: sa.Connection,
    *,
    tenant_id: str,
    driver_ids: Collection[str],
    cursor: int,
    limit: int | None = None,
    device_id: str | None = None,
) -> str:
    """The page `pull` returns, as the JSON text of its `PullResponse` body (the same
    value as `json.dumps(pull(...).to_wire())`), built without parsing the stored data."""
    rows, next_cursor, has_more = changes.stored_page(
        conn, tenant_id, max(cursor, 0), scopes(driver_ids, device_id), _size(limit)
    )
    items = ",".join(
        f'{{"data":{"null" if data is None else data},"id":{_json_string(entity_id)},'
        f'"kind":{_json_string(kind)},"seq":{seq}}}'
        for seq, kind, entity_id, data in rows
    )
    more = "true" if has_more else "false"
    return f'{{"changes":[{items}],"has_more":{more},"next_cursor":{next_cursor}}}'


def _size(limit: int | None) -> int:
    return max(1, min(limit or DEFAULT_PAGE, MAX_PAGE, changes.MAX_PAGE))
