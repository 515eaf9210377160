"""Document numbers, on SQLite and PostgreSQL: one continuous chronological sequence per
tenant, kind and year, without gap or duplicate, even with parallel issuers whose
transactions sometimes roll back."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from server.office import numbering
from server.people import identity
from server.platform.tables import number_series
from tests.storage import engine  # noqa: F401

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def tenants(engine):  # noqa: F811
    with engine.begin() as conn:
        for tenant in ("acme", "other"):
            identity.create_tenant(conn, tenant, tenant.title(), payments_enabled=True, now=NOW)
    return engine


def take(eng, tenant="acme", kind=numbering.INVOICE, now=NOW):
    with eng.begin() as conn:
        return numbering.next_number(conn, tenant, kind, now)


def test_one_series_per_tenant_kind_and_local_year(tenants):
    assert [take(tenants).text for _ in range(3)] == [
        "F2026-000001",
        "F2026-000002",
        "F2026-000003",
    ]
    assert take(tenants, kind=numbering.CREDIT_NOTE).text == "A2026-000001"
    assert take(tenants, tenant="other").text == "F2026-000001"
    # 23:30 UTC on 31 December is already 2027 in Paris: a new series, from 1
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert numbering.series_for(numbering.INVOICE, new_year) == "F2027"
    assert numbering.series_for(numbering.INVOICE, new_year, "UTC") == "F2026"
    assert take(tenants, now=new_year).text == "F2027-000001"
    assert take(tenants).text == "F2026-000004"
    with tenants.connect() as conn:
        assert numbering.last_numbers(conn, "acme") == {"A2026": 1, "F2026": 4, "F2027": 1}
        assert numbering.last_numbers(conn, "other") == {"F2026": 1}


def test_a_rolled_back_number_is_given_again(tenants):
    with tenants.connect() as conn, conn.begin() as transaction:
        assert numbering.next_number(conn, "acme", numbering.INVOICE, NOW).seq == 1
        transaction.rollback()  # the document was never stored: its number goes back
    assert take(tenants).seq == 1
    assert take(tenants).seq == 2


def test_a_document_is_never_dated_before_the_one_numbered_before_it(tenants):
    first = take(tenants, now=NOW)
    late_clock = take(tenants, now=NOW - timedelta(seconds=5))  # a clock running behind
    later = take(tenants, now=NOW + timedelta(seconds=1))
    assert [n.seq for n in (first, late_clock, later)] == [1, 2, 3]
    assert late_clock.issued_at == NOW  # not 5 seconds earlier than number 1
    assert later.issued_at == NOW + timedelta(seconds=1)
    naive = datetime(2026, 3, 14, 12, 0)
    with pytest.raises(ValueError, match="aware"):
        numbering.series_for(numbering.INVOICE, naive)


WORKERS = 8
PER_WORKER = 25


def test_parallel_issuers_get_gapless_chronological_numbers(tenants):
    """8 workers, each with its own connection, 25 committed numbers each, racing from
    the very first number (the series row does not exist yet); every 5th transaction
    of a worker rolls back after taking its number. The committed numbers are exactly
    1..200, each once, and their issue instants never go back as numbers go up, although
    each worker's clock is a little behind the previous one's."""
    committed: list[tuple[int, datetime, int]] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(WORKERS)

    def work(worker: int) -> None:
        try:
            start.wait()
            done = attempt = 0
            while done < PER_WORKER:
                attempt += 1
                clock = NOW + timedelta(milliseconds=attempt * 10 - worker * 3)
                with tenants.connect() as conn:
                    transaction = conn.begin()
                    number = numbering.next_number(conn, "acme", numbering.INVOICE, clock)
                    if attempt % 5 == 0:
                        transaction.rollback()
                        continue
                    transaction.commit()
                with guard:
                    committed.append((number.seq, number.issued_at, worker))
                done += 1
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    seqs = sorted(seq for seq, _, _ in committed)
    assert seqs == list(range(1, WORKERS * PER_WORKER + 1))  # no gap, no duplicate
    by_number = sorted(committed)
    instants = [at for _, at, _ in by_number]
    assert instants == sorted(instants)  # chronological
    for worker in range(WORKERS):  # each worker's own numbers go up in its own order
        mine = [seq for seq, _, w in committed if w == worker]
        assert mine == sorted(mine) and len(mine) == PER_WORKER
    with tenants.connect() as conn:
        row = conn.execute(sa.select(number_series)).one()
    assert (row.series, row.last_seq) == ("F2026", WORKERS * PER_WORKER)
    assert row.last_issued_at == instants[-1]
