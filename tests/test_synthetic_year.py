"""The reconciliation bench's synthetic year (simulation/year.py, written by
tests/year_support.py), small: it holds what it says, its chains verify, and reconciling
the whole tenant finds exactly the anomalies it planted, on SQLite and on PostgreSQL.
No timing: the bench prints figures, tests check facts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from server.office import reconcile, valuation_figures
from server.platform.tables import anomalies, audit_log, devices, journal_entries, missions
from server.platform.tables import valuations as valuations_table
from shared import signing
from shared.chain_verifier import FindingKind, SignatureCheck, verify_chain
from shared.journal import Entry, SignedEntry
from simulation.year import TENANT, TROUBLE, YEAR, Planted, Rates, Rows, Year, device_of
from tests.storage import engine  # noqa: F401 - the fixture: SQLite, then PostgreSQL
from tests.year_support import generate, setup

TRUCKS, DAYS, PER_DAY = 2, 3, 10
MISSIONS = TRUCKS * DAYS * PER_DAY
# Everything goes wrong often, so that three days of two trucks hold every kind.
OFTEN = Rates(
    trouble=tuple((name, 0.08) for name, _ in TROUBLE),
    discount=0.2,
    deferral=0.1,
    card_unmatched=0.15,
    register_short=0.5,
)
NOW = datetime(YEAR + 1, 1, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def year(engine):  # noqa: F811
    """Two chunks, as the bench writes a year between checkpoints: the second continues
    the chains the first stored."""
    setup(engine, TRUCKS)
    chunks = [
        generate(engine, TRUCKS, PER_DAY, 0, 2, rates=OFTEN),
        generate(engine, TRUCKS, PER_DAY, 2, DAYS, rates=OFTEN),
    ]
    counts: Counter[str] = Counter()
    planted: dict[tuple[str, str], Planted] = {}
    for chunk in chunks:
        counts.update(chunk.year.counts)
        planted.update(chunk.year.planted)
    return counts, planted


def count(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar())


def test_the_year_holds_what_it_counts_and_its_chains_verify(engine, year):  # noqa: F811
    counts, _ = year
    assert counts["missions"] == MISSIONS
    with engine.connect() as conn:
        assert count(conn, missions, missions.c.tenant_id == TENANT) == MISSIONS
        delivered = count(conn, missions, missions.c.status == "delivered")
        departed = count(conn, missions, missions.c.status == "departed")
        assert delivered + departed == MISSIONS
        # The tablet's valuation and the server's, for every mission.
        assert count(conn, valuations_table, valuations_table.c.source == "device") == MISSIONS
        assert count(conn, valuations_table, valuations_table.c.source == "server") == MISSIONS
        stored = dict(
            conn.execute(
                sa.select(journal_entries.c.type, sa.func.count()).group_by(journal_entries.c.type)
            ).all()
        )
        issued = count(conn, audit_log, audit_log.c.action == "approval.issue")
    assert stored == {k.removeprefix("entry:"): v for k, v in counts.items() if "entry:" in k}
    assert stored["valuation_recorded"] == MISSIONS
    assert stored["register_opened"] == stored["register_closed"] == TRUCKS * DAYS
    # Three steps each (en route, on site, departed), a fourth for those delivered.
    assert stored["mission_step"] == 3 * MISSIONS + delivered
    assert issued == counts["approvals issued"] > 0
    assert {k for k in counts if k.startswith("trouble:")} == {
        f"trouble:{name}" for name, _ in TROUBLE
    }

    # Every chain links from its genesis to the head stored for its truck, across the two
    # chunks. Bodies are canonical (the verifier recomputes each hash from the parsed
    # entry); the signatures are well-formed but not real, and nothing else is wrong.
    key = signing.public_key_of(signing.private_key_from_bytes(bytes(32)))
    with engine.connect() as conn:
        heads = {
            r.id: (r.head_seq, r.head_hash)
            for r in conn.execute(sa.select(devices.c.id, devices.c.head_seq, devices.c.head_hash))
        }
        for truck in range(TRUCKS):
            device = device_of(truck)
            rows = conn.execute(
                sa.select(journal_entries.c.body, journal_entries.c.hash, journal_entries.c.sig)
                .where(journal_entries.c.device_id == device)
                .order_by(journal_entries.c.seq)
            ).all()
            chain = [SignedEntry(Entry(**json.loads(r.body)), r.hash, r.sig) for r in rows]
            assert [s.seq for s in chain] == list(range(1, len(chain) + 1))
            assert heads[device] == (len(chain), chain[-1].hash)
            findings = verify_chain(
                chain, device_id=device, public_key=key, signatures=SignatureCheck.RUN_ENDS
            )
            assert [(f.kind, f.seq) for f in findings] == [
                (FindingKind.BAD_SIGNATURE, s.seq) for s in chain
            ]


def test_reconciling_the_tenant_finds_exactly_the_planted_anomalies(engine, year):  # noqa: F811
    counts, planted = year
    by_kind = Counter(p.kind for p in planted.values())
    assert set(by_kind) == reconcile.KINDS  # the small year plants every kind at least once
    with engine.begin() as conn:
        summary = reconcile.reconcile_tenant(conn, TENANT, now=NOW)
    assert summary.missions == MISSIONS
    assert summary.by_kind == dict(by_kind)
    # Each mission gone wrong on purpose shows as its anomaly (a reversal is clean); an
    # over-collection needs money left once approvals are taken, a reused code counts once.
    found, trouble = summary.by_kind, {k[8:]: n for k, n in counts.items() if "trouble:" in k}
    for name, kind in (
        ("fictitious", "fictitious_collection"),
        ("under", "under_collection"),
        ("gate", "gate_bypassed"),
        ("file_cap", "file_cap_exceeded"),
        ("dispute", "dispute_raised"),
    ):
        assert found[kind] == trouble[name], kind
    assert found["discount_without_approval"] == trouble["no_approval"] + trouble["reused"]
    assert 0 < found["over_collection"] <= trouble["over"]
    assert 0 < found["approval_reused"] <= trouble["reused"]
    assert (summary.found, summary.opened, summary.cleared) == (len(planted), len(planted), 0)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(
                anomalies.c.kind,
                anomalies.c.subject,
                anomalies.c.amount_cents,
                anomalies.c.mission_id,
                anomalies.c.status,
            ).where(anomalies.c.tenant_id == TENANT)
        ).all()
    assert sorted(Planted(*r[:4]) for r in stored) == sorted(planted.values())
    assert {r.status for r in stored} == {"open"}
    # A nightly run: the same anomalies, already known, nothing opened or cleared.
    with engine.begin() as conn:
        again = reconcile.reconcile_tenant(conn, TENANT, now=NOW)
    assert (again.found, again.opened, again.cleared) == (len(planted), 0, 0)
    assert again.by_kind == summary.by_kind


def test_the_year_keeps_the_figures_the_server_writes_and_reconciles_the_same_without(
    engine,  # noqa: F811
    year,
):
    """Every valuation row's contract and file cap columns are what the server derives
    from its body (server.office.valuation_figures); with them emptied (rows stored
    before migration 0014) the bodies are read and the verdicts are the same."""
    v = valuations_table.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(v.contract_id, v.contract_version, v.file_cap_before_cents, v.body)
        ).all()
    assert rows
    for row in rows:
        assert tuple(row[:3]) == tuple(valuation_figures.columns(json.loads(row.body)).values())
    assert any(row.file_cap_before_cents for row in rows)  # the file_cap trouble's
    with engine.begin() as conn:
        summary = reconcile.reconcile_tenant(conn, TENANT, now=NOW)
        conn.execute(sa.delete(anomalies))
        conn.execute(
            sa.update(valuations_table).values(
                contract_id=None, contract_version=None, file_cap_before_cents=None
            )
        )
        from_bodies = reconcile.reconcile_tenant(conn, TENANT, now=NOW)
    assert from_bodies.by_kind == summary.by_kind
    assert summary.by_kind["file_cap_exceeded"] > 0


def test_the_bench_year_is_the_same_every_time():
    """At the bench's own rates, without a database: two trucks' first three days are
    what `bench/reconcile.py --trucks 2 --days 3` has always generated and reconciled
    (its figures: these entries and troubles; card_unmatched 1, gate_bypassed 1,
    under_collection 1)."""
    year, rows = Year(TRUCKS, PER_DAY, {}), Rows()
    for day in range(DAYS):
        year.day(day, rows)
    assert year.counts == {
        "missions": 60,
        "entry:register_opened": 6,
        "entry:register_closed": 6,
        "entry:valuation_recorded": 60,
        "entry:mission_step": 226,
        "entry:collection": 52,
        "entry:deferral": 2,
        "entry:discount": 1,
        "approvals issued": 3,
        "trouble:gate": 1,
        "trouble:under": 1,
    }
    assert Counter(p.kind for p in year.planted.values()) == {
        "card_unmatched": 1,
        "gate_bypassed": 1,
        "under_collection": 1,
    }
    assert len(rows.journal) == 353 and len(rows.missions) == 60 and len(rows.audit) == 3
