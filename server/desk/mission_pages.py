"""A mission as the office sees it, on one page: the facts, the server's own valuation
explained rule by rule (shared.explain, the words the tablet shows), who pays what, what
the tablets recorded about it, the office's decisions, the invoices and credit notes,
its open anomalies, the other missions of its file and the photos, signatures and
reports its tablet sent. And a small search by mission id or file number, for the clerk
on the phone."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for

from server.api.fact_approvals import check_by_ref
from server.desk import labels
from server.desk.anomaly_pages import STATUS_LABELS, driver_names, entry_view, sentence
from server.desk.blueprint import desk, not_found, t
from server.desk.claim_pages import mission_attachments
from server.desk.labels import kind_label, label, step_label
from server.desk.session import current, page
from server.office import (
    agents,
    fact_approvals,
    issued_documents,
    receipts,
    refund_receipts,
    site_facts,
)
from server.office import missions as mission_store
from server.office.mission_progress import last_steps, shown_status
from server.office.office_journal import PREFIX as SERVER_CHAIN
from server.office.reconcile import OPEN
from server.office.valuation import Valuer
from server.people.rights import Right
from server.platform.errors import ApiError, NotFound
from server.platform.tables import (
    anomalies,
    decisions,
    folded_prefix,
    journal_entries,
    missions,
    newest_first,
    ordering_parties,
)
from server.platform.tables import valuations as valuations_table
from server.platform.web import engine, lang, now, reader, server_private_key
from shared.explain import explain_step
from shared.money import parse_amount
from shared.valuation import Step as Rule

SEARCH_LIMIT = 50
DECISION_LABELS = {
    "void_collection": ("Annulation d'encaissement", "Collection voided"),
    "discount": ("Remise accordée", "Discount granted"),
    "deferral": ("Facturer plus tard", "Bill later"),
    "unlock_approvals": ("Codes d'accord débloqués", "Approval codes unlocked"),
    "site_facts_approval": ("Constat sur place approuvé", "Site fact approved"),
}
DOCUMENT_LABELS = {"invoice": ("Facture", "Invoice"), "credit_note": ("Avoir", "Credit note")}
RECIPIENT_LABELS = {
    "ordering_party": ("Donneur d'ordre", "Ordering party"),
    "beneficiary": ("Bénéficiaire", "Beneficiary"),
}
BALANCE_LABELS = {
    "paid": ("payée", "paid"),
    "partly_paid": ("partiellement payée", "partly paid"),
    "open": ("à payer", "open"),
}
TIME_LABELS = {
    "call": ("Appel", "Call"),
    "arrival": ("Arrivée", "Arrival"),
    "departure": ("Départ", "Departure"),
    "delivery": ("Livraison", "Delivery"),
}
LEG_LABELS = {"en_route": ("trajet aller", "en route"), "loaded": ("en charge", "loaded")}


# --- search -----------------------------------------------------------------------------


@desk.route("/missions", endpoint="missions")
@page(Right.RECONCILE)
def mission_search() -> Any:
    """Missions whose id or file number starts with `q` (any case), newest first; one
    match opens it."""
    user = current()
    q = (request.args.get("q") or "").strip()
    error = None
    found: list[Any] = []
    names: dict[str, str] = {}
    steps: dict[str, Any] = {}
    if len(q) > 64:
        error = t("64 caractères au plus.", "64 characters at most.")
    elif q:
        with reader().connect() as conn:
            found = list(
                conn.execute(
                    sa.select(missions)
                    .where(
                        missions.c.tenant_id == user.tenant_id,
                        sa.or_(
                            folded_prefix(conn.dialect.name, missions.c.id, q),
                            folded_prefix(conn.dialect.name, missions.c.file_number, q),
                        ),
                    )
                    .order_by(newest_first(conn.dialect.name, missions.c.created_at), missions.c.id)
                    .limit(SEARCH_LIMIT + 1)
                )
            )
            names = driver_names(conn, user.tenant_id)
            steps = last_steps(conn, user.tenant_id, [m.id for m in found])
        if len(found) == 1:
            return redirect(url_for("desk.mission", mission_id=found[0].id))
    html = render_template(
        "desk/missions.html",
        q=q,
        error=error,
        found=found[:SEARCH_LIMIT],
        more=len(found) > SEARCH_LIMIT,
        drivers=names,
        office_status=lambda s: label(labels.MISSION_STATUSES, s),
        shown=lambda m: shown_status(m.status, steps[m.id].step if m.id in steps else None),
    )
    return (html, 400) if error else html


# --- one mission ------------------------------------------------------------------------


def _utc(value: object) -> datetime | None:
    """A document's ISO time (with its offset) as a UTC moment, for `when()`."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _number(value: object) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    return text.replace(".", ",") if lang() == "fr" else text


