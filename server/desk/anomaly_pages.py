"""The anomaly desk (docs/anomalies.md): the list with its filters and counts per kind,
and one anomaly with its evidence, its resolution if any, and the actions that fit it.
Resolving it is `server.desk.resolution_pages`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import render_template, request

from server.api.anomalies import missing_for
from server.desk import labels, valuation_diff
from server.desk.blueprint import desk, money, not_found, t
from server.desk.labels import kind_label, label, step_label
from server.desk.session import current, page
from server.office import anomalies as raised
from server.office import reconcile, resolutions
from server.office.office_journal import chain_id
from server.people.drivers import list_drivers
from server.people.identity import User, list_users
from server.people.rights import Right, missing_right
from server.platform.errors import NotFound
from server.platform.public_ids import ANOMALY, from_ref, to_ref
from server.platform.tables import anomalies, audit_log, devices, journal_entries
from server.platform.web import lang, reader

LIMIT = 200  # rows on one page, newest first; the counts per kind cover them all

STATUS_LABELS: Mapping[str, tuple[str, str]] = {
    reconcile.OPEN: ("ouverte", "open"),
    reconcile.RESOLVED: ("résolue", "resolved"),
    reconcile.CLEARED: ("levée", "cleared"),
}
ALL = "all"
ACTION_LABELS: Mapping[str, tuple[str, str]] = {
    "void": ("Annuler l'encaissement", "Void the collection"),
    "approve": ("Approuver", "Approve"),
    "refuse": ("Refuser", "Refuse"),
    "acknowledge": ("Accepter tel quel", "Acknowledge"),
    "accept_dispute": ("Accepter et revaloriser", "Accept and re-value"),
    "invoice_overrun": ("Facturer au bénéficiaire", "Invoice the beneficiary"),
}
# What each action does, in the clerk's words (docs/anomalies.md, "Resolution in one action").
ACTION_HELP: Mapping[str, tuple[str, str]] = {
    "void": (
        "La tablette enregistre l'annulation à sa prochaine synchronisation et la caisse du"
        " chauffeur suit. Le client reçoit un reçu de remboursement si aucune facture ne le"
        " facture, sinon un avoir pour ce que sa facture facture au-delà du dû (aucun"
        " document si elle ne facture pas plus que ce qui est dû).",
        "The tablet records the reversal at its next sync and the driver's register follows."
        " The customer gets a refund receipt if no invoice bills them, else a credit note for"
        " what their invoice bills beyond what is due (no document if it bills no more).",
    ),
    "approve": (
        "La remise ou la facturation ultérieure du chauffeur est approuvée après coup.",
        "The driver's discount or bill-later is approved after the fact.",
    ),
    "refuse": (
        "La question est close ; ce qui est dû reste dû (la facture au bénéficiaire reste"
        " ouverte).",
        "The question is closed; what is owed stays owed (the beneficiary's invoice stays open).",
    ),
    "acknowledge": (
        "Le bureau accepte le montant tel qu'il est, avec son motif.",
        "The office accepts the figure as it is, with its reason.",
    ),
    "accept_dispute": (
        "La mission est revalorisée avec les versions de convention actuelles (publiez"
        " d'abord la version corrigée). Si elle est déjà facturée, chaque facture est annulée"
        " par un avoir de son montant restant et une nouvelle facture est émise au nouveau"
        " prix ; sinon elle sera facturée à sa clôture, sans avoir. Ce qui a déjà été"
        " encaissé au-delà du nouveau prix devient un trop-perçu à rembourser.",
        "The mission is valued again with the contract versions held now (publish the"
        " corrected version first). If it is already invoiced, each invoice is cancelled by a"
        " credit note for what it still bills and a new invoice is issued at the new price;"
        " otherwise it is invoiced when it closes, with no credit note. Money already"
        " collected beyond the new price becomes an over-collection to refund.",
    ),
    "invoice_overrun": (
        "Le bénéficiaire est facturé de ce que le plafond du dossier ne couvre pas.",
        "The beneficiary is invoiced for what the file's cap does not cover.",
    ),
}
AS_KINDS: Mapping[str, tuple[str, str]] = {
    "deferral": ("Facturer plus tard", "Bill later"),
    "discount": ("Remise", "Discount"),
}
OWED_KINDS = resolutions.OWED  # `approve` grants as_kind
EVIDENCE_REFS = ("collections", "entry", "entries", "step")  # journal references
# Alerts about a tablet that its revocation answers (the desk offers it beside the actions).
REVOKE_FITS = frozenset({"journal_fork", "journal_invalid", "entry_unauthorised"})


def method_label(method: object) -> str:
    return labels.method_label(method, lang())


def sentence(detail: object) -> str:
    """The anomaly's own sentence (its detail carries it in both languages)."""
    if not isinstance(detail, Mapping):
        return ""
    text = detail.get(lang()) or detail.get("fr")
    if isinstance(text, str):
        return text
    findings = detail.get("findings")
    if isinstance(findings, list):
        return " ".join(
            str(f.get(lang()) or f.get("fr", "")) for f in findings if isinstance(f, Mapping)
        )
    return ""


