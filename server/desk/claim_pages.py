"""Claims, receivables and payments back on the desk (docs/claims-and-payments.md), for
the person who chases the assistance companies for their money every week.

- the claims: filters (party, status, file), what is owed, paid and still open, counts
  per status; one claim with its invoice, the documents its party requires (each ticked
  or named as missing), the mission's photos and signatures, its log, and the actions
  the status table allows — every one through `server.parties.claims.act`, which logs it on the
  file, so a refusal (a missing photo, a file that cannot be sent) changes nothing;
- the receivables: per party, what is open in 0–30, 31–60, 61–90 and over 90 days at a
  date (`server.parties.receivables`);
- the payments back: a CSV import (`server.parties.payments.import_file`), its summary, and
  the lines that did not simply pay their claim, to work through;
- the bytes of a mission's attachment (photo, signature, report), for these pages and
  the mission page.

Right `reconcile` everywhere, as the API (server/api/claims.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, url_for

from server.api.attachments import EXTENSIONS
from server.desk import labels
from server.desk.blueprint import desk, money, not_found, t
from server.desk.labels import label
from server.desk.party_pages import log_entry, party_names, state_label, user_names
from server.desk.session import current, page
from server.devices import attachments
from server.parties import (
    claim_documents,
    claim_reading,
    claim_states,
    claims,
    payment_files,
    receivables,
)
from server.parties import files as party_files
from server.parties import payments as payments_in
from server.people.rights import Right
from server.people.tenant_time import day_words
from server.platform.errors import CORE_STATUS, ApiError, NotFound
from server.platform.tables import claims as claims_table
from server.platform.tables import party_files as party_files_table
from server.platform.tables import payment_lines
from server.platform.web import engine, lang, now, reader
from shared.errors import InvalidDocument, TowlineError
from shared.file_lifecycle import LifecycleRefused

LIMIT = 200  # claims on one page, oldest invoice first; counts and totals cover them all
OPEN = "open"  # the status filter for every claim still open
REASONS_MAX = 20  # as the API (server.api.claims.RejectIn)
REASON_MAX = 500
IMAGES = ("image/jpeg", "image/png", "image/webp")


def claim_status(status: str | None) -> str:
    return label(labels.CLAIM_STATUSES, status)


def day(value: date | str | None) -> str:
    """A calendar day for people, day first in French."""
    if value is None or value == "":
        return "—"
    moment = date.fromisoformat(value) if isinstance(value, str) else value
    return day_words(moment, lang())


def _status_of(error: TowlineError) -> int:
    return error.status if isinstance(error, ApiError) else CORE_STATUS.get(error.code, 400)


def _known_files(conn: sa.Connection, tenant_id: str, rows: list[dict[str, Any]]) -> set[str]:
    """Which of these claims' files Towline holds (the others have no file page)."""
    numbers = sorted({r["file_number"] for r in rows if r["file_number"]})
    if not numbers:
        return set()
    found = conn.execute(
        sa.select(party_files_table.c.party_id, party_files_table.c.file_number).where(
            party_files_table.c.tenant_id == tenant_id,
            party_files_table.c.file_number.in_(numbers),
        )
    )
    return {f"{p}/{n}" for p, n in found}


# --- the claims -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    party: str = ""
    status: str = ""
    file: str = ""

    def args(self, **changed: str) -> dict[str, str]:
        values = {"party": self.party, "status": self.status, "file": self.file, **changed}
        return {k: v for k, v in values.items() if v}


def _filters(args: Mapping[str, str], known: Mapping[str, str]) -> tuple[Filters, str]:
    party = (args.get("party") or "").strip()
    status = (args.get("status") or "").strip()
    file_number = (args.get("file") or "").strip()
    if status and status != OPEN and status not in labels.CLAIM_STATUSES:
        return Filters(), t(f"Statut inconnu : « {status} ».", f"Unknown status: '{status}'.")
    if party and party not in known:
        return Filters(), t(
            f"Donneur d'ordre inconnu : « {party} ».", f"Unknown ordering party: '{party}'."
        )
    if len(file_number) > 64:
        return Filters(), t(
            "N° de dossier : 64 caractères au plus.", "File: 64 characters at most."
        )
    return Filters(party, status, file_number), ""


