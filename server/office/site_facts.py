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

The office may approve a fact kept for it after the fact (`server.office.fact_approvals`):
a decision of type `site_facts_approval` citing the entry. From then on the server counts
the entry's facts as approved (`mission_on_site`), and the tablet that recorded them, at
its next pull, records them again with `approval_ref` "office:<decision id>"
(`fieldclient.site_facts.apply_office_approval`), so both value the same mission.

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

from server.platform.tables import anomalies, audit_log, decisions, journal_entries, missions
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
from shared.site_facts_words import figure, name, sentence, status
from shared.vehicle_class import conflict

BEYOND = "site_fact_beyond_tolerance"
CLASS_WEIGHT = "vehicle_class_contradicts_weight"
UNREADABLE = "site_facts_unreadable"
KINDS = (BEYOND, CLASS_WEIGHT, UNREADABLE)
OFFICE_APPROVAL = "site_facts_approval"  # the office's decision type
OFFICE_APPROVED = {
    "fr": "au-delà de la règle, approuvé après coup par le bureau",
    "en": "beyond the rule, approved after the fact by the office",
}
OFFICE_REF = "office:"  # approval_ref of facts the office approved: "office:<decision id>"


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


def office_approvals(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[Any]:
    """The office's approvals of facts kept for it on a mission, oldest first."""
    return list(
        conn.execute(
            sa.select(decisions)
            .where(
                decisions.c.tenant_id == tenant_id,
                decisions.c.mission_id == mission_id,
                decisions.c.type == OFFICE_APPROVAL,
            )
            .order_by(decisions.c.decided_at, decisions.c.id)
        )
    )


def approved_later(
    conn: sa.Connection, tenant_id: str, device_id: str, mission_id: str, records: list[Record]
) -> list[Record]:
    """The entries among `records` the office approved after the fact and the tablet has
    not recorded again yet: the same facts, approved (after the others, where the tablet
    puts them when it applies the decision). Once the tablet recorded them, its entry
    stands for them."""
    restated = {r.approval_ref for r in records}
    extra = []
    for row in office_approvals(conn, tenant_id, mission_id):
        ref = OFFICE_REF + row.id
        if row.device_id != device_id or ref in restated:
            continue
        # Read from the journal: a fact kept changes no price, so the tablet may have
        # recorded no valuation after it.
        held = conn.execute(
            sa.select(journal_entries.c.body, journal_entries.c.hash).where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.device_id == device_id,
                journal_entries.c.seq == row.entry_seq,
            )
        ).first()
        if held is not None:
            payload = json.loads(held.body)["payload"]
            extra.append(Record(record_from_payload(payload, held.hash).facts, ref, held.hash))
    return extra


def _data(raw: object) -> dict[str, Any]:
    loaded = json.loads(raw) if isinstance(raw, str) else raw
    return dict(loaded) if isinstance(loaded, Mapping) else {}


def mission_on_site(
    valuer: Valuer, device_id: str, signed: SignedEntry, mission: Mission, contract_id: str
) -> Mission:
    """The mission to value for the valuation entry `signed`: its order with the device's
    site facts recorded before it, exactly as the tablet applied them. Raises
    `TowlineError` when the contract cannot be found (the caller reports it)."""
    contract = valuer.contract_for(contract_id, mission)
    records = stored_records(valuer.conn, valuer.tenant_id, device_id, mission.id, signed.seq)
    records += approved_later(valuer.conn, valuer.tenant_id, device_id, mission.id, records)
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
    elif record.approval_ref.startswith(OFFICE_REF):
        fr = f"Constat sur place appliqué comme approuvé par le bureau ({record.approval_ref}),"
        fr += " mais le bureau n'a pris aucune décision de ce numéro pour cette tablette."
        en = f"Site fact applied as approved by the office ({record.approval_ref}), but the"
        en += " office made no such decision for this tablet."
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
    """Whether the office issued this site-facts code for this tablet and mission, or
    approved facts on it after the fact ("office:<decision id>")."""
    if approval_ref.startswith(OFFICE_REF):
        return any(
            row.id == approval_ref.removeprefix(OFFICE_REF) and row.device_id == device_id
            for row in office_approvals(valuer.conn, valuer.tenant_id, mission_id)
        )
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


