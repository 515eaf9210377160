"""Where a mission is, and who asked for it: the places and the beneficiary an order
carried, which stay on the order (docs/orders.md: the mission document has neither).

Read from the phone order taken at the desk when there is one (server.parties.phone_orders),
else from the latest order the mission was made from (`orders.cleaned`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.platform.db import in_chunks
from server.platform.tables import orders, phone_orders


@dataclass(frozen=True, slots=True)
class OrderPlaces:
    start: str | None  # "12 rue de la Gare, 69007 Lyon"
    end: str | None
    caller: str | None  # the beneficiary's or caller's name
    phone: str | None
    note: str | None  # what the caller said (phone orders)
    by_phone: bool


def place_text(place: object) -> str | None:
    """A place for people: address, postcode and city."""
    if not isinstance(place, Mapping):
        return None
    town = " ".join(str(place[k]) for k in ("postcode", "city") if place.get(k))
    parts = [str(place["address"])] if place.get("address") else []
    if town:
        parts.append(town)
    return ", ".join(parts) or None


def _from_order(cleaned: str) -> OrderPlaces | None:
    try:
        order = json.loads(cleaned)
    except (TypeError, ValueError):
        return None
    if not isinstance(order, Mapping):
        return None
    places: Mapping[str, Any] = order["places"] if isinstance(order.get("places"), Mapping) else {}
    who: Mapping[str, Any] = (
        order["beneficiary"] if isinstance(order.get("beneficiary"), Mapping) else {}
    )
    return OrderPlaces(
        start=place_text(places.get("from")),
        end=place_text(places.get("to")),
        caller=who.get("name"),
        phone=who.get("phone"),
        note=None,
        by_phone=False,
    )


def places_of(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, OrderPlaces]:
    """{mission: its places and caller}, for the missions an order or a call made."""
    out: dict[str, OrderPlaces] = {}
    chunks = in_chunks(mission_ids)
    for chunk in chunks:
        rows = conn.execute(
            sa.select(orders.c.mission_id, orders.c.cleaned)
            .where(orders.c.tenant_id == tenant_id, orders.c.mission_id.in_(chunk))
            .order_by(orders.c.received_at, orders.c.id)
        )
        for row in rows:  # the latest order wins
            found = _from_order(row.cleaned)
            if found is not None:
                out[row.mission_id] = found
        calls = conn.execute(
            sa.select(phone_orders)
            .where(phone_orders.c.tenant_id == tenant_id, phone_orders.c.mission_id.in_(chunk))
            .order_by(phone_orders.c.taken_at, phone_orders.c.id)
        )
        for call in calls:
            places = call.places if isinstance(call.places, Mapping) else {}
            out[call.mission_id] = OrderPlaces(
                start=place_text(places.get("from")),
                end=place_text(places.get("to")),
                caller=call.caller_name,
                phone=call.caller_phone,
                note=call.note,
                by_phone=True,
            )
    return out
