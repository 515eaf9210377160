"""The whole history of a vehicle or a customer, for the clerk with a caller on the line
(docs/dispatch.md "The lookup"): every mission with where it stands and its money, the
calls taken, the ordering parties' files and their states, the collections on the road,
the invoices and credit notes, the claims on ordering parties, and what is still owed.

`history(conn, tenant_id, mission_ids, today)` gathers it for the missions the lookup
found (server.parties.lookup). `debts_of` is the money still owed by the customers those
missions bill (server.office.customers keys: the contract's customer account, else the
plate): what makes the desk flag a caller who has not paid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from server.office import debt_terms
from server.office.customer_debts import open_invoices
from server.office.customers import mission_customer_key
from server.office.invoice_balances import InvoiceBalance, balances
from server.office.issued_documents import BENEFICIARY, INVOICE, TABLET_ENTRY
from server.office.mission_progress import field_money, last_steps, shown_status
from server.parties.claim_reading import credited_cents, to_wire
from server.parties.lookup import missions_with_phone
from server.parties.order_places import places_of
from server.people.drivers import list_drivers
from server.people.ordering_parties import list_parties
from server.platform.db import in_chunks
from server.platform.tables import (
    claims,
    decisions,
    documents,
    entry_types,
    journal_entries,
    missions,
    party_files,
    phone_orders,
)


@dataclass(frozen=True)
class Debts:
    """Open beneficiary invoices of some customers, at a day."""

    invoices: list[InvoiceBalance]
    at: date

    @property
    def open(self) -> int:
        return sum(b.open for b in self.invoices)

    @property
    def overdue(self) -> int:
        return sum(b.open for b in self.invoices if b.days_late(self.at) > 0)

    @property
    def flagged(self) -> bool:
        return self.open > 0


@dataclass(frozen=True)
class History:
    missions: list[dict[str, Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    debts: Debts | None = None


def _rows(conn: sa.Connection, table: Any, tenant_id: str, ids: list[str]) -> list[Any]:
    out: list[Any] = []
    for chunk in in_chunks(ids):
        out += conn.execute(
            sa.select(table).where(table.c.tenant_id == tenant_id, table.c.mission_id.in_(chunk))
        ).all()
    return out


def _call_time(document: Mapping[str, Any]) -> datetime | None:
    call = (document.get("times") or {}).get("call")
    try:
        moment = datetime.fromisoformat(call) if isinstance(call, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def debt_keys(documents_by_mission: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The customers (server.office.customers keys) these missions bill."""
    return {mission_customer_key(d, m) for m, d in documents_by_mission.items()}


def debts_of(conn: sa.Connection, tenant_id: str, keys: Iterable[str], today: date) -> Debts:
    """What these customers still owe on their invoices, at `today`."""
    found: list[InvoiceBalance] = []
    for key in sorted(set(keys)):
        found += open_invoices(conn, tenant_id, today, customer=key)
    found.sort(key=lambda b: (b.due_on, b.number))
    return Debts(found, today)


def _missions(conn: sa.Connection, tenant_id: str, ids: list[str]) -> list[Any]:
    rows: list[Any] = []
    for chunk in in_chunks(ids):
        rows += conn.execute(
            sa.select(missions).where(missions.c.tenant_id == tenant_id, missions.c.id.in_(chunk))
        ).all()
    return rows


def _collections(conn: sa.Connection, tenant_id: str, ids: list[str]) -> list[dict[str, Any]]:
    entries: list[Any] = []
    voids: dict[str, str] = {}
    for chunk in in_chunks(ids):
        entries += conn.execute(
            sa.select(journal_entries).where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.mission_id.in_(chunk),
                entry_types("collection", "reversal"),
                TABLET_ENTRY,
            )
        ).all()
        for row in conn.execute(
            sa.select(decisions.c.id, decisions.c.data).where(
                decisions.c.tenant_id == tenant_id,
                decisions.c.mission_id.in_(chunk),
                decisions.c.type == "void_collection",
            )
        ):
            data = json.loads(row.data) if isinstance(row.data, str) else dict(row.data)
            voids[str((data.get("collection") or {}).get("hash"))] = row.id
    entries.sort(key=lambda row: (row.received_at, row.seq))  # not in SQL: see entry_types
    reversed_hashes = set()
    for row in entries:
        if row.type == "reversal":
            payload = (json.loads(row.body).get("payload") or {}) if row.body else {}
            reversed_hashes.add(str((payload.get("reverses") or {}).get("hash")))
    out = []
    for row in entries:
        if row.type != "collection":
            continue
        payload = json.loads(row.body).get("payload") or {}
        out.append(
            {
                "mission_id": row.mission_id,
                "at": row.at,
                "driver_id": row.driver_id,
                "method": payload.get("method"),
                "amount": payload.get("amount"),
                "reference": payload.get("terminal_ref")
                or payload.get("cheque_number")
                or payload.get("reference"),
                "reversed": row.hash in reversed_hashes,
                "voided_by": voids.get(row.hash),
            }
        )
    return out


