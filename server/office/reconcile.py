"""Reconciliation: gather the facts, apply `server.office.reconcile_rules`, keep the anomalies.

Runs incrementally after every push (the missions and registers the batch touched) and
on demand for a whole tenant (`towline-server reconcile`), in batches of missions so the
memory used does not grow with the year. An anomaly is identified by its kind and its
subject (a mission, an entry, a code): reconciling again finds the same ones and adds
nothing; one whose condition no longer holds (the collection was voided…) is marked
`cleared`; one the office resolved or acknowledged stays so. Nothing is deleted.

Why one module over 500 lines: one algorithm, gathering the facts the rules of
`reconcile_rules` judge and storing their verdicts; the rules themselves live apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office.office_journal import PREFIX as SERVER_CHAIN
from server.office.reconcile_rules import (
    Finding,
    Item,
    MissionFacts,
    card_findings,
    cents,
    mission_findings,
    normalise_ref,
    register_findings,
    reused_approvals,
)
from server.platform.tables import (
    anomalies,
    audit_log,
    card_settlement_lines,
    card_settlements,
    contracts,
    decisions,
    journal_entries,
    missions,
    valuations,
)
from shared.approvals import normalise
from shared.canonical import plain
from shared.payment_terms import PayWhen

# The kinds reconciliation owns (it may clear them); push-level anomalies (forks,
# invalid journals, quarantine, valuation mismatches) are raised once by the push.
KINDS = frozenset(
    {
        "fictitious_collection",
        "over_collection",
        "under_collection",
        "gate_bypassed",
        "discount_without_approval",
        "approval_reused",
        "file_cap_exceeded",
        "register_variance",
        "card_unmatched",
        "dispute_raised",
    }
)
OPEN, CLEARED, RESOLVED = "open", "cleared", "resolved"
BATCH = 500  # missions per query round in a full reconciliation
IN_CHUNK = 1000  # values per IN list


@dataclass
class Summary:
    missions: int = 0
    found: int = 0
    opened: int = 0
    cleared: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


# --- facts ------------------------------------------------------------------------------------


def _items(rows: Iterable[Any]) -> Iterator[Item]:
    for row in rows:
        body = json.loads(row.body)
        yield Item(
            row.device_id,
            int(row.seq),
            row.type,
            body["at"],
            row.driver_id,
            body["payload"],
            row.hash,
        )


def _entries(conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]) -> list[Item]:
    rows = conn.execute(
        sa.select(
            journal_entries.c.device_id,
            journal_entries.c.seq,
            journal_entries.c.type,
            journal_entries.c.driver_id,
            journal_entries.c.hash,
            journal_entries.c.body,
        )
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id.in_(mission_ids),
            ~journal_entries.c.device_id.startswith(SERVER_CHAIN),
            # No rule reads a tablet's valuation entry (the valuations table holds both
            # figures), and it is the largest body: not fetched, not parsed.
            journal_entries.c.type != "valuation_recorded",
        )
        .order_by(journal_entries.c.device_id, journal_entries.c.seq)
    )
    return list(_items(rows))


def _latest_valuations(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str], source: str
) -> dict[str, dict[str, Any]]:
    latest = (
        sa.select(sa.func.max(valuations.c.id))
        .where(
            valuations.c.tenant_id == tenant_id,
            valuations.c.source == source,
            valuations.c.mission_id.in_(mission_ids),
        )
        .group_by(valuations.c.mission_id)
    )
    rows = conn.execute(
        sa.select(valuations.c.mission_id, valuations.c.body).where(valuations.c.id.in_(latest))
    )
    return {r.mission_id: json.loads(r.body) for r in rows}


class _Contracts:
    """Each contract version's payment preference, read once per reconciliation."""

    def __init__(self, conn: sa.Connection, tenant_id: str) -> None:
        self.conn, self.tenant_id = conn, tenant_id
        self.pays: dict[tuple[str, int], PayWhen] = {}

    def of(self, valuation: Mapping[str, Any]) -> PayWhen | None:
        contract = valuation.get("contract") or {}
        key = (str(contract.get("id")), int(contract.get("version", 0)))
        if key not in self.pays:
            document = self.conn.execute(
                sa.select(contracts.c.document).where(
                    contracts.c.tenant_id == self.tenant_id,
                    contracts.c.id == key[0],
                    contracts.c.version == key[1],
                )
            ).scalar_one_or_none()
            if document is None:
                return None
            payment = json.loads(document).get("payment") or {}
            self.pays[key] = PayWhen(payment.get("beneficiary_pays", "before_departure"))
        return self.pays[key]


def _due(valuation: Mapping[str, Any] | None) -> int | None:
    if valuation is None:
        return None
    return cents(valuation["payers"]["beneficiary"]["incl_vat"])


