"""Scheduled jobs (server.platform.schedule, docs/operations.md "Jobs"), on SQLite and
PostgreSQL: each tenant's slot is enqueued once whatever the number of workers and after
a restart, a missed slot is caught up once, the tenant's clock sets the slot, and the
closing job does what `towline-server close --all` does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import server.reactions  # noqa: F401 - the job kinds and their schedules
from server.office import closing
from server.office.tenant_jobs import CLOSE, RECONCILE
from server.platform import jobs, schedule
from server.platform.job_thread import JobThread
from server.platform.tables import jobs as jobs_table
from server.platform.tables import tenants
from tests.closing_support import FIRST_CLOSE, KEY, TENANT, build, count_closing_entries, utc
from tests.storage import engine  # noqa: F401 - the fixture

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def existing_since(engine, when=LONG_AGO, tenant=TENANT):  # noqa: F811
    with engine.begin() as conn:
        conn.execute(sa.update(tenants).where(tenants.c.id == tenant).values(created_at=when))


def context(engine, now):  # noqa: F811
    return jobs.Context(engine, lambda: KEY, lambda: now)


def rows(engine, kind):  # noqa: F811
    with engine.connect() as conn:
        return conn.execute(
            sa.select(jobs_table.c.key, jobs_table.c.state, jobs_table.c.attempts)
            .where(jobs_table.c.kind == kind)
            .order_by(jobs_table.c.id)
        ).all()


def test_a_slot_is_enqueued_once_by_two_workers_and_not_again_after_a_restart(engine):  # noqa: F811
    build(engine)
    existing_since(engine)
    first, second = schedule.Scheduler(), schedule.Scheduler()
    made = first.tick(engine, FIRST_CLOSE)  # 3 April 08:00 UTC, 10:00 in Paris
    assert sorted((s.kind, s.key) for s in made if s.kind in (CLOSE, RECONCILE)) == [
        (CLOSE, "acme@2026-04-03T02:30+02:00"),
        (RECONCILE, "acme@2026-04-03T03:30+02:00"),
    ]
    assert second.tick(engine, FIRST_CLOSE) == []  # another box: it is there already
    assert schedule.Scheduler().tick(engine, FIRST_CLOSE) == []  # a restart
    assert [r.key for r in rows(engine, CLOSE)] == ["acme@2026-04-03T02:30+02:00"]
    # Two workers then share the work: the tenant is closed once.
    assert jobs.drain(context(engine, FIRST_CLOSE)) >= 2
    assert jobs.drain(context(engine, FIRST_CLOSE)) == 0
    assert count_closing_entries(engine) == 5
    assert [tuple(r) for r in rows(engine, CLOSE)] == [
        ("acme@2026-04-03T02:30+02:00", jobs.DONE, 1)
    ]


def test_two_workers_racing_for_a_slot_enqueue_it_once(engine, monkeypatch):  # noqa: F811
    """The second looked before the first inserted: the unique key refuses its insert."""
    build(engine)
    existing_since(engine)
    assert schedule.Scheduler().tick(engine, FIRST_CLOSE) != []
    monkeypatch.setattr(schedule, "_existing", lambda _engine, _slots: set())
    assert schedule.Scheduler().tick(engine, FIRST_CLOSE) == []
    assert len(rows(engine, CLOSE)) == 1 and len(rows(engine, RECONCILE)) == 1


def test_a_missed_slot_is_caught_up_once_at_the_start_and_the_next_one_comes_later(engine):  # noqa: F811
    build(engine)
    existing_since(engine)
    down_until = utc("2026-04-05T09:00:00")  # nothing ran on the 3rd, 4th nor 5th at 02:30
    scheduler = schedule.Scheduler()
    made = [s.key for s in scheduler.tick(engine, down_until) if s.kind == CLOSE]
    assert made == ["acme@2026-04-05T02:30+02:00"]  # the latest slot only, once
    assert jobs.drain(context(engine, down_until)) >= 2
    with engine.connect() as conn:
        closed = [c.period.key for c in closing.tenant_closings(conn, TENANT)]
    assert closed[-1] == "2026-04-04"  # the closing caught up every day itself
    assert scheduler.tick(engine, utc("2026-04-05T23:00:00")) == []
    nxt = [s.key for s in scheduler.tick(engine, utc("2026-04-06T00:31:00")) if s.kind == CLOSE]
    assert nxt == ["acme@2026-04-06T02:30+02:00"]


def test_a_tenant_created_after_the_slot_does_not_owe_it(engine):  # noqa: F811
    build(engine)
    existing_since(engine, utc("2026-04-03T01:00:00"))  # 03:00 in Paris, after 02:30
    made = {s.kind for s in schedule.Scheduler().tick(engine, FIRST_CLOSE)}
    assert CLOSE not in made and rows(engine, CLOSE) == []
    assert RECONCILE in made  # 03:30 in Paris: the tenant was there


def test_the_slot_is_read_on_the_tenant_clock():
    def tenant(name, zone):
        return SimpleNamespace(
            id=name, settings={"timezone": zone} if zone else {}, created_at=LONG_AGO
        )

    now = utc("2026-04-03T08:00:00")
    close = [s for s in schedule.declared() if s.kind == CLOSE]
    owed = schedule.owed(
        close,
        [
            tenant("paris", None),
            tenant("noumea", "Pacific/Noumea"),
            tenant("fdf", "America/Martinique"),
            tenant("odd", "Mars/Base"),
        ],
        now,
    )
    assert [(s.key, s.at.astimezone(UTC).isoformat()) for s in owed] == [
        ("paris@2026-04-03T02:30+02:00", "2026-04-03T00:30:00+00:00"),
        ("noumea@2026-04-03T02:30+11:00", "2026-04-02T15:30:00+00:00"),
        ("fdf@2026-04-03T02:30-04:00", "2026-04-03T06:30:00+00:00"),
        ("odd@2026-04-03T02:30+02:00", "2026-04-03T00:30:00+00:00"),  # unknown: Paris
    ]
    # On the spring-forward night 02:30 does not exist in Paris: the slot is 03:00.
    spring = schedule.last_slot("30 2 * * *", utc("2026-03-29T08:00:00"), schedule.zone_of({}))
    assert spring.isoformat() == "2026-03-29T03:00:00+02:00"
    with pytest.raises(ValueError):
        schedule.declare("nothing", "every night")


def test_the_closing_job_does_what_close_all_does(engine):  # noqa: F811
    build(engine)
    existing_since(engine)
    schedule.Scheduler().tick(engine, FIRST_CLOSE)
    jobs.drain(context(engine, FIRST_CLOSE))
    with engine.connect() as conn:
        made = [(c.period.level.value, c.period.key) for c in closing.tenant_closings(conn, TENANT)]
    # What `close --all` closes on a fresh database at FIRST_CLOSE (tests/test_closing.py).
    assert made == [
        ("day", "2026-03-30"),
        ("day", "2026-03-31"),
        ("month", "2026-03"),
        ("day", "2026-04-01"),
        ("day", "2026-04-02"),
    ]
    again = closing.close_every_tenant(engine, key=KEY, now=FIRST_CLOSE)
    assert [(r.tenant_id, r.closings, r.refused) for r in again] == [(TENANT, (), None)]


def test_a_refused_closing_fails_its_job_at_once_with_the_reason(engine):  # noqa: F811
    world = build(engine)
    existing_since(engine)
    world.close(FIRST_CLOSE)
    world.collect("dev_b", "cash", "10.00")
    world.push("dev_b", utc("2026-04-01T12:00:00"))  # into a closed day
    later = utc("2026-04-05T08:00:00")
    schedule.Scheduler().tick(engine, later)
    jobs.drain(context(engine, later))
    [(key, state, attempts)] = rows(engine, CLOSE)
    assert (key, state, attempts) == ("acme@2026-04-05T02:30+02:00", jobs.FAILED, 1)
    with engine.connect() as conn:
        error = conn.execute(
            sa.select(jobs_table.c.last_error).where(jobs_table.c.kind == CLOSE)
        ).scalar_one()
    assert "dev_b n°2" in error and "Entry dev_b #2" in error  # the refusal, both languages


def test_the_embedded_thread_ticks_at_its_start(engine):  # noqa: F811
    build(engine)
    existing_since(engine)
    runner = JobThread(context(engine, FIRST_CLOSE))
    runner.tick()
    assert [r.key for r in rows(engine, CLOSE)] == ["acme@2026-04-03T02:30+02:00"]
    runner.tick()  # within the minute: nothing read, nothing written
    quiet = JobThread(context(engine, FIRST_CLOSE), schedule=False)
    assert quiet.scheduler is None


def test_the_worker_command_schedules_then_does_the_jobs(engine, tmp_path, monkeypatch):  # noqa: F811
    if engine.dialect.name != "sqlite":
        pytest.skip("the command line is the same on both databases")
    from server.cli.main import main

    build(engine)
    existing_since(engine)
    var = tmp_path / "var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    monkeypatch.setattr("server.cli.common.now", lambda: FIRST_CLOSE)
    url = engine.url.render_as_string(hide_password=False)
    common = ["--database", url, "--var-dir", str(var)]
    runner = CliRunner()
    quiet = runner.invoke(main, ["worker", "--burst", "--no-schedule", *common])
    assert quiet.exit_code == 0, quiet.output
    assert count_closing_entries(engine) == 0
    done = runner.invoke(main, ["worker", "--burst", *common])
    assert done.exit_code == 0, done.output
    assert count_closing_entries(engine) == 5
    assert [tuple(r) for r in rows(engine, "import_inbox")] == [
        ("acme@2026-04-03T02:00+02:00", jobs.DONE, 1)  # an empty inbox: nothing to import
    ]
    listed = runner.invoke(main, ["jobs", "--database", url, "--json"])
    assert json.loads(listed.output)["counts"]["failed"] == 0


@pytest.mark.parametrize("command", [["worker"], ["run"]])
def test_help_names_the_schedule_with_an_example(command):
    from server.cli.main import main

    shown = CliRunner().invoke(main, [*command, "--help"])
    assert shown.exit_code == 0
    assert "Example" in shown.output
    assert "closing" in shown.output
