"""The server's own valuation of a mission: the core's `value()` with the contract versions
the server holds and what earlier missions of the same file consumed of its cap, per the
server's valuations (never what a tablet believed).

Used when a tablet's valuation arrives (`server.devices.ingest`), when the office values
again after publishing a corrected contract (`revalue_mission`), when an order's coverage
is looked up at intake and when a draft contract is tried on the desk.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from server.office import mission_keys, site_facts, valuation_figures
from server.platform.tables import contracts, entry_types, journal_entries, missions, valuations
from shared import calendar
from shared.canonical import canonical_json, plain
from shared.contract import Contract
from shared.contract_schema import load_contract
from shared.errors import TowlineError
from shared.journal import EntryType, SignedEntry, from_wire
from shared.mission import LEGS, Mission, load_mission
from shared.money import parse_amount
from shared.steps import Step
from shared.valuation import ValuationContext, value

# The fields of a mission the office decides (who pays, which file). Whatever the device
# recorded for them, the server's copy wins when it values the mission again.
OFFICE_FIELDS = ("id", "file_number", "file_sequence", "ordering_party", "customer")


@functools.lru_cache(maxsize=256)
def loaded(document: str) -> Contract:
    """The contract a stored document holds, loaded once per process (the 256 used last):
    a version's text never changes once published, and loading one (its schema checks,
    then its valuation plan, `shared.valuation_plan.plan_of`, made for that very object)
    cost a push about 6 ms a contract. Nothing changes a loaded contract, so threads
    share it."""
    return load_contract(json.loads(document))


@dataclass
class Valuer:
    """One tenant's valuations in one transaction; contract versions are loaded once."""

    conn: sa.Connection
    tenant_id: str
    now: datetime
    contracts: dict[str, list[Contract]] = field(default_factory=dict)

    def contract_for(self, contract_id: str, mission: Mission) -> Contract:
        """The version of the contract the server holds that is valid on the mission's day."""
        if contract_id not in self.contracts:
            rows = self.conn.execute(
                sa.select(contracts.c.document).where(
                    contracts.c.tenant_id == self.tenant_id, contracts.c.id == contract_id
                )
            ).scalars()
            self.contracts[contract_id] = [loaded(doc) for doc in rows]
        call = mission.times["call"]
        valid = [
            c
            for c in self.contracts[contract_id]
            if c.is_valid_on(calendar.local(call, c.timezone).date())
        ]
        if not valid:
            raise TowlineError(
                f"Le serveur n'a aucune version de la convention {contract_id} valable pour "
                f"la mission {mission.id}.",
                f"The server holds no version of contract {contract_id} valid for mission "
                f"{mission.id}.",
            )
        return max(valid, key=lambda c: c.version)

    def file_consumed(self, mission: Mission, contract_id: str) -> Decimal:
        """What earlier missions of the same file consumed of its cap, per the server's own
        latest valuation of each (not what the tablet believed)."""
        if not mission.file_number:
            return Decimal(0)
        latest = (
            sa.select(sa.func.max(valuations.c.id))
            .join(
                missions,
                sa.and_(
                    missions.c.tenant_id == valuations.c.tenant_id,
                    missions.c.id == valuations.c.mission_id,
                ),
            )
            .where(
                valuations.c.tenant_id == self.tenant_id,
                valuations.c.source == "server",
                missions.c.file_number == mission.file_number,
                missions.c.id != mission.id,
            )
            .group_by(valuations.c.mission_id)
        )
        total = Decimal(0)
        for body in self.conn.execute(
            sa.select(valuations.c.body).where(valuations.c.id.in_(latest))
        ).scalars():
            wire = json.loads(body)
            cap = wire.get("file_cap")
            if cap and wire.get("contract", {}).get("id") == contract_id:
                total += Decimal(cap["consumed_by_mission"])
        return total

    def value(self, mission: Mission, contract_id: str) -> dict[str, Any]:
        """The server's valuation of `mission` (wire form), with the version of
        `contract_id` valid on its day. Raises TowlineError when it cannot be made."""
        contract = self.contract_for(contract_id, mission)
        context = ValuationContext(file_consumed=self.file_consumed(mission, contract.id))
        return value(mission, contract, context).to_wire()


