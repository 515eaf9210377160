"""The facts drivers found on site, as the office re-derives them from the signed entries.

A tablet records what a driver found (distance, services, waiting, storage, items at cost,
accident, weight, class) as `site_facts` entries and values the mission again. The server
does the same from the same entries, with the core's `shared.site_facts.on_site`, before
its own valuation: the digests agree. It judges each entry again with the contract it
holds (what the ordering party lets a driver change alone), and says what it finds:

- `site_fact_beyond_tolerance`: a fact beyond what the driver may change alone, recorded
  without a manager's code (it changes nothing in the price; the office decides), or
  citing a code the office never issued;
- `vehicle_class_contradicts_weight`: the class given contradicts the weight given or
  found (once per mission);
- `site_facts_unreadable`: an entry that does not read as site facts.

The tablets' ingest (`server.devices.ingest`) calls `site_facts_stored` for each stored
`site_facts` entry and `mission_on_site` before valuing a `valuation_recorded` entry; the
office's re-valuation (`server.office.valuation.revalue_mission`) calls `mission_on_site`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from server.platform.tables import anomalies, audit_log, journal_entries, missions
from shared.approvals import Kind, normalise
from shared.canonical import plain
from shared.contract import Contract
from shared.errors import InvalidDocument, TowlineError
from shared.journal import EntryType, SignedEntry
from shared.mission import Mission, load_mission
from shared.site_facts import (
    Judged,
    Record,
    contract_of,
    judge,
    on_site,
    record_from_payload,
    step_of,
)
from shared.site_facts_words import sentence
from shared.vehicle_class import conflict

BEYOND = "site_fact_beyond_tolerance"
CLASS_WEIGHT = "vehicle_class_contradicts_weight"
UNREADABLE = "site_facts_unreadable"
KINDS = (BEYOND, CLASS_WEIGHT, UNREADABLE)


class Valuer(Protocol):
    """What the office's valuation context gives (`server.office.valuation.Valuer`)."""

    conn: sa.Connection
    tenant_id: str
    now: datetime

    def contract_for(self, contract_id: str, mission: Mission) -> Contract: ...


def stored_records(
    conn: sa.Connection, tenant_id: str, device_id: str, mission_id: str, before_seq: int
) -> list[Record]:
    """The device's `site_facts` entries on a mission before `before_seq`, in its order:
    what the tablet knew when it recorded the valuation at `before_seq`. Unreadable ones
    are left out (each raised its anomaly when it arrived)."""
    rows = conn.execute(
        sa.select(journal_entries.c.body, journal_entries.c.hash)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == device_id,
            journal_entries.c.mission_id == mission_id,
            journal_entries.c.type == EntryType.SITE_FACTS.value,
            journal_entries.c.seq < before_seq,
        )
        .order_by(journal_entries.c.seq)
    ).all()
    found = []
    for row in rows:
        try:
            found.append(record_from_payload(json.loads(row.body)["payload"], row.hash))
        except (InvalidDocument, KeyError, TypeError, ValueError):
            continue
    return found


def mission_on_site(
    valuer: Valuer, device_id: str, signed: SignedEntry, mission: Mission, contract_id: str
) -> Mission:
    """The mission to value for the valuation entry `signed`: its order with the device's
    site facts recorded before it, exactly as the tablet applied them. Raises
    `TowlineError` when the contract cannot be found (the caller reports it)."""
    contract = valuer.contract_for(contract_id, mission)
    records = stored_records(valuer.conn, valuer.tenant_id, device_id, mission.id, signed.seq)
    site = on_site(mission, records, contract)
    found = conflict(site.mission.vehicle, contract)
    if found is not None:
        said = found.warning(contract)
        _raise_once(
            valuer,
            kind=CLASS_WEIGHT,
            subject=mission.id,
            device_id=device_id,
            signed=signed,
            detail={
                "class": found.given,
                "weight_kg": found.weight_kg,
                "by_weight": found.by_weight,
                "weight_decides": contract.weight_decides,
                "fr": said.fr,
                "en": said.en,
            },
        )
    return site.mission


