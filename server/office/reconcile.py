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
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.office import (
    card_days,
    cash_limits,
    debtor_deferral,
    mission_terms,
    reconcile_cash,
    reconcile_methods,
    valuation_figures,
)
from server.office.office_journal import PREFIX as SERVER_CHAIN
from server.office.reconcile_facts import (
    ITEM_COLUMNS,
    approval_key,
    items_of,
    ref_of,
    reversal_key,
    typed,
)
from server.office.reconcile_rules import (
    Finding,
    Item,
    MissionFacts,
    card_findings,
    cents,
    mission_findings,
    register_findings,
    reused_approvals,
    unsettled_cards,
)
from server.office.valuation_figures import Figures
from server.platform.tables import (
    anomalies,
    audit_log,
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
# Reconciliation's too, but found as time passes rather than in the facts as they stand (a
# card payment still waiting for its day's settlement file): kept apart from KINDS, whose
# every member the synthetic year plants. Judged per card payment, never per mission.
UNSETTLED = "card_unsettled"
# Reconciliation's too, judged per mission like KINDS (issue 16), but not planted by the
# synthetic year: a collection by a method or with evidence the contract refuses, and
# money left owed by a mission ended cancelled or gone on arrival.
MISSION_CHECKS = frozenset(
    {reconcile_methods.KIND, "owed_at_end", reconcile_cash.KIND, "deferral_to_debtor"}
)
OPEN, CLEARED, RESOLVED = "open", "cleared", "resolved"
BATCH = 500  # missions per query round in a full reconciliation
STEP_BATCH = 2000  # missions per transaction when a full one commits as it goes
# On SQLite a writer waiting for the lock does not queue: its busy handler sleeps and
# tries again, every 100 ms once it has waited a quarter of a second. A stepped run that
# began its next transaction at once would keep it out to the end; this pause between
# two batches lets it in (a year: 365 batches, about 40 s more).
SQLITE_PAUSE = 0.11  # seconds
CARD_BATCH = 5000  # card payments, approval uses or register closings per round of a full one
KEYED_PAGE = 20_000  # register closings, or keyed entries, per transaction of a stepped one
IN_CHUNK = 1000  # values per IN list


@dataclass
class Summary:
    missions: int = 0
    found: int = 0
    opened: int = 0
    cleared: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


# --- facts ------------------------------------------------------------------------------------


def _entries(
    conn: sa.Connection,
    tenant_id: str,
    mission_ids: Sequence[str],
    fresh: Sequence[Item] | None = None,
) -> list[Item]:
    """The missions' entries, in device order. With `fresh` (the entries a push has just
    stored, already in memory): those, plus what the database holds besides them but the
    entries stored as repeating an earlier one of their tablet and mission (same driver,
    type and facts; never money nor a dispute: `reconcile_facts.mark_repeats`;
    `_repeats_matter` says why leaving them out changes no verdict), so a push reads what
    it touched, not how often the missions' steps were sent."""
    if fresh is None:
        return list(items_of(conn.execute(_history(tenant_id, mission_ids))))
    ids = set(mission_ids)
    mine = [i for i in fresh if i.type != VALUATION and _mission_column(i) in ids]
    ranges = _ranges(fresh)
    known = {(i.device_id, i.seq) for i in fresh}
    rows = conn.execute(_history(tenant_id, mission_ids, ranges, repeats=False))
    items = [i for i in items_of(rows) if (i.device_id, i.seq) not in known]
    found = sorted([*items, *mine], key=lambda i: (i.device_id, i.seq))
    again = sorted({m for i in found if _repeats_matter(i) and (m := _mission_column(i))})
    if not again:
        return found
    # Money that may go down: a repeated step could then decide the gate; read it all.
    kept = [i for i in found if _mission_column(i) not in again]
    full = [
        i
        for i in items_of(conn.execute(_history(tenant_id, again, ranges)))
        if (i.device_id, i.seq) not in known
    ]
    redo = [i for i in mine if _mission_column(i) in again]
    return sorted([*kept, *full, *redo], key=lambda i: (i.device_id, i.seq))


VALUATION = "valuation_recorded"
_MONEY = frozenset({"collection", "discount", "deferral"})


def _history(
    tenant_id: str,
    mission_ids: Sequence[str],
    besides: Mapping[str, tuple[int, int]] | None = None,
    *,
    repeats: bool = True,
) -> sa.Select[Any]:
    """The query of the missions' tablet entries in device order, but those in `besides`
    (per device, a range of seqs). `repeats=False`: not those stored as repeating an
    earlier one (`reconcile_facts.mark_repeats`)."""
    j = journal_entries.c
    where = [
        j.tenant_id == tenant_id,
        j.mission_id.in_(mission_ids),
        ~j.device_id.startswith(SERVER_CHAIN),
        # No rule reads a tablet's valuation entry (the valuations table holds both
        # figures), and it is the largest body: not fetched, not parsed.
        j.type != VALUATION,
    ]
    for device_id, (low, high) in (besides or {}).items():
        where.append(~sa.and_(j.device_id == device_id, j.seq.between(low, high)))
    if not repeats:  # through the partial index of first occurrences
        where.append(j.repeats.is_(None))
    return sa.select(*ITEM_COLUMNS).where(*where).order_by(j.device_id, j.seq)


def _ranges(items: Sequence[Item]) -> dict[str, tuple[int, int]]:
    """Per device whose `items` are one run of consecutive seqs (a push's), its lowest and
    highest: the database need not return them."""
    seqs: dict[str, set[int]] = {}
    for i in items:
        seqs.setdefault(i.device_id, set()).add(i.seq)
    return {
        device: (min(held), max(held))
        for device, held in seqs.items()
        if max(held) - min(held) + 1 == len(held)
    }


def _repeats_matter(item: Item) -> bool:
    """Whether a repeated entry of this item's mission could change a verdict: a repeated
    step (the same move, the same `remaining`) decides nothing its first occurrence did not
    — completion and an unserved end are found on the first, and the gate, judged on the
    first, can only hold again if money settled went down in between — so only a money
    entry that lowers (or cannot be read as) an amount makes every entry count."""
    if item.type not in _MONEY:
        return False
    try:
        return cents(item.payload["amount"]) < 0
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return True


def _latest_valuations(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str], source: str
) -> dict[str, Figures]:
    """Per mission, the figures of its latest valuation from `source`, read from the row's
    columns (server.office.valuation_figures); a row stored without them, from its body."""
    v = valuations.c
    latest = (
        sa.select(sa.func.max(v.id))
        .where(v.tenant_id == tenant_id, v.source == source, v.mission_id.in_(mission_ids))
        .group_by(v.mission_id)
    )
    rows = conn.execute(
        sa.select(
            v.mission_id,
            v.beneficiary_due_cents,
            v.contract_id,
            v.contract_version,
            v.file_cap_before_cents,
            sa.case((v.contract_id.is_(None), v.body)).label("body"),
        ).where(v.id.in_(latest))
    )
    return {
        r.mission_id: (
            Figures(
                r.beneficiary_due_cents,
                r.contract_id,
                r.contract_version,
                r.file_cap_before_cents,
            )
            if r.body is None
            else valuation_figures.of_body(json.loads(r.body), r.beneficiary_due_cents)
        )
        for r in rows
    }


