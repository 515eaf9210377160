"""Orders taken on the phone at the desk (docs/dispatch.md "Taking a call").

An ordering party's call is an order like the ones its system sends (docs/orders.md):
it goes through intake (`server.parties.orders.receive_order`: cleaning, validation, the
coverage looked up from the party's contract, the file's `order` event), with the message
id `desk:<call id>`. A private customer's call becomes a mission directly
(`server.office.missions.create`), its id `TEL-<day>-<6 hex>`. Either way the call itself
is kept in `phone_orders` (who called, the plate and phone as search keys, the places,
what the caller said, who took it), never changed.

"Bill later" asked at the call (docs/dispatch.md "Bill later at the call") follows the
tenant's choice for a caller who still owes money (`shared.debtor_rule`): `block` refuses
the call with a sentence naming what is owed; `warn` takes it, the warning kept on the
call's audit line and in the reason of the signed `deposit_set` entry that makes the
mission payable on invoice (`server.office.mission_terms`).

The call id is made when the form first opens: posting the same call twice (a reload, a
double click) finds it and changes nothing. `preview` runs the very same act in a
transaction it rolls back, and values the mission the way the server will when the
tablet syncs, so the clerk reads the price and the coverage before saving.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import agents, customers, debtor_deferral, mission_terms, missions
from server.office.valuation import Valuer
from server.parties.call_history import caller_debts
from server.parties.order_document import mission_id_for
from server.parties.order_store import mission_row
from server.parties.orders import receive_order
from server.parties.phone_order_form import PhoneOrder
from server.people.identity import audit
from server.platform.errors import Conflict
from server.platform.tables import contracts, phone_orders
from server.platform.tables import missions as missions_table
from shared import calendar
from shared.contract import Contract
from shared.contract_schema import load_contract
from shared.debtor_rule import DebtorFlag, Verdict, check_deferral
from shared.errors import TowlineError
from shared.i18n import Text
from shared.mission import load_mission
from shared.money import from_cents
from shared.payment_terms import PayWhen

MESSAGE_PREFIX = "desk:"
MISSION_SOURCE = "phone"  # missions.source of a private customer's call


def contracts_for(
    conn: sa.Connection, tenant_id: str, party_id: str | None, day: date
) -> list[Contract]:
    """The contracts that would apply to a mission of this party (None: private
    customers) on that day, each in its highest version valid then, as a tablet picks
    them: exactly one is expected."""
    valid: dict[str, Contract] = {}
    for text in conn.execute(
        sa.select(contracts.c.document).where(contracts.c.tenant_id == tenant_id)
    ).scalars():
        document = json.loads(text)
        named = (document.get("ordering_party") or {}).get("id")
        if named != party_id:
            continue
        terms = load_contract(document)
        if terms.is_valid_on(day) and (
            terms.id not in valid or valid[terms.id].version < terms.version
        ):
            valid[terms.id] = terms
    return sorted(valid.values(), key=lambda c: c.id)


def _vehicle(order: PhoneOrder) -> dict[str, Any]:
    vehicle: dict[str, Any] = {"plate": order.plate.text}
    if order.vehicle_class:
        vehicle["class"] = order.vehicle_class
    if order.weight_kg is not None:
        vehicle["weight_kg"] = order.weight_kg
    return vehicle


def _facts(order: PhoneOrder) -> dict[str, Any]:
    return {
        "vehicle": _vehicle(order),
        "times": {"call": order.call_at.isoformat()},
        "distance_km": dict(order.distance_km),
        "facts": {"accident": order.accident},
        "services": [{"code": code} for code in order.services],
    }


def party_order(order: PhoneOrder) -> dict[str, Any]:
    """The call as an ordering party's order (docs/orders.md)."""
    document: dict[str, Any] = {
        "message_id": MESSAGE_PREFIX + order.call_id,
        "file_number": order.file_number,
        "file_sequence": order.file_sequence,
        **_facts(order),
    }
    if order.reference:
        document["id"] = order.reference
    if order.caller_name:
        document["beneficiary"] = {
            "name": order.caller_name,
            "phone": order.phone.text if order.phone else None,
        }
    if order.places:
        document["places"] = order.places
    if order.coverage:
        document["coverage"] = dict(order.coverage)
    return document


def private_mission_id(order: PhoneOrder, zone: ZoneInfo) -> str:
    day = order.call_at.astimezone(zone).strftime("%y%m%d")
    return f"TEL-{day}-{order.call_id[4:10].upper()}"


def private_mission(order: PhoneOrder, mission_id: str) -> dict[str, Any]:
    """The call of a private customer as a mission document (shared/mission.py)."""
    return {
        "id": mission_id,
        "file_number": order.file_number,
        "file_sequence": order.file_sequence,
        "ordering_party": None,
        "customer": order.customer,
        **_facts(order),
    }