def _party_name(conn: sa.Connection, tenant_id: str, party_id: str | None) -> str | None:
    if party_id is None:
        return None
    name: str | None = conn.execute(
        sa.select(ordering_parties.c.name).where(
            ordering_parties.c.tenant_id == tenant_id, ordering_parties.c.id == party_id
        )
    ).scalar_one_or_none()
    return name


def _facts(document: Mapping[str, Any]) -> dict[str, Any]:
    """The mission document's fields for people."""
    vehicle = document.get("vehicle") or {}
    facts = document.get("facts") or {}
    yes, no = t("oui", "yes"), t("non", "no")
    return {
        "customer": document.get("customer"),
        "file_sequence": document.get("file_sequence"),
        "plate": vehicle.get("plate"),
        "vehicle_class": vehicle.get("class"),
        "weight_kg": vehicle.get("weight_kg"),
        "times": [(name, _utc(value)) for name, value in (document.get("times") or {}).items()],
        "distances": [
            (name, _number(km)) for name, km in (document.get("distance_km") or {}).items()
        ],
        "facts": [
            (name, yes if value is True else no if value is False else str(value))
            for name, value in facts.items()
        ],
        "services": [
            (s.get("code"), _number(s.get("quantity", 1)), s.get("amount"))
            for s in document.get("services") or []
            if isinstance(s, Mapping)
        ],
    }


def explained(explanation: object) -> list[tuple[str, str]]:
    """(rule, sentence) for each step of a stored valuation, worded by shared.explain."""
    out = []
    for raw in explanation if isinstance(explanation, list) else []:
        step = Rule(str(raw.get("rule")), raw.get("params") or {})
        try:
            out.append((step.rule, explain_step(step, lang())))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            # A rule this release does not word: the data, not a blank.
            out.append((step.rule, json.dumps(step.params, ensure_ascii=False, sort_keys=True)))
    return out