class _Contracts:
    """Each contract version's payment preference and accepted methods, read once per
    reconciliation."""

    def __init__(self, conn: sa.Connection, tenant_id: str) -> None:
        self.conn, self.tenant_id = conn, tenant_id
        self.terms: dict[tuple[str, int], tuple[PayWhen, frozenset[str]] | None] = {}

    def _terms(self, valued: Figures) -> tuple[PayWhen, frozenset[str]] | None:
        key = valued.contract
        if key is None:
            return None
        if key not in self.terms:
            document = self.conn.execute(
                sa.select(contracts.c.document).where(
                    contracts.c.tenant_id == self.tenant_id,
                    contracts.c.id == key[0],
                    contracts.c.version == key[1],
                )
            ).scalar_one_or_none()
            if document is None:
                self.terms[key] = None
            else:
                payment = json.loads(document).get("payment") or {}
                self.terms[key] = (
                    PayWhen(payment.get("beneficiary_pays", "before_departure")),
                    frozenset(str(m) for m in payment.get("methods") or ()),
                )
        return self.terms[key]

    def of(self, valued: Figures) -> PayWhen | None:
        found = self._terms(valued)
        return found[0] if found else None

    def methods_of(self, valued: Figures) -> frozenset[str] | None:
        """The payment methods the valuation's contract version accepts (None: unknown)."""
        found = self._terms(valued)
        return found[1] if found else None