def driver_names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    return {d["id"]: d["name"] for d in list_drivers(conn, tenant_id)}


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: str = reconcile.OPEN
    kind: str = ""
    driver_id: str = ""
    mission_id: str = ""

    def args(self, **changed: str) -> dict[str, str]:
        """Query arguments for a link that keeps these filters but `changed`."""
        values = {**self.__dict__, **changed}
        return {k: v for k, v in values.items() if v}


def _filters(args: Mapping[str, str]) -> tuple[Filters, str | None]:
    """The filters asked for, or the defaults and what is wrong with the request."""
    status = (args.get("status") or reconcile.OPEN).strip()
    kind = (args.get("kind") or "").strip()
    driver_id = (args.get("driver_id") or "").strip()
    mission_id = (args.get("mission_id") or "").strip()
    if status not in (*STATUS_LABELS, ALL):
        return Filters(), t(
            f"Statut inconnu : « {status} ». Choisissez ouverte, résolue, levée ou toutes.",
            f"Unknown status: '{status}'. Choose open, resolved, cleared or all.",
        )
    if kind and kind not in labels.ANOMALY_KINDS:
        return Filters(), t(f"Type d'anomalie inconnu : « {kind} ».", f"Unknown kind: '{kind}'.")
    if len(driver_id) > 64 or len(mission_id) > 64:
        return Filters(), t(
            "Chauffeur ou mission : 64 caractères au plus.",
            "Driver or mission: 64 characters at most.",
        )
    return Filters(status, kind, driver_id, mission_id), None


def _where(tenant_id: str, f: Filters, *, with_kind: bool = True) -> list[Any]:
    clauses: list[Any] = [anomalies.c.tenant_id == tenant_id]
    if f.status != ALL:
        clauses.append(anomalies.c.status == f.status)
    if f.kind and with_kind:
        clauses.append(anomalies.c.kind == f.kind)
    if f.driver_id:
        clauses.append(anomalies.c.driver_id == f.driver_id)
    if f.mission_id:
        clauses.append(anomalies.c.mission_id == f.mission_id)
    return clauses


def _counts(conn: sa.Connection, tenant_id: str, f: Filters) -> list[tuple[str, int]]:
    """How many per kind under the other filters (so a count also helps choose the kind)."""
    rows = conn.execute(
        sa.select(anomalies.c.kind, sa.func.count())
        .where(*_where(tenant_id, f, with_kind=False))
        .group_by(anomalies.c.kind)
    ).all()
    return sorted(((str(k), int(n)) for k, n in rows), key=lambda kn: (-kn[1], kn[0]))


def grouped(
    conn: sa.Connection, tenant_id: str, rows: Sequence[Any]
) -> tuple[list[Any], dict[int, list[Any]], dict[int, int]]:
    """One row per cause (docs/anomalies.md "Linked anomalies"): an anomaly whose cause
    is on the page is shown under it ("also: …"), not as a row of its own; one whose
    cause is not (filtered out) keeps its row and names its cause.
    Returns (the rows, per cause the anomalies it causes, per row its cause's id)."""
    found = raised.links(conn, tenant_id, rows)
    shown = {r.id for r in rows}
    by_id = {r.id: r for r in rows}
    also: dict[int, list[Any]] = {}
    kept = []
    for r in rows:
        cause = found.caused_by.get(r.id)
        if cause is not None and cause in shown:
            also.setdefault(cause, []).append(r)
        else:
            kept.append(r)
    for primary, ids in found.linked.items():  # causes on the page, others filtered out
        if primary in by_id:
            known = {r.id for r in also.get(primary, [])}
            also.setdefault(primary, []).extend(
                resolutions.get_anomaly(conn, tenant_id, i) for i in ids if i not in known
            )
    follows = {r.id: found.caused_by[r.id] for r in kept if r.id in found.caused_by}
    return kept, also, follows


