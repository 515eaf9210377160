"""What a tablet tells the office about its own files (docs/sync-protocol.md "Integrity
report"): a journal its own check found broken, a key that is not the one enrolled, a
server key replaced in its store. Kept as a `journal_invalid` anomaly naming the tablet,
with every finding in both languages, once per report.

`record` is what the push endpoint calls with the push's `integrity_report` (in the
push's transaction, before answering); the answer then carries `{"integrity_report":
{"id"}}`, so the tablet stops sending it. `key_refused` is what the session endpoint
calls when a known device signs its challenge with another key: that tablet cannot open
a session, so it cannot tell anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.platform.tables import anomalies

KIND = "journal_invalid"
# Reports kept open per tablet: a rogue tablet sending ever new reports cannot fill the
# desk; the office already has that many open reports about it to look at.
MAX_OPEN_PER_DEVICE = 5


def _subject(device_id: str, what: str) -> str:
    return f"{device_id}:{what}"[:200]


def _open_count(conn: sa.Connection, tenant_id: str, device_id: str, prefix: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(
                anomalies.c.tenant_id == tenant_id,
                anomalies.c.kind == KIND,
                anomalies.c.device_id == device_id,
                anomalies.c.status == "open",
                anomalies.c.subject.startswith(prefix, autoescape=True),
            )
        ).scalar_one()
    )


def _exists(conn: sa.Connection, tenant_id: str, subject: str) -> bool:
    found = conn.execute(
        sa.select(anomalies.c.id).where(
            anomalies.c.tenant_id == tenant_id,
            anomalies.c.kind == KIND,
            anomalies.c.subject == subject,
        )
    ).first()
    return found is not None


def _insert(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    subject: str,
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    # Written here rather than with `open_anomaly`, which sets no subject: the subject is
    # what makes a report sent again (its answer lost) recorded once.
    conn.execute(
        sa.insert(anomalies).values(
            tenant_id=tenant_id,
            kind=KIND,
            subject=subject,
            device_id=device_id,
            detail=dict(detail),
            status="open",
            created_at=now,
        )
    )


def record(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    report: Mapping[str, Any],
    revoked: bool,
    now: datetime,
) -> str | None:
    """Keep the report (already loaded by `sync.schemas.IntegrityReport`) as an anomaly;
    returns its id for the answer, or None when it is not kept (a revoked tablet: its
    push goes to quarantine and its word is worth nothing)."""
    if revoked:
        return None
    report_id = str(report["id"])
    subject = _subject(device_id, f"report:{report_id}")
    if _exists(conn, tenant_id, subject):
        return report_id
    if _open_count(conn, tenant_id, device_id, _subject(device_id, "report:")) >= (
        MAX_OPEN_PER_DEVICE
    ):
        return report_id  # told already, and often: the office is looking at this tablet
    findings = [
        {"kind": f["kind"], "seq": f.get("seq"), "fr": f["fr"], "en": f["en"]}
        for f in report["findings"]
    ]
    detail = {
        "source": "tablet_report",
        "report_id": report_id,
        "found_at": report["found_at"],
        "total": report["total"],
        "fr": "La tablette a trouvé ses propres fichiers altérés : voir les constats.",
        "en": "The tablet found its own files altered: see the findings.",
        "findings": findings,
    }
    _insert(conn, tenant_id, device_id, subject, detail, now)
    return report_id


def key_refused(conn: sa.Connection, *, tenant_id: str, device_id: str, now: datetime) -> None:
    """A session challenge of a known device was signed with another key than the one it
    enrolled. One open alert per device, however often it happens."""
    subject = _subject(device_id, "key_refused")
    open_already = conn.execute(
        sa.select(anomalies.c.id).where(
            anomalies.c.tenant_id == tenant_id,
            anomalies.c.kind == KIND,
            anomalies.c.subject == subject,
            anomalies.c.status == "open",
        )
    ).first()
    if open_already is not None:
        return
    detail = {
        "source": "session",
        "fr": "Une session a été demandée pour cette tablette avec la signature d'une autre"
        " clé que celle enrôlée : son fichier de clés a été remplacé, la tablette copiée,"
        " ou quelqu'un essaie de se faire passer pour elle.",
        "en": "A session was asked for this tablet with a signature from another key than"
        " the one it enrolled: its key file was replaced, the tablet copied, or someone is"
        " trying to pass for it.",
    }
    _insert(conn, tenant_id, device_id, subject, detail, now)
