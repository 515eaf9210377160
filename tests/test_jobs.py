"""Rendering after the request (docs/invoicing.md "Files", docs/operations.md "Jobs"), on
SQLite and PostgreSQL: the API and the desk say a document is being prepared until its
PDF exists; a worker that dies mid-job is replaced and nothing is lost; the embedded
thread renders what a request issued and stops cleanly; the Redis queue's workers do
the same work from the same rows."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.app import create_app
from server.office import document_files
from server.platform import job_redis, job_runtime, jobs
from server.platform.tables import document_files as files_table
from server.platform.tables import jobs as jobs_table
from tests.invoicing_support import KEY, NOW, render, set_up
from tests.server_support import PASSWORD, world  # noqa: F401
from tests.storage import engine  # noqa: F401

REDIS_URL = "redis://127.0.0.1:6379/15"


def app_with(w, tmp_path, mode, **config):
    app = create_app(
        {
            "ENGINE": w.engine,
            "VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "test",
            "CLOCK": w.clock,
            "JOBS": mode,
            **config,
        }
    )
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/login", json={"tenant": "acme", "login": "admin", "password": PASSWORD}
    ).json["token"]
    return app, client, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def shop(world):  # noqa: F811
    with world.engine.begin() as conn:
        set_up(conn)  # acme: seller, ASSIST-A, M-A-0003 valued
    world.clock.now = NOW
    return world


def made(w):
    with w.engine.connect() as conn:
        return sorted(conn.execute(sa.select(files_table.c.number)).scalars())


def context(w, now=NOW):
    return jobs.Context(w.engine, lambda: KEY, lambda: now)


def test_a_document_is_not_shown_until_its_pdf_exists(shop, tmp_path):
    """With no worker in the app (`JOBS = "worker"`), the numbers are taken at once and
    every way of showing the document says it is being prepared, with Retry-After."""
    _app, client, auth = app_with(shop, tmp_path, "worker")
    issued = client.post("/api/v1/missions/M-A-0003/invoice", headers=auth)
    assert issued.status_code == 201
    assert [(d["number"], d["files"]) for d in issued.json] == [
        ("F2026-000001", "preparing"),
        ("F2026-000002", "preparing"),
    ]
    for path in ("", "/pdf", "/facturx"):
        waiting = client.get(f"/api/v1/documents/F2026-000001{path}", headers=auth)
        assert (waiting.status_code, waiting.json["code"]) == (409, "document_being_prepared")
        assert waiting.headers["Retry-After"] == "2"
    english = client.get(
        "/api/v1/documents/F2026-000002", headers={**auth, "Accept-Language": "en"}
    )
    assert "its PDF is being prepared" in english.json["message"]
    assert client.get("/api/v1/documents", headers=auth).json == []  # listed once made
    assert made(shop) == []
    assert render(shop.engine) == 2  # what a worker does after the commit
    shown = client.get("/api/v1/documents/F2026-000001", headers=auth)
    assert (shown.status_code, shown.json["files"]) == (200, "ready")
    assert client.get("/api/v1/documents/F2026-000001/pdf", headers=auth).data[:5] == b"%PDF-"
    listed = client.get("/api/v1/documents", headers=auth).json
    assert [d["number"] for d in listed] == ["F2026-000001", "F2026-000002"]


def test_a_worker_that_dies_mid_job_is_replaced_and_nothing_is_lost(shop):
    with shop.engine.begin() as conn:
        from server.office import invoicing

        invoicing.issue_for_mission(conn, "acme", "M-A-0003", key=KEY, actor="u", now=NOW)
    doomed = jobs.claim(shop.engine, worker="doomed", now=NOW)  # then its process dies
    assert doomed is not None and doomed.payload["number"] == "F2026-000001"
    assert render(shop.engine) == 1  # the other job; this one is leased to the dead worker
    assert made(shop) == ["F2026-000002"]
    later = NOW + jobs.DEFAULT_LEASE + timedelta(seconds=1)
    assert render(shop.engine, later) == 1  # its lease ran out: another worker takes it over
    assert made(shop) == ["F2026-000001", "F2026-000002"]
    with shop.engine.begin() as conn:
        assert not jobs.complete(conn, doomed, later)  # the dead one could not finish it now
        [row] = conn.execute(
            sa.select(jobs_table).where(jobs_table.c.key == "acme:F2026-000001")
        ).all()
    assert (row.state, row.attempts, row.worker != "doomed") == ("done", 2, True)


def test_a_killed_worker_process_leaves_its_job_to_another(shop, tmp_path):
    """A real process, killed (SIGKILL) while it renders: its job row survives, and
    another worker finishes it once the lease has run out."""
    if shop.engine.dialect.name != "sqlite":
        pytest.skip("the child process opens the test's SQLite file")
    with shop.engine.begin() as conn:
        from server.office import invoicing

        invoicing.issue_for_mission(conn, "acme", "M-P-0002", key=KEY, actor="u", now=NOW)
    script = textwrap.dedent(
        f"""
        import sys, time
        from server import reactions
        from server.office import invoice_render
        from server.platform import jobs
        from server.platform.db import make_engine
        from shared.signing import private_key_from_bytes
        from datetime import datetime

        KEY = private_key_from_bytes(bytes(range(1, 33)))
        NOW = datetime.fromisoformat({NOW.isoformat()!r})

        def hang(document):
            print("rendering", flush=True)
            time.sleep(600)

        invoice_render.pdf = hang
        engine = make_engine({str(shop.engine.url)!r})
        jobs.run_one(jobs.Context(engine, lambda: KEY, lambda: NOW), worker="child")
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=str(tmp_path.parent)
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "rendering"
    finally:
        child.kill()
        child.wait(timeout=30)
    assert made(shop) == []
    with shop.engine.connect() as conn:
        [row] = conn.execute(sa.select(jobs_table)).all()
    assert (row.state, row.worker) == ("running", "child")
    assert render(shop.engine, NOW + timedelta(minutes=4)) == 0  # still leased
    assert render(shop.engine, NOW + timedelta(minutes=6)) == 1
    assert made(shop) == ["F2026-000001"]