def _valuations(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[Any]:
    return list(
        conn.execute(
            sa.select(valuations_table)
            .where(
                valuations_table.c.tenant_id == tenant_id,
                valuations_table.c.mission_id == mission_id,
            )
            .order_by(valuations_table.c.id)
        )
    )


def valuation_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A stored valuation (`Valuation.to_wire()`) for the page: lines with each payer's
    share, totals per payer, and every rule applied in words."""
    language = lang()
    lines = [
        {
            "code": line["code"],
            "label": (line.get("label") or {}).get(language) or line["code"],
            "quantity": _number(line["quantity"]),
            "unit_price": line["unit_price"],
            "amount": line["amount"],
            "vat_rate": _number(line["vat_rate"]),
            "ordering_party": line["shares"]["ordering_party"],
            "beneficiary": line["shares"]["beneficiary"],
        }
        for line in body.get("lines") or []
    ]
    return {
        "contract": body.get("contract") or {},
        "digest": body.get("digest"),
        "basis": t("TTC", "incl. VAT") if body.get("prices_include_vat") else t("HT", "excl. VAT"),
        "lines": lines,
        "payers": body.get("payers") or {},
        "total": body.get("total") or {},
        "file_cap": body.get("file_cap"),
        "steps": explained(body.get("explanation")),
    }


def _entries(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[dict[str, Any]]:
    """What the tablets recorded about the mission, with the collections taken back."""
    rows = conn.execute(
        sa.select(journal_entries)
        .where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id == mission_id,
            ~journal_entries.c.device_id.startswith(SERVER_CHAIN),
        )
        .order_by(journal_entries.c.device_id, journal_entries.c.seq)
    )
    return [entry_view(r) for r in rows]


def _decisions(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(decisions)
        .where(decisions.c.tenant_id == tenant_id, decisions.c.mission_id == mission_id)
        .order_by(decisions.c.decided_at, decisions.c.id)
    )
    out = []
    for row in rows:
        data = json.loads(row.data) if isinstance(row.data, str) else dict(row.data)
        out.append(
            {
                "id": row.id,
                "type": row.type,
                "label": label(DECISION_LABELS, row.type),
                "amount": data.get("amount"),
                "reason": data.get("reason"),
                "collection": data.get("collection"),
                "decided_by": row.decided_by,
                "decided_at": row.decided_at,
            }
        )
    return out


def _mark_applied(entries: Sequence[dict[str, Any]], decided: Sequence[dict[str, Any]]) -> None:
    """Which collections are taken back (an office void or the tablet's reversal), and
    which office decisions a tablet has recorded (its next sync does it)."""
    voided = {str((d["collection"] or {}).get("hash")): d["id"] for d in decided if d["collection"]}
    reversed_by: dict[str, int] = {}
    applied: set[str] = set()
    for e in entries:
        payload = e["payload"]
        if e["type"] == "reversal":
            reversed_by[str((payload.get("reverses") or {}).get("hash"))] = e["seq"]
            applied.add(str(payload.get("decision")))
        elif e["type"] in ("discount", "deferral"):
            applied.add(str(payload.get("approval_ref", "")).removeprefix("office:"))
        elif e["type"] == "office_decision_applied":
            applied.add(str(payload.get("decision")))
    for e in entries:
        if e["type"] == "collection":
            e["voided_by"] = voided.get(e["hash"])
            e["reversed_in"] = reversed_by.get(e["hash"])
    for d in decided:
        d["applied"] = d["id"] in applied


def _documents(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[dict[str, Any]]:
    """The mission's invoices and credit notes, each invoice with what was credited and,
    for the beneficiary's, where it stands."""
    listed = issued_documents.list_documents(conn, tenant_id, mission_id=mission_id, limit=1000)
    listed.sort(key=lambda d: d["journal_seq"])  # the server journal's order: as issued
    prefix = url_for("desk.glance")  # the desk's root: the PDF pages live under it
    out = []
    for document in listed:
        if document["kind"] == issued_documents.INVOICE:
            document = issued_documents.get_document(conn, tenant_id, document["number"])
        document["pdf_url"] = f"{prefix}documents/{quote(document['number'])}.pdf"
        out.append(document)
    return out


def _open_anomalies(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[Any]:
    return list(
        conn.execute(
            sa.select(anomalies)
            .where(
                anomalies.c.tenant_id == tenant_id,
                anomalies.c.mission_id == mission_id,
                anomalies.c.status == OPEN,
            )
            .order_by(anomalies.c.id)
        )
    )


def _file_missions(conn: sa.Connection, tenant_id: str, mission: Mapping[str, Any]) -> list[Any]:
    """The other missions of the same ordering party's file."""
    if not mission["file_number"]:
        return []
    party = mission["ordering_party_id"]
    return list(
        conn.execute(
            sa.select(missions)
            .where(
                missions.c.tenant_id == tenant_id,
                missions.c.file_number == mission["file_number"],
                missions.c.ordering_party_id.is_(None)
                if party is None
                else missions.c.ordering_party_id == party,
                missions.c.id != mission["id"],
            )
            .order_by(missions.c.created_at, missions.c.id)
        )
    )


def _money(conn: sa.Connection, tenant_id: str, mission_id: str, due: str | None) -> Any:
    """The beneficiary's money as the tablets recorded it (shared.balance)."""
    if due is None:
        return None
    return issued_documents.field_money(conn, tenant_id, mission_id, parse_amount(due))


@desk.route("/missions/<mission_id>")
@page(Right.RECONCILE)
def mission(mission_id: str) -> Any:
    user = current()
    tenant = user.tenant_id
    if len(mission_id) > 64:
        return not_found()
    with reader().connect() as conn:
        try:
            held = mission_store.get(conn, tenant, mission_id)
        except NotFound:
            return not_found()
        stored = _valuations(conn, tenant, mission_id)
        server = [v for v in stored if v.source == "server"]
        device = [v for v in stored if v.source == "device"]
        latest = json.loads(server[-1].body) if server else None
        due = latest["payers"]["beneficiary"]["incl_vat"] if latest else None
        entries = _entries(conn, tenant, mission_id)
        decided = _decisions(conn, tenant, mission_id)
        _mark_applied(entries, decided)
        seen = last_steps(conn, tenant, [mission_id]).get(mission_id)
        context = {
            "m": held,
            "party_name": _party_name(conn, tenant, held["ordering_party_id"]),
            "drivers": driver_names(conn, tenant),
            "agent": agents.of_mission(conn, tenant, mission_id),  # who brought it
            "facts": _facts(held["document"]),
            "valuation": valuation_view(latest) if latest else None,
            "valued_at": server[-1].created_at if server else None,
            "history": [
                {
                    "at": v.created_at,
                    "digest": v.digest,
                    "due": v.beneficiary_due_cents,
                    "contract": (json.loads(v.body).get("contract") or {}),
                }
                for v in server
            ],
            "device_digest": device[-1].digest if device else None,
            "field": _money(conn, tenant, mission_id, due),
            "entries": entries,
            "field_step": next(
                (e["step"] for e in reversed(entries) if e["type"] == "mission_step"), None
            ),
            "shown_status": shown_status(held["status"], seen.step if seen else None),
            "decisions": decided,
            "documents": _documents(conn, tenant, mission_id),
            "receipts": receipts.of_mission(conn, tenant, mission_id),  # handed out on site
            "refund_receipts": refund_receipts.of_mission(conn, tenant, mission_id),
            "open_anomalies": _open_anomalies(conn, tenant, mission_id),
            "file_missions": _file_missions(conn, tenant, held),
            "attachments": mission_attachments(conn, tenant, mission_id),
            # Order against site: each fact found, the rule's verdict, who and when.
            "on_site": site_facts.order_against_site(Valuer(conn, tenant, now()), mission_id),
            "may_approve": Right.APPROVE_DISCOUNT in user.rights,
        }
    return render_template(
        "desk/mission.html",
        **context,
        kind_label=kind_label,
        sentence=sentence,
        step_label=step_label,
        status_label=lambda s: label(STATUS_LABELS, s),
        office_status=lambda s: label(labels.MISSION_STATUSES, s),
        document_label=lambda k: label(DOCUMENT_LABELS, k),
        recipient_label=lambda k: label(RECIPIENT_LABELS, k),
        balance_label=lambda k: label(BALANCE_LABELS, k),
        time_label=lambda k: label(TIME_LABELS, k),
        leg_label=lambda k: label(LEG_LABELS, k),
    )


@desk.route(
    "/missions/<mission_id>/site-facts/<anomaly_ref:anomaly_id>/approve",
    methods=["POST"],
    endpoint="approve_site_facts",
)
@page(Right.RECONCILE)
def approve_site_facts(mission_id: str, anomaly_id: int) -> Any:
    """The office approves facts kept for it (server.office.fact_approvals), as POST
    /api/v1/anomalies/<id>/approve-site-facts: a reason and the confirmation box."""
    user = current()
    if Right.APPROVE_DISCOUNT not in user.rights:
        flash(
            t(
                "Il faut le droit « accorder une remise » pour approuver un constat.",
                "Approving a site fact needs the right 'approve a discount'.",
            ),
            "error",
        )
        return redirect(url_for("desk.mission", mission_id=mission_id)), 303
    reason = " ".join(request.form.get("reason", "").split())
    if not reason or request.form.get("confirm") != "yes":
        flash(
            t(
                "Indiquez le motif et cochez la confirmation : rien n'a été fait.",
                "Give the reason and tick the confirmation: nothing was done.",
            ),
            "error",
        )
        return redirect(url_for("desk.mission", mission_id=mission_id)), 303
    try:
        with engine().begin() as conn:
            check_by_ref(conn, user.tenant_id, anomaly_id)  # refusals name the ref
            done = fact_approvals.approve(
                conn,
                user.tenant_id,
                anomaly_id,
                reason,
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
    except ApiError as refused:
        flash(refused.message(lang()), "error")
        return redirect(url_for("desk.mission", mission_id=mission_id)), 303
    due = done["revalued"]["beneficiary_due"]
    flash(
        t(
            f"Constat approuvé : la mission est revalorisée (bénéficiaire {due} €), la"
            " tablette suit à sa prochaine synchronisation.",
            f"Fact approved: the mission is valued again (beneficiary {due}), the tablet"
            " follows at its next sync.",
        ),
        "ok",
    )
    return redirect(url_for("desk.mission", mission_id=mission_id)), 303
