"""Resolving an anomaly in one action (DOMAIN "Reconciliation in the office").

Each resolution is one call in one transaction: it checks the anomaly is open and of a
kind the action fits, does the act (a void, an approval, a re-valuation…), writes an
`office_decision` entry in the tenant's signed server journal, logs who did it and why,
marks the anomaly `resolved` and reconciles the mission again. Nothing is deleted: the
collection stays in the tablet's journal, the reversal and credit note are new records.

The actions and the anomaly kinds each fits: `ACTIONS` below, explained in
docs/anomalies.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import (
    anomalies as raised,
)
from server.office import (
    decisions,
    invoicing,
    issued_documents,
    office_journal,
    reconcile,
    refund_receipts,
    valuation,
)
from server.office.reconcile_rules import cents as as_cents
from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import anomalies, journal_entries
from shared import signing
from shared.canonical import plain

ACTIONS: Mapping[str, frozenset[str]] = {
    "void": frozenset(
        {
            "fictitious_collection",
            "over_collection",
            "card_unmatched",
            "card_unsettled",
            "entry_unauthorised",  # the collections it holds
            "collection_method_invalid",
            "cash_over_limit",  # the last cash collection
        }
    ),
    "approve": frozenset(
        {
            "discount_without_approval",
            "approval_reused",
            "under_collection",
            "gate_bypassed",
            "owed_at_end",
            "deferral_to_debtor",  # the driver's deferral stands: the invoice stays owed
        }
    ),
    "refuse": frozenset(
        {
            "discount_without_approval",
            "approval_reused",
            "dispute_raised",
            "under_collection",
            "gate_bypassed",
        }
    ),
    "acknowledge": frozenset(
        {
            "register_variance",
            "under_collection",
            "gate_bypassed",
            "card_unmatched",
            "over_collection",
            "valuation_mismatch",
            "collection_unknown_mission",
            "collection_on_cancelled_mission",
            "journal_fork",
            "journal_invalid",
            "quarantined_push",
            "card_unsettled",
            "entry_unauthorised",
            "entry_date_implausible",
            "site_fact_beyond_tolerance",
            "vehicle_class_contradicts_weight",
            "site_facts_unreadable",
            "collection_method_invalid",
            "owed_at_end",
            "cash_over_limit",
            "deferral_to_debtor",
        }
    ),
    "accept_dispute": frozenset({"dispute_raised", "valuation_mismatch"}),
    "invoice_overrun": frozenset({"file_cap_exceeded"}),
}


# Kinds whose amount is money still owed: `approve` grants it (bill later, or a discount).
OWED = frozenset({"under_collection", "gate_bypassed", "owed_at_end"})


def get_anomaly(conn: sa.Connection, tenant_id: str, anomaly_id: int) -> Any:
    if not 0 < anomaly_id < 2**31:  # the column is a 32-bit integer: no such anomaly
        raise not_found("Anomalie", "Anomaly", str(anomaly_id))
    row = conn.execute(
        sa.select(anomalies).where(anomalies.c.tenant_id == tenant_id, anomalies.c.id == anomaly_id)
    ).first()
    if row is None:
        raise not_found("Anomalie", "Anomaly", str(anomaly_id))
    return row


def resolve(
    conn: sa.Connection,
    tenant_id: str,
    anomaly_id: int,
    action: str,
    reason: str,
    *,
    key: signing.PrivateKey,
    actor: str,
    now: datetime,
    as_kind: str = "deferral",
) -> dict[str, Any]:
    """Apply `action` to the open anomaly `anomaly_id`; returns what was done."""
    if action not in ACTIONS:
        raise Unprocessable(
            f"Action inconnue : {action}. Actions : {', '.join(sorted(ACTIONS))}.",
            f"Unknown action: {action}. Actions: {', '.join(sorted(ACTIONS))}.",
            code="action_unknown",
        )
    reason = (reason or "").strip()
    if not reason:
        raise Unprocessable(
            "Indiquez pourquoi (le motif est enregistré).",
            "Say why (the reason is recorded).",
            code="reason_required",
        )
    row = get_anomaly(conn, tenant_id, anomaly_id)
    if row.status != reconcile.OPEN:
        raise Conflict(
            f"L'anomalie {anomaly_id} n'est plus ouverte ({row.status}).",
            f"Anomaly {anomaly_id} is no longer open ({row.status}).",
            code="anomaly_not_open",
        )
    if row.kind not in ACTIONS[action]:
        fitting = sorted(a for a, kinds in ACTIONS.items() if row.kind in kinds)
        raise Conflict(
            f"« {action} » ne s'applique pas à une anomalie {row.kind}."
            f" Possibles : {', '.join(fitting) or 'aucune'}.",
            f"“{action}” does not apply to a {row.kind} anomaly."
            f" Possible: {', '.join(fitting) or 'none'}.",
            code="action_unfit",
        )
    detail = row.detail if isinstance(row.detail, Mapping) else {}
    done: dict[str, Any] = {"anomaly": anomaly_id, "kind": row.kind, "action": action}
    if action == "void":
        voided = _void(conn, tenant_id, row, detail, reason, key=key, actor=actor, now=now)
        done["decisions"] = [str(d["id"]) for d in voided]
        # What the void issued the customer: a credit note where an invoice bills beyond
        # what is due, else a refund receipt per collection when no invoice bills them.
        refunds = [
            {"kind": refund_receipts.ACT, "number": d["refund_receipt"], "amount": d["amount"]}
            for d in voided
            if d.get("refund_receipt")
        ]
        credited = (
            _credit_beyond_due(
                conn, tenant_id, row.mission_id, reason, key=key, actor=actor, now=now
            )
            if row.mission_id
            else []
        )
        if row.mission_id or refunds:
            done["documents"] = credited + refunds
    elif action == "approve" and row.kind in OWED:
        cents = int(row.amount_cents or 0)
        decided = decisions.approve(
            conn,
            tenant_id,
            str(row.mission_id),
            as_kind,
            f"{cents // 100}.{cents % 100:02d}",
            reason,
            actor=actor,
            now=now,
        )
        done["decisions"] = [decided["id"]]
    elif action == "approve":  # the driver's own entry stands, now approved
        done["approved"] = _entry_payload(conn, tenant_id, detail)["payload"]
    elif action == "accept_dispute":
        mission_id = str(row.mission_id)
        done["revalued"] = valuation.revalue_mission(conn, tenant_id, mission_id, now=now)
        done["documents"] = _reinvoice(
            conn, tenant_id, mission_id, reason, key=key, actor=actor, now=now
        )
    elif action == "invoice_overrun":
        # The server's valuation already gives the ordering party only what the file's
        # cap leaves: the beneficiary's invoice carries the overrun, billed later (a
        # deferral the tablet records, so the driver's books and the office's agree).
        cents = int(row.amount_cents or 0)
        decided = decisions.approve(
            conn,
            tenant_id,
            str(row.mission_id),
            "deferral",
            f"{cents // 100}.{cents % 100:02d}",
            reason,
            actor=actor,
            now=now,
        )
        done["decisions"] = [decided["id"]]
        # Only what this act issued: invoices made at the mission's closing are not news.
        issued, new = invoicing.issue(
            conn, tenant_id, str(row.mission_id), key=key, actor=actor, now=now
        )
        done["documents"] = issued if new else []
        done["amount_cents"] = cents
    # One cause, one resolution: the open anomalies this one causes close with it.
    linked = [
        i
        for i in raised.links(conn, tenant_id, [row]).linked.get(anomaly_id, ())
        if get_anomaly(conn, tenant_id, i).status == reconcile.OPEN
    ]
    if linked:
        done["linked"] = linked
    conn.execute(
        sa.update(anomalies)
        .where(anomalies.c.tenant_id == tenant_id, anomalies.c.id.in_([anomaly_id, *linked]))
        .values(status=reconcile.RESOLVED)
    )
    entry = office_journal.append(
        conn,
        tenant_id,
        "office_decision",
        plain({**done, "reason": reason, "subject": row.subject, "amount_cents": row.amount_cents}),
        key=key,
        actor=actor,
        now=now,
        mission_id=row.mission_id,
    )
    done["journal_seq"] = entry.seq
    audit(conn, tenant_id, actor, f"anomaly.{action}", str(anomaly_id), now, detail=done)
    for other in linked:  # each its own record, naming the anomaly whose act closed it
        follows = get_anomaly(conn, tenant_id, other)
        audit(
            conn,
            tenant_id,
            actor,
            f"anomaly.{action}",
            str(other),
            now,
            detail={
                "anomaly": other,
                "kind": follows.kind,
                "action": action,
                "caused_by": anomaly_id,
                "journal_seq": entry.seq,
            },
        )
    if row.mission_id:
        reconcile.reconcile_missions(conn, tenant_id, [row.mission_id], now=now)
    return done


def _void(
    conn: sa.Connection,
    tenant_id: str,
    row: Any,
    detail: Mapping[str, Any],
    reason: str,
    *,
    key: signing.PrivateKey,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The collections the anomaly names, voided (those already voided are skipped): the
    decisions, each with its refund receipt's number when one was issued."""
    refs = list(detail.get("collections") or ([detail["entry"]] if "entry" in detail else []))
    if not refs:
        raise Conflict(
            "Cette anomalie ne désigne aucun encaissement à annuler.",
            "This anomaly names no collection to void.",
            code="nothing_to_void",
        )
    if row.kind in {"over_collection", "cash_over_limit"}:
        refs = refs[-1:]  # the last one taken is the one too many; the clerk may void more
    done = []
    for ref in refs:
        try:
            decided = decisions.void_collection(
                conn,
                tenant_id,
                str(ref["device_id"]),
                int(ref["seq"]),
                reason,
                actor=actor,
                now=now,
                key=key,
            )
        except Conflict as exc:
            if getattr(exc, "code", "") == "collection_already_voided":
                continue
            raise
        done.append(decided)
    return done