def _file_cap_gap(server: Mapping[str, Any], device: Mapping[str, Any] | None) -> int:
    """What the server's due exceeds the tablet's by because the tablet believed less of
    the file's cap was consumed (missions of one file valued offline at once)."""
    if device is None or not server.get("file_cap") or not device.get("file_cap"):
        return 0
    before_server = cents(server["file_cap"]["consumed_before"])
    before_device = cents(device["file_cap"]["consumed_before"])
    due_server, due_device = _due(server), _due(device)
    if before_server <= before_device or due_server is None or due_device is None:
        return 0
    return max(due_server - due_device, 0)


def _approvals(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]
) -> dict[str, set[tuple[str, str, str, int]]]:
    """Per mission, the approvals the office gave: issued codes and office decisions."""
    given: dict[str, set[tuple[str, str, str, int]]] = {m: set() for m in mission_ids}
    for row in conn.execute(
        sa.select(audit_log.c.target, audit_log.c.detail).where(
            audit_log.c.tenant_id == tenant_id,
            audit_log.c.action == "approval.issue",
            audit_log.c.target.in_(mission_ids),
        )
    ):
        d = row.detail
        code = normalise(str(d.get("code", ""))) or ""
        given.setdefault(row.target, set()).add(
            (str(d["device_id"]), f"{d['key_version']}:{code}", str(d["kind"]), cents(d["amount"]))
        )
    for decided in conn.execute(
        sa.select(decisions.c.id, decisions.c.type, decisions.c.mission_id, decisions.c.data).where(
            decisions.c.tenant_id == tenant_id,
            decisions.c.type.in_(("discount", "deferral")),
            decisions.c.mission_id.in_(mission_ids),
        )
    ):
        data = json.loads(decided.data) if isinstance(decided.data, str) else decided.data
        given.setdefault(decided.mission_id, set()).add(
            ("*", f"office:{decided.id}", decided.type, cents(data["amount"]))
        )
    return given


def _voided(conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]) -> dict[str, set[str]]:
    voided: dict[str, set[str]] = {}
    for row in conn.execute(
        sa.select(decisions.c.mission_id, decisions.c.data).where(
            decisions.c.tenant_id == tenant_id,
            decisions.c.type == "void_collection",
            decisions.c.mission_id.in_(mission_ids),
        )
    ):
        data = json.loads(row.data) if isinstance(row.data, str) else row.data
        voided.setdefault(row.mission_id, set()).add(str(data["collection"]["hash"]))
    return voided


def mission_facts(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str], terms: _Contracts
) -> list[MissionFacts]:
    ids = sorted(set(mission_ids))
    status = dict(
        conn.execute(
            sa.select(missions.c.id, missions.c.status).where(
                missions.c.tenant_id == tenant_id, missions.c.id.in_(ids)
            )
        ).all()
    )
    server = _latest_valuations(conn, tenant_id, ids, "server")
    device = _latest_valuations(conn, tenant_id, ids, "device")
    approvals = _approvals(conn, tenant_id, ids)
    voided = _voided(conn, tenant_id, ids)
    by_mission: dict[str, list[Item]] = {m: [] for m in ids}
    for item in _entries(conn, tenant_id, ids):
        by_mission[str(item.payload.get("mission_id"))].append(item)
    facts = []
    for mid in ids:
        valued = server.get(mid)
        facts.append(
            MissionFacts(
                mission_id=mid,
                office_status=status.get(mid),
                due_cents=_due(valued),
                device_due_cents=_due(device.get(mid)),
                pays=terms.of(valued) if valued else None,
                items=tuple(by_mission[mid]),
                voided=frozenset(voided.get(mid, ())),
                approvals=frozenset(approvals.get(mid, ())),
                file_cap_gap_cents=_file_cap_gap(valued, device.get(mid)) if valued else 0,
            )
        )
    return facts


# --- registers, approvals reused, card settlements -----------------------------------------


def _typed(
    conn: sa.Connection,
    tenant_id: str,
    types: Sequence[str],
    *,
    devices: Sequence[str] | None = None,
    like: str | None = None,
) -> list[Item]:
    query = sa.select(
        journal_entries.c.device_id,
        journal_entries.c.seq,
        journal_entries.c.type,
        journal_entries.c.driver_id,
        journal_entries.c.hash,
        journal_entries.c.body,
    ).where(journal_entries.c.tenant_id == tenant_id, journal_entries.c.type.in_(types))
    if devices is not None:
        query = query.where(journal_entries.c.device_id.in_(devices))
    if like is not None:
        query = query.where(journal_entries.c.body.contains(like, autoescape=True))
    return list(
        _items(conn.execute(query.order_by(journal_entries.c.device_id, journal_entries.c.seq)))
    )