def site_facts_stored(valuer: Valuer, device_id: str, signed: SignedEntry) -> None:
    """Judge a stored `site_facts` entry against the order the office holds and the
    contract's rules; a fact beyond them without a code issued by the office → anomaly."""
    payload = plain(signed.entry.payload)
    mission_id = payload.get("mission_id")
    ref = f"{device_id}:{signed.seq}"
    try:
        record = record_from_payload(payload, signed.hash)
    except InvalidDocument as exc:
        _raise_once(
            valuer,
            kind=UNREADABLE,
            subject=ref,
            device_id=device_id,
            signed=signed,
            detail={
                "problems": [p.message("en") for p in exc.problems],
                "fr": "Constats sur place illisibles : ni jugés ni appliqués par le bureau.",
                "en": "Unreadable site facts: neither judged nor applied by the office.",
            },
        )
        return
    order = _order(valuer, str(mission_id))
    contract_id = contract_of(payload)
    if order is None or contract_id is None:
        return  # an unknown mission is raised by the valuation that follows
    try:
        contract = valuer.contract_for(contract_id, order)
    except TowlineError:
        return  # the valuation that follows says why it could not be recomputed
    judged = [
        Judged(fact, *judge(fact, order, contract), record.approval_ref, record.ref)
        for fact in record.facts
    ]
    beyond = [j for j in judged if not j.verdict.within]
    if not beyond:
        return
    if record.approval_ref is None:
        fr = "Constat sur place au-delà de ce que le donneur d'ordre laisse changer seul, sans"
        fr += " accord du gérant : il ne change pas le prix. Acceptez-le avec le donneur"
        fr += " d'ordre, ou classez."
        en = "Site fact beyond what the ordering party lets a driver change alone, without the"
        en += " manager's approval: it does not change the price. Agree it with the ordering"
        en += " party, or close the question."
    elif _issued(valuer, device_id, order.id, record.approval_ref):
        return
    else:
        fr = f"Constat sur place appliqué avec le code « {record.approval_ref} », que le bureau"
        fr += " n'a jamais donné pour cette tablette et cette mission."
        en = f"Site fact applied with code “{record.approval_ref}”, which the office never"
        en += " issued for this tablet and mission."
    _raise_once(
        valuer,
        kind=BEYOND,
        subject=ref,
        device_id=device_id,
        signed=signed,
        detail={
            "facts": [_described(j) for j in beyond],
            "approval_ref": record.approval_ref,
            "contract": {"id": contract.id, "version": contract.version},
            "fr": fr,
            "en": en,
        },
    )


def _described(judged: Judged) -> dict[str, Any]:
    params = dict(step_of(judged).params)
    return {**params, "fr": sentence(params, "fr"), "en": sentence(params, "en")}


def _order(valuer: Valuer, mission_id: str) -> Mission | None:
    """The mission as the office holds it (the order); None when unknown or unreadable."""
    held = valuer.conn.execute(
        sa.select(missions.c.document).where(
            missions.c.tenant_id == valuer.tenant_id, missions.c.id == mission_id
        )
    ).scalar_one_or_none()
    if held is None:
        return None
    try:
        return load_mission(json.loads(held))
    except (TowlineError, ValueError):
        return None


def _issued(valuer: Valuer, device_id: str, mission_id: str, approval_ref: str) -> bool:
    """Whether the office issued this site-facts code for this tablet and mission."""
    for detail in valuer.conn.execute(
        sa.select(audit_log.c.detail).where(
            audit_log.c.tenant_id == valuer.tenant_id,
            audit_log.c.action == "approval.issue",
            audit_log.c.target == mission_id,
        )
    ).scalars():
        given = detail if isinstance(detail, Mapping) else json.loads(detail)
        code = normalise(str(given.get("code", ""))) or ""
        if (
            given.get("device_id") == device_id
            and given.get("kind") == Kind.SITE_FACTS.value
            and f"{given.get('key_version')}:{code}" == approval_ref
        ):
            return True
    return False


def _raise_once(
    valuer: Valuer,
    *,
    kind: str,
    subject: str,
    device_id: str,
    signed: SignedEntry,
    detail: Mapping[str, Any],
) -> None:
    """An anomaly for the office, once per subject: the same entry judged again, or the
    mission valued again, adds nothing."""
    known = valuer.conn.execute(
        sa.select(anomalies.c.id).where(
            anomalies.c.tenant_id == valuer.tenant_id,
            anomalies.c.kind == kind,
            anomalies.c.subject == subject,
        )
    ).first()
    if known is not None:
        return
    mission_id = signed.entry.payload.get("mission_id")
    valuer.conn.execute(
        sa.insert(anomalies).values(
            tenant_id=valuer.tenant_id,
            kind=kind,
            subject=subject,
            device_id=device_id,
            mission_id=mission_id if isinstance(mission_id, str) else None,
            driver_id=signed.entry.driver_id,
            amount_cents=None,
            detail=plain(
                {
                    "entry": {"device_id": device_id, "seq": signed.seq, "hash": signed.hash},
                    **detail,
                }
            ),
            status="open",
            created_at=valuer.now,
        )
    )