def _entry_payload(
    conn: sa.Connection, tenant_id: str, detail: Mapping[str, Any]
) -> dict[str, Any]:

    ref = detail.get("entry") or (detail.get("entries") or [None])[-1]
    if not isinstance(ref, Mapping):
        raise Conflict(
            "Cette anomalie ne désigne aucune entrée.",
            "This anomaly names no entry.",
            code="no_entry",
        )
    body = conn.execute(
        sa.select(journal_entries.c.body).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == ref["device_id"],
            journal_entries.c.seq == ref["seq"],
        )
    ).scalar_one()
    data: dict[str, Any] = json.loads(body)
    return data


def _invoices(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[dict[str, Any]]:
    return [
        issued_documents.get_document(conn, tenant_id, d["number"])
        for d in issued_documents.list_documents(
            conn, tenant_id, mission_id=mission_id, kind=issued_documents.INVOICE, limit=1000
        )
    ]


def _credit_beyond_due(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    reason: str,
    *,
    key: signing.PrivateKey,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """After a void: a credit note on the beneficiary's invoice for whatever it bills
    beyond what the server says is due (an invoice made from a collection that should not
    have been). Towline invoices the server's own valuation, so usually there is none:
    the void then only turns the invoice from paid to open."""
    due = reconcile.mission_due_cents(conn, tenant_id, mission_id)
    issued = []
    for invoice in _invoices(conn, tenant_id, mission_id):
        if invoice["recipient_kind"] != issued_documents.BENEFICIARY:
            continue
        billed = as_cents(invoice["total"]["incl_vat"]) - as_cents(invoice["credited"])
        beyond = billed - (due or 0)
        if beyond > 0:
            issued.append(
                invoicing.credit_note(
                    conn,
                    tenant_id,
                    invoice["number"],
                    amount=f"{beyond // 100}.{beyond % 100:02d}",
                    reason=reason,
                    key=key,
                    actor=actor,
                    now=now,
                )
            )
    return issued


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
    """After a re-valuation: a total credit note on each invoice not yet fully credited,
    then the invoices of the new valuation (only for a mission already invoiced; others
    are invoiced when they close)."""
    invoices = _invoices(conn, tenant_id, mission_id)
    if not invoices:
        return []
    issued = []
    for invoice in invoices:
        left = as_cents(invoice["total"]["incl_vat"]) - as_cents(invoice["credited"])
        if left > 0:
            issued.append(
                invoicing.credit_note(
                    conn,
                    tenant_id,
                    invoice["number"],
                    reason=reason,
                    key=key,
                    actor=actor,
                    now=now,
                )
            )
    return issued + invoicing.issue_for_mission(
        conn, tenant_id, mission_id, key=key, actor=actor, now=now
    )