Periods = list[tuple[str, str]]  # (first day, last day), ISO dates


def _settlement_lines(conn: sa.Connection, tenant_id: str) -> dict[tuple[str, int], int]:
    """Imported terminal settlement lines, counted by (reference, cents)."""
    lines: dict[tuple[str, int], int] = {}
    query = sa.select(
        card_settlement_lines.c.terminal_ref, card_settlement_lines.c.amount_cents
    ).where(card_settlement_lines.c.tenant_id == tenant_id)
    for ref, amount in conn.execute(query):
        key = (normalise_ref(ref), int(amount))
        lines[key] = lines.get(key, 0) + 1
    return lines


def _settlement_periods(conn: sa.Connection, tenant_id: str) -> Periods:
    """The days the imported files cover (a card payment outside them is not checked)."""
    return [
        (str(a), str(b))
        for a, b in conn.execute(
            sa.select(card_settlements.c.period_from, card_settlements.c.period_to).where(
                card_settlements.c.tenant_id == tenant_id
            )
        )
    ]


def _covered(at: str, periods: Sequence[tuple[str, str]]) -> bool:
    day = at[:10]
    return any(start <= day <= end for start, end in periods)


# --- storing ------------------------------------------------------------------------------------


def store(
    conn: sa.Connection,
    tenant_id: str,
    findings: Sequence[Finding],
    *,
    kinds: Iterable[str],
    subjects_checked: Iterable[str] | None,
    missions_checked: Iterable[str] | None,
    now: datetime,
    summary: Summary,
) -> None:
    """Open what is new; clear open anomalies of `kinds` about what was checked that no
    longer hold. Resolved or acknowledged ones are never reopened."""
    kinds = frozenset(kinds)
    found = {(f.kind, f.subject): f for f in findings}
    held: list[Any] = []
    columns = (
        anomalies.c.id,
        anomalies.c.kind,
        anomalies.c.subject,
        anomalies.c.status,
        anomalies.c.mission_id,
    )
    # Bounded IN lists: a database refuses statements with too many parameters
    # (PostgreSQL: 65,535), and a tenant's year has more card payments than that.
    for column, values in (
        (anomalies.c.subject, [s for _, s in found]),
        (anomalies.c.mission_id, list(missions_checked or ())),
        (anomalies.c.subject, list(subjects_checked or ())),
    ):
        for start in range(0, len(values), IN_CHUNK):
            held.extend(
                conn.execute(
                    sa.select(*columns).where(
                        anomalies.c.tenant_id == tenant_id,
                        anomalies.c.kind.in_(kinds),
                        column.in_(values[start : start + IN_CHUNK]),
                    )
                )
            )
    known = {(r.kind, r.subject): r for r in held}
    for key, finding in found.items():
        summary.found += 1
        summary.by_kind[finding.kind] = summary.by_kind.get(finding.kind, 0) + 1
        row = known.get(key)
        if row is not None and row.status != CLEARED:
            continue
        conn.execute(
            sa.insert(anomalies).values(
                tenant_id=tenant_id,
                kind=finding.kind,
                subject=finding.subject,
                device_id=finding.device_id,
                mission_id=finding.mission_id,
                driver_id=finding.driver_id,
                amount_cents=finding.amount_cents,
                detail=plain(finding.detail()),
                status=OPEN,
                created_at=now,
            )
        )
        summary.opened += 1
    stale = [r.id for key, r in known.items() if r.status == OPEN and key not in found]
    for start in range(0, len(stale), IN_CHUNK):
        conn.execute(
            sa.update(anomalies)
            .where(anomalies.c.id.in_(stale[start : start + IN_CHUNK]))
            .values(status=CLEARED)
        )
    summary.cleared += len(stale)


# --- entry points -------------------------------------------------------------------------------


def reconcile_missions(
    conn: sa.Connection,
    tenant_id: str,
    mission_ids: Iterable[str],
    *,
    now: datetime,
    summary: Summary | None = None,
    terms: _Contracts | None = None,
) -> Summary:
    summary = summary or Summary()
    ids = sorted({m for m in mission_ids if m})
    if not ids:
        return summary
    terms = terms or _Contracts(conn, tenant_id)
    facts = mission_facts(conn, tenant_id, ids, terms)
    findings = [f for fact in facts for f in mission_findings(fact)]
    summary.missions += len(ids)
    mission_kinds = KINDS - {"approval_reused", "register_variance", "card_unmatched"}
    store(
        conn,
        tenant_id,
        findings,
        kinds=mission_kinds,
        subjects_checked=None,
        missions_checked=ids,
        now=now,
        summary=summary,
    )
    return summary


