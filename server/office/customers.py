"""Who a beneficiary is, for the money they owe: a key that groups their invoices,
payments, credit and reminders (docs/customer-debts.md "Customers").

A beneficiary invoice's recipient is `{"customer", "name", "vehicle_plate"}`. The key is
the contract's customer id when the mission names one (a garage, a fleet: "GARAGE-DUPONT"),
else `plate:<plate>` for a private motorist, else `mission:<id>`. The same rule reads a
mission's document, so a collection on the road and an invoice meet on one key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PLATE = "plate:"
MISSION = "mission:"


def key_of(customer: object, plate: object, mission_id: str) -> str:
    if isinstance(customer, str) and customer.strip():
        return customer.strip()[:160]
    if isinstance(plate, str) and plate.strip():
        return (PLATE + "".join(plate.split()).upper())[:160]
    return (MISSION + mission_id)[:160]


def customer_key(recipient: Mapping[str, Any], mission_id: str) -> str:
    """The key of a beneficiary invoice's recipient."""
    return key_of(recipient.get("customer"), recipient.get("vehicle_plate"), mission_id)


def mission_customer_key(document: Mapping[str, Any], mission_id: str) -> str:
    """The key of a mission's beneficiary, from the mission's document."""
    plate = (document.get("vehicle") or {}).get("plate")
    return key_of(document.get("customer"), plate, mission_id)


def label(key: str) -> str:
    """The key for people: a plate without its prefix."""
    if key.startswith(PLATE):
        return key[len(PLATE) :]
    return key


def default_name(key: str) -> str:
    """The name invoicing prints for a beneficiary without one (server.office.invoicing):
    the customer id, "Client (véhicule <plate>)", or "Client"."""
    if key.startswith(PLATE):
        return f"Client (véhicule {key[len(PLATE) :]})"
    if key.startswith(MISSION):
        return "Client"
    return key
