"""A push's reconciliation reads what the push touched (server.office.reconcile_facts):
the facts written beside each entry, and the card payments, approval codes and reversals
found by key. On the synthetic year (tests/year_support.py), on SQLite and PostgreSQL:

- replaying the year push by push (each truck's evening, as the tablets send it) opens
  exactly the anomalies reconciling the whole tenant opens, the day's card settlement
  already imported (a late sync: the card check is the one that used to read them all);
- rows stored without facts (before migration 0007, or by a writer that skips them) are
  read from their bodies: the same anomalies, whole tenant or push by push.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from server.office import reconcile
from server.office.reconcile_facts import columns, ref_of
from server.office.reconcile_rules import Item
from server.platform.tables import anomalies, card_settlement_lines, journal_entries
from simulation.year import TENANT, TROUBLE, YEAR, Rates
from tests.storage import engine  # noqa: F401 - the fixture: SQLite, then PostgreSQL
from tests.year_support import generate, setup

TRUCKS, DAYS, PER_DAY = 2, 3, 10
OFTEN = Rates(  # as tests/test_synthetic_year.py: every kind planted in three days
    trouble=tuple((name, 0.08) for name, _ in TROUBLE),
    discount=0.2,
    deferral=0.1,
    card_unmatched=0.15,
    register_short=0.5,
)
NOW = datetime(YEAR + 1, 1, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def year(engine):  # noqa: F811
    setup(engine, TRUCKS)
    generate(engine, TRUCKS, PER_DAY, 0, DAYS, rates=OFTEN)
    return engine


def anomalies_now(conn: sa.Connection) -> set[tuple[object, ...]]:
    return {
        tuple(row)
        for row in conn.execute(
            sa.select(
                anomalies.c.kind,
                anomalies.c.subject,
                anomalies.c.amount_cents,
                anomalies.c.mission_id,
                anomalies.c.status,
            ).where(anomalies.c.tenant_id == TENANT)
        )
    }


def whole_tenant(conn: sa.Connection) -> set[tuple[object, ...]]:
    conn.execute(sa.delete(anomalies))
    reconcile.reconcile_tenant(conn, TENANT, now=NOW)
    return anomalies_now(conn)


def push_by_push(conn: sa.Connection) -> set[tuple[object, ...]]:
    """Each truck's evening (the entries received together), in the order they came,
    as server.devices.ingest hands them over."""
    conn.execute(sa.delete(anomalies))
    rows = conn.execute(
        sa.select(
            journal_entries.c.device_id,
            journal_entries.c.seq,
            journal_entries.c.type,
            journal_entries.c.driver_id,
            journal_entries.c.hash,
            journal_entries.c.body,
            journal_entries.c.received_at,
        )
        .where(journal_entries.c.tenant_id == TENANT)
        .order_by(journal_entries.c.received_at, journal_entries.c.device_id, journal_entries.c.seq)
    ).all()
    pushes: dict[tuple[object, str], list[Item]] = {}
    for r in rows:
        body = json.loads(r.body)
        pushes.setdefault((r.received_at, r.device_id), []).append(
            Item(r.device_id, r.seq, r.type, body["at"], r.driver_id, body["payload"], r.hash)
        )
    assert len(pushes) == TRUCKS * DAYS
    for items in pushes.values():
        reconcile.reconcile_entries(conn, TENANT, items, now=NOW)
    return anomalies_now(conn)


def test_push_by_push_finds_what_the_whole_tenant_finds(year):
    with year.begin() as conn:
        expected = whole_tenant(conn)
        found = push_by_push(conn)
    kinds = {kind for kind, *_ in expected}
    assert {"card_unmatched", "approval_reused", "register_variance"} <= kinds
    assert found == expected


def test_rows_without_facts_are_read_from_their_bodies(year):
    with year.begin() as conn:
        expected = whole_tenant(conn)
        # Every other entry as a writer that does not derive the facts leaves it.
        keys = conn.execute(
            sa.select(journal_entries.c.device_id, journal_entries.c.seq).order_by(
                journal_entries.c.device_id, journal_entries.c.seq
            )
        ).all()
        for device_id, seq in keys[::2]:
            conn.execute(
                sa.update(journal_entries)
                .where(journal_entries.c.device_id == device_id, journal_entries.c.seq == seq)
                .values(facts=None, ref=None)
            )
        # And every other settlement line, as imported before its key was kept.
        lines = conn.execute(
            sa.select(card_settlement_lines.c.settlement_id, card_settlement_lines.c.line_no)
        ).all()
        for settlement_id, line_no in lines[::2]:
            conn.execute(
                sa.update(card_settlement_lines)
                .where(
                    card_settlement_lines.c.settlement_id == settlement_id,
                    card_settlement_lines.c.line_no == line_no,
                )
                .values(ref=None)
            )
        assert whole_tenant(conn) == expected
        assert push_by_push(conn) == expected


def test_the_facts_are_what_the_rules_read_and_the_keys_what_checks_look_up():
    payload = {
        "mission_id": "M-1",
        "amount": "12.50",
        "method": "card",
        "terminal_ref": "ab-12 3",
        "photo": "x" * 500,  # no rule reads it
    }
    made = columns("collection", payload)
    assert json.loads(made["facts"] or "") == {
        "amount": "12.50",
        "method": "card",
        "mission_id": "M-1",
        "terminal_ref": "ab-12 3",
    }
    assert made["ref"] == "card:AB123:1250"
    assert ref_of("collection", {**payload, "method": "cash"}) is None
    assert ref_of("collection", {**payload, "amount": 12.5}) is None  # a float: unreadable
    assert ref_of("discount", {"approval_ref": "7:K3Q9"}) == "approval:7:K3Q9"
    assert ref_of("deferral", {}) is None
    assert ref_of("reversal", {"reverses": {"hash": "ab" * 32}}) == "reverses:" + "ab" * 32
    assert ref_of("reversal", {"reverses": "ab"}) is None
    long = ref_of("discount", {"approval_ref": "x" * 300}) or ""
    assert long.startswith("approval:#") and len(long) <= 200


def _pay_again(conn: sa.Connection) -> Item:
    """A second payment with the reference and amount of one a settlement line matched,
    stored at the end of its tablet's chain: the item as a push hands it over."""
    unmatched = {subject for kind, subject, *_ in whole_tenant(conn) if kind == "card_unmatched"}
    row = next(
        r
        for r in conn.execute(
            sa.select(journal_entries).where(
                journal_entries.c.ref.startswith("card:"),
                journal_entries.c.type == "collection",
            )
        )
        if f"{r.device_id}:{r.seq}" not in unmatched
    )
    head = conn.execute(
        sa.select(sa.func.max(journal_entries.c.seq)).where(
            journal_entries.c.device_id == row.device_id
        )
    ).scalar_one()
    body = json.loads(row.body)
    again = {**body, "seq": head + 1, "prev_hash": "0" * 64}
    conn.execute(
        sa.insert(journal_entries).values(
            device_id=row.device_id,
            seq=head + 1,
            tenant_id=TENANT,
            type="collection",
            at=row.at,
            driver_id=row.driver_id,
            mission_id=row.mission_id,
            hash="f" * 64,
            prev_hash="0" * 64,
            sig="0" * 128,
            body=json.dumps(again),
            received_at=NOW,
            **columns("collection", body["payload"]),
        )
    )
    return Item(
        row.device_id, head + 1, "collection", row.at, row.driver_id, body["payload"], "f" * 64
    )


