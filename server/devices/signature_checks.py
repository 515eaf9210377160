"""The back-check of signatures (docs/sync-protocol.md "Signatures"): every entry's own
signature, verified by a job soon after its push committed.

A push verifies every hash and link, and the signature of each run's last entry (the chain
vouches for the entries before it: `SignatureCheck.RUN_ENDS`), stores the batch, and asks
here for a `check_signatures` job over the seqs it stored, in its own transaction: the job
exists exactly when the entries do. Until the job has run, those entries are stored with
their content authenticated (by the last signature, through the chain) but their own
signatures not yet verified; the pending job is the mark (`pending`).

The job reads the entries back, verifies each signature with the tablet's key and, when one
fails, raises one `journal_invalid` anomaly for the range (`detail.source`: `back_check`)
naming each entry (seq, hash) whose signature fails: that anomaly is the entries' mark.
Nothing is refused, deleted or changed: the entries stay on the chain, and everything
derived from them stays, for the office to judge with the tablet (revoke it, or accept).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office.anomalies import open_anomaly
from server.platform import jobs
from server.platform.db import reading
from server.platform.tables import devices, journal_entries
from server.platform.tables import jobs as job_rows
from shared import signing

KIND = "check_signatures"
ANOMALY = "journal_invalid"
MAX_ATTEMPTS = 5
_LISTED = 20


def ask(
    conn: sa.Connection, tenant_id: str, device_id: str, first: int, last: int, now: datetime
) -> None:
    """In the push's transaction: the job that will verify the signatures of `first`..`last`."""
    jobs.enqueue(
        conn,
        KIND,
        f"{tenant_id}:{device_id}:{first}-{last}",
        {"device_id": device_id, "first": first, "last": last},
        now=now,
        tenant_id=tenant_id,
    )


def bad_signatures(public_key: bytes, rows: Sequence[Any]) -> list[Any]:
    """The rows (with `hash` and `sig`, hex) whose signature is not the key's over the hash."""
    key = signing.public_key_from_bytes(public_key)
    verify = signing.verify
    bad = []
    for row in rows:
        try:
            ok = verify(key, bytes.fromhex(row.sig), bytes.fromhex(row.hash))
        except ValueError:
            ok = False
        if not ok:
            bad.append(row)
    return bad


def check(context: jobs.Context, job: jobs.Job) -> None:
    """Verify the range's signatures (outside any write transaction), then in one short
    transaction raise the anomaly, if any, and mark the job done."""
    tenant_id = str(job.tenant_id)
    device_id = str(job.payload["device_id"])
    first, last = int(job.payload["first"]), int(job.payload["last"])
    with reading(context.engine).connect() as conn:
        public_key = conn.execute(
            sa.select(devices.c.public_key).where(
                devices.c.tenant_id == tenant_id, devices.c.id == device_id
            )
        ).scalar_one()
        rows = conn.execute(
            sa.select(
                journal_entries.c.seq,
                journal_entries.c.hash,
                journal_entries.c.sig,
                journal_entries.c.driver_id,
                journal_entries.c.mission_id,
            )
            .where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.device_id == device_id,
                journal_entries.c.seq.between(first, last),
            )
            .order_by(journal_entries.c.seq)
        ).all()
    bad = bad_signatures(bytes.fromhex(public_key), rows)
    now = context.clock()
    with context.engine.begin() as conn:
        if not jobs.complete(conn, job, now):
            return  # another worker took it over: it raises what it finds
        if bad:
            _raise(conn, tenant_id, device_id, first, last, bad, now)


def _raise(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    first: int,
    last: int,
    bad: Sequence[Any],
    now: datetime,
) -> None:
    label = conn.execute(
        sa.select(devices.c.label).where(
            devices.c.tenant_id == tenant_id, devices.c.id == device_id
        )
    ).scalar_one()
    seqs = [int(r.seq) for r in bad]
    shown = ", ".join(str(s) for s in seqs[:_LISTED])
    if len(seqs) > _LISTED:
        shown += f"… (+{len(seqs) - _LISTED})"
    drivers = sorted({r.driver_id for r in bad if r.driver_id})
    missions = {r.mission_id for r in bad}
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind=ANOMALY,
        device_id=device_id,
        driver_id=drivers[0] if len(drivers) == 1 else None,
        mission_id=missions.pop() if len(missions) == 1 else None,
        subject=f"signatures:{device_id}:{first}-{last}",
        detail={
            "source": "back_check",
            "batch": [first, last],
            "tablet": {"device_id": device_id, "label": label},
            "drivers": drivers,
            "findings": [
                {
                    "kind": "bad_signature",
                    "seq": s,
                    "fr": f"La signature de l'entrée n° {s} est invalide.",
                    "en": f"The signature of entry no. {s} is invalid.",
                }
                for s in seqs
            ],
            "entries": [{"device_id": device_id, "seq": int(r.seq), "hash": r.hash} for r in bad],
            "fr": f"Signatures invalides sur la tablette « {label} » ({device_id}) : entrées "
            f"n° {shown}, reçues dans le lot {first}–{last}. Leur contenu est celui que la "
            "tablette a chaîné et signé ensuite (la dernière signature du lot est valide), "
            "mais leur propre signature ne l'est pas : tablette défaillante ou altérée. Les "
            "entrées restent enregistrées. Vérifiez la tablette ; révoquez-la si elle a été "
            "copiée ou altérée, puis traitez l'alerte avec son motif.",
            "en": f"Invalid signatures on tablet “{label}” ({device_id}): entries no. "
            f"{shown}, received in batch {first}–{last}. Their content is what the tablet "
            "chained and signed afterwards (the batch's last signature is valid), but their "
            "own signature is not: a faulty or altered tablet. The entries stay stored. "
            "Check the tablet; revoke it if it was copied or altered, then acknowledge the "
            "alert with its reason.",
        },
        now=now,
    )


def give_up(conn: sa.Connection, job: jobs.Job, error: str, now: datetime) -> None:
    """After `MAX_ATTEMPTS`: the range stays unchecked, which the office must know."""
    device_id = str(job.payload.get("device_id"))
    first, last = job.payload.get("first"), job.payload.get("last")
    open_anomaly(
        conn,
        tenant_id=str(job.tenant_id),
        kind=ANOMALY,
        device_id=device_id,
        subject=f"signatures:{device_id}:{first}-{last}",
        detail={
            "source": "back_check",
            "batch": [first, last],
            "error": error[:500],
            "findings": [],
            "fr": f"Les signatures des entrées n° {first} à {last} de la tablette {device_id} "
            "n'ont pas pu être vérifiées après plusieurs essais : elles restent à vérifier "
            "(towline-server verify).",
            "en": f"The signatures of entries no. {first} to {last} of tablet {device_id} "
            "could not be verified after several attempts: they remain to be checked "
            "(towline-server verify).",
        },
        now=now,
    )


def pending(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    """The ranges whose signatures are stored but not yet back-checked (jobs not done)."""
    rows = conn.execute(
        sa.select(job_rows.c.payload).where(
            job_rows.c.kind == KIND,
            job_rows.c.tenant_id == tenant_id,
            job_rows.c.state.in_((jobs.PENDING, jobs.RUNNING)),
        )
    )
    return [dict(r.payload) for r in rows]