def test_the_embedded_thread_renders_what_a_request_issued_and_stops(shop, tmp_path):
    # The scheduled nightly jobs are tests/test_schedule.py's: here, only the rendering.
    app, client, auth = app_with(shop, tmp_path, "thread", JOBS_SCHEDULE=False)
    runner = job_runtime.runner(app)
    assert runner is not None
    runner.context = context(shop)  # signs with the test key
    try:
        issued = client.post("/api/v1/missions/M-A-0003/invoice", headers=auth)  # starts it
        assert issued.status_code == 201 and runner.running
        for _ in range(600):  # told of the new jobs when the request's transaction ended
            if len(made(shop)) == 2:
                break
            time.sleep(0.05)
        assert made(shop) == ["F2026-000001", "F2026-000002"]
    finally:
        assert runner.stop(timeout=30)
    assert not runner.running and runner.done == 2


def test_workers_of_the_redis_queue_do_the_same_rows(shop, tmp_path):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not reachable at 127.0.0.1:6379 (docs/operations.md)")
    name = f"towline-test-{uuid.uuid4().hex[:8]}"
    _app, client, auth = app_with(
        shop, tmp_path, "redis", JOBS_REDIS_URL=REDIS_URL, JOBS_QUEUE=name
    )
    queue = job_redis.queue(REDIS_URL, name)
    try:
        assert client.post("/api/v1/missions/M-A-0003/invoice", headers=auth).status_code == 201
        assert queue.count == 2  # one wake-up per job, sent once the transaction ended
        assert made(shop) == []
        job_redis.serve(context(shop), REDIS_URL, name=name, burst=True, schedule=False)
        assert made(shop) == ["F2026-000001", "F2026-000002"]
        with shop.engine.connect() as conn:
            assert jobs.counts(conn) == {"pending": 0, "running": 0, "done": 2, "failed": 0}
    finally:
        queue.empty()
        queue.delete(delete_jobs=True)
        leftovers = queue.connection.keys(f"rq:*:{name}*")
        queue.connection.delete(f"rq:job:{job_redis.SWEEP_ID}-{name}", *leftovers)


def test_render_again_only_for_what_gave_up(shop):
    with shop.engine.begin() as conn:
        from server.office import invoicing

        invoicing.issue_for_mission(conn, "acme", "M-P-0002", key=KEY, actor="u", now=NOW)
        assert not document_files.render_again(conn, "acme", "F2026-000001", NOW)  # pending
    render(shop.engine)
    with shop.engine.begin() as conn:
        assert not document_files.render_again(conn, "acme", "F2026-000001", NOW)  # made
