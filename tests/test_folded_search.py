"""Finding a mission by its id or file number in any case (issue 18, "the desk at a
year"), on SQLite and PostgreSQL: `folded_prefix` and `folded_is` find exactly the rows
a case-blind comparison in Python finds for ASCII letters (SQLite's `lower()` folds no
other; `%`, `_` and `/` typed are letters, not patterns), newest first, through the
folded indexes of migration 0015, which upgrades and downgrades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.platform.tables import (
    folded_is,
    folded_prefix,
    missions,
    newest_first,
    party_files,
)
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import TENANT, add_tenant
from tests.test_rights_migration import migrate, old_engine  # noqa: F401

START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
# Ids a clerk may meet: mixed case, and the characters LIKE and its escape treat apart.
# The last code point right after a prefix: SQLite's range must still hold it.
IDS = [
    "M-A-26-0001",
    "m-a-26-0002",
    "M-A-26-0010",
    "M-B-26-0001",
    "M_A%26/1",
    "MxA-26-0003",
    "M-A\U0010ffff7",
]
FILES = ["A-2026-001", "a-2026-002", None, "B-2026-001", "A_2026%/1", "A-2026-0010", None]


def _missions(eng: sa.Engine) -> None:
    add_tenant(eng)
    add_tenant(eng, "other", crew=("o1",))
    rows = [
        {
            "tenant_id": TENANT,
            "id": mission_id,
            "file_number": file_number,
            "document": "{}",
            "status": "assigned",
            "source": "office",
            "created_at": START + timedelta(hours=index),
            "created_by": "test",
        }
        for index, (mission_id, file_number) in enumerate(zip(IDS, FILES, strict=True))
    ]
    rows.append({**rows[0], "tenant_id": "other", "created_at": START + timedelta(days=9)})
    with eng.begin() as conn:
        conn.execute(sa.insert(missions), rows)


def _found(eng: sa.Engine, where: sa.ColumnElement[bool]) -> list[str]:
    with eng.connect() as conn:
        return list(
            conn.execute(
                sa.select(missions.c.id)
                .where(missions.c.tenant_id == TENANT, where)
                .order_by(newest_first(conn.dialect.name, missions.c.created_at))
            ).scalars()
        )


def _newest_first(ids: list[str]) -> list[str]:
    return sorted(ids, key=IDS.index, reverse=True)  # IDS are created oldest first


@st.composite
def _typed(draw: st.DrawFn) -> str:
    """The start of an id or file number (or of nothing stored), some letters swapped in case."""
    base = draw(
        st.sampled_from(IDS + [f for f in FILES if f] + ["Z-404", "M-A-26-00%", "M_A%", "/"])
    )
    cut = draw(st.integers(1, len(base)))
    flips = draw(st.lists(st.booleans(), min_size=cut, max_size=cut))
    return "".join(c.swapcase() if f else c for c, f in zip(base[:cut], flips, strict=True))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=_typed())
@example(typed="m_a")  # "_" a letter, not "any one character"
@example(typed="M-A-26-00%")  # "%" a letter, not "anything"
@example(typed="m_a%26/")  # "/", the escape character, a letter too
@example(typed="m-a")  # "M-A\U0010ffff7" starts so too
def test_a_prefix_in_any_case_finds_what_python_finds(engine, typed):  # noqa: F811
    with engine.connect() as conn:
        known = conn.execute(sa.select(sa.func.count()).select_from(missions)).scalar_one()
    if not known:
        _missions(engine)
    dialect = engine.dialect.name
    wanted = typed.lower()
    by_id = [m for m in IDS if m.lower().startswith(wanted)]
    assert _found(engine, folded_prefix(dialect, missions.c.id, typed)) == _newest_first(by_id)
    by_file = [m for m, f in zip(IDS, FILES, strict=True) if f and f.lower().startswith(wanted)]
    found = _found(engine, folded_prefix(dialect, missions.c.file_number, typed))
    assert found == _newest_first(by_file)
    exact = [m for m in IDS if m.lower() == wanted]
    assert _found(engine, folded_is(missions.c.id, typed)) == exact


def test_the_searches_read_the_folded_indexes(engine):  # noqa: F811
    """The plan of each search names its index. PostgreSQL plans with statistics: among
    3,000 missions of the tenant, and told not to scan the table, it reads the index."""
    _missions(engine)
    filler = {"document": "{}", "status": "assigned", "source": "office", "created_by": "t"}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(missions),
            [
                {
                    **filler,
                    "tenant_id": TENANT,
                    "id": f"F-{n:05d}",
                    "file_number": f"F-{n:05d}",
                    "created_at": START + timedelta(minutes=n),
                }
                for n in range(3000)
            ],
        )
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE missions")
    searches = {
        "ix_missions_id_folded": [
            folded_prefix(engine.dialect.name, missions.c.id, "m-a_"),
            folded_is(missions.c.id, "M-A-26-0001"),
        ],
        "ix_missions_file_folded": [
            folded_prefix(engine.dialect.name, missions.c.file_number, "a-2026"),
            folded_is(missions.c.file_number, "a-2026-001"),
        ],
    }
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for index, wheres in searches.items():
            for where in wheres:
                query = sa.select(missions.c.id).where(missions.c.tenant_id == TENANT, where)
                if not postgres:  # SQLite's choice without statistics, as the desk asks
                    query = query.order_by(newest_first("sqlite", missions.c.created_at))
                    query = query.limit(51)
                sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
                verb = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
                plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"{verb} {sql}"))
                assert index in plan, plan
        if postgres:
            conn.rollback()


def test_migration_0015_adds_the_folded_indexes_and_takes_them_back(old_engine):  # noqa: F811
    def indexes() -> set[str]:  # read from the catalogue: SQLAlchemy skips expressions
        if old_engine.dialect.name == "postgresql":
            sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        with old_engine.connect() as conn:
            return {n for n in conn.exec_driver_sql(sql).scalars() if "folded" in n}

    migrate(old_engine, "0014")
    assert indexes() == set()
    migrate(old_engine, "0015")
    declared = {i.name for t in (missions, party_files) for i in t.indexes if "folded" in i.name}
    assert (
        indexes()
        == declared
        == {
            "ix_missions_id_folded",
            "ix_missions_file_folded",
            "ix_party_files_number_folded",
        }
    )
    migrate(old_engine, "0014", down=True)
    assert indexes() == set()
