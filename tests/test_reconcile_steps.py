"""The whole-tenant reconciliation job (server.office.tenant_jobs.reconcile_tenant) commits
a batch of missions at a time (`reconcile.reconcile_tenant_in_steps`), so a year's run
never holds the database for minutes: on the synthetic year, on SQLite and PostgreSQL, it
finds exactly what one transaction finds; a worker that dies half-way has kept the batches
it did and the retry finishes the rest; each batch renews the job's lease, and a worker
whose job another has taken over stops at its next batch; on SQLite, a writer waiting
meanwhile gets in between two batches, not at the end."""

from __future__ import annotations

import threading
import types
from datetime import timedelta

import pytest
import sqlalchemy as sa

import server.reactions  # noqa: F401 - the job kinds
from server.office import decisions, reconcile, tenant_jobs
from server.platform import jobs
from server.platform.tables import anomalies, tenants
from server.platform.tables import jobs as jobs_table
from simulation.year import TENANT
from tests.storage import engine  # noqa: F401 - the fixture: SQLite, then PostgreSQL
from tests.test_synthetic_year import MISSIONS, NOW, year  # noqa: F401 - the fixture

PAGE = 7  # missions a transaction: the small year's 60 make 9 batches


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(reconcile, "STEP_BATCH", PAGE)
    monkeypatch.setattr(reconcile, "KEYED_PAGE", 2)  # a key's entries span the page's end
    monkeypatch.setattr(reconcile, "SQLITE_PAUSE", 0.0)  # nothing waits in these


def context(engine, when=NOW):  # noqa: F811
    return jobs.Context(engine, lambda: None, lambda: when)


def ask(engine):  # noqa: F811
    with engine.begin() as conn:
        return tenant_jobs.ask_reconcile(conn, TENANT, NOW).job


def job_row(engine, key):  # noqa: F811
    with engine.connect() as conn:
        return conn.execute(sa.select(jobs_table).where(jobs_table.c.key == key)).one()