def _held(conn: sa.Connection, tenant_id: str, call_id: str) -> Any:
    return conn.execute(
        sa.select(phone_orders).where(
            phone_orders.c.tenant_id == tenant_id, phone_orders.c.id == call_id
        )
    ).first()


def _outcome(
    row: Any, *, duplicate: bool, warning: Any = None, debtor_warning: Text | None = None
) -> dict[str, Any]:
    return {
        "call_id": row.id,
        "mission_id": row.mission_id,
        "party_id": row.party_id,
        "file_number": row.file_number,
        "order_id": row.order_id,
        "plate": row.plate,
        "taken_at": row.taken_at,
        "taken_by": row.taken_by,
        "warning": warning,
        "debtor_warning": debtor_warning,
        "duplicate": duplicate,
    }


def _free_sequence(conn: sa.Connection, tenant_id: str, party: str, file_number: str) -> int:
    taken = conn.execute(
        sa.select(missions_table.c.document).where(
            missions_table.c.tenant_id == tenant_id,
            missions_table.c.ordering_party_id == party,
            missions_table.c.file_number == file_number,
        )
    ).scalars()
    sequences = [int(json.loads(d).get("file_sequence") or 1) for d in taken]
    return max(sequences, default=0) + 1


def _party_call(
    conn: sa.Connection, tenant_id: str, order: PhoneOrder, *, actor: str, now: datetime
) -> tuple[str, str, Any]:
    assert order.party_id is not None and order.file_number is not None
    mission_id = mission_id_for(order.party_id, order.file_number, order.file_sequence)
    if mission_row(conn, tenant_id, mission_id) is not None:
        free = _free_sequence(conn, tenant_id, order.party_id, order.file_number)
        raise Conflict(
            f"Le dossier {order.file_number} a déjà une mission n° {order.file_sequence} "
            f"({mission_id}) : pour une nouvelle mission du dossier, prenez le n° {free}.",
            f"File {order.file_number} already has mission no. {order.file_sequence} "
            f"({mission_id}): for a new mission of the file, use no. {free}.",
            code="mission_exists",
        )
    answer = receive_order(
        conn,
        tenant_id,
        order.party_id,
        party_order(order),
        actor=actor,
        now=now,
        driver_id=order.driver_id,
    )
    if answer["outcome"] != "created":
        state = answer.get("state_label") or {}
        raise Conflict(
            f"Le dossier {order.file_number} est « {state.get('fr', '?')} » : l'ordre "
            "n'a pas créé de mission. Vérifiez le numéro de dossier.",
            f"File {order.file_number} is '{state.get('en', '?')}': the order made no "
            "mission. Check the file number.",
            code="file_done",
        )
    return str(answer["mission_id"]), str(answer["order_id"]), answer.get("warning")


def bill_later_verdict(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, Any],
    order: PhoneOrder,
    *,
    zone: ZoneInfo,
    now: datetime,
) -> Verdict:
    """May the call's customer be billed later, given what they (the mission's customer,
    and the earlier missions of the same phone) owe and the tenant's choice?"""
    debts = caller_debts(
        conn,
        tenant_id,
        document,
        order.phone.key if order.phone else None,
        calendar.local(now, zone.key).date(),
    )
    who = customers.label(customers.mission_customer_key(document, str(document.get("id"))))
    flag = DebtorFlag(who, from_cents(debts.open), len(debts.invoices))
    return check_deferral(flag, debtor_deferral.current(conn, tenant_id))


def _bill_later(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    order: PhoneOrder,
    *,
    zone: ZoneInfo,
    key: Any,
    actor: str,
    now: datetime,
) -> Text | None:
    """Refuse (block) or make the mission payable on invoice (warn, or nothing owed);
    returns the warning, if any."""
    document = missions.get(conn, tenant_id, mission_id)["document"]
    verdict = bill_later_verdict(conn, tenant_id, document, order, zone=zone, now=now)
    if not verdict.allowed:
        assert verdict.text is not None
        raise Conflict(verdict.text.fr, verdict.text.en, code="debtor_deferral_refused")
    if key is not None:  # None: a preview, rolled back; nothing is signed
        reason = f"Facturer plus tard, demandé à l'appel {order.call_id}."
        if verdict.text is not None:
            reason += " " + verdict.text.fr
        mission_terms.set_terms(
            conn,
            tenant_id,
            mission_id,
            pays=PayWhen.ON_INVOICE.value,
            reason=reason[: mission_terms.REASON_MAX],
            key=key,
            actor=actor,
            now=now,
        )
    return verdict.text


