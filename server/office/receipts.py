"""The receipts drivers handed out at the roadside, made again on the server from the
tablets' signed entries (shared/receipt.py): the same figures, number and payer as the
paper or the screen the customer saw, now as a PDF the office can send
(`server.office.receipt_render`).

A receipt is found by its series (the tablet's device id) and its number, both in the
signed `collection` entry (`payload.receipt.number`); the valuation is the tablet's own
`valuation_recorded` entry the collection followed. The seller's identity is the one
the tablet printed, named by the entry (`receipt.seller` digest, found again by
`server.office.seller.as_printed`); a collection recorded before entries named it prints
the tenant's identity as it stands, and one the server cannot find prints it with a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office.seller import as_printed
from server.people.tenant_time import tenant_zone
from server.platform.errors import not_found
from server.platform.tables import drivers, entry_types, journal_entries
from shared.receipt import Receipt, build, number_of, receipt_ident, seller_ref_of


@dataclass(frozen=True, slots=True)
class Listed:
    """A receipt as the mission page lists it."""

    device_id: str
    number: int
    seq: int
    at: str
    method: str
    amount: str
    driver_id: str | None

    @property
    def ident(self) -> str:
        return receipt_ident(self.device_id, self.number)

    def to_json(self) -> dict[str, Any]:
        return {
            "receipt": self.ident,
            "device_id": self.device_id,
            "number": self.number,
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "amount": self.amount,
            "driver_id": self.driver_id,
        }


def _body(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def of_mission(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[Listed]:
    """The mission's receipts, tablet by tablet, in number order."""
    rows = conn.execute(  # ordered here, not in SQL: see entry_types
        sa.select(journal_entries.c.device_id, journal_entries.c.seq, journal_entries.c.body).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            entry_types("collection"),
        )
    ).all()
    rows = sorted(rows, key=lambda r: (r.device_id, r.seq))
    out = []
    for row in rows:
        body = _body(row.body)
        payload = body.get("payload") or {}
        number = number_of(payload)
        if number is None:
            continue
        out.append(
            Listed(
                row.device_id,
                number,
                int(row.seq),
                str(body.get("at")),
                str(payload.get("method")),
                str(payload.get("amount")),
                body.get("driver_id"),
            )
        )
    return out


def receipt(conn: sa.Connection, tenant_id: str, device_id: str, number: int) -> Receipt:
    """The receipt `number` of the tablet `device_id`; 404 when the server holds none."""
    marker = f'"receipt":{{"number":{int(number)},'  # canonical JSON: keys sorted
    rows = conn.execute(
        sa.select(journal_entries.c.seq, journal_entries.c.mission_id, journal_entries.c.body)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == device_id,
            journal_entries.c.type == "collection",
            journal_entries.c.body.contains(marker, autoescape=True),
        )
        .order_by(journal_entries.c.seq)
    ).all()
    found = [r for r in rows if number_of(_body(r.body).get("payload") or {}) == number]
    if not found:
        raise not_found("Reçu", "Receipt", receipt_ident(device_id, number))
    row = found[0]
    body = _body(row.body)
    valued = conn.execute(
        sa.select(journal_entries.c.body)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == device_id,
            journal_entries.c.mission_id == row.mission_id,
            journal_entries.c.type == "valuation_recorded",
            journal_entries.c.seq < row.seq,
        )
        .order_by(journal_entries.c.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    valuation = (_body(valued).get("payload") or {}) if valued else {}
    driver_id = body.get("driver_id")
    collection = body.get("payload") or {}
    # The identity the tablet printed (named by the entry), not necessarily today's.
    printed, note = as_printed(conn, tenant_id, seller_ref_of(collection))
    name = conn.execute(
        sa.select(drivers.c.name).where(drivers.c.tenant_id == tenant_id, drivers.c.id == driver_id)
    ).scalar_one_or_none()
    return build(
        device_id=device_id,
        at=datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00")),
        collection=collection,
        valuation=valuation.get("valuation") or {},
        mission=valuation.get("mission") or {},
        seller=printed,
        seller_note=note,
        timezone=str(tenant_zone(conn, tenant_id).key),
        driver=name or driver_id,
    )