def _contract_name(valued: Figures) -> str | None:
    return f"{valued.contract_id} v{valued.contract_version}" if valued.contract_id else None


def _file_cap_gap(server: Figures, device: Figures | None) -> int:
    """What the server's due exceeds the tablet's by because the tablet believed less of
    the file's cap was consumed (missions of one file valued offline at once)."""
    if device is None:
        return 0
    before_server, before_device = server.file_cap_before_cents, device.file_cap_before_cents
    if before_server is None or before_device is None or before_server <= before_device:
        return 0
    if server.due_cents is None or device.due_cents is None:
        return 0
    return max(server.due_cents - device.due_cents, 0)


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
    conn: sa.Connection,
    tenant_id: str,
    mission_ids: Sequence[str],
    terms: _Contracts,
    fresh: Sequence[Item] | None = None,
) -> list[MissionFacts]:
    """Each mission's facts; `fresh`: the entries a push has just stored (`_entries`)."""
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
    # A payment moment the office set by hand for a mission moves its gate too.
    by_office = mission_terms.office_terms(conn, tenant_id, ids)
    cash_limit = cash_limits.on_site_limit_cents(conn, tenant_id)
    by_mission: dict[str, list[Item]] = {m: [] for m in ids}
    for item in _entries(conn, tenant_id, ids, fresh):
        by_mission[str(item.payload.get("mission_id"))].append(item)
    # "Bill later" for a customer who owed money (server.office.debtor_deferral).
    debtors = debtor_deferral.deferral_checks(conn, tenant_id, by_mission)
    facts = []
    for mid in ids:
        valued = server.get(mid)
        facts.append(
            MissionFacts(
                mission_id=mid,
                office_status=status.get(mid),
                due_cents=valued.due_cents if valued else None,
                device_due_cents=device[mid].due_cents if mid in device else None,
                pays=(by_office[mid].pays or terms.of(valued)) if valued else None,
                items=tuple(by_mission[mid]),
                voided=frozenset(voided.get(mid, ())),
                approvals=frozenset(approvals.get(mid, ())),
                file_cap_gap_cents=_file_cap_gap(valued, device.get(mid)) if valued else 0,
                methods=terms.methods_of(valued) if valued else None,
                contract=_contract_name(valued) if valued else None,
                debtors=debtors.get(mid, {}),
                cash_limit_cents=cash_limit,
            )
        )
    return facts


# --- registers, approvals reused, card settlements -----------------------------------------


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
        where = [anomalies.c.tenant_id == tenant_id]
        if column is anomalies.c.subject:  # through (tenant, kind, subject)
            where.append(anomalies.c.kind.in_(kinds))
        # By mission, the kinds are checked here: given in SQL, SQLite would rather walk
        # every anomaly of each kind (the subject's index) than the missions' own.
        for start in range(0, len(values), IN_CHUNK):
            held.extend(
                row
                for row in conn.execute(
                    sa.select(*columns).where(*where, column.in_(values[start : start + IN_CHUNK]))
                )
                if row.kind in kinds
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
    fresh: Sequence[Item] | None = None,
) -> Summary:
    summary = summary or Summary()
    ids = sorted({m for m in mission_ids if m})
    if not ids:
        return summary
    terms = terms or _Contracts(conn, tenant_id)
    facts = mission_facts(conn, tenant_id, ids, terms, fresh)
    findings = [
        f
        for fact in facts
        for f in (
            *mission_findings(fact),
            *reconcile_methods.method_findings(fact),
            *reconcile_cash.cash_findings(fact),
        )
    ]
    summary.missions += len(ids)
    mission_kinds = (KINDS | MISSION_CHECKS) - {
        "approval_reused",
        "register_variance",
        "card_unmatched",
    }
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
    fresh: Sequence[Item] | None = None,
) -> Summary:
    """After a push: the missions its entries touch, its register closings, the approval
    codes it cites, its card collections. `fresh`: every entry the push stored (`items`
    and those it held), in memory, so they are not read back (`_entries`)."""
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
        fresh=fresh,
    )
    closings = [i for i in items if i.type == "register_closed"]
    _check_closings(conn, tenant_id, closings, now=now, summary=summary)
    refs = {str(i.payload.get("approval_ref")) for i in items if i.type in ("discount", "deferral")}
    for ref in sorted(refs):
        uses = typed(conn, tenant_id, ("discount", "deferral"), refs=[approval_key(ref)])
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
        reversals = [i for i in items if i.type == "reversal"]
        _check_cards(conn, tenant_id, cards, now=now, summary=summary, reversals=reversals)
    return summary


