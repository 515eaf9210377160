"""The tenant's choice for "bill later" when the customer still owes money, and what a
customer owes (docs/customer-debts.md "Bill later for a debtor").

The choice is a versioned office document (`office_settings`, name `debtor_deferral`,
`{"debtor_deferral": "warn" | "block"}`); without one, `warn`. The rule itself is
`shared.debtor_rule`: the phone call, the tablet and reconciliation apply the same one.

What a customer owes is the open amount of their beneficiary invoices
(`server.office.invoice_balances`), the mission at hand's own invoices left out: a
mission billed later is not a debt against itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import customers, debt_terms, office_settings
from server.office.invoice_balances import balances
from server.platform import changes
from server.platform.errors import Unprocessable
from server.platform.tables import missions
from shared.debtor_rule import DEFAULT, SETTINGS, DebtorFlag, check_setting
from shared.money import from_cents

NAME = "debtor_deferral"
KEY = "debtor_deferral"
CHANGE_KIND = "debtor_deferral"  # the pull feed's kind for a new choice


def _of(found: Mapping[str, Any] | None) -> str:
    value = (found or {}).get("document", {}).get(KEY)
    return value if value in SETTINGS else DEFAULT


def current(conn: sa.Connection, tenant_id: str) -> str:
    return _of(office_settings.latest(conn, tenant_id, NAME))


def in_force(conn: sa.Connection, tenant_id: str, moment: datetime) -> str:
    """The choice that applied at `moment` (the default before any was set)."""
    return _of(office_settings.in_force(conn, tenant_id, NAME, moment))


def to_wire(conn: sa.Connection, tenant_id: str) -> dict[str, Any]:
    found = office_settings.latest(conn, tenant_id, NAME)
    return {KEY: _of(found), "version": None if found is None else found["version"]}


def check(value: object) -> str:
    try:
        return check_setting(value)
    except ValueError:
        raise Unprocessable(
            f"Choix invalide : « {value} ». Choisissez warn (prévenir, facturer plus tard "
            "reste permis) ou block (refuser de facturer plus tard un client débiteur).",
            f"Invalid choice: '{value}'. Choose warn (bill later stays allowed, with a "
            "warning) or block (refuse to bill a customer who owes money later).",
            code="debtor_deferral_invalid",
        ) from None


def set_choice(
    conn: sa.Connection, tenant_id: str, value: object, *, actor: str, now: datetime
) -> dict[str, Any]:
    """A new version when the choice changes, announced to every tablet (pull feed kind
    `debtor_deferral`): a tablet applies the newer of it and its missions' `debtor`
    changes, so a mission pulled before the change follows the new choice."""
    before = office_settings.latest(conn, tenant_id, NAME)
    stored = office_settings.store(conn, tenant_id, NAME, {KEY: check(value)}, actor=actor, now=now)
    if before is None or before["version"] != stored["version"]:
        data = {KEY: stored["document"][KEY], "version": stored["version"]}
        changes.record(conn, tenant_id, CHANGE_KIND, tenant_id, data, scope=None, now=now)
    return to_wire(conn, tenant_id)


def flag_of(
    conn: sa.Connection,
    tenant_id: str,
    customer: str,
    *,
    besides: str | None = None,
    issued_until: datetime | None = None,
) -> DebtorFlag:
    """What `customer` (a `server.office.customers` key) owes on invoices other than
    mission `besides`'s, issued before `issued_until` (None: ever)."""
    terms = debt_terms.current(conn, tenant_id)
    found = [
        b
        for b in balances(conn, tenant_id, terms, customer=customer, issued_until=issued_until)
        if b.open > 0 and b.mission_id != besides
    ]
    return DebtorFlag(customers.label(customer), from_cents(sum(b.open for b in found)), len(found))


def mission_flags(
    conn: sa.Connection, tenant_id: str, documents: Mapping[str, Mapping[str, Any]]
) -> dict[str, DebtorFlag]:
    """Per mission id, what the customer its document bills owes on other invoices."""
    out: dict[str, DebtorFlag] = {}
    for mission_id, document in documents.items():
        key = customers.mission_customer_key(document, mission_id)
        out[mission_id] = flag_of(conn, tenant_id, key, besides=mission_id)
    return out


def customer_of(document: Mapping[str, Any], mission_id: str) -> str:
    return customers.mission_customer_key(document, mission_id)


OFFICE_REF = "office:"  # a deferral the office itself decided: never the driver's doing


def _moment(at: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(at))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def deferral_checks(
    conn: sa.Connection, tenant_id: str, items_by_mission: Mapping[str, Sequence[Any]]
) -> dict[str, dict[str, tuple[DebtorFlag, str]]]:
    """Per mission, per deferral entry ("device:seq") a driver recorded: what the
    customer owed then on other invoices (issued before the entry, as paid now) and the
    choice in force then, for the rule `deferral_to_debtor` (server.office.reconcile_rules).
    Missions without a driver's deferral cost no query."""
    wanted = {
        mid: [
            i
            for i in items
            if i.type == "deferral"
            and not str(i.payload.get("approval_ref", "")).startswith(OFFICE_REF)
        ]
        for mid, items in items_by_mission.items()
    }
    wanted = {mid: items for mid, items in wanted.items() if items}
    if not wanted:
        return {}
    documents = {
        row.id: json.loads(row.document)
        for row in conn.execute(
            sa.select(missions.c.id, missions.c.document).where(
                missions.c.tenant_id == tenant_id, missions.c.id.in_(sorted(wanted))
            )
        )
    }
    out: dict[str, dict[str, tuple[DebtorFlag, str]]] = {}
    for mid, items in wanted.items():
        key = customers.mission_customer_key(documents.get(mid) or {}, mid)
        for item in items:
            at = _moment(item.at)
            if at is None:
                continue
            flag = flag_of(conn, tenant_id, key, besides=mid, issued_until=at)
            out.setdefault(mid, {})[f"{item.device_id}:{item.seq}"] = (
                flag,
                in_force(conn, tenant_id, at),
            )
    return out