def _before(args: Mapping[str, str]) -> int | None:
    """The page asked: the anomalies older than this one (`?before=`, its public ref, never
    a row id), None for the first. A page is found by its key, not an offset, so a late
    page costs what the first does."""
    text = (args.get("before") or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        return None
    return from_ref(ANOMALY, int(text))


@desk.route("/anomalies", endpoint="anomalies")
@page(Right.RECONCILE)
def anomaly_list() -> Any:
    user = current()
    chosen, error = _filters(request.args)
    before = _before(request.args)
    with reader().connect() as conn:
        names = driver_names(conn, user.tenant_id)
        rows: Sequence[Any] = []
        counts: list[tuple[str, int]] = []
        if error is None:
            clauses = _where(user.tenant_id, chosen)
            if before is not None:
                clauses.append(anomalies.c.id < before)
            rows = conn.execute(
                sa.select(anomalies)
                .where(*clauses)
                .order_by(anomalies.c.id.desc())
                .limit(LIMIT + 1)
            ).all()
            counts = _counts(conn, user.tenant_id, chosen)
        more = len(rows) > LIMIT
        older = to_ref(ANOMALY, rows[LIMIT - 1].id) if more else None
        rows, also, follows = grouped(conn, user.tenant_id, rows[:LIMIT])
    page_ = render_template(
        "desk/anomalies.html",
        rows=rows,
        also=also,
        follows=follows,
        more=more,
        older=older,
        before=before,
        counts=counts,
        filters=chosen,
        error=error,
        drivers=names,
        kinds={code: (k.fr, k.en) for code, k in labels.ANOMALY_KINDS.items()},
        statuses=STATUS_LABELS,
        kind_label=kind_label,
        sentence=sentence,
        status_label=lambda s: label(STATUS_LABELS, s),
    )
    return (page_, 400) if error else page_


# --- one anomaly ------------------------------------------------------------------------


def anomaly_or_404(conn: sa.Connection, tenant_id: str, anomaly_id: int) -> Any:
    try:
        return resolutions.get_anomaly(conn, tenant_id, anomaly_id)
    except NotFound:
        return not_found()


def _refs(detail: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The journal entries the evidence names: (role, {device_id, seq, hash})."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for key in EVIDENCE_REFS:
        value = detail.get(key)
        items = value if isinstance(value, list) else [value]
        found.extend((key, v) for v in items if isinstance(v, Mapping) and "seq" in v)
    return found


def journal_rows(
    conn: sa.Connection, tenant_id: str, refs: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The named entries as stored: {(device, seq): {type, at, driver_id, payload…}}."""
    wanted = {(str(r.get("device_id")), int(r["seq"])) for r in refs}
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for device_id in sorted({d for d, _ in wanted}):
        seqs = sorted(s for d, s in wanted if d == device_id)
        for row in conn.execute(
            sa.select(journal_entries).where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.device_id == device_id,
                journal_entries.c.seq.in_(seqs),
            )
        ):
            out[(device_id, int(row.seq))] = entry_view(row)
    return out


def entry_view(row: Any) -> dict[str, Any]:
    """A stored journal entry for a page: its type, time, money and reference."""
    try:
        payload = json.loads(row.body).get("payload") or {}
    except (TypeError, ValueError):
        payload = {}
    reference = (
        payload.get("terminal_ref") or payload.get("cheque_number") or payload.get("reference")
    )
    if row.type in ("discount", "deferral"):
        reference = payload.get("approval_ref")
    return {
        "device_id": row.device_id,
        "seq": int(row.seq),
        "type": row.type,
        "type_label": label(labels.ENTRY_TYPES, row.type),
        "at": row.at,
        "driver_id": row.driver_id,
        "hash": row.hash,
        "amount": payload.get("amount"),
        "method": method_label(payload["method"]) if payload.get("method") else None,
        "reference": reference,
        "step": step_label(payload["to"])
        if row.type == "mission_step" and "to" in payload
        else None,
        "reason": payload.get("reason"),
        "payload": payload,
    }


def _other_evidence(detail: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the evidence holds beyond the sentence and the entries, as text."""
    out = []
    for key, value in detail.items():
        if key in ("fr", "en", *EVIDENCE_REFS):
            continue
        if key in valuation_diff.KEYS and valuation_diff.mismatch_view(detail):
            continue  # shown side by side in words
        if key in ("due", "valuation_gap") and isinstance(value, int):
            text = money(value, cents=True)
        elif key == "findings" and isinstance(value, list):
            text = sentence({"findings": value})
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)[:4000]
        else:
            text = str(value)
        out.append((key, text))
    return out


def _resolution(conn: sa.Connection, tenant_id: str, anomaly_id: int) -> dict[str, Any] | None:
    """Who resolved the anomaly, when, how and why (audit log and server journal)."""
    row = conn.execute(
        sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.at, audit_log.c.detail)
        .where(
            audit_log.c.tenant_id == tenant_id,
            audit_log.c.action.startswith("anomaly."),
            audit_log.c.target == str(anomaly_id),
        )
        .order_by(audit_log.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    detail = row.detail if isinstance(row.detail, Mapping) else {}
    reason = None
    seq = detail.get("journal_seq")
    if isinstance(seq, int):
        body = conn.execute(
            sa.select(journal_entries.c.body).where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.device_id == chain_id(tenant_id),
                journal_entries.c.seq == seq,
            )
        ).scalar_one_or_none()
        reason = json.loads(body)["payload"].get("reason") if body else None
    users = {u.id: u.name for u in list_users(conn, tenant_id)}
    action = row.action.removeprefix("anomaly.")
    return {
        "by": users.get(row.actor, row.actor),
        "at": row.at,
        "action": label(ACTION_LABELS, action),
        "reason": reason,
        "journal_seq": seq,
        "with": detail.get("caused_by"),  # closed by the resolution of its cause
    }


def fitting_actions(kind: str) -> list[str]:
    return [a for a, kinds in resolutions.ACTIONS.items() if kind in kinds]


def right_of(row: Any, action: str, user: User) -> Right | None:
    """The right this user lacks to take `action` on this anomaly (None: allowed)."""
    return missing_for(action, row.kind, user.rights)


def _action_view(row: Any, action: str, user: User) -> dict[str, Any]:
    needed = right_of(row, action, user)
    return {
        "name": action,
        "label": t("Accorder ce qui manque", "Grant what is missing")
        if action == "approve" and row.kind in OWED_KINDS
        else label(ACTION_LABELS, action),
        "help": label(ACTION_HELP, action),
        "as_kind": action == "approve" and row.kind in OWED_KINDS,
        "allowed": needed is None,
        "needs": missing_right(needed).text(lang()) if needed is not None else None,
        "danger": action == "void",
    }


def _revocable(conn: sa.Connection, tenant_id: str, row: Any) -> bool:
    """A security alert about a tablet still in service: revoking it is an action that
    fits (the tablets page's own form; the alert is then acknowledged with its reason)."""
    if row.kind not in REVOKE_FITS or not row.device_id:
        return False
    revoked = conn.execute(
        sa.select(devices.c.revoked_at).where(
            devices.c.tenant_id == tenant_id, devices.c.id == row.device_id
        )
    ).first()
    return revoked is not None and revoked.revoked_at is None


def _revoke_view(
    row: Any, detail: Mapping[str, Any], user: User, revocable: bool
) -> dict[str, Any] | None:
    if not revocable:
        return None
    tablet = detail.get("tablet")
    named = tablet.get("label") if isinstance(tablet, Mapping) else None
    allowed = Right.MANAGE_DEVICES in user.rights
    return {
        "device_id": row.device_id,
        "label": named or row.device_id,
        "allowed": allowed,
        "needs": None if allowed else missing_right(Right.MANAGE_DEVICES).text(lang()),
    }


def detail_page(
    row: Any,
    *,
    status: int = 200,
    form: Mapping[str, str] | None = None,
    error: str | None = None,
    confirm: str | None = None,
) -> Any:
    user = current()
    detail = row.detail if isinstance(row.detail, Mapping) else {}
    with reader().connect() as conn:
        refs = _refs(detail)
        entries = journal_rows(conn, user.tenant_id, [r for _, r in refs])
        names = driver_names(conn, user.tenant_id)
        done = _resolution(conn, user.tenant_id, int(row.id))
        revocable = _revocable(conn, user.tenant_id, row)
        found = raised.links(conn, user.tenant_id, [row])
        cause = found.caused_by.get(row.id)
        cause_row = resolutions.get_anomaly(conn, user.tenant_id, cause) if cause else None
        linked = [
            resolutions.get_anomaly(conn, user.tenant_id, i) for i in found.linked.get(row.id, ())
        ]
    evidence = [
        (role, entries.get((str(r.get("device_id")), int(r["seq"]))), r) for role, r in refs
    ]
    actions = [_action_view(row, a, user) for a in fitting_actions(row.kind)]
    revoke = _revoke_view(row, detail, user, revocable)
    html = render_template(
        "desk/anomaly.html",
        row=row,
        detail=detail,
        sentence=sentence(detail),
        kind_label=kind_label(row.kind),
        kind_label_of=kind_label,
        status_label_of=lambda s: label(STATUS_LABELS, s),
        status_label=label(STATUS_LABELS, row.status),
        driver=names.get(row.driver_id or "", row.driver_id),
        drivers=names,
        evidence=evidence,
        other=_other_evidence(detail),
        mismatch=valuation_diff.mismatch_view(detail),
        resolution=done,
        cause=cause_row,
        linked=linked,
        actions=actions if row.status == reconcile.OPEN else [],
        as_kinds=AS_KINDS,
        form=form or {},
        error=error,
        confirm=confirm,
        action_label=lambda a: label(ACTION_LABELS, a),
        revoke=revoke if row.status == reconcile.OPEN else None,
    )
    return html, status


@desk.route("/anomalies/<anomaly_ref:anomaly_id>")
@page(Right.RECONCILE)
def anomaly(anomaly_id: int) -> Any:
    with reader().connect() as conn:
        row = anomaly_or_404(conn, current().tenant_id, anomaly_id)
    return detail_page(row)