def _check_cards(
    conn: sa.Connection,
    tenant_id: str,
    cards: Sequence[Item],
    *,
    now: datetime,
    summary: Summary,
    reversals: Sequence[Item] = (),
    whole: _CardTerms | None = None,
) -> None:
    """Card collections against the terminal's settlement files: matched line by line on
    the days files cover (`card_unmatched`), and, on days no file covers, each one its own
    anomaly once CARD_SETTLEMENT_DELAY has passed (`card_unsettled`).

    `cards`: those of a push (with the push's `reversals`), or, in a whole
    reconciliation (`whole`: what its batches share), a batch of the tenant's card
    collections holding every payment of its keys (`_keyed_batches`). A line matches a
    payment of the same (reference, amount) only, so for a push only the payments
    sharing a key with its own, or with one it takes back, are matched again: the same
    verdicts as matching the whole tenant's, for the cost of what the push touched."""
    if whole is None:
        days = card_days.covered_days(card_days.settlement_periods(conn, tenant_id))
        zone = card_days.tenant_zone(conn, tenant_id)
    else:
        days, zone = whole.days, whole.zone
    payments = [card_days.card_payment(c, zone, now) for c in cards]
    overdue = unsettled_cards(payments, days, now)
    if overdue:  # a void or a reversal settles the question: only what still stands
        by_hash = {c.hash: c for c in cards}
        due = [by_hash[f.evidence["entry"]["hash"]] for f in overdue]
        taken_back = whole.taken_back if whole else _taken_back(conn, tenant_id, due)
        overdue = [f for f in overdue if f.evidence["entry"]["hash"] not in taken_back]
    store(
        conn,
        tenant_id,
        overdue,
        kinds={UNSETTLED},
        subjects_checked=[f"{c.device_id}:{c.seq}" for c in cards],
        missions_checked=None,
        now=now,
        summary=summary,
    )
    if not any(card_days.covered(c.at, days, zone) for c in cards):
        return  # no imported file covers these days: nothing to match yet
    # Lines are matched against every card collection of the covered periods with the
    # same key, so one line never vouches for two collections.
    keys = {k for c in cards if (k := ref_of(c.type, c.payload)) is not None}
    if whole:
        candidates = list(cards)
    else:
        keys |= _keys_taken_back(conn, tenant_id, reversals)
        candidates = typed(conn, tenant_id, ("collection",), refs=keys)
    every = [c for c in candidates if card_days.covered(c.at, days, zone)]
    lines = card_days.settlement_lines(conn, tenant_id, keys)
    reversed_refs = whole.taken_back if whole else _taken_back(conn, tenant_id, every)
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


def _taken_back(
    conn: sa.Connection, tenant_id: str, collections: Sequence[Item] | None
) -> set[str]:
    """The collections (entry hashes) the office voided or a tablet reversed: among
    `collections` (looked up by their missions and hashes), or the tenant's all (None)."""
    voids = sa.select(decisions.c.data).where(
        decisions.c.tenant_id == tenant_id, decisions.c.type == "void_collection"
    )
    reversal_keys = None
    if collections is not None:
        if not collections:
            return set()
        missions_of = sorted({m for c in collections if (m := _mission_column(c)) is not None})
        voids = voids.where(
            sa.or_(decisions.c.mission_id.in_(missions_of), decisions.c.mission_id.is_(None))
        )
        reversal_keys = [reversal_key(c.hash) for c in collections]
    voided = {
        str((json.loads(d) if isinstance(d, str) else d)["collection"]["hash"])
        for d in conn.execute(voids).scalars()
    }
    return voided | {
        str(i.payload.get("reverses", {}).get("hash"))
        for i in typed(conn, tenant_id, ("reversal",), refs=reversal_keys)
    }


