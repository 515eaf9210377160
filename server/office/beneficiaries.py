"""Who pays on site, on the server: the order's beneficiary (the mission document's
`beneficiary` block) unless a driver captured them, in a signed `beneficiary_recorded`
entry (shared/beneficiary.py). The latest entry the server received wins, the same rule
as on the tablet. The beneficiary's invoice names them (`server.office.invoicing`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from server.platform.tables import entry_types, journal_entries
from shared.beneficiary import ENTRY_TYPE, Beneficiary, current


def of_mission(
    conn: sa.Connection, tenant_id: str, mission_id: str, document: Mapping[str, Any] | None
) -> Beneficiary | None:
    """The beneficiary as the server knows them now (None: nobody named)."""
    rows = conn.execute(  # ordered here, not in SQL: see entry_types
        sa.select(
            journal_entries.c.body,
            journal_entries.c.received_at,
            journal_entries.c.device_id,
            journal_entries.c.seq,
        ).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            entry_types(ENTRY_TYPE),
        )
    ).all()
    rows = sorted(rows, key=lambda r: (r.received_at, r.device_id, r.seq))
    payloads = []
    for row in rows:
        payload = json.loads(row.body).get("payload")
        if isinstance(payload, Mapping):
            payloads.append(payload)
    return current(document, payloads)


def recipient_fields(who: Beneficiary | None) -> dict[str, Any]:
    """What a beneficiary's invoice adds to its recipient: the postal address (lines
    below the name), never the phone or the e-mail."""
    if who is None:
        return {}
    lines = who.postal_lines()
    address = lines[1:] if who.name else lines
    return {"address": address} if address else {}