def _documents(
    conn: sa.Connection, tenant_id: str, ids: list[str], terms: debt_terms.DebtTerms
) -> list[dict[str, Any]]:
    rows: list[Any] = []
    for chunk in in_chunks(ids):
        rows += conn.execute(
            sa.select(
                documents.c.number,
                documents.c.kind,
                documents.c.mission_id,
                documents.c.recipient_kind,
                documents.c.recipient,
                documents.c.issued_at,
                documents.c.total_incl_cents,
                documents.c.corrects,
                documents.c.reason,
            ).where(documents.c.tenant_id == tenant_id, documents.c.mission_id.in_(chunk))
        ).all()
    rows.sort(key=lambda r: (r.issued_at, r.number))
    owed = {
        b.number: b
        for b in balances(
            conn,
            tenant_id,
            terms,
            numbers=[
                r.number for r in rows if r.kind == INVOICE and r.recipient_kind == BENEFICIARY
            ],
        )
    }
    out = []
    for row in rows:
        recipient = row.recipient if isinstance(row.recipient, Mapping) else {}
        balance = owed.get(row.number)
        out.append(
            {
                "number": row.number,
                "kind": row.kind,
                "mission_id": row.mission_id,
                "recipient_kind": row.recipient_kind,
                "recipient": recipient.get("name") or recipient.get("id"),
                "issued_at": row.issued_at,
                "total": int(row.total_incl_cents),
                "corrects": row.corrects,
                "reason": row.reason,
                "open": None if balance is None else balance.open,
                "status": None if balance is None else balance.status,
                "due_on": None if balance is None else balance.due_on,
            }
        )
    return out


def _claims(conn: sa.Connection, tenant_id: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = _rows(conn, claims, tenant_id, ids)
    rows.sort(key=lambda r: (r.issued_on, r.invoice_number))
    credited = credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    names = {p["id"]: p["name"] for p in list_parties(conn, tenant_id)}
    return [to_wire(r, credited.get(r.invoice_number, 0), names.get(r.party_id)) for r in rows]


def _files(
    conn: sa.Connection, tenant_id: str, pairs: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    numbers_of: dict[str, list[str]] = {}
    for party, number in pairs:
        numbers_of.setdefault(party, []).append(number)
    found: dict[tuple[str, str], Any] = {}
    for party, numbers in numbers_of.items():  # a statement per party and chunk, not per file
        for chunk in in_chunks(numbers):
            for row in conn.execute(
                sa.select(party_files).where(
                    party_files.c.tenant_id == tenant_id,
                    party_files.c.party_id == party,
                    party_files.c.file_number.in_(chunk),
                )
            ):
                found[(party, row.file_number)] = row
    return [
        {
            "party_id": party,
            "file_number": number,
            "state": row.state,
            "warning": row.warning,
            "updated_at": row.updated_at,
        }
        for (party, number), row in sorted(found.items())
    ]


def history(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str], today: date
) -> History:
    """Everything the office holds about these missions, newest mission first."""
    ids = sorted(set(mission_ids))
    rows = _missions(conn, tenant_id, ids)
    ids = [r.id for r in rows]
    docs = {r.id: json.loads(r.document) for r in rows}
    steps = last_steps(conn, tenant_id, ids)
    money = field_money(conn, tenant_id, ids)
    places = places_of(conn, tenant_id, ids)
    parties = {p["id"]: p["name"] for p in list_parties(conn, tenant_id)}
    drivers = {d["id"]: d["name"] for d in list_drivers(conn, tenant_id)}
    listed = []
    for row in rows:
        document = docs[row.id]
        step = steps.get(row.id)
        listed.append(
            {
                "id": row.id,
                "call_at": _call_time(document),
                "created_at": row.created_at,
                "party_id": row.ordering_party_id,
                "party_name": parties.get(row.ordering_party_id or ""),
                "file_number": row.file_number,
                "plate": (document.get("vehicle") or {}).get("plate"),
                "account": document.get("customer"),
                "driver": drivers.get(row.driver_id or "", row.driver_id),
                "status": shown_status(row.status, step.step if step else None),
                "cancel_reason": row.cancel_reason,
                "money": money.get(row.id),
                "places": places.get(row.id),
            }
        )
    listed.sort(key=lambda m: m["call_at"] or m["created_at"], reverse=True)
    calls = [
        {
            "mission_id": r.mission_id,
            "taken_at": r.taken_at,
            "taken_by": r.taken_by,
            "caller": r.caller_name,
            "phone": r.caller_phone,
            "note": r.note,
        }
        for r in sorted(_rows(conn, phone_orders, tenant_id, ids), key=lambda r: r.taken_at)
    ]
    pairs = {
        (r.ordering_party_id, r.file_number) for r in rows if r.ordering_party_id and r.file_number
    }
    return History(
        missions=listed,
        calls=calls,
        files=_files(conn, tenant_id, pairs),
        documents=_documents(conn, tenant_id, ids, debt_terms.current(conn, tenant_id)),
        collections=_collections(conn, tenant_id, ids),
        claims=_claims(conn, tenant_id, ids),
        debts=debts_of(conn, tenant_id, debt_keys(docs), today),
    )


def caller_debts(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, Any],
    phone_key: str | None,
    today: date,
) -> Debts:
    """What a caller still owes, before the call becomes a mission: the customer the new
    mission would bill (its contract account, else its plate), and the customers of the
    earlier missions of the same phone number."""
    keys = {mission_customer_key(document, str(document.get("id") or ""))}
    if phone_key:
        earlier = _missions(conn, tenant_id, missions_with_phone(conn, tenant_id, phone_key))
        keys |= debt_keys({r.id: json.loads(r.document) for r in earlier})
    return debts_of(conn, tenant_id, keys, today)
