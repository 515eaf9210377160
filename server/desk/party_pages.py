"""Ordering parties' files on the desk (docs/file-lifecycle.md): the list with its
filters and counts per state, and one file with its whole log, its missions, documents
and claims, and the office acts the lifecycle table allows.

The table (shared/file_lifecycle.py) decides everything: the page offers "cancel by
hand" only where its cell is a move, and otherwise shows the cell's refusal sentence.
Sending the invoice is the claim's `submit` (server.parties.claims), never an act of this page.
Right `reconcile`, as the API's files (server/api/party_files.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for

from server.desk import labels
from server.desk.anomaly_pages import driver_names
from server.desk.blueprint import desk, money, not_found, t
from server.desk.labels import label
from server.desk.session import current, page
from server.parties import claim_documents, claim_reading, file_views, order_store
from server.parties import files as party_files
from server.people import ordering_parties as parties
from server.people.identity import list_users
from server.people.rights import Right
from server.platform.errors import NotFound
from server.platform.tables import documents
from server.platform.tables import party_files as party_files_table
from server.platform.web import engine, lang, now, reader
from shared import file_lifecycle as lifecycle
from shared.file_lifecycle import Event, LifecycleRefused, Refusal

LIMIT = 200  # files on one page, last moved first; the counts per state cover them all
REASON_MAX = 500  # as the API (server.api.fields.REASON)


def state_label(state: str | None) -> str:
    return label(labels.FILE_STATES, state)


def party_names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    return {p["id"]: p["name"] for p in parties.list_parties(conn, tenant_id)}


def warning_text(warning: object) -> str:
    """A stored warning ({"fr", "en"}) in the page's language."""
    if not isinstance(warning, Mapping):
        return ""
    return str(warning.get(lang()) or warning.get("fr") or "")


# --- the log, for people ----------------------------------------------------------------------


def _value(value: object) -> str:
    """A value a cleaning rule read or wrote, short and exact."""
    if isinstance(value, str):
        return f"« {value} »" if lang() == "fr" else f"“{value}”"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)[:200]


def _correction(detail: Mapping[str, Any]) -> list[str]:
    absent = t("(absent)", "(absent)")
    before = _value(detail["before"]) if "before" in detail else absent
    after = _value(detail["after"]) if "after" in detail else absent
    rule, version, path = detail.get("rule"), detail.get("version"), detail.get("path")
    out = [
        t(
            f"Règle {rule} (version {version}) : {path} {before} → {after}",
            f"Rule {rule} (version {version}): {path} {before} → {after}",
        )
    ]
    described = warning_text(detail.get("description"))
    if described:
        out.append(described)
    return out


def _claim_lines(detail: Mapping[str, Any]) -> list[str]:
    out = []
    before, after = detail.get("from"), detail.get("to")
    if before and after and before != after:
        out.append(
            f"{label(labels.CLAIM_STATUSES, before)} → {label(labels.CLAIM_STATUSES, after)}"
        )
    elif after and not before:
        out.append(label(labels.CLAIM_STATUSES, after))
    reasons = detail.get("reasons")
    if isinstance(reasons, list) and reasons:
        out.append(t("Motifs : ", "Reasons: ") + " ; ".join(str(r) for r in reasons))
    kinds = detail.get("documents")
    if isinstance(kinds, list) and kinds:
        listed = ", ".join(claim_documents.document_label(str(k))(lang()) for k in kinds)
        version = detail.get("requirements_version")
        out.append(
            t(
                f"Pièces vérifiées : {listed} (exigences v{version})",
                f"Documents checked: {listed} (requirements v{version})",
            )
        )
    return out


def _money_lines(detail: Mapping[str, Any]) -> list[str]:
    out = []
    pairs = (
        ("amount", "Montant", "Amount"),
        ("credited", "Avoir", "Credit note"),
        ("open_before", "Restait dû", "Was owed"),
        ("paid", "Payé au total", "Paid in all"),
        ("open", "Reste dû", "Still owed"),
    )
    words = [f"{t(fr, en)} {money(detail[key])}" for key, fr, en in pairs if detail.get(key)]
    if words:
        out.append(" · ".join(words))
    for key, fr, en in (
        ("reference", "Référence", "Reference"),
        ("credit_note", "Avoir", "Credit note"),
    ):
        if detail.get(key):
            out.append(t(f"{fr} : {detail[key]}", f"{en}: {detail[key]}"))
    return out


