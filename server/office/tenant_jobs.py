"""The office's whole-tenant work, done by jobs (server.platform.jobs), never inside a
request: one tenant's closings (server.office.closing) and its whole reconciliation
(server.office.reconcile). Their kinds are registered, and scheduled nightly, in
`server.reactions`; the office asks for a reconciliation with `ask_reconcile` (the API's
`POST /reconcile`, a settlement file's import) and reads where it stands with
`last_reconcile`.

A closing does its work and marks its job done in one transaction, so a worker that
dies leaves neither half; a reconciliation commits a batch of missions (then a page of
keyed checks) at a time and marks its job done after the last. Both kinds are safe to
run twice (a closing closes nothing twice, a reconciliation finds what it found).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import closing, reconcile
from server.platform import jobs
from server.platform.tables import jobs as jobs_table
from shared.errors import Refused

CLOSE = "close_tenant"
RECONCILE = "reconcile_tenant"


def _in_one_transaction(
    context: jobs.Context, job: jobs.Job, work: Callable[[sa.Connection, datetime], object]
) -> None:
    """The work and the job's end commit together; nothing is done if another worker
    has taken the job over (this one's lease ran out)."""
    now = context.clock()
    with context.engine.begin() as conn:
        if jobs.complete(conn, job, now):
            work(conn, now)


def close_tenant(context: jobs.Context, job: jobs.Job) -> None:
    """The tenant's closings up to yesterday, as `towline-server close TENANT`."""
    tenant_id = str(job.tenant_id)
    try:
        _in_one_transaction(
            context,
            job,
            lambda conn, now: closing.run_closings(
                conn, tenant_id, key=context.server_key(), now=now
            ),
        )
    except Refused as refused:  # the journal needs checking: trying again cannot help
        raise jobs.Hopeless(f"{refused.message('fr')} / {refused.message('en')}") from refused


def reconcile_tenant(context: jobs.Context, job: jobs.Job) -> None:
    """Every mission, register, approval code and card payment of the tenant, a batch of
    missions per transaction (a year's run would otherwise hold SQLite's write lock for
    minutes, and the pushes meanwhile would fail); the job is marked done after the last.
    Each batch renews the job's lease, however long the whole run; a worker whose
    job another has taken over (its lease ran out: a worker stalled) stops there."""
    reconcile.reconcile_tenant_in_steps(
        context.engine,
        str(job.tenant_id),
        now=context.clock(),
        go_on=lambda conn: jobs.renew(conn, job, context.clock()),
        finish=lambda conn: jobs.complete(conn, job, context.clock()),
    )


@dataclass(frozen=True, slots=True)
class Asked:
    job: str | None  # the job's key, as `towline-server jobs` lists it
    state: str  # pending | running | done | failed | none (never asked)
    asked_at: datetime | None
    finished_at: datetime | None


def ask_reconcile(conn: sa.Connection, tenant_id: str, now: datetime) -> Asked:
    """A whole-tenant reconciliation, in the caller's transaction; if one is already
    waiting to start, that one (asking twice before it starts reconciles once)."""
    waiting = conn.execute(
        sa.select(jobs_table)
        .where(
            jobs_table.c.kind == RECONCILE,
            jobs_table.c.tenant_id == tenant_id,
            jobs_table.c.state == jobs.PENDING,
            jobs_table.c.available_at <= now,
        )
        .order_by(jobs_table.c.id)
        .limit(1)
    ).first()
    if waiting is not None:
        return _asked(waiting)
    key = f"{tenant_id}@asked:{now.isoformat(timespec='seconds')}:{uuid.uuid4().hex[:8]}"
    jobs.enqueue(conn, RECONCILE, key, {"asked": True}, now=now, tenant_id=tenant_id)
    return Asked(key, jobs.PENDING, now, None)


def last_reconcile(conn: sa.Connection, tenant_id: str) -> Asked:
    """The tenant's latest reconciliation job, asked or scheduled."""
    row = conn.execute(
        sa.select(jobs_table)
        .where(jobs_table.c.kind == RECONCILE, jobs_table.c.tenant_id == tenant_id)
        .order_by(jobs_table.c.id.desc())
        .limit(1)
    ).first()
    return Asked(None, "none", None, None) if row is None else _asked(row)


def _asked(row: Any) -> Asked:
    return Asked(str(row.key), str(row.state), row.created_at, row.finished_at)