def _where(tenant_id: str, f: Filters, *, with_status: bool = True) -> list[Any]:
    where: list[Any] = [claims_table.c.tenant_id == tenant_id]
    if f.party:
        where.append(claims_table.c.party_id == f.party)
    if f.file:
        where.append(claims_table.c.file_number == f.file)
    if with_status and f.status == OPEN:
        where.append(claims_table.c.status.in_([s.value for s in claim_states.OPEN]))
    elif with_status and f.status:
        where.append(claims_table.c.status == f.status)
    return where


def _totals(conn: sa.Connection, tenant_id: str, f: Filters) -> dict[str, int]:
    """Amount, credited, paid and open of every matching claim, in cents."""
    rows = conn.execute(
        sa.select(
            claims_table.c.invoice_number, claims_table.c.amount_cents, claims_table.c.paid_cents
        ).where(*_where(tenant_id, f))
    ).all()
    credited = claim_reading.credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    sums = {"count": len(rows), "amount": 0, "credited": 0, "paid": 0, "open": 0, "refund": 0}
    for row in rows:
        money_ = claim_reading.accounts_of(row, credited.get(row.invoice_number, 0))
        sums["amount"] += money_.amount
        sums["credited"] += money_.credited
        sums["paid"] += money_.paid
        sums["open"] += money_.open
        sums["refund"] += money_.refund_due
    return sums


def _counts(conn: sa.Connection, tenant_id: str, f: Filters) -> list[tuple[str, int]]:
    rows = conn.execute(
        sa.select(claims_table.c.status, sa.func.count())
        .where(*_where(tenant_id, f, with_status=False))
        .group_by(claims_table.c.status)
    ).all()
    found = {str(s): int(n) for s, n in rows}
    return [(s.value, found[s.value]) for s in claim_states.Status if found.get(s.value)]


def _rows(conn: sa.Connection, tenant_id: str, f: Filters, names: Mapping[str, str]) -> list[Any]:
    """The matching claims as `claim_reading.to_wire` words them, oldest invoice first."""
    rows = conn.execute(
        sa.select(claims_table)
        .where(*_where(tenant_id, f))
        .order_by(claims_table.c.issued_on, claims_table.c.invoice_number)
        .limit(LIMIT + 1)
    ).all()
    credited = claim_reading.credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    return [
        claim_reading.to_wire(r, credited.get(r.invoice_number, 0), names.get(r.party_id))
        for r in rows
    ]


@desk.route("/claims", endpoint="claims")
@page(Right.RECONCILE)
def claim_list() -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        names = party_names(conn, tenant)
        chosen, error = _filters(request.args, names)
        rows: list[dict[str, Any]] = []
        sums: dict[str, int] = {}
        counts: list[tuple[str, int]] = []
        known: set[str] = set()
        if not error:
            rows = _rows(conn, tenant, chosen, names)
            sums = _totals(conn, tenant, chosen)
            counts = _counts(conn, tenant, chosen)
            known = _known_files(conn, tenant, rows)
    html = render_template(
        "desk/claims.html",
        rows=rows[:LIMIT],
        more=len(rows) > LIMIT,
        filters=chosen,
        error=error,
        parties=names,
        statuses=labels.CLAIM_STATUSES,
        sums=sums,
        counts=counts,
        known_files=known,
        claim_status=claim_status,
        day=day,
    )
    return (html, 400) if error else html


# --- one claim --------------------------------------------------------------------------------