# --- order against site, for the office's pages ---------------------------------------------


def order_against_site(valuer: Valuer, mission_id: str) -> list[dict[str, Any]]:
    """Every fact drivers recorded on a mission, judged again against the order the office
    holds with the contract the entry names: what the order said, what was found, the
    rule's verdict (`free`, `within`, `code`, `office` or `held`: beyond, kept for the
    office), who recorded it and when (the tablet's clock, UTC). A fact the office approved
    after the fact names its decision; the tablet's re-recording of it is not repeated."""
    order = _order(valuer, mission_id)
    if order is None:
        return []
    approvals = {row.id: row for row in office_approvals(valuer.conn, valuer.tenant_id, mission_id)}
    by_entry = {(r.device_id, r.entry_seq): r for r in approvals.values()}
    open_held = _open_beyond(valuer.conn, valuer.tenant_id, mission_id)
    rows = valuer.conn.execute(
        sa.select(journal_entries)
        .where(
            journal_entries.c.tenant_id == valuer.tenant_id,
            journal_entries.c.mission_id == mission_id,
            journal_entries.c.type == EntryType.SITE_FACTS.value,
        )
        .order_by(journal_entries.c.at, journal_entries.c.device_id, journal_entries.c.seq)
    ).all()
    out: list[dict[str, Any]] = []
    for row in rows:
        try:
            payload = json.loads(row.body)["payload"]
            record = record_from_payload(payload, row.hash)
            contract = valuer.contract_for(str(contract_of(payload)), order)
        except (InvalidDocument, KeyError, TypeError, ValueError, TowlineError):
            continue  # unreadable, or no contract: its anomaly or the valuation says why
        ref = record.approval_ref or ""
        if ref.startswith(OFFICE_REF) and ref.removeprefix(OFFICE_REF) in approvals:
            continue  # the tablet applying the office's approval: shown on the original
        decided = by_entry.get((row.device_id, int(row.seq)))
        for fact in record.facts:
            said, verdict = judge(fact, order, contract)
            params = dict(step_of(Judged(fact, said, verdict, record.approval_ref, None)).params)
            if verdict.allow.value == "free":
                shown = "free"
            elif verdict.within:
                shown = "within"
            elif decided is not None:
                shown = "office"
            elif record.approval_ref is not None:
                shown = "code"
            else:
                shown = "held"
            out.append(
                {
                    "device_id": row.device_id,
                    "seq": int(row.seq),
                    "driver_id": row.driver_id,
                    "at": row.at,
                    "fact": fact.fact,
                    "key": fact.key,
                    "name": {lang: name(fact.fact, fact.key, lang) for lang in ("fr", "en")},
                    "order": {lang: figure(fact.fact, said, lang) for lang in ("fr", "en")},
                    "found": {lang: figure(fact.fact, fact.found, lang) for lang in ("fr", "en")},
                    "verdict": shown,
                    "rule": OFFICE_APPROVED
                    if shown == "office"
                    else {lang: status(params, lang) for lang in ("fr", "en")},
                    "approval_ref": record.approval_ref,
                    "decision": None
                    if decided is None
                    else {
                        "id": decided.id,
                        "by": decided.decided_by,
                        "at": decided.decided_at,
                        "reason": _data(decided.data).get("reason"),
                    },
                    "anomaly_id": open_held.get(f"{row.device_id}:{row.seq}")
                    if shown == "held"
                    else None,
                }
            )
    return out


def _open_beyond(conn: sa.Connection, tenant_id: str, mission_id: str) -> dict[str, int]:
    """{entry "device:seq": id} of the mission's open `site_fact_beyond_tolerance`."""
    rows = conn.execute(
        sa.select(anomalies.c.id, anomalies.c.subject).where(
            anomalies.c.tenant_id == tenant_id,
            anomalies.c.mission_id == mission_id,
            anomalies.c.kind == BEYOND,
            anomalies.c.status == "open",
        )
    )
    return {str(r.subject): int(r.id) for r in rows}
