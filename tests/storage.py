"""Fixtures for the storage contract suite: every test that takes `engine` runs once on
SQLite and once on PostgreSQL (each test in its own schema, dropped afterwards).

PostgreSQL comes from TOWLINE_TEST_POSTGRES_URL (default: the machine's server,
postgresql://postgres@127.0.0.1:5432/test). Under CI it must be reachable: the tests
fail rather than skip. docs/operations.md says how to start it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from server.platform.db import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "TOWLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_or_fail() -> None:
    try:
        probe = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        probe.dispose()
    except Exception as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.__class__.__name__}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI requires it; see docs/operations.md)")
        pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'towline.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    _postgres_or_fail()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    eng = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