def mission_to_value(
    ctx: Valuer, signed: SignedEntry, mission_id: str, recorded: object, *, by: str
) -> Mission | str:
    """The mission to value, or the reason there is none.

    The office's fields come from the server's copy; what happened on the road (times,
    distances, services, facts) from what the device recorded, when it sent it. A mission
    the office does not know yet is created from the entry's document (`by`: the device).
    """
    row = ctx.conn.execute(
        sa.select(missions.c.document).where(
            missions.c.tenant_id == ctx.tenant_id, missions.c.id == mission_id
        )
    ).one_or_none()
    held = json.loads(row.document) if row is not None else None
    if held is None and not isinstance(recorded, Mapping):
        return "unknown mission, and the entry does not carry its document"
    if isinstance(recorded, Mapping) and recorded.get("id") != mission_id:
        return "the mission document carried by the entry is for another mission"
    document: dict[str, Any] = dict(recorded) if isinstance(recorded, Mapping) else {}
    if held is not None:
        document = document or dict(held)
        document.update({k: held[k] for k in OFFICE_FIELDS if k in held})
    try:
        mission = load_mission(document)
    except TowlineError as exc:
        return exc.message("en")
    if held is None:
        ctx.conn.execute(
            sa.insert(missions).values(
                tenant_id=ctx.tenant_id,
                id=mission.id,
                file_number=mission.file_number,
                ordering_party_id=mission.ordering_party,
                driver_id=signed.entry.driver_id,
                document=canonical_json(document).decode("utf-8"),
                status=Step.ASSIGNED.value,
                source="device",
                created_at=ctx.now,
                created_by=by,
                **mission_keys.keys(document),
            )
        )
    return mission


def contract_id_of(device: Mapping[str, Any]) -> str:
    contract = device.get("contract")
    name = contract.get("id") if isinstance(contract, Mapping) else None
    if not isinstance(name, str):
        raise TowlineError(
            "La valorisation ne nomme pas sa convention.", "The valuation names no contract."
        )
    return name


def beneficiary_due(valuation: object) -> int | None:
    """What the beneficiary owes incl. VAT, in cents, read from a valuation's wire form."""
    try:
        text = valuation["payers"]["beneficiary"]["incl_vat"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return wire_cents(text)


def wire_cents(amount: object) -> int | None:
    try:
        return int(parse_amount(amount) * 100)
    except (ValueError, ArithmeticError):
        return None


def valued_facts(mission: Mission) -> dict[str, Any]:
    """The `valued_km` and `valued_class` columns of a server valuation of `mission` (the
    order with its site facts applied): its legs' km as `final_facts` counts them, and
    its vehicle class. The profitability report reads them."""
    km = sum((mission.distance_km.get(leg, Decimal(0)) for leg in LEGS), Decimal(0))
    vehicle_class = mission.vehicle.vehicle_class
    return {
        "valued_km": format(km, "f")[:24],
        "valued_class": vehicle_class[:20] if vehicle_class else None,
    }


def last_valuation_entry(
    conn: sa.Connection, tenant_id: str, mission_id: str
) -> SignedEntry | None:
    """The `valuation_recorded` entry the server received last for the mission (what a
    re-valuation and the final facts start from), or None."""
    rows = conn.execute(  # the last one taken here, not in SQL: see entry_types
        sa.select(
            journal_entries.c.body,
            journal_entries.c.hash,
            journal_entries.c.sig,
            journal_entries.c.received_at,
            journal_entries.c.seq,
        ).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            entry_types(EntryType.VALUATION_RECORDED.value),
        )
    ).all()
    row = max(rows, key=lambda r: (r.received_at, r.seq), default=None)
    if row is None:
        return None
    return from_wire({**json.loads(row.body), "hash": row.hash, "sig": row.sig})


def revalue_mission(
    conn: sa.Connection, tenant_id: str, mission_id: str, *, now: datetime
) -> dict[str, Any]:
    """Value a mission again with the contract versions the server holds now (after the
    office published a corrected version): a new server valuation beside the older ones,
    from what the tablet last recorded of the mission. Returns the new figures."""
    signed = last_valuation_entry(conn, tenant_id, mission_id)
    if signed is None:
        raise TowlineError(
            f"Aucune valorisation reçue pour la mission {mission_id} : rien à revaloriser.",
            f"No valuation received for mission {mission_id}: nothing to re-value.",
        )
    ctx = Valuer(conn, tenant_id, now)
    payload = plain(signed.entry.payload)
    mission = mission_to_value(
        ctx, signed, mission_id, payload.get("mission"), by=signed.entry.device_id
    )
    if isinstance(mission, str):
        raise TowlineError(mission, mission)
    contract_id = contract_id_of(payload["valuation"])
    # What the driver found on site, as the tablet applied it before that valuation.
    mission = site_facts.mission_on_site(ctx, signed.entry.device_id, signed, mission, contract_id)
    server = ctx.value(mission, contract_id)
    due = beneficiary_due(server)
    assert due is not None
    conn.execute(
        sa.insert(valuations).values(
            tenant_id=tenant_id,
            mission_id=mission_id,
            source="server",
            device_id=None,
            entry_seq=None,
            digest=server["digest"],
            beneficiary_due_cents=due,
            body=canonical_json(server).decode("utf-8"),
            created_at=now,
            **valuation_figures.columns(server),
            **valued_facts(mission),
        )
    )
    return {
        "mission_id": mission_id,
        "digest": server["digest"],
        "contract": server["contract"],
        "beneficiary_due": server["payers"]["beneficiary"]["incl_vat"],
        "ordering_party_due": server["payers"]["ordering_party"]["incl_vat"],
    }
