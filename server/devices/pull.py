"""Serving a pull: one page of the tenant's change feed, as the device's drivers may see it.

A thin layer over `server.platform.changes.page`: it bounds the page to the protocol's limits and
shapes the answer. The feed is numbered per tenant without gaps, so a client that stores
each page together with its `next_cursor` resumes exactly where it stopped. An empty
incremental pull is a single range read on the (tenant_id, seq) primary key.

`pull_json` serves the HTTP answer: each change's data is already stored as JSON text
(written by `server.platform.changes.record` from plain, float-free data), so it is copied into
the answer as it is rather than parsed and written again.

Each `mission` change carrying a document is followed by a `debtor` change, computed as
the page is served and never stored (so it shares the mission change's `seq` and does not
count against the page's limit): what the mission's customer owes on other invoices and
the tenant's choice for "bill later" (docs/sync-protocol.md "Debtors").
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

import sqlalchemy as sa

from server.office import debtor_deferral
from server.platform import changes
from shared.debtor_rule import flag_to_wire
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
    debtors = _debtors(conn, tenant_id, [(c.seq, c.kind, c.entity_id, c.data) for c in found])
    with_debtors: list[changes.Change] = []
    for change in found:
        with_debtors.append(change)
        if (change.seq, change.entity_id) in debtors:
            data = debtors[change.seq, change.entity_id]
            with_debtors.append(changes.Change(change.seq, DEBTOR, change.entity_id, data))
    return PullPage(with_debtors, next_cursor, has_more)


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
    missions = [
        (seq, kind, entity_id, json.loads(data))
        for seq, kind, entity_id, data in rows
        if kind == MISSION and data is not None
    ]
    debtors = _debtors(conn, tenant_id, missions)
    items = ",".join(
        f'{{"data":{"null" if data is None else data},"id":{_json_string(entity_id)},'
        f'"kind":{_json_string(kind)},"seq":{seq}}}'
        + (
            f',{{"data":{json.dumps(debtors[seq, entity_id], sort_keys=True)},'
            f'"id":{_json_string(entity_id)},"kind":"{DEBTOR}","seq":{seq}}}'
            if (seq, entity_id) in debtors
            else ""
        )
        for seq, kind, entity_id, data in rows
    )
    more = "true" if has_more else "false"
    return f'{{"changes":[{items}],"has_more":{more},"next_cursor":{next_cursor}}}'


MISSION = "mission"
DEBTOR = "debtor"


def _debtors(
    conn: sa.Connection, tenant_id: str, rows: list[tuple[int, str, str, Any]]
) -> dict[tuple[int, str], dict[str, Any]]:
    """The `debtor` data to follow each mission change (by seq and mission id)."""
    documents = {
        (seq, entity_id): data["document"]
        for seq, kind, entity_id, data in rows
        if kind == MISSION
        and isinstance(data, Mapping)
        and isinstance(data.get("document"), Mapping)
    }
    if not documents:
        return {}
    choice = debtor_deferral.current(conn, tenant_id)
    flags = debtor_deferral.mission_flags(
        conn, tenant_id, {entity_id: document for (_, entity_id), document in documents.items()}
    )
    return {
        (seq, entity_id): {
            "mission_id": entity_id,
            **flag_to_wire(flags[entity_id]),
            "deferral": choice,
        }
        for seq, entity_id in documents
    }


def _size(limit: int | None) -> int:
    return max(1, min(limit or DEFAULT_PAGE, MAX_PAGE, changes.MAX_PAGE))