def log_entry(entry: Mapping[str, Any], users: Mapping[str, str]) -> dict[str, Any]:
    """One entry of a file's log (party_files.history) as the page shows it: who, when,
    what, the move it made and what it carries (message, correction, claim, money)."""
    detail = entry.get("detail") or {}
    event = str(entry["event"])
    lines: list[str] = []
    name = detail.get("message_name")
    if name:
        lines.append(f"« {name} »" if lang() == "fr" else f"“{name}”")
    if event == "cleaning_correction":
        lines.extend(_correction(detail))
    elif event.startswith("claim_") or entry["source"] == "claim":
        lines.extend(_claim_lines(detail))
    if event.startswith("payment_") or event == "claim_credited":
        lines.extend(_money_lines(detail))
    reason = detail.get("reason")
    if reason:
        held = order_store.HOLD_TEXTS.get(str(reason))
        words = held(lang()) if held is not None else str(reason)
        lines.append(t(f"Motif : {words}", f"Reason: {words}"))
    version = detail.get("ruleset_version")
    if version is not None:
        lines.append(
            t(f"Règles de nettoyage version {version}", f"Cleaning rules version {version}")
        )
    before, after = entry.get("state_before"), entry.get("state_after")
    return {
        "id": entry["id"],
        "at": entry["at"],
        "actor": users.get(str(entry["actor"]), str(entry["actor"])),
        "source": entry["source"],
        "source_label": label(labels.LOG_SOURCES, entry["source"]),
        "event": event,
        "event_label": label(labels.FILE_LOG_EVENTS, event),
        "move": None
        if after is None
        else (state_label(before) if before else t("nouveau dossier", "new file"))
        + " → "
        + state_label(after),
        "warning": warning_text(detail.get("warning")),
        "lines": lines,
        "message_id": entry.get("message_id"),
        "invoice": detail.get("invoice_number"),  # a claim (a credit note has none)
        "mission": detail.get("mission_id"),
    }


def user_names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    return {u.id: u.name for u in list_users(conn, tenant_id)}


# --- the list -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    party: str = ""
    state: str = ""

    def args(self, **changed: str) -> dict[str, str]:
        values = {"party": self.party, "state": self.state, **changed}
        return {k: v for k, v in values.items() if v}


def _filters(args: Mapping[str, str], known_parties: Mapping[str, str]) -> tuple[Filters, str]:
    party = (args.get("party") or "").strip()
    state = (args.get("state") or "").strip()
    if state and state not in labels.FILE_STATES:
        return Filters(), t(f"État de dossier inconnu : « {state} ».", f"Unknown state: '{state}'.")
    if party and party not in known_parties:
        return Filters(), t(
            f"Donneur d'ordre inconnu : « {party} ».", f"Unknown ordering party: '{party}'."
        )
    return Filters(party, state), ""


def _counts(conn: sa.Connection, tenant_id: str, party: str) -> dict[str, int]:
    """Files per state under the party filter (so a count helps choose the state)."""
    query = sa.select(party_files_table.c.state, sa.func.count()).where(
        party_files_table.c.tenant_id == tenant_id
    )
    if party:
        query = query.where(party_files_table.c.party_id == party)
    rows = conn.execute(query.group_by(party_files_table.c.state)).all()
    return {str(state): int(n) for state, n in rows}


@desk.route("/files", endpoint="files")
@page(Right.RECONCILE)
def file_list() -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        names = party_names(conn, tenant)
        chosen, error = _filters(request.args, names)
        rows: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        if not error:
            rows = party_files.list_files(
                conn,
                tenant,
                party_id=chosen.party or None,
                state=chosen.state or None,
                limit=LIMIT + 1,
            )
            counts = _counts(conn, tenant, chosen.party)
    html = render_template(
        "desk/files.html",
        rows=rows[:LIMIT],
        more=len(rows) > LIMIT,
        filters=chosen,
        error=error,
        parties=names,
        states=labels.FILE_STATES,
        counts=[(s.value, counts[s.value]) for s in lifecycle.State if counts.get(s.value)],
        total=sum(counts.values()),
        state_label=state_label,
        warning_text=warning_text,
    )
    return (html, 400) if error else html


# --- one file -------------------------------------------------------------------------------