def mission_attachments(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[Any]:
    """The mission's photos, signatures and reports for a page, with their links."""
    try:
        found = attachments.list_for_mission(conn, tenant_id, mission_id)
    except NotFound:
        return []
    return [
        {
            **a,
            "label": label(labels.ATTACHMENT_KINDS, a["kind"]),
            "url": url_for("desk.attachment", attachment_id=a["id"]),
            "image": a["content_type"] in IMAGES,
        }
        for a in found
    ]


def _action_view(action: str, missing: list[str]) -> dict[str, Any]:
    words = claim_states.ACTION_LABELS[claim_states.Action(action)](lang())
    needs = action in {a.value for a in claim_states.NEEDS_DOCUMENTS}
    return {
        "name": action,
        "label": words[:1].upper() + words[1:],
        "reasons": action == claim_states.Action.REJECT.value,
        "missing": [claim_documents.document_label(k)(lang()) for k in missing] if needs else [],
        "primary": action in ("create", "submit", "resubmit", "attach_check"),
    }


def _claim_page(number: str, *, status: int = 200, error: str = "", form: Any = None) -> Any:
    tenant = current().tenant_id
    with reader().connect() as conn:
        try:
            found = claim_reading.get_claim(conn, tenant, number)
        except NotFound:
            return not_found()
        users = user_names(conn, tenant)
        file_state = (
            party_files.state_of(conn, tenant, found["party_id"], found["file_number"])
            if found["file_number"]
            else None
        )
        shown = mission_attachments(conn, tenant, found["mission_id"])
    html = render_template(
        "desk/claim.html",
        c=found,
        log=[log_entry(e, users) for e in found["log"]],
        attachments=shown,
        actions=[_action_view(a, found["missing"]) for a in found["next_actions"]],
        file_state=None if file_state is None else file_state.value,
        error=error,
        form=form or {},
        claim_status=claim_status,
        state_label=state_label,
        document_label=lambda kind: label(labels.ATTACHMENT_KINDS, kind),
        day=day,
    )
    return html, status


@desk.route("/claims/<string:number>", endpoint="claim")
@page(Right.RECONCILE)
def claim_view(number: str) -> Any:
    if len(number) > 32:
        return not_found()
    return _claim_page(number)


def _reasons(text: str) -> list[str]:
    """One reason per line, blanks dropped."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@desk.route("/claims/<string:number>/act", methods=["POST"])
@page(Right.RECONCILE)
def claim_act(number: str) -> Any:
    """One office action on the claim, through `claims.act` (which checks the table, the
    documents and the file, and logs it); a refusal re-shows the claim with its reason."""
    if len(number) > 32:
        return not_found()
    user = current()
    action = request.form.get("action", "").strip()
    text = request.form.get("reasons", "")
    form = {"action": action, "reasons": text}
    if action not in {a.value for a in claim_states.OFFICE_ACTIONS}:
        problem = t(f"Action inconnue : « {action} ».", f"Unknown action: '{action}'.")
        return _claim_page(number, status=400, error=problem, form=form)
    reasons = _reasons(text) if action == claim_states.Action.REJECT.value else None
    if reasons is not None and (
        not reasons or len(reasons) > REASONS_MAX or any(len(r) > REASON_MAX for r in reasons)
    ):
        problem = t(
            f"Indiquez le ou les motifs du rejet, un par ligne ({REASONS_MAX} au plus, "
            f"{REASON_MAX} caractères chacun).",
            f"Give the rejection's reason(s), one per line ({REASONS_MAX} at most, "
            f"{REASON_MAX} characters each).",
        )
        return _claim_page(number, status=422, error=problem, form=form)
    try:
        with engine().begin() as conn:
            done = claims.act(
                conn, user.tenant_id, number, action, actor=user.id, now=now(), reasons=reasons
            )
    except NotFound:
        return not_found()
    except (ApiError, LifecycleRefused) as refused:
        return _claim_page(
            number, status=_status_of(refused), error=refused.text(lang()), form=form
        )
    words = claim_states.ACTION_LABELS[claim_states.Action(action)](lang())
    flash(
        t(
            f"Demande {number} : {words} — fait. Statut : « {claim_status(done['status'])} ».",
            f"Claim {number}: {words} — done. Status: '{claim_status(done['status'])}'.",
        ),
        "ok",
    )
    return redirect(url_for("desk.claim", number=number))


@desk.route("/attachments/<string:attachment_id>", endpoint="attachment")
@page(Right.RECONCILE)
def attachment_bytes(attachment_id: str) -> Any:
    """A complete attachment's bytes as received from the tablet, in this tenant only;
    sandboxed, never sniffed (its type was checked by its bytes when it arrived)."""
    if len(attachment_id) > 64:
        return not_found()
    with reader().connect() as conn:
        try:
            found, data = attachments.content(conn, current().tenant_id, attachment_id)
        except NotFound:
            return not_found()
    name = f"{found['id']}.{EXTENSIONS.get(found['content_type'], 'bin')}"
    return Response(
        data,
        mimetype=found["content_type"],
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )


# --- receivables ------------------------------------------------------------------------------

BUCKET_LABELS: Mapping[str, tuple[str, str]] = {
    "0-30": ("0 à 30 jours", "0–30 days"),
    "31-60": ("31 à 60 jours", "31–60 days"),
    "61-90": ("61 à 90 jours", "61–90 days"),
    "over_90": ("plus de 90 jours", "over 90 days"),
}


@desk.route("/receivables", endpoint="receivables")
@page(Right.RECONCILE)
def receivables_page() -> Any:
    """What each party still owes, aged at a date (the app clock's day by default)."""
    tenant = current().tenant_id
    text = (request.args.get("at") or "").strip()
    error = ""
    with reader().connect() as conn:
        at = receivables.local_today(conn, tenant, now())
        if text:
            try:
                at = date.fromisoformat(text)
            except ValueError:
                error = t(
                    f"Date illisible : « {text[:20]} » (AAAA-MM-JJ attendu).",
                    f"Unreadable date: '{text[:20]}' (YYYY-MM-DD expected).",
                )
        aged = receivables.receivables(conn, tenant, at)
    html = render_template(
        "desk/receivables.html",
        aged=aged,
        at=at,
        buckets=[(name, t(*BUCKET_LABELS[name])) for name, _, _ in receivables.BUCKETS],
        error=error,
        day=day,
    )
    return (html, 400) if error else html


# --- payments back ----------------------------------------------------------------------------


def _outcome_counts(conn: sa.Connection, tenant_id: str, import_ids: list[str]) -> dict[str, Any]:
    """{import id: {outcome: lines}} of the given imports."""
    if not import_ids:
        return {}
    rows = conn.execute(
        sa.select(payment_lines.c.import_id, payment_lines.c.outcome, sa.func.count())
        .where(payment_lines.c.tenant_id == tenant_id, payment_lines.c.import_id.in_(import_ids))
        .group_by(payment_lines.c.import_id, payment_lines.c.outcome)
    ).all()
    out: dict[str, dict[str, int]] = {i: {} for i in import_ids}
    for import_id, outcome, n in rows:
        out[str(import_id)][str(outcome)] = int(n)
    return out


def _payments_page(*, status: int = 200, error: list[str] | None = None, form: Any = None) -> Any:
    tenant = current().tenant_id
    chosen = (request.args.get("import") or "").strip()[:32]
    outcome = (request.args.get("outcome") or "").strip()
    if outcome not in payments_in.MISMATCHES:
        outcome = ""
    with reader().connect() as conn:
        imports = payments_in.list_imports(conn, tenant, limit=50)
        counts = _outcome_counts(conn, tenant, [i["id"] for i in imports])
        selected = next((i for i in imports if i["id"] == chosen), None)
        lines = payments_in.mismatches(conn, tenant, import_id=selected["id"] if selected else None)
        names = party_names(conn, tenant)
        users = user_names(conn, tenant)
    if outcome:
        lines = [line for line in lines if line["outcome"] == outcome]
    html = render_template(
        "desk/payments.html",
        imports=imports,
        counts=counts,
        selected=selected,
        outcome=outcome,
        lines=lines,
        parties=names,
        users=users,
        outcomes=labels.PAYMENT_OUTCOMES,
        sources=labels.PAYMENT_SOURCES,
        mismatch_codes=payments_in.MISMATCHES,
        errors=error or [],
        form=form or {"source": payment_files.ADVICE},
        outcome_label=lambda o: label(labels.PAYMENT_OUTCOMES, o),
        claim_status=claim_status,
        day=day,
    )
    return html, status


@desk.route("/payments", endpoint="payments")
@page(Right.RECONCILE)
def payments_page() -> Any:
    return _payments_page()


def _upload() -> tuple[str, bytes] | None:
    """The file sent (its name and bytes), else the pasted text; None when neither."""
    sent = request.files.get("file")
    if sent is not None and sent.filename:
        return PurePath(sent.filename.replace("\\", "/")).name[:255], sent.read(
            payments_in.MAX_BYTES + 1
        )
    pasted = request.form.get("content", "")
    if pasted.strip():
        name = (request.form.get("file_name") or "").strip()[:255]
        return name or f"collé-{now():%Y%m%d-%H%M%S}.csv", pasted.encode("utf-8")
    return None


@desk.route("/payments/import", methods=["POST"])
@page(Right.RECONCILE)
def payments_import() -> Any:
    """Import one CSV of payment advices or bank lines: matched to claims at once, the
    summary in the message, the mismatches on the page."""
    user = current()
    source = request.form.get("source", "").strip()
    form = {"source": source, "file_name": request.form.get("file_name", "")}
    if source not in payment_files.SOURCES:
        problem = t("Choisissez avis de paiement ou relevé bancaire.", "Choose advice or bank.")
        return _payments_page(status=422, error=[problem], form=form)
    sent = _upload()
    if sent is None:
        problem = t(
            "Choisissez un fichier CSV ou collez son contenu.", "Choose a CSV file or paste it."
        )
        return _payments_page(status=422, error=[problem], form=form)
    name, content = sent
    try:
        with engine().begin() as conn:
            done = payments_in.import_file(
                conn, user.tenant_id, source, name, content, actor=user.id, now=now()
            )
    except InvalidDocument as invalid:
        problems = [invalid.text(lang())] + [p.message(lang()) for p in invalid.problems[:50]]
        return _payments_page(status=422, error=problems, form=form)
    except ApiError as refused:
        return _payments_page(status=refused.status, error=[refused.text(lang())], form=form)
    flash(_summary(done), "ok")
    return redirect(url_for("desk.payments", **{"import": done["id"]}))


def _summary(done: Mapping[str, Any]) -> str:
    """The import's outcome in one sentence."""
    differs, unknown, paid = done["amount_differs"], done["unknown_reference"], done["already_paid"]
    applied = money(done["applied"])
    head = t(
        f"{done['file_name']} importé : {done['lines']} paiement(s), {done['matched']}"
        f" facture(s) réglée(s), {applied} appliqués.",
        f"{done['file_name']} imported: {done['lines']} payment(s), {done['matched']}"
        f" invoice(s) paid, {applied} applied.",
    )
    gaps = t(
        f" À traiter : {differs} montant(s) différent(s), {unknown} référence(s) inconnue(s),"
        f" {paid} déjà réglée(s).",
        f" To work through: {differs} amount(s) differing, {unknown} unknown reference(s),"
        f" {paid} already paid.",
    )
    ignored = (
        t(f" {done['ignored']} débit(s) ignoré(s).", f" {done['ignored']} debit(s) ignored.")
        if done["ignored"]
        else ""
    )
    return head + (gaps if differs or unknown or paid else "") + ignored
