"""The scale-out path exercised, not only described (docs/scaling.md): the reconnect storm's
smallest form — 20 tablets × 50 entries with missions closed — against gunicorn with 2
workers and the Redis-backed job queue (`towline-server worker --redis`), on SQLite and
PostgreSQL. Nothing lost, nothing doubled, no gap in the invoice numbers, every invoice's
PDF made once the queue has drained. No timing is asserted: bench/storm.py prints those."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "storm.py"


def _storm():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("towline_storm", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _services(storm, backend):  # type: ignore[no-untyped-def]
    import redis

    try:
        redis.Redis.from_url(storm.REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        message = f"Redis is not reachable at {storm.REDIS_URL} (docs/operations.md)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if backend == "postgresql":
        from server.platform.db import make_engine

        try:
            probe = make_engine(storm.POSTGRES_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            probe.dispose()
        except Exception as exc:
            message = f"PostgreSQL is not reachable at {storm.POSTGRES_URL}: {exc}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_small_storm_through_gunicorn_and_the_redis_queue(backend):
    storm = _storm()
    _services(storm, backend)
    report = storm.storm(
        backend,
        tablets_count=20,
        workers=2,
        concurrency=10,
        jobs_mode="redis",
        deadline_s=600,
    )
    assert report.errors == []
    assert report.drained is not None  # the queue emptied
    checks = report.checks
    assert checks["entries_stored"] == checks["entries_sent"] == 20 * 50
    assert checks["lost"] == 0
    assert checks["invoices"] == checks["invoices_expected"] == 20 * 8
    assert checks["invoices_doubled"] == 0
    assert checks["number_gaps"] == 0
    assert checks["documents_without_pdf"] == 0
    assert checks["jobs_failed"] == 0