def take(
    conn: sa.Connection,
    tenant_id: str,
    order: PhoneOrder,
    *,
    zone: ZoneInfo,
    actor: str,
    now: datetime,
    key: Any = None,
) -> dict[str, Any]:
    """Record the call and make its mission (with its driver, if one is named), inside
    the caller's transaction. The same call id again answers the first outcome. `key`:
    the server's signing key, to make the mission payable on invoice when the call asks
    to bill later (without it, as in a preview, the choice is checked but not signed)."""
    held = _held(conn, tenant_id, order.call_id)
    if held is not None:
        return _outcome(held, duplicate=True)
    order_id: str | None = None
    warning = None
    if order.party_id is not None:
        mission_id, order_id, warning = _party_call(conn, tenant_id, order, actor=actor, now=now)
    else:
        mission_id = private_mission_id(order, zone)
        missions.create(
            conn,
            tenant_id,
            private_mission(order, mission_id),
            order.driver_id,
            source=MISSION_SOURCE,
            actor=actor,
            now=now,
        )
    if order.agent is not None:  # an unknown agent refuses the whole call (agent_unknown)
        agents.name_for_mission(
            conn, tenant_id, mission_id, order.agent, via="phone", actor=actor, now=now
        )
    debtor_warning = None
    if order.bill_later:
        debtor_warning = _bill_later(
            conn, tenant_id, mission_id, order, zone=zone, key=key, actor=actor, now=now
        )
    conn.execute(
        sa.insert(phone_orders).values(
            tenant_id=tenant_id,
            id=order.call_id,
            mission_id=mission_id,
            party_id=order.party_id,
            file_number=order.file_number,
            order_id=order_id,
            caller_name=order.caller_name,
            caller_phone=order.phone.text if order.phone else None,
            phone_key=order.phone.key if order.phone else None,
            plate=order.plate.text,
            plate_key="".join(ch for ch in order.plate.text if ch.isalnum()),
            places=order.places,
            note=order.note,
            taken_at=now,
            taken_by=actor[:64],
        )
    )
    audit(
        conn,
        tenant_id,
        actor,
        "phone_order.take",
        mission_id,
        now,
        detail={
            "call_id": order.call_id,
            "party_id": order.party_id,
            "order_id": order_id,
            "bill_later": order.bill_later,
            "debtor_warning": None
            if debtor_warning is None
            else {"fr": debtor_warning.fr, "en": debtor_warning.en},
        },
    )
    row = _held(conn, tenant_id, order.call_id)
    return _outcome(row, duplicate=False, warning=warning, debtor_warning=debtor_warning)


@dataclass(frozen=True)
class Preview:
    """What saving the call would make: the mission document, the contract that applies
    (or why none does) and the server's valuation of it (or why it cannot be made)."""

    document: Mapping[str, Any]
    contract: Contract | None
    contract_problem: Text | None
    valuation: Mapping[str, Any] | None
    valuation_problem: Text | None
    warning: Mapping[str, str] | None  # the order and the contract's coverage differ
    debtor_warning: Text | None = None  # "bill later" for a caller who owes (warn)


def preview(
    engine: sa.Engine,
    tenant_id: str,
    order: PhoneOrder,
    *,
    zone: ZoneInfo,
    actor: str,
    now: datetime,
) -> Preview:
    """`take`, rolled back: what saving would make and what it would cost. Refusals of
    `take` (an unknown driver, an existing mission, an invalid order) are raised."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            taken = take(conn, tenant_id, order, zone=zone, actor=actor, now=now)
            document = missions.get(conn, tenant_id, taken["mission_id"])["document"]
            day = calendar.local(order.call_at, zone.key).date()
            found = contracts_for(conn, tenant_id, order.party_id, day)
            contract, problem = _one_contract(found, order.party_id)
            valuation, why = None, None
            if contract is not None:
                try:
                    valuation = Valuer(conn, tenant_id, now).value(
                        load_mission(document), contract.id
                    )
                except TowlineError as error:
                    why = error.text
        finally:
            transaction.rollback()
    coverage = document.get("coverage") or {}
    return Preview(
        document,
        contract,
        problem,
        valuation,
        why,
        coverage.get("warning"),
        taken["debtor_warning"],
    )


def _one_contract(
    found: list[Contract], party_id: str | None
) -> tuple[Contract | None, Text | None]:
    who_fr = party_id or "les particuliers"
    who_en = party_id or "private customers"
    if not found:
        return None, Text(
            f"Aucune convention pour {who_fr} valable ce jour-là : la tablette ne pourra pas "
            "chiffrer la mission. Publiez-en une.",
            f"No contract for {who_en} valid on that day: the tablet cannot value the "
            "mission. Publish one.",
        )
    if len(found) > 1:
        names = ", ".join(c.id for c in found)
        return None, Text(
            f"Plusieurs conventions pour {who_fr} ({names}) : la tablette refusera de "
            "chiffrer la mission tant qu'une seule s'applique.",
            f"Several contracts for {who_en} ({names}): the tablet will refuse to value the "
            "mission until only one applies.",
        )
    return found[0], None