def _keys_taken_back(conn: sa.Connection, tenant_id: str, reversals: Sequence[Item]) -> set[str]:
    """The keys of the card collections a push's reversals take back (on their missions)."""
    hashes: dict[str, set[str]] = {}
    for r in reversals:
        reverses = r.payload.get("reverses")
        mission = _mission_column(r)
        if isinstance(reverses, Mapping) and isinstance(reverses.get("hash"), str) and mission:
            hashes.setdefault(mission, set()).add(reverses["hash"])
    if not hashes:
        return set()
    rows = conn.execute(
        sa.select(*ITEM_COLUMNS).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id.in_(sorted(hashes)),
            journal_entries.c.type == "collection",
        )
    )
    wanted = set().union(*hashes.values())
    return {
        key
        for c in items_of(rows)
        if c.hash in wanted and (key := ref_of(c.type, c.payload)) is not None
    }


def _check_closings(
    conn: sa.Connection,
    tenant_id: str,
    closings: Sequence[Item],
    *,
    now: datetime,
    summary: Summary,
) -> None:
    """Each register closing against the collections it counts (`register_variance`)."""
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


def _mission_column(item: Item) -> str | None:
    """The mission an entry is stored under (`journal_entries.mission_id`, as the push
    writes it: the payload's, when it is an id)."""
    mission = item.payload.get("mission_id")
    return mission if isinstance(mission, str) and 0 < len(mission) <= 64 else None


def reconcile_tenant(conn: sa.Connection, tenant_id: str, *, now: datetime) -> Summary:
    """Everything, for one tenant, in the caller's transaction: missions in batches, then
    registers, codes and cards. Every part is read a batch at a time, so memory holds a
    batch (and the tenant's voided or reversed collections), not the tenant's year
    (bench/reconcile.py prints it). `reconcile_tenant_in_steps` does the same work in
    one transaction per batch of missions."""
    summary = Summary()
    terms = _Contracts(conn, tenant_id)
    for ids in _mission_pages(conn, tenant_id):
        reconcile_missions(conn, tenant_id, ids, now=now, summary=summary, terms=terms)
    reconcile_keyed(conn, tenant_id, now=now, summary=summary)
    return summary


def reconcile_tenant_in_steps(
    engine: sa.Engine,
    tenant_id: str,
    *,
    now: datetime,
    go_on: Callable[[sa.Connection], bool] = lambda _conn: True,
    finish: Callable[[sa.Connection], bool] = lambda _conn: True,
    pause: float | None = None,
) -> Summary | None:
    """`reconcile_tenant`, committing after each batch of missions, so a year's run never
    holds the database for minutes: on SQLite every transaction holds the write lock
    (BEGIN IMMEDIATE), and a push waiting longer than its busy timeout fails. Each batch
    is whole (its missions' verdicts commit together); a run stopped half-way has stored
    the batches it did, and running again finds what they found. Between two batches it
    waits `pause` seconds (SQLITE_PAUSE on SQLite; none on PostgreSQL, whose writers do
    not wait for it), so that the writers waiting get in.

    Then the registers, card payments and approval codes, a page a transaction (every
    entry of a key in the page of its key). `go_on(conn)` opens each transaction and
    `finish(conn)` a last one of its own: when either says no (a job another worker has
    taken over), the run stops there and returns None."""
    if pause is None:
        pause = SQLITE_PAUSE if engine.dialect.name == "sqlite" else 0.0
    summary, after = Summary(), ""
    while True:
        with engine.begin() as conn:
            if not go_on(conn):
                return None
            ids = mission_page(conn, tenant_id, after=after, size=STEP_BATCH)
            if not ids:
                break
            reconcile_missions(conn, tenant_id, ids, now=now, summary=summary)
        after = ids[-1]
        time.sleep(pause)
    if not _keyed_steps(engine, tenant_id, now=now, summary=summary, go_on=go_on, pause=pause):
        return None
    with engine.begin() as conn:
        if not finish(conn):
            return None
    return summary


def reconcile_keyed(
    conn: sa.Connection, tenant_id: str, *, now: datetime, summary: Summary
) -> None:
    """The tenant's register closings, card payments and approval codes: what is judged
    per closing or per key across missions rather than per mission.

    Keyed entries stored without a key are not matched: a discount or deferral whose
    `approval_ref` is null (no code to reuse; a push does not look it up either), a card
    collection whose amount cannot be read (refused at the push since
    `shared.money_payloads`; docs/security.md says which entries could be stored before)."""
    j = journal_entries.c
    closings = sa.select(*ITEM_COLUMNS).where(j.tenant_id == tenant_id, j.type == "register_closed")
    for rows in conn.execute(closings.execution_options(yield_per=CARD_BATCH)).partitions():
        _check_closings(conn, tenant_id, list(items_of(rows)), now=now, summary=summary)
    whole = _card_terms(conn, tenant_id)
    for kind, batch in _keyed_batches(conn, tenant_id):
        _judge_keyed(conn, tenant_id, kind, batch, now=now, summary=summary, whole=whole)


