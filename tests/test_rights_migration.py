"""Migration 0004: in tenants created before, the roles that had `reconcile` get
`acknowledge_alerts` and those that had `edit_contracts` get `manage_party_keys`, each
change with an audit line; downgrading takes them away again. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from server.people import identity
from server.people.rights import DEFAULT_ROLES, Right
from server.platform.db import alembic_config, make_engine
from server.platform.tables import audit_log, roles, tenants

POSTGRES_URL = os.environ.get(
    "TOWLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BEFORE = {  # the default roles as tenants got them before, plus a custom one
    "driver": ["collect"],
    "manager": ["approve_discount", "manage_missions", "reconcile", "void_collection"],
    "office": ["edit_contracts", "manage_missions", "reconcile", "void_collection"],
    "admin": ["edit_contracts", "manage_devices", "manage_missions", "manage_users", "reconcile"],
    "contracts": ["edit_contracts"],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    """An empty database at revision 0003, before the rights were split."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'towline.db'}")
        yield eng
        eng.dispose()
        return
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable: {error.__class__.__name__}")
    eng = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def stored(engine: sa.Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {r.name: sorted(r.rights) for r in conn.execute(sa.select(roles))}


def test_roles_that_had_the_old_rights_get_the_new_ones(old_engine):
    migrate(old_engine, "0003")
    with old_engine.begin() as conn:
        conn.execute(
            sa.insert(tenants).values(
                id="acme",
                name="Acme",
                payments_enabled=True,
                settings={},
                change_seq=0,
                journal_seq=0,
                created_at=datetime(2026, 1, 5, tzinfo=UTC),
            )
        )
        for name, rights in BEFORE.items():
            conn.execute(sa.insert(roles).values(tenant_id="acme", name=name, rights=rights))

    migrate(old_engine, "0004")
    after = stored(old_engine)
    assert after["driver"] == ["collect"]
    assert after["manager"] == sorted([*BEFORE["manager"], "acknowledge_alerts"])
    assert after["office"] == sorted([*BEFORE["office"], "acknowledge_alerts", "manage_party_keys"])
    assert after["admin"] == sorted([*BEFORE["admin"], "acknowledge_alerts", "manage_party_keys"])
    assert after["contracts"] == ["edit_contracts", "manage_party_keys"]
    with old_engine.connect() as conn:
        logged = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.target).order_by(
                audit_log.c.target
            )
        ).all()
    assert logged == [
        ("migration", "role.set", n) for n in ("admin", "contracts", "manager", "office")
    ]

    migrate(old_engine, "0003", down=True)
    assert stored(old_engine) == {name: sorted(rights) for name, rights in BEFORE.items()}


def test_new_tenants_get_the_new_defaults(old_engine):
    migrate(old_engine, "head")
    with old_engine.begin() as conn:
        identity.create_tenant(
            conn, "acme", "Acme", payments_enabled=False, now=datetime(2026, 1, 5, tzinfo=UTC)
        )
    after = stored(old_engine)
    assert "acknowledge_alerts" in after["manager"] and "acknowledge_alerts" in after["admin"]
    assert "manage_party_keys" in after["admin"]
    assert (
        "acknowledge_alerts" not in after["office"] and "manage_party_keys" not in after["office"]
    )
    assert Right.ACKNOWLEDGE_ALERTS not in DEFAULT_ROLES["driver"]
