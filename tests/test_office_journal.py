"""The server's own journal: one signed chain per tenant, gapless and fork-free even with
concurrent writers, verifiable with the server's public key only (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from server.office import office_journal
from server.people import identity
from server.platform.tables import journal_entries
from shared import signing
from shared.chain_verifier import verify_chain
from tests.storage import engine  # noqa: F401

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
KEY = signing.private_key_from_bytes(bytes(range(1, 33)))


def _tenants(eng: sa.Engine) -> None:
    with eng.begin() as conn:
        for tenant in ("acme", "other"):
            identity.create_tenant(conn, tenant, tenant.title(), payments_enabled=True, now=NOW)


def test_entries_chain_per_tenant_and_verify_with_the_public_key(engine):  # noqa: F811
    _tenants(engine)
    with engine.begin() as conn:
        for n in range(3):
            office_journal.append(
                conn, "acme", "office_decision", {"n": n}, key=KEY, actor="bureau", now=NOW
            )
        office_journal.append(
            conn, "other", "office_decision", {"n": 9}, key=KEY, actor="x", now=NOW
        )
    with engine.connect() as conn:
        acme = office_journal.entries(conn, "acme")
        other = office_journal.entries(conn, "other")
    assert [e.seq for e in acme] == [1, 2, 3] and [e.seq for e in other] == [1]
    assert [e.entry.payload["n"] for e in acme] == [0, 1, 2]
    assert acme[0].entry.driver_id == "bureau"
    public = signing.public_key_of(KEY)
    assert verify_chain(acme, device_id="server:acme", public_key=public) == ()
    wrong = signing.public_key_of(signing.private_key_from_bytes(bytes(32)))
    assert verify_chain(acme, device_id="server:acme", public_key=wrong)  # not authentic


def test_concurrent_writers_never_fork_nor_skip(engine):  # noqa: F811
    _tenants(engine)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with engine.begin() as conn:
                    office_journal.append(
                        conn,
                        "acme",
                        "office_decision",
                        {"w": worker, "n": n},
                        key=KEY,
                        actor="w",
                        now=NOW,
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        chain = office_journal.entries(conn, "acme")
        stored = conn.execute(sa.select(sa.func.count()).select_from(journal_entries)).scalar_one()
    assert [e.seq for e in chain] == list(range(1, 41)) and stored == 40
    assert verify_chain(chain, device_id="server:acme", public_key=signing.public_key_of(KEY)) == ()