def _card_terms(conn: sa.Connection, tenant_id: str) -> _CardTerms:
    """What a whole reconciliation's card checks share."""
    return _CardTerms(
        days=card_days.covered_days(card_days.settlement_periods(conn, tenant_id)),
        zone=card_days.tenant_zone(conn, tenant_id),
        taken_back=_taken_back(conn, tenant_id, None),
    )


def _judge_keyed(
    conn: sa.Connection,
    tenant_id: str,
    kind: str,
    batch: list[Item],
    *,
    now: datetime,
    summary: Summary,
    whole: _CardTerms,
) -> None:
    """A batch of card payments (CARDS) or of approval uses (APPROVALS), every entry of
    each of its keys in it."""
    if kind == CARDS:
        _check_cards(conn, tenant_id, batch, now=now, summary=summary, whole=whole)
        return
    store(
        conn,
        tenant_id,
        reused_approvals(batch),
        kinds={"approval_reused"},
        subjects_checked=sorted({str(u.payload.get("approval_ref")) for u in batch}),
        missions_checked=None,
        now=now,
        summary=summary,
    )


def _keyed_steps(
    engine: sa.Engine,
    tenant_id: str,
    *,
    now: datetime,
    summary: Summary,
    go_on: Callable[[sa.Connection], bool],
    pause: float,
) -> bool:
    """`reconcile_keyed`, a page of KEYED_PAGE closings or keyed entries a transaction
    (every entry of a key in the page of its key); False when `go_on` said no."""
    j = journal_entries.c
    after_closing: tuple[str, int] = ("", 0)
    while True:
        with engine.begin() as conn:
            if not go_on(conn):
                return False
            page = list(
                items_of(
                    conn.execute(
                        sa.select(*ITEM_COLUMNS)
                        .where(
                            j.tenant_id == tenant_id,
                            j.type == "register_closed",
                            sa.tuple_(j.device_id, j.seq) > sa.tuple_(*after_closing),
                        )
                        .order_by(j.device_id, j.seq)
                        .limit(KEYED_PAGE)
                    )
                )
            )
            _check_closings(conn, tenant_id, page, now=now, summary=summary)
        if len(page) < KEYED_PAGE:
            break
        after_closing = (page[-1].device_id, page[-1].seq)
        time.sleep(pause)
    after: str | None = None
    while True:
        time.sleep(pause)
        with engine.begin() as conn:
            if not go_on(conn):
                return False
            # Read again in each page: a void, a reversal or a settlement file may have
            # come in between two (review: a later page undid a push's verdict).
            whole = _card_terms(conn, tenant_id)
            if _unread_keyed(conn, tenant_id):  # stored before migration 0007: all at once
                for kind, batch in _keyed_batches(conn, tenant_id):
                    _judge_keyed(
                        conn, tenant_id, kind, batch, now=now, summary=summary, whole=whole
                    )
                return True
            batches, after = _keyed_page(conn, tenant_id, after)
            for kind, batch in batches.items():
                if batch:
                    _judge_keyed(
                        conn, tenant_id, kind, batch, now=now, summary=summary, whole=whole
                    )
        if after is None:
            return True


def _keyed_page(
    conn: sa.Connection, tenant_id: str, after: str | None
) -> tuple[dict[str, list[Item]], str | None]:
    """The keyed entries (card payments, approval uses) whose key comes after `after`
    (from the first when None), about KEYED_PAGE of them, every entry of its last key
    too: ({CARDS: …, APPROVALS: …} in device order, the last key read; None at the end)."""
    j = journal_entries.c
    where = [j.tenant_id == tenant_id, j.ref.is_not(None)]
    if after is not None:
        where.append(j.ref > after)
    last = conn.execute(
        sa.select(j.ref).where(*where).order_by(j.ref).offset(KEYED_PAGE - 1).limit(1)
    ).scalar()
    if last is not None:
        where.append(j.ref <= last)
    batches: dict[str, list[Item]] = {CARDS: [], APPROVALS: []}
    rows = conn.execute(sa.select(*ITEM_COLUMNS, j.received_at).where(*where).order_by(j.ref))
    for item in items_of(rows, received=True):
        kind = _KEYED.get(item.type)
        if kind is not None:  # a reversal's key shares the index
            batches[kind].append(item)
    return {k: sorted(b, key=lambda i: (i.device_id, i.seq)) for k, b in batches.items()}, last


