"""The office approves, after the fact, a fact a driver found on site beyond what the
ordering party lets a driver change alone and kept "for the office" without a manager's
code (anomaly `site_fact_beyond_tolerance`, docs/anomalies.md).

One call, one transaction: a decision of type `site_facts_approval` citing the entry is
stored and announced to the tablet that recorded it (pull kind `decision`, scope of that
tablet), audited; the server values the mission again with the facts counted
(`server.office.site_facts.mission_on_site` counts the approval); a mission already
invoiced gets a credit note and its new invoices; the anomaly is resolved and an
`office_decision` entry signed in the tenant's server journal. The tablet, at its next
pull, records the same facts again with `approval_ref` "office:<decision id>" and values
the mission again: the fact's price moves there too, the gate and the register follow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from server.office import (
    decisions,
    invoicing,
    issued_documents,
    office_journal,
    reconcile,
    site_facts,
    valuation,
)
from server.office.reconcile_rules import cents as as_cents
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import anomalies, missions
from server.platform.tables import decisions as decisions_table
from shared import signing
from shared.canonical import plain

REASON_MAX = 500  # as the API (server.api.fields.REASON)


def approvable(row: Any) -> bool:
    """Whether this anomaly is a fact kept for the office that it can still approve."""
    detail = row.detail if isinstance(row.detail, Mapping) else {}
    return (
        row.kind == site_facts.BEYOND
        and row.status == reconcile.OPEN
        and detail.get("approval_ref") is None
        and isinstance(detail.get("entry"), Mapping)
    )


def _anomaly(conn: sa.Connection, tenant_id: str, anomaly_id: int) -> Any:
    row = None
    if 0 < anomaly_id < 2**31:  # a 32-bit column: anything else is no anomaly
        row = conn.execute(
            sa.select(anomalies)
            .where(anomalies.c.tenant_id == tenant_id, anomalies.c.id == anomaly_id)
            .with_for_update()
        ).first()
    if row is None:
        raise not_found("Anomalie", "Anomaly", str(anomaly_id))
    return row


def _checked_reason(reason: str) -> str:
    said = " ".join((reason or "").split())
    if not said:
        raise Unprocessable(
            "Indiquez pourquoi le bureau approuve ce constat (le motif est enregistré).",
            "Say why the office approves this fact (the reason is recorded).",
            code="reason_required",
        )
    if len(said) > REASON_MAX:
        raise Unprocessable(
            f"Motif trop long : {REASON_MAX} caractères au plus.",
            f"Reason too long: {REASON_MAX} characters at most.",
            code="reason_too_long",
        )
    return said


def approve(
    conn: sa.Connection,
    tenant_id: str,
    anomaly_id: int,
    reason: str,
    *,
    key: signing.PrivateKey,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Approve the facts of the open `site_fact_beyond_tolerance` anomaly `anomaly_id`;
    returns what was done (the decision, the new valuation, documents issued)."""
    said = _checked_reason(reason)
    row = _anomaly(conn, tenant_id, anomaly_id)
    if row.kind != site_facts.BEYOND:
        raise Conflict(
            f"L'anomalie {anomaly_id} n'est pas un constat sur place au-delà de la règle"
            f" ({row.kind}) : rien n'a été fait.",
            f"Anomaly {anomaly_id} is not a site fact beyond the rule ({row.kind}):"
            " nothing was done.",
            code="action_unfit",
        )
    if row.status != reconcile.OPEN:
        raise Conflict(
            f"L'anomalie {anomaly_id} n'est plus ouverte ({row.status}) : rien n'a été fait.",
            f"Anomaly {anomaly_id} is no longer open ({row.status}): nothing was done.",
            code="anomaly_not_open",
        )
    if not approvable(row):
        raise Conflict(
            "Ce constat a été appliqué sur la tablette avec un code que le bureau n'a pas"
            " donné : il compte déjà dans le prix. Acceptez-le tel quel ou contestez-le.",
            "This fact was applied on the tablet with a code the office never issued: it"
            " already counts in the price. Acknowledge it or dispute it.",
            code="fact_not_held",
        )
    detail = dict(row.detail)
    entry = {k: detail["entry"][k] for k in ("device_id", "seq", "hash")}
    mission_id = str(row.mission_id)
    driver_id = conn.execute(
        sa.select(missions.c.driver_id).where(
            missions.c.tenant_id == tenant_id, missions.c.id == mission_id
        )
    ).scalar_one_or_none()
    decision_id = decisions.new_id()
    data = {
        "id": decision_id,
        "type": site_facts.OFFICE_APPROVAL,
        "mission_id": mission_id,
        "driver_id": driver_id or row.driver_id,
        "entry": entry,
        "facts": [
            {k: f.get(k) for k in ("fact", "key", "order", "found")} for f in detail["facts"]
        ],
        "reason": said,
        "decided_by": actor,
        "decided_at": now.astimezone(UTC).isoformat(),
    }
    conn.execute(
        sa.insert(decisions_table).values(
            tenant_id=tenant_id,
            id=decision_id,
            type=site_facts.OFFICE_APPROVAL,
            mission_id=mission_id,
            device_id=entry["device_id"],
            entry_seq=int(entry["seq"]),  # an entry is approved once (the table's unique key)
            driver_id=data["driver_id"],
            data=json.dumps(data, sort_keys=True, ensure_ascii=False),
            decided_by=actor,
            decided_at=now,
        )
    )
    # Only the tablet that recorded the facts can record them again.
    scope = changes.device_scope(str(entry["device_id"]))
    changes.record(conn, tenant_id, "decision", decision_id, data, scope=scope, now=now)
    audit(
        conn,
        tenant_id,
        actor,
        f"decision.{site_facts.OFFICE_APPROVAL}",
        decision_id,
        now,
        reason=said,
        detail=data,
    )
    revalued = valuation.revalue_mission(conn, tenant_id, mission_id, now=now)
    documents = _reinvoice(conn, tenant_id, mission_id, said, key=key, actor=actor, now=now)
    conn.execute(
        sa.update(anomalies)
        .where(anomalies.c.tenant_id == tenant_id, anomalies.c.id == anomaly_id)
        .values(status=reconcile.RESOLVED)
    )
    done: dict[str, Any] = {
        "anomaly": anomaly_id,
        "kind": row.kind,
        "action": "approve",
        "decisions": [decision_id],
        "revalued": revalued,
        "documents": documents,
    }
    signed = office_journal.append(
        conn,
        tenant_id,
        "office_decision",
        plain({**done, "reason": said, "subject": row.subject, "entry": entry}),
        key=key,
        actor=actor,
        now=now,
        mission_id=mission_id,
    )
    done["journal_seq"] = signed.seq
    audit(conn, tenant_id, actor, "anomaly.approve", str(anomaly_id), now, detail=plain(done))
    reconcile.reconcile_missions(conn, tenant_id, [mission_id], now=now)
    return done


def _reinvoice(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    reason: str,
    *,
    key: signing.PrivateKey,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """A mission already invoiced: a credit note on what each invoice has left, then the
    invoices of the new valuation. A mission not invoiced yet is invoiced when it closes."""
    invoices = [
        issued_documents.get_document(conn, tenant_id, d["number"])
        for d in issued_documents.list_documents(
            conn, tenant_id, mission_id=mission_id, kind=issued_documents.INVOICE, limit=1000
        )
    ]
    if not invoices:
        return []
    issued = []
    for invoice in invoices:
        if as_cents(invoice["total"]["incl_vat"]) - as_cents(invoice["credited"]) > 0:
            issued.append(
                invoicing.credit_note(
                    conn, tenant_id, invoice["number"], reason=reason, key=key, actor=actor, now=now
                )
            )
    return issued + invoicing.issue_for_mission(
        conn, tenant_id, mission_id, key=key, actor=actor, now=now
    )