def reconcile_entries(
    conn: sa.Connection,
    tenant_id: str,
    items: Sequence[Item],
    *,
    now: datetime,
    summary: Summary | None = None,
) -> Summary:
    """After a push: the missions its entries touch, its register closings, the approval
    codes it cites, its card collections."""
    summary = summary or Summary()
    reconcile_missions(
        conn,
        tenant_id,
        (
            str(i.payload.get("mission_id"))
            for i in items
            if isinstance(i.payload.get("mission_id"), str)
        ),
        now=now,
        summary=summary,
    )
    closings = [i for i in items if i.type == "register_closed"]
    store(
        conn,
        tenant_id,
        register_findings(closings),
        kinds={"register_variance"},
        subjects_checked=[f"{i.device_id}:{i.seq}" for i in closings],
        missions_checked=None,
        now=now,
        summary=summary,
    )
    refs = {str(i.payload.get("approval_ref")) for i in items if i.type in ("discount", "deferral")}
    for ref in sorted(refs):
        uses = _typed(conn, tenant_id, ("discount", "deferral"), like=f'"approval_ref":"{ref}"')
        store(
            conn,
            tenant_id,
            reused_approvals(uses),
            kinds={"approval_reused"},
            subjects_checked=[ref],
            missions_checked=None,
            now=now,
            summary=summary,
        )
    cards = [i for i in items if i.type == "collection" and i.payload.get("method") == "card"]
    if cards:
        _check_cards(conn, tenant_id, cards, now=now, summary=summary)
    return summary


def _check_cards(
    conn: sa.Connection, tenant_id: str, cards: Sequence[Item], *, now: datetime, summary: Summary
) -> None:
    periods = _settlement_periods(conn, tenant_id)
    if not any(_covered(c.at, periods) for c in cards):
        return  # no imported file covers these days: nothing to match yet
    lines = _settlement_lines(conn, tenant_id)
    # Lines are matched against every card collection of the covered periods, so one line
    # never vouches for two collections.
    every = [
        c
        for c in _typed(conn, tenant_id, ("collection",), like='"method":"card"')
        if _covered(c.at, periods)
    ]
    voided = {
        str((json.loads(d) if isinstance(d, str) else d)["collection"]["hash"])
        for d in conn.execute(
            sa.select(decisions.c.data).where(
                decisions.c.tenant_id == tenant_id, decisions.c.type == "void_collection"
            )
        ).scalars()
    }
    reversed_refs = voided | {
        str(i.payload.get("reverses", {}).get("hash"))
        for i in _typed(conn, tenant_id, ("reversal",))
    }
    live = [c for c in every if c.hash not in reversed_refs]
    store(
        conn,
        tenant_id,
        card_findings(live, lines),
        kinds={"card_unmatched"},
        subjects_checked=[f"{c.device_id}:{c.seq}" for c in every],
        missions_checked=None,
        now=now,
        summary=summary,
    )


def reconcile_tenant(conn: sa.Connection, tenant_id: str, *, now: datetime) -> Summary:
    """Everything, for one tenant: missions in batches, then registers, codes and cards."""
    summary = Summary()
    terms = _Contracts(conn, tenant_id)
    ids = [
        r[0]
        for r in conn.execute(
            sa.select(missions.c.id)
            .where(missions.c.tenant_id == tenant_id)
            .order_by(missions.c.id)
        )
    ]
    for start in range(0, len(ids), BATCH):
        reconcile_missions(
            conn, tenant_id, ids[start : start + BATCH], now=now, summary=summary, terms=terms
        )
    closings = _typed(conn, tenant_id, ("register_closed",))
    store(
        conn,
        tenant_id,
        register_findings(closings),
        kinds={"register_variance"},
        subjects_checked=[f"{i.device_id}:{i.seq}" for i in closings],
        missions_checked=None,
        now=now,
        summary=summary,
    )
    uses = _typed(conn, tenant_id, ("discount", "deferral"))
    refs = sorted({str(u.payload.get("approval_ref")) for u in uses})
    store(
        conn,
        tenant_id,
        reused_approvals(uses),
        kinds={"approval_reused"},
        subjects_checked=refs,
        missions_checked=None,
        now=now,
        summary=summary,
    )
    cards = [c for c in _typed(conn, tenant_id, ("collection",), like='"method":"card"')]
    if cards:
        _check_cards(conn, tenant_id, cards, now=now, summary=summary)
    return summary


def mission_due_cents(conn: sa.Connection, tenant_id: str, mission_id: str) -> int | None:
    """What the beneficiary owes per the server's latest valuation (None: not valued)."""
    return _due(_latest_valuations(conn, tenant_id, [mission_id], "server").get(mission_id))