def _unread_keyed(conn: sa.Connection, tenant_id: str) -> bool:
    """Whether a keyed entry was stored without its facts (no key: before migration 0007)."""
    j = journal_entries.c
    unread = sa.select(j.seq).where(
        j.tenant_id == tenant_id, j.type.in_(sorted(_KEYED)), j.facts.is_(None)
    )
    return conn.execute(unread.limit(1)).first() is not None


def _mission_pages(conn: sa.Connection, tenant_id: str) -> Iterator[list[str]]:
    """The tenant's mission ids, BATCH at a time, in id order (through the key)."""
    after = ""
    while page := mission_page(conn, tenant_id, after=after):
        yield page
        after = page[-1]


def mission_page(
    conn: sa.Connection, tenant_id: str, *, after: str, size: int | None = None
) -> list[str]:
    """The tenant's next `size` (BATCH) mission ids after `after`, in id order (through
    the key)."""
    return list(
        conn.execute(
            sa.select(missions.c.id)
            .where(missions.c.tenant_id == tenant_id, missions.c.id > after)
            .order_by(missions.c.id)
            .limit(size or BATCH)
        ).scalars()
    )


@dataclass(frozen=True)
class _CardTerms:
    """What every card batch of a whole reconciliation is judged with, read once."""

    days: frozenset[str]  # the days imported settlement files cover
    zone: ZoneInfo
    taken_back: set[str]  # every collection voided or reversed (entry hashes)


CARDS, APPROVALS = "cards", "approvals"
_KEYED = {"collection": CARDS, "discount": APPROVALS, "deferral": APPROVALS}


def _keyed_batches(conn: sa.Connection, tenant_id: str) -> Iterator[tuple[str, list[Item]]]:
    """The tenant's card collections (CARDS) and the discounts and deferrals citing an
    approval code (APPROVALS), about CARD_BATCH at a time, every entry of a key (a
    payment's reference and amount, a code) in the batch of its key: a line matches a
    payment of its key only and a code is reused among the entries citing it, so batches
    give the whole tenant's verdicts. Read in one pass, in key order, through the key's
    index (a reversal's key, which shares it, is skipped). If any of these entries was
    stored without its facts (no key: before migration 0007), all of them at once, as
    before."""
    j = journal_entries.c
    if _unread_keyed(conn, tenant_id):
        every = typed(conn, tenant_id, ("collection",))
        yield CARDS, [c for c in every if c.payload.get("method") == "card"]
        yield APPROVALS, typed(conn, tenant_id, ("discount", "deferral"))
        return
    query = (
        sa.select(*ITEM_COLUMNS, j.received_at)
        .where(j.tenant_id == tenant_id, j.ref.is_not(None))
        .order_by(j.ref)
        .execution_options(yield_per=CARD_BATCH)
    )
    batches: dict[str, list[Item]] = {CARDS: [], APPROVALS: []}
    last: dict[str, str | None] = {CARDS: None, APPROVALS: None}

    def in_order(batch: list[Item]) -> list[Item]:
        return sorted(batch, key=lambda i: (i.device_id, i.seq))

    for item in items_of(conn.execute(query), received=True):
        kind = _KEYED.get(item.type)
        if kind is None:
            continue
        key = ref_of(item.type, item.payload)
        if len(batches[kind]) >= CARD_BATCH and key != last[kind]:
            yield kind, in_order(batches[kind])
            batches[kind] = []
        batches[kind].append(item)
        last[kind] = key
    for kind, batch in batches.items():
        if batch:
            yield kind, in_order(batch)


def mission_due_cents(conn: sa.Connection, tenant_id: str, mission_id: str) -> int | None:
    """What the beneficiary owes per the server's latest valuation (None: not valued)."""
    valued = _latest_valuations(conn, tenant_id, [mission_id], "server").get(mission_id)
    return valued.due_cents if valued else None