def _documents(
    conn: sa.Connection, tenant_id: str, file_number: str, mission_ids: list[str]
) -> list[Any]:
    """The invoices and credit notes of the file's missions, as issued (no PDF read)."""
    if not mission_ids:
        return []
    return list(
        conn.execute(
            sa.select(
                documents.c.number,
                documents.c.kind,
                documents.c.mission_id,
                documents.c.recipient_kind,
                documents.c.recipient,
                documents.c.issued_at,
                documents.c.total_incl_cents,
                documents.c.corrects,
            )
            .where(
                documents.c.tenant_id == tenant_id,
                documents.c.file_number == file_number,
                documents.c.mission_id.in_(mission_ids),
            )
            .order_by(documents.c.issued_at, documents.c.series, documents.c.seq)
        )
    )


def cancel_rule(state: str) -> tuple[bool, str]:
    """Whether the table lets the office cancel the file by hand now, else its sentence."""
    cell = lifecycle.rule(lifecycle.parse_state(state), Event.CANCELLED_BY_HAND)
    if isinstance(cell, Refusal):
        return False, cell.reason(lang())
    return True, ""


def _file_page(
    party_id: str,
    file_number: str,
    *,
    status: int = 200,
    error: str = "",
    confirm: bool = False,
    reason: str = "",
) -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        try:
            held = file_views.file_detail(conn, tenant, party_id, file_number)
        except NotFound:
            return not_found()
        users = user_names(conn, tenant)
        file_claims = claim_reading.list_claims(
            conn, tenant, party_id=party_id, file_number=file_number
        )
        docs = _documents(conn, tenant, file_number, [m["id"] for m in held["missions"]])
        party_name = party_names(conn, tenant).get(party_id, party_id)
        drivers = driver_names(conn, tenant)
    can_cancel, refusal = cancel_rule(held["state"])
    html = render_template(
        "desk/file.html",
        f=held,
        party_name=party_name,
        log=[log_entry(e, users) for e in held["history"]],
        claims=file_claims,
        documents=docs,
        can_cancel=can_cancel,
        refusal=refusal,
        error=error,
        confirm=confirm,
        reason=reason,
        state_label=state_label,
        warning_text=warning_text,
        claim_status=lambda s: label(labels.CLAIM_STATUSES, s),
        mission_status=lambda s: label(labels.MISSION_STATUSES, s),
        drivers=drivers,
        sendable=[c for c in file_claims if "submit" in c["next_actions"]],
    )
    return html, status


@desk.route("/files/<string:party_id>/<path:file_number>", endpoint="file")
@page(Right.RECONCILE)
def file_view(party_id: str, file_number: str) -> Any:
    if len(party_id) > 64 or len(file_number) > 64:
        return not_found()
    return _file_page(party_id, file_number)


@desk.route("/files/cancel", methods=["POST"])
@page(Right.RECONCILE)
def file_cancel() -> Any:
    """Cancel a file by hand: first a confirmation, then the lifecycle's act (logged
    with who and why). A refusal of the table changes nothing and says why."""
    party_id = request.form.get("party_id", "").strip()
    file_number = request.form.get("file_number", "").strip()
    reason = " ".join(request.form.get("reason", "").split())
    if not party_id or not file_number or len(party_id) > 64 or len(file_number) > 64:
        return not_found()
    if not reason or len(reason) > REASON_MAX:
        problem = t(
            f"Indiquez le motif de l'annulation ({REASON_MAX} caractères au plus).",
            f"Give the reason for the cancellation ({REASON_MAX} characters at most).",
        )
        return _file_page(party_id, file_number, status=422, error=problem, reason=reason)
    if request.form.get("confirm") != "1":
        return _file_page(party_id, file_number, confirm=True, reason=reason)
    user = current()
    try:
        with engine().begin() as conn:
            party_files.get_file(conn, user.tenant_id, party_id, file_number)  # 404 first
            done = party_files.record(
                conn,
                user.tenant_id,
                party_id,
                file_number,
                Event.CANCELLED_BY_HAND,
                source="office",
                actor=user.id,
                now=now(),
                detail={"reason": reason},
            )
    except NotFound:
        return not_found()
    except LifecycleRefused as refused:
        return _file_page(party_id, file_number, status=409, error=refused.text(lang()))
    flash(
        t(
            f"Dossier {file_number} annulé à la main : « {state_label(done.state)} ». Il"
            " rouvrira au prochain message du donneur d'ordre.",
            f"File {file_number} cancelled by hand: '{state_label(done.state)}'. It reopens"
            " with the ordering party's next message.",
        ),
        "ok",
    )
    return redirect(url_for("desk.file", party_id=party_id, file_number=file_number))