def stored(engine):  # noqa: F811
    """(kind, subject, mission) of every open anomaly."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(anomalies.c.kind, anomalies.c.subject, anomalies.c.mission_id).where(
                anomalies.c.status == "open"
            )
        ).all()
    return sorted(tuple(r) for r in rows)


# Judged across missions, in the last transaction (a card without its settlement, a code
# used twice, a register's closing), though most name a mission.
KEYED = {"card_unmatched", "approval_reused", "register_variance"}


def planted_on(planted, missions=None):
    """The planted anomalies; with `missions`, those judged per mission on them."""
    return sorted(
        (p.kind, p.subject, p.mission_id)
        for p in planted.values()
        if missions is None or (p.mission_id in missions and p.kind not in KEYED)
    )


def failing_at(monkeypatch, batch, do=None):
    """reconcile_missions, which raises at its `batch`-th call (1-based), or runs `do(conn)`
    there first when `do` is given; returns the ids each call was given."""
    real, calls = reconcile.reconcile_missions, []

    def wrapped(conn, tenant_id, ids, **kwargs):
        calls.append(list(ids))
        if len(calls) == batch:
            if do is None:
                raise RuntimeError("the worker dies here")
            do(conn)
        return real(conn, tenant_id, ids, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_missions", wrapped)
    return calls


def test_the_job_finds_what_one_transaction_finds(engine, year, small_batches, monkeypatch):  # noqa: F811
    _, planted = year
    key = ask(engine)
    pages = []
    real = reconcile._keyed_page
    monkeypatch.setattr(reconcile, "_keyed_page", lambda *a: pages.append(a[-1]) or real(*a))
    assert jobs.drain(context(engine)) == 1
    assert len(pages) > 10 and pages[0] is None  # the keyed checks paged too
    assert job_row(engine, key).state == jobs.DONE
    # Every planted anomaly: the mission ones, batch by batch, and the keyed ones (a
    # register's variance, a card without settlement, a reused code), page by page.
    assert stored(engine) == planted_on(planted)
    with engine.begin() as conn:
        again = reconcile.reconcile_tenant(conn, TENANT, now=NOW)
    assert (again.missions, again.found, again.opened, again.cleared) == (
        MISSIONS,
        len(planted),
        0,
        0,
    )


def test_a_worker_that_dies_half_way_keeps_its_batches_and_the_retry_does_the_rest(
    engine,  # noqa: F811
    year,  # noqa: F811
    small_batches,
    monkeypatch,
):
    _, planted = year
    key = ask(engine)
    calls = failing_at(monkeypatch, 3)
    jobs.drain(context(engine))
    row = job_row(engine, key)
    assert (row.state, row.attempts) == (jobs.PENDING, 1)
    assert "the worker dies here" in row.last_error
    # The two batches before the crash are stored: their missions' anomalies, no others.
    done = {m for ids in calls[:2] for m in ids}
    assert len(done) == 2 * PAGE
    assert stored(engine) == planted_on(planted, done)
    assert planted_on(planted, done) != planted_on(planted)  # there was more to find

    monkeypatch.undo()
    monkeypatch.setattr(reconcile, "STEP_BATCH", PAGE)
    monkeypatch.setattr(reconcile, "SQLITE_PAUSE", 0.0)
    later = NOW + timedelta(hours=1)  # past the retry's backoff
    assert jobs.drain(context(engine, later)) == 1
    assert job_row(engine, key).state == jobs.DONE
    assert stored(engine) == planted_on(planted)


def test_a_worker_whose_job_was_taken_over_stops_at_its_next_batch(
    engine,  # noqa: F811
    year,  # noqa: F811
    small_batches,
    monkeypatch,
):
    _, planted = year
    key = ask(engine)

    def taken_over(conn):
        # Another worker, its lease on the job having run out (written in the batch's own
        # transaction: on SQLite a second writer would wait for it).
        conn.execute(
            sa.update(jobs_table).where(jobs_table.c.key == key).values(worker="another-box")
        )

    calls = failing_at(monkeypatch, 2, do=taken_over)
    jobs.drain(context(engine))
    assert len(calls) == 2  # no third batch
    row = job_row(engine, key)
    assert (row.state, row.worker) == (jobs.RUNNING, "another-box")  # not marked done
    assert stored(engine) == planted_on(planted, {m for ids in calls for m in ids})


def test_each_batch_renews_the_lease(engine, year, small_batches, monkeypatch):  # noqa: F811
    """However long the whole run: a lease of 30 minutes from each batch's start."""
    key = ask(engine)
    ticks = iter(NOW + timedelta(minutes=n) for n in range(1000))  # a minute a call
    seen = []

    def lease(conn):
        row = conn.execute(sa.select(jobs_table).where(jobs_table.c.key == key)).one()
        seen.append(row.lease_until)

    real = reconcile.reconcile_missions

    def watched(conn, tenant_id, ids, **kwargs):
        lease(conn)
        return real(conn, tenant_id, ids, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_missions", watched)
    jobs.drain(jobs.Context(engine, lambda: None, lambda: next(ticks)))
    assert len(seen) == -(-MISSIONS // PAGE)
    assert seen == sorted(set(seen))  # later at every batch
    assert seen[-1] - seen[0] >= timedelta(minutes=len(seen) - 1)
    assert job_row(engine, key).state == jobs.DONE


def test_on_sqlite_a_writer_gets_in_between_two_batches(engine, year, monkeypatch):  # noqa: F811
    """SQLite's writers do not queue: a stepped run beginning its next transaction at once
    would keep a waiting push out until its end. Batches made slow; the order of events,
    not their times, is checked."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's writers wait for rows, not for the database")
    monkeypatch.setattr(reconcile, "STEP_BATCH", 4)  # 15 batches
    events: list[str] = []
    started = threading.Event()
    real = reconcile.reconcile_missions

    def slow(conn, tenant_id, ids, **kwargs):
        events.append("batch")
        started.set()
        threading.Event().wait(0.05)  # holding the write lock
        return real(conn, tenant_id, ids, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_missions", slow)

    def push():
        started.wait()
        with engine.begin() as conn:  # BEGIN IMMEDIATE: waits for the lock
            conn.execute(sa.update(tenants).values(name=tenants.c.name))
            events.append("writer")

    writer = threading.Thread(target=push)
    writer.start()
    reconcile.reconcile_tenant_in_steps(engine, TENANT, now=NOW)
    writer.join()
    assert events.count("batch") == 15
    assert events.index("writer") < len(events) - 1  # before the last batch


def test_a_void_between_two_pages_is_seen_by_the_later_ones(engine, year, monkeypatch):  # noqa: F811
    """The card checks' shared terms (voids, reversals, settled days) are read again in each
    page: an office void committed between two pages clears its card's anomaly."""
    with engine.begin() as conn:
        reconcile.reconcile_tenant(conn, TENANT, now=NOW)
    unmatched = sa.select(anomalies.c.subject).where(
        anomalies.c.kind == "card_unmatched", anomalies.c.status == "open"
    )
    with engine.connect() as conn:
        target = sorted(conn.execute(unmatched).scalars())[-1]
    monkeypatch.setattr(reconcile, "KEYED_PAGE", 2)
    judged: list[list[str]] = []
    real = reconcile._judge_keyed

    def judge(conn, tenant_id, kind, batch, **kwargs):
        judged.append([f"{i.device_id}:{i.seq}" for i in batch])
        return real(conn, tenant_id, kind, batch, **kwargs)

    monkeypatch.setattr(reconcile, "_judge_keyed", judge)
    voided_after: list[int] = []

    def pause(_seconds):  # between two transactions: the office voids the payment
        if judged and not voided_after:
            device, seq = target.rsplit(":", 1)
            with engine.begin() as conn:
                decisions.void_collection(
                    conn, TENANT, device, int(seq), "Paiement annulé", actor="office", now=NOW
                )
            voided_after.append(len(judged))

    monkeypatch.setattr(reconcile, "time", types.SimpleNamespace(sleep=pause))
    reconcile.reconcile_tenant_in_steps(engine, TENANT, now=NOW)
    assert voided_after
    later = [n for n, page in enumerate(judged) if target in page]
    assert later and later[0] >= voided_after[0]  # judged after the void
    with engine.connect() as conn:
        assert target not in set(conn.execute(unmatched).scalars())
