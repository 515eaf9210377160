"""The business side of entries a push has just stored, in the push's transaction.

Nothing here refuses: the entries are facts, signed on the tablet and already stored.
What looks wrong becomes an anomaly for the office (docs: the anomaly catalogue), with a
reason a clerk understands. Small on purpose; the office issue extends it.

- `valuation_recorded` (payload `{"mission_id", "valuation": Valuation.to_wire(),
  "mission"?: mission document}`): the device's valuation is stored (source `device`);
  the server values the mission again with the core and the contract versions it holds
  and stores its own (source `server`); different digests → `valuation_mismatch`, with
  the lines that differ. An unknown mission whose document is in the payload is created
  (source `device`: a private customer met on the road).
- `collection` on an unknown mission, or on one the office cancelled → an anomaly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import zip_longest
from typing import Any

import sqlalchemy as sa

from server.office import invoicing, reconcile
from server.office.reconcile_rules import Item
from server.platform.tables import anomalies, contracts, journal_entries, missions, valuations
from shared import calendar
from shared.canonical import canonical_json, plain
from shared.contract import Contract
from shared.contract_schema import load_contract
from shared.errors import TowlineError
from shared.journal import EntryType, SignedEntry, from_wire
from shared.mission import Mission, load_mission
from shared.money import parse_amount
from shared.signing import PrivateKey
from shared.steps import Step
from shared.valuation import ValuationContext, value

# The fields of a mission the office decides (who pays, which file). Whatever the device
# recorded for them, the server's copy wins when it values the mission again.
OFFICE_FIELDS = ("id", "file_number", "file_sequence", "ordering_party", "customer")
CANCELLED = Step.CANCELLED.value


def anomaly(
    conn: sa.Connection,
    *,
    tenant_id: str,
    kind: str,
    detail: Mapping[str, Any],
    now: datetime,
    device_id: str | None = None,
    mission_id: str | None = None,
    driver_id: str | None = None,
    amount_cents: int | None = None,
) -> None:
    """Raise an anomaly for the office (status `open`)."""
    conn.execute(
        sa.insert(anomalies).values(
            tenant_id=tenant_id,
            kind=kind,
            device_id=device_id,
            mission_id=mission_id,
            driver_id=driver_id,
            amount_cents=amount_cents,
            detail=plain(dict(detail)),
            status="open",
            created_at=now,
        )
    )


def mission_of(signed: SignedEntry) -> str | None:
    """The mission an entry is about, when its payload names one that fits the column."""
    mission_id = signed.entry.payload.get("mission_id")
    if isinstance(mission_id, str) and 0 < len(mission_id) <= 64:
        return mission_id
    return None


@dataclass
class _Context:
    conn: sa.Connection
    tenant_id: str
    device_id: str
    now: datetime
    contracts: dict[str, list[Contract]] = field(default_factory=dict)  # loaded once per batch

    def anomaly(self, signed: SignedEntry, kind: str, detail: Mapping[str, Any], **kw: Any) -> None:
        ref = {"device_id": self.device_id, "seq": signed.seq, "hash": signed.hash}
        anomaly(
            self.conn,
            tenant_id=self.tenant_id,
            kind=kind,
            detail={"entry": ref, **detail},
            now=self.now,
            device_id=self.device_id,
            driver_id=signed.entry.driver_id,
            mission_id=mission_of(signed),
            **kw,
        )


def entries_stored(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    entries: Sequence[SignedEntry],
    now: datetime,
    key: PrivateKey | None = None,
) -> None:
    """Derive what the office needs from newly stored entries, in device order: the
    server's own valuations, collections questioned, the invoices of missions closed
    (with the server's `key`), then reconciliation of what the batch touched."""
    ctx = _Context(conn, tenant_id, device_id, now)
    closed: list[str] = []
    for signed in entries:
        if signed.entry.type is EntryType.VALUATION_RECORDED:
            _valuation_recorded(ctx, signed)
        elif signed.entry.type is EntryType.COLLECTION:
            _collection(ctx, signed)
        elif signed.entry.type is EntryType.MISSION_STEP and signed.entry.payload.get("to") == (
            Step.CLOSED.value
        ):
            mission_id = mission_of(signed)
            if mission_id is not None:
                closed.append(mission_id)
    if key is not None:
        for mission_id in closed:
            invoicing.on_mission_completed(
                conn, tenant_id, mission_id, key=key, actor="system", now=now
            )
    # Then reconcile what the batch touched, against the server's own valuations.
    items = [
        Item(
            device_id,
            s.seq,
            str(s.entry.type),
            s.entry.at,
            s.entry.driver_id,
            plain(s.entry.payload),
            s.hash,
        )
        for s in entries
    ]
    reconcile.reconcile_entries(conn, tenant_id, items, now=now)


# --- collections ----------------------------------------------------------------------------


def _collection(ctx: _Context, signed: SignedEntry) -> None:
    """Money taken in the field is a fact: never refused, but questioned when odd."""
    cents = _cents(signed.entry.payload.get("amount"))
    mission_id = mission_of(signed)
    status = None
    if mission_id is not None:
        status = ctx.conn.execute(
            sa.select(missions.c.status).where(
                missions.c.tenant_id == ctx.tenant_id, missions.c.id == mission_id
            )
        ).scalar_one_or_none()
    if status is None:
        ctx.anomaly(
            signed,
            "collection_unknown_mission",
            {
                "mission_id": signed.entry.payload.get("mission_id"),
                "fr": "Encaissement sur une mission inconnue du bureau.",
                "en": "Collection on a mission the office does not know.",
            },
            amount_cents=cents,
        )
    elif status == CANCELLED:
        ctx.anomaly(
            signed,
            "collection_on_cancelled_mission",
            {
                "fr": "Encaissement sur une mission annulée par le bureau.",
                "en": "Collection on a mission the office cancelled.",
            },
            amount_cents=cents,
        )


def _cents(amount: object) -> int | None:
    try:
        return int(parse_amount(amount) * 100)
    except (ValueError, ArithmeticError):
        return None


# --- valuations -----------------------------------------------------------------------------


def _valuation_recorded(ctx: _Context, signed: SignedEntry) -> None:
    payload = plain(signed.entry.payload)
    device = payload.get("valuation")
    mission_id = mission_of(signed)
    due = _beneficiary_due(device)
    if mission_id is None or due is None or not isinstance(device.get("digest"), str):
        ctx.anomaly(
            signed,
            "valuation_unreadable",
            {
                "fr": "Valorisation de la tablette illisible : ni comparée ni recalculée.",
                "en": "The tablet's valuation is unreadable: neither compared nor recomputed.",
            },
        )
        return
    _store_valuation(ctx, signed, mission_id, "device", device, due)
    mission = _mission(ctx, signed, mission_id, payload.get("mission"))
    if isinstance(mission, str):
        ctx.anomaly(signed, "valuation_not_recomputed", {"reason": mission})
        return
    try:
        contract = _contract_for(ctx, _contract_id(device), mission)
        context = ValuationContext(file_consumed=_file_consumed(ctx, mission, contract.id))
        server = value(mission, contract, context).to_wire()
    except TowlineError as exc:
        ctx.anomaly(
            signed,
            "valuation_not_recomputed",
            {"reason": exc.message("en"), "fr": exc.message("fr"), "en": exc.message("en")},
        )
        return
    server_due = _beneficiary_due(server)
    assert server_due is not None  # the core's own output
    _store_valuation(ctx, signed, mission_id, "server", server, server_due)
    if server["digest"] != device["digest"]:
        ctx.anomaly(
            signed,
            "valuation_mismatch",
            {
                "device_digest": device["digest"],
                "server_digest": server["digest"],
                "contract": {"device": device.get("contract"), "server": server["contract"]},
                "lines": _differing_lines(device.get("lines"), server["lines"]),
                "payers": {"device": device.get("payers"), "server": server["payers"]},
                "fr": "La valorisation de la tablette diffère de celle du serveur.",
                "en": "The tablet's valuation differs from the server's.",
            },
            amount_cents=due - server_due,  # what the tablet asks beyond the server's figure
        )


def _beneficiary_due(valuation: object) -> int | None:
    """What the beneficiary owes incl. VAT, in cents, read from a valuation's wire form."""
    try:
        text = valuation["payers"]["beneficiary"]["incl_vat"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return _cents(text)


def _store_valuation(
    ctx: _Context,
    signed: SignedEntry,
    mission_id: str,
    source: str,
    body: Mapping[str, Any],
    due_cents: int,
) -> None:
    ctx.conn.execute(
        sa.insert(valuations).values(
            tenant_id=ctx.tenant_id,
            mission_id=mission_id,
            source=source,
            device_id=ctx.device_id,
            entry_seq=signed.seq,
            digest=str(body["digest"])[:64],
            beneficiary_due_cents=due_cents,
            body=canonical_json(body).decode("utf-8"),
            created_at=ctx.now,
        )
    )


def _mission(
    ctx: _Context, signed: SignedEntry, mission_id: str, recorded: object
) -> Mission | str:
    """The mission to value, or the reason there is none.

    The office's fields come from the server's copy; what happened on the road (times,
    distances, services, facts) from what the device recorded, when it sent it.
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
                created_by=ctx.device_id,
            )
        )
    return mission


def _contract_id(device: Mapping[str, Any]) -> str:
    contract = device.get("contract")
    name = contract.get("id") if isinstance(contract, Mapping) else None
    if not isinstance(name, str):
        raise TowlineError(
            "La valorisation ne nomme pas sa convention.", "The valuation names no contract."
        )
    return name


def _contract_for(ctx: _Context, contract_id: str, mission: Mission) -> Contract:
    """The version of the contract the server holds that is valid on the mission's day."""
    if contract_id not in ctx.contracts:
        rows = ctx.conn.execute(
            sa.select(contracts.c.document).where(
                contracts.c.tenant_id == ctx.tenant_id, contracts.c.id == contract_id
            )
        ).scalars()
        ctx.contracts[contract_id] = [load_contract(json.loads(doc)) for doc in rows]
    call = mission.times["call"]
    valid = [
        c
        for c in ctx.contracts[contract_id]
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


def _file_consumed(ctx: _Context, mission: Mission, contract_id: str) -> Decimal:
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
            valuations.c.tenant_id == ctx.tenant_id,
            valuations.c.source == "server",
            missions.c.file_number == mission.file_number,
            missions.c.id != mission.id,
        )
        .group_by(valuations.c.mission_id)
    )
    total = Decimal(0)
    for body in ctx.conn.execute(
        sa.select(valuations.c.body).where(valuations.c.id.in_(latest))
    ).scalars():
        wire = json.loads(body)
        cap = wire.get("file_cap")
        if cap and wire.get("contract", {}).get("id") == contract_id:
            total += Decimal(cap["consumed_by_mission"])
    return total


def _differing_lines(device: object, server: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Line by line, position by position: the pairs that differ (None where one is missing)."""
    mine = list(device) if isinstance(device, list) else []
    return [
        {"index": index, "device": left, "server": right}
        for index, (left, right) in enumerate(zip_longest(mine, server))
        if _money_line(left) != _money_line(right)
    ]


def _money_line(line: object) -> object:
    """A line without its label, which is wording, not money."""
    if isinstance(line, Mapping):
        return {k: v for k, v in line.items() if k != "label"}
    return line


def revalue_mission(
    conn: sa.Connection, tenant_id: str, mission_id: str, *, now: datetime
) -> dict[str, Any]:
    """Value a mission again with the contract versions the server holds now (after the
    office published a corrected version): a new server valuation beside the older ones,
    from what the tablet last recorded of the mission. Returns the new figures."""
    row = conn.execute(
        sa.select(journal_entries.c.body, journal_entries.c.hash, journal_entries.c.sig)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            journal_entries.c.type == EntryType.VALUATION_RECORDED.value,
        )
        .order_by(journal_entries.c.received_at.desc(), journal_entries.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        raise TowlineError(
            f"Aucune valorisation reçue pour la mission {mission_id} : rien à revaloriser.",
            f"No valuation received for mission {mission_id}: nothing to re-value.",
        )
    signed = from_wire({**json.loads(row.body), "hash": row.hash, "sig": row.sig})
    ctx = _Context(conn, tenant_id, signed.entry.device_id, now)
    payload = plain(signed.entry.payload)
    mission = _mission(ctx, signed, mission_id, payload.get("mission"))
    if isinstance(mission, str):
        raise TowlineError(mission, mission)
    contract = _contract_for(ctx, _contract_id(payload["valuation"]), mission)
    context = ValuationContext(file_consumed=_file_consumed(ctx, mission, contract.id))
    server = value(mission, contract, context).to_wire()
    due = _beneficiary_due(server)
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
        )
    )
    return {
        "mission_id": mission_id,
        "digest": server["digest"],
        "contract": server["contract"],
        "beneficiary_due": server["payers"]["beneficiary"]["incl_vat"],
        "ordering_party_due": server["payers"]["ordering_party"]["incl_vat"],
    }