def test_a_card_payment_pushed_later_is_matched_with_those_of_its_key(year):
    """A second payment with the reference and amount of one a settlement line already
    matched: the line vouches for one of them only, whichever check runs."""
    with year.begin() as conn:
        pushed = _pay_again(conn)
        conn.execute(sa.delete(anomalies))
        reconcile.reconcile_entries(conn, TENANT, [pushed], now=NOW)
        by_push = {a for a in anomalies_now(conn) if a[0] == "card_unmatched"}
        expected = {a for a in whole_tenant(conn) if a[0] == "card_unmatched"}
    subject = f"{pushed.device_id}:{pushed.seq}"
    assert ("card_unmatched", subject) in {a[:2] for a in by_push}
    assert by_push <= expected
    assert by_push == {a for a in expected if a[1] == subject}


def test_the_whole_tenant_in_small_batches_finds_what_one_batch_finds(year, monkeypatch):
    """A whole reconciliation reads missions, registers, card payments and approval uses
    a batch at a time; the entries of one key stay in one batch, so a line still vouches
    for one of two payments of its key, and a code cited twice is still reused, whatever
    the batch size."""
    with year.begin() as conn:
        pushed = _pay_again(conn)
        monkeypatch.setattr(reconcile, "CARD_BATCH", 10**6)
        monkeypatch.setattr(reconcile, "BATCH", 10**6)
        expected = whole_tenant(conn)
        monkeypatch.setattr(reconcile, "CARD_BATCH", 1)
        monkeypatch.setattr(reconcile, "BATCH", 7)
        found = whole_tenant(conn)
    assert ("card_unmatched", f"{pushed.device_id}:{pushed.seq}") in {a[:2] for a in expected}
    assert {kind for kind, *_ in expected} >= {
        "card_unmatched",
        "register_variance",
        "approval_reused",
    }
    assert found == expected
