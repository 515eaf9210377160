"""The lookup at the call (seed 003's "stato garanzia"): one search text, whatever the
caller reads out — a plate in any spacing or case, a phone number, a customer's name, the
ordering party's reference, a file number, an invoice or credit note number, a mission
id — and the vehicles and customers it leads to (docs/dispatch.md "The lookup").

`search` answers hits; each opens a history (server.parties.call_history): a vehicle's (by
its plate key) or a customer's (by phone, by name, or by the contract's customer account).
A mission found another way (file, reference, invoice) leads to its vehicle's history,
or to the mission itself when it has no plate.

Missions are found by the keys kept beside their document (server.office.mission_keys:
the plate key, the customer account; indexed), calls by their own plate and phone keys;
orders by a coarse SQL filter on their stored text. Each is then checked in Python on
the parsed values, so "ab 123 cd" finds "AB-123-CD" and a phone written "+33 6 12…" finds
"06 12…", and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from server.platform.tables import (
    documents,
    folded_is,
    missions,
    newest_first,
    orders,
    party_files,
    phone_orders,
)
from shared.phones import Phone, phone_key, read_phone
from shared.plates import Plate, plate_key, read_french_plate

VEHICLE = "vehicle"
CUSTOMER = "customer"
MISSION = "mission"
# How a customer is named in a history's address: by phone key, by name, by the
# contract's customer account.
BY_PHONE, BY_NAME, BY_ACCOUNT = "phone", "name", "account"
MIN_NAME = 3
MIN_PLATE = 4  # fewer letters and digits than a plate: not looked for as one
MAX_QUERY = 120
LIMIT = 200  # rows read per source: a lookup names one vehicle or customer, not a list


@dataclass(frozen=True)
class Hit:
    kind: str  # VEHICLE, CUSTOMER or MISSION
    key: str  # the plate key, the customer's key, the mission id
    by: str = ""  # for a customer: BY_PHONE, BY_NAME or BY_ACCOUNT
    label: str = ""  # the plate as written, the name, the phone…
    found_by: tuple[str, ...] = ()  # what matched: "plate", "file_number", "invoice"…
    missions: tuple[str, ...] = field(default_factory=tuple)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: Any, text: str) -> Any:
    return column.ilike(f"%{_escape(text)}%", escape="\\")


def _document(text: str) -> Mapping[str, Any]:
    try:
        found = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return found if isinstance(found, Mapping) else {}


def missions_with_plate(conn: sa.Connection, tenant_id: str, key: str) -> list[str]:
    """The missions whose vehicle has this plate key, newest first, and those of calls
    about it."""
    if not key:
        return []
    found: dict[str, Any] = {}
    rows = conn.execute(
        sa.select(missions.c.id, missions.c.document, missions.c.created_at)
        .where(missions.c.tenant_id == tenant_id, missions.c.plate_key == key)
        .order_by(missions.c.created_at.desc())
        .limit(LIMIT)
    )
    for row in rows:
        plate = (_document(row.document).get("vehicle") or {}).get("plate")
        if isinstance(plate, str) and plate_key(plate) == key:
            found[row.id] = row.created_at
    for row in conn.execute(
        sa.select(phone_orders.c.mission_id).where(
            phone_orders.c.tenant_id == tenant_id, phone_orders.c.plate_key == key
        )
    ):
        found.setdefault(row.mission_id, None)
    return list(found)


def _order_matches(
    conn: sa.Connection, tenant_id: str, prefilter: Any, check: Any
) -> list[tuple[str, Mapping[str, Any]]]:
    """(mission, order) of the orders the filter lets through and `check` accepts."""
    rows = conn.execute(
        sa.select(orders.c.mission_id, orders.c.cleaned)
        .where(orders.c.tenant_id == tenant_id, orders.c.mission_id.is_not(None), prefilter)
        .order_by(orders.c.received_at.desc())
        .limit(LIMIT)
    )
    out = []
    for row in rows:
        order = _document(row.cleaned)
        if check(order):
            out.append((str(row.mission_id), order))
    return out


def _beneficiary(order: Mapping[str, Any]) -> Mapping[str, Any]:
    who = order.get("beneficiary")
    return who if isinstance(who, Mapping) else {}


def missions_with_phone(conn: sa.Connection, tenant_id: str, key: str) -> list[str]:
    """The missions of calls and orders whose caller or beneficiary has this phone key."""
    found = [
        str(r.mission_id)
        for r in conn.execute(
            sa.select(phone_orders.c.mission_id)
            .where(phone_orders.c.tenant_id == tenant_id, phone_orders.c.phone_key == key)
            .order_by(phone_orders.c.taken_at.desc())
        )
    ]
    tail = key[-4:]
    loose = "%" + "%".join(tail) + "%"
    for mission_id, _ in _order_matches(
        conn,
        tenant_id,
        sa.and_(_contains(orders.c.cleaned, '"phone"'), orders.c.cleaned.like(loose)),
        lambda o: (
            isinstance(_beneficiary(o).get("phone"), str)
            and phone_key(_beneficiary(o)["phone"]) == key
        ),
    ):
        found.append(mission_id)
    return list(dict.fromkeys(found))


def _same_name(a: object, b: str) -> bool:
    return isinstance(a, str) and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def names_like(conn: sa.Connection, tenant_id: str, text: str) -> dict[str, list[str]]:
    """{a caller's or beneficiary's name containing `text`: its missions}."""
    wanted = " ".join(text.split()).casefold()
    out: dict[str, list[str]] = {}
    for row in conn.execute(
        sa.select(phone_orders.c.caller_name, phone_orders.c.mission_id)
        .where(phone_orders.c.tenant_id == tenant_id, _contains(phone_orders.c.caller_name, text))
        .limit(LIMIT)
    ):
        out.setdefault(" ".join(str(row.caller_name).split()), []).append(row.mission_id)
    for mission_id, order in _order_matches(
        conn,
        tenant_id,
        _contains(orders.c.cleaned, text),
        lambda o: wanted in " ".join(str(_beneficiary(o).get("name") or "").split()).casefold(),
    ):
        name = " ".join(str(_beneficiary(order)["name"]).split())
        out.setdefault(name, []).append(mission_id)
    return {name: list(dict.fromkeys(ids)) for name, ids in out.items()}


def missions_named(conn: sa.Connection, tenant_id: str, name: str) -> list[str]:
    """The missions whose caller or beneficiary is exactly `name` (any case or spacing)."""
    found = names_like(conn, tenant_id, name)
    return [m for written, ids in found.items() if _same_name(written, name) for m in ids]


def accounts_like(conn: sa.Connection, tenant_id: str, text: str) -> dict[str, list[str]]:
    """{a contract customer account containing `text` (GARAGE-DUPONT): its missions}."""
    wanted = text.casefold()
    out: dict[str, list[str]] = {}
    rows = conn.execute(
        sa.select(missions.c.id, missions.c.document)
        .where(
            missions.c.tenant_id == tenant_id,
            missions.c.customer.is_not(None),
            _contains(missions.c.customer, text),
        )
        .order_by(newest_first(conn.dialect.name, missions.c.created_at))
        .limit(LIMIT)
    )
    for row in rows:
        account = _document(row.document).get("customer")
        if isinstance(account, str) and wanted in account.casefold():
            out.setdefault(account, []).append(row.id)
    return out


def missions_of_account(conn: sa.Connection, tenant_id: str, account: str) -> list[str]:
    return accounts_like(conn, tenant_id, account).get(account, [])


def _by_reference(conn: sa.Connection, tenant_id: str, text: str) -> list[str]:
    """Missions of orders whose party reference or coverage reference is `text`."""

    def check(order: Mapping[str, Any]) -> bool:
        coverage: Mapping[str, Any] = (
            order["coverage"] if isinstance(order.get("coverage"), Mapping) else {}
        )
        return any(
            isinstance(v, str) and v.casefold() == text.casefold()
            for v in (order.get("id"), coverage.get("reference"))
        )

    return [m for m, _ in _order_matches(conn, tenant_id, _contains(orders.c.cleaned, text), check)]


def _by_file(conn: sa.Connection, tenant_id: str, text: str) -> list[str]:
    rows = conn.execute(
        sa.select(missions.c.id)
        .where(missions.c.tenant_id == tenant_id, folded_is(missions.c.file_number, text))
        .order_by(newest_first(conn.dialect.name, missions.c.created_at))
        .limit(LIMIT)
    )
    return [r.id for r in rows]


def _by_document(conn: sa.Connection, tenant_id: str, text: str) -> list[str]:
    rows = conn.execute(
        sa.select(documents.c.mission_id).where(
            documents.c.tenant_id == tenant_id, documents.c.number == text.upper()
        )
    )
    return [r.mission_id for r in rows]


def _by_mission_id(conn: sa.Connection, tenant_id: str, text: str) -> list[str]:
    rows = conn.execute(
        sa.select(missions.c.id)
        .where(missions.c.tenant_id == tenant_id, folded_is(missions.c.id, text))
        .order_by(newest_first(conn.dialect.name, missions.c.created_at))
    )
    return [r.id for r in rows]


def files_named(conn: sa.Connection, tenant_id: str, text: str) -> list[tuple[str, str]]:
    """(party, file number) of the files with that number, even with no mission yet."""
    rows = conn.execute(
        sa.select(party_files.c.party_id, party_files.c.file_number).where(
            party_files.c.tenant_id == tenant_id,
            folded_is(party_files.c.file_number, text),
        )
    )
    return [(r.party_id, r.file_number) for r in rows]


def plates_of(conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]) -> dict[str, str]:
    """{mission: its plate as written}, for the missions that have one."""
    wanted = sorted(set(mission_ids))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            sa.select(missions.c.id, missions.c.document).where(
                missions.c.tenant_id == tenant_id, missions.c.id.in_(wanted[start : start + 500])
            )
        )
        for row in rows:
            plate = (_document(row.document).get("vehicle") or {}).get("plate")
            if isinstance(plate, str) and plate_key(plate):
                out[row.id] = plate
    return out


def search(conn: sa.Connection, tenant_id: str, text: str) -> list[Hit]:
    """What the text leads to: vehicles, customers, and missions with no plate."""
    q = " ".join(text.split())[:MAX_QUERY]
    if not q:
        return []
    hits: list[Hit] = []
    by_mission: dict[str, set[str]] = {}

    def found(reason: str, ids: Iterable[str]) -> None:
        for mission_id in ids:
            by_mission.setdefault(mission_id, set()).add(reason)

    french = read_french_plate(q)
    key = plate_key(french.text if isinstance(french, Plate) else q)
    if len(key) >= MIN_PLATE:
        found("plate", missions_with_plate(conn, tenant_id, key))
    phone = read_phone(q)
    if isinstance(phone, Phone):
        ids = missions_with_phone(conn, tenant_id, phone.key)
        if ids:
            hits.append(Hit(CUSTOMER, phone.key, BY_PHONE, phone.text, ("phone",), tuple(ids)))
    found("file_number", _by_file(conn, tenant_id, q))
    found("reference", _by_reference(conn, tenant_id, q))
    found("document", _by_document(conn, tenant_id, q))
    found("mission_id", _by_mission_id(conn, tenant_id, q))
    if len(q) >= MIN_NAME and not any(ch.isdigit() for ch in q):
        for name, ids in sorted(names_like(conn, tenant_id, q).items()):
            hits.append(Hit(CUSTOMER, name, BY_NAME, name, ("name",), tuple(ids)))
        for account, ids in sorted(accounts_like(conn, tenant_id, q).items()):
            hits.append(Hit(CUSTOMER, account, BY_ACCOUNT, account, ("account",), tuple(ids)))
    plates = plates_of(conn, tenant_id, by_mission)
    vehicles: dict[str, tuple[str, set[str], list[str]]] = {}
    for mission_id, reasons in by_mission.items():
        plate = plates.get(mission_id)
        if plate is None:
            hits.append(
                Hit(MISSION, mission_id, "", mission_id, tuple(sorted(reasons)), (mission_id,))
            )
            continue
        written, why, ids = vehicles.setdefault(plate_key(plate), (plate, set(), []))
        why.update(reasons)
        ids.append(mission_id)
    for vkey, (written, why, ids) in sorted(vehicles.items()):
        hits.insert(0, Hit(VEHICLE, vkey, "", written, tuple(sorted(why)), tuple(ids)))
    return hits
