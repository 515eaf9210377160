"""Resolving an anomaly from the desk (docs/anomalies.md, "Resolution in one action").

It takes two POSTs and no JavaScript: the first checks the action (its right, that it fits
the kind, the reason) and asks for confirmation in one sentence; the second, carrying the
same fields and `confirm`, calls `server.office.resolutions.resolve` (the function the API
and the command line call), then shows the mission page with what was done: decisions
sent to the tablet, documents issued. A refused form (no reason, a reason too long, no
kind of grant) redirects (303) to GET .../resolve, the anomaly page with the reason as
typed and the problem (server.desk.refused_forms), so a reload posts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, request, url_for

from server.desk import labels, refused_forms
from server.desk.anomaly_pages import (
    ACTION_LABELS,
    AS_KINDS,
    OWED_KINDS,
    STATUS_LABELS,
    anomaly_or_404,
    detail_page,
    driver_names,
    fitting_actions,
    journal_rows,
    right_of,
)
from server.desk.blueprint import desk, money, t
from server.desk.labels import kind_label, label
from server.desk.session import current, page
from server.office import reconcile, refund_receipts, resolutions
from server.people.identity import User
from server.people.rights import Right, missing_right
from server.platform.errors import Conflict, Unprocessable
from server.platform.public_ids import ANOMALY, to_ref
from server.platform.web import engine, now, reader, server_private_key
from shared.money import ZERO, parse_amount

REASON_MAX = 500  # as the API (server.api.fields.REASON)
ACTION_DONE: Mapping[str, tuple[str, str]] = {
    "void": ("encaissement annulé", "collection voided"),
    "approve": ("accordé", "approved"),
    "refuse": ("refusé", "refused"),
    "acknowledge": ("accepté tel quel", "acknowledged"),
    "accept_dispute": ("contestation acceptée", "dispute accepted"),
    "invoice_overrun": (
        "dépassement facturé au bénéficiaire",
        "overrun invoiced to the beneficiary",
    ),
}


def _check(row: Any, action: str, user: User) -> None:
    """Refuse, before anything is asked or done, an action this user may not take on
    this anomaly (the same checks as the API and `resolutions.resolve`)."""
    if action not in resolutions.ACTIONS:
        raise Unprocessable(
            f"Action inconnue : « {action} ».",
            f"Unknown action: '{action}'.",
            code="action_unknown",
        )
    needed = right_of(row, action, user)
    if needed is not None:
        raise missing_right(needed)
    if row.status != reconcile.OPEN:
        number = to_ref(ANOMALY, row.id)  # the number the office was shown, not the row id
        raise Conflict(
            f"L'anomalie n° {number} n'est plus ouverte ({label(STATUS_LABELS, row.status)}) :"
            " rien n'a été fait.",
            f"Anomaly no. {number} is no longer open ({row.status}): nothing was done.",
            code="anomaly_not_open",
        )
    if row.kind not in resolutions.ACTIONS[action]:
        known = labels.ANOMALY_KINDS.get(row.kind)
        fr_kind, en_kind = (known.fr, known.en) if known else (row.kind, row.kind)
        fitting = fitting_actions(row.kind)
        raise Conflict(
            f"« {ACTION_LABELS[action][0]} » ne s'applique pas à une anomalie « {fr_kind} » :"
            " rien n'a été fait. Possibles : "
            + (", ".join(ACTION_LABELS[a][0] for a in fitting) or "aucune")
            + ".",
            f"'{ACTION_LABELS[action][1]}' does not apply to a '{en_kind}' anomaly: nothing"
            " was done. Possible: "
            + (", ".join(ACTION_LABELS[a][1] for a in fitting) or "none")
            + ".",
            code="action_unfit",
        )


def _form_error(action: str, reason: str, as_kind: str) -> str | None:
    if not reason:
        return t(
            "Indiquez le motif : il est enregistré avec la décision.",
            "Give the reason: it is recorded with the decision.",
        )
    if len(reason) > REASON_MAX:
        return t(
            f"Motif trop long : {REASON_MAX} caractères au plus.",
            f"Reason too long: {REASON_MAX} characters at most.",
        )
    if as_kind not in AS_KINDS:
        return t(
            "Choisissez « facturer plus tard » ou « remise ».",
            "Choose 'bill later' or 'discount'.",
        )
    return None


def _void_targets(conn: sa.Connection, tenant_id: str, row: Any) -> list[dict[str, Any]]:
    """The collections a void takes back, as `resolutions` chooses them."""
    detail = row.detail if isinstance(row.detail, Mapping) else {}
    refs = list(detail.get("collections") or ([detail["entry"]] if "entry" in detail else []))
    if row.kind == "over_collection":
        refs = refs[-1:]
    found = journal_rows(conn, tenant_id, refs)
    return [found[k] for k in sorted(found)]


def _amount(row: Any) -> str:
    return money(row.amount_cents, cents=True)


def _question(row: Any, action: str, as_kind: str) -> str:
    """What the clerk is about to do, in one sentence to confirm."""
    user = current()
    with reader().connect() as conn:
        names = driver_names(conn, user.tenant_id)
        targets = _void_targets(conn, user.tenant_id, row) if action == "void" else []
        billed = action == "void" and refund_receipts.billed(conn, user.tenant_id, row.mission_id)
    who = names.get(row.driver_id or "", row.driver_id or "?")
    mission = row.mission_id or "—"
    if action == "void":
        total = sum((parse_amount(e["amount"]) for e in targets if e["amount"]), ZERO)
        # Exactly what this void issues: the invoice answers it, or a refund receipt does.
        if billed:
            return t(
                f"Confirmer : annuler l'encaissement de {money(total)} de {who} ? La facture du"
                " client répond : un avoir pour ce qu'elle facture au-delà du dû, sinon elle"
                " redevient à payer.",
                f"Confirm: void {who}'s collection of {money(total)}? The customer's invoice"
                " answers: a credit note for what it bills beyond what is due, else it is due"
                " again.",
            )
        return t(
            f"Confirmer : annuler l'encaissement de {money(total)} de {who} ? Le client reçoit"
            " un reçu de remboursement.",
            f"Confirm: void {who}'s collection of {money(total)}? The customer gets a refund"
            " receipt.",
        )
    if action == "approve" and row.kind in OWED_KINDS:
        fr = "une remise" if as_kind == "discount" else "« facturer plus tard »"
        en = "a discount" if as_kind == "discount" else "'bill later'"
        return t(
            f"Confirmer : accorder {fr} de {_amount(row)} sur la mission {mission} ?",
            f"Confirm: grant {en} of {_amount(row)} on mission {mission}?",
        )
    questions = {
        "approve": (
            f"Confirmer : approuver après coup les {_amount(row)} accordés par {who} ?",
            f"Confirm: approve after the fact the {_amount(row)} granted by {who}?",
        ),
        "refuse": (
            f"Confirmer : refuser ? Ce qui est dû reste dû (mission {mission}).",
            f"Confirm: refuse? What is owed stays owed (mission {mission}).",
        ),
        "acknowledge": (
            f"Confirmer : accepter tel quel ({kind_label(row.kind)}, {_amount(row)}) ?",
            f"Confirm: acknowledge as it is ({kind_label(row.kind)}, {_amount(row)})?",
        ),
        "accept_dispute": (
            f"Confirmer : revaloriser la mission {mission} avec les conventions actuelles et"
            " corriger ses factures ?",
            f"Confirm: value mission {mission} again with the contracts held now and correct"
            " its invoices?",
        ),
        "invoice_overrun": (
            f"Confirmer : facturer {_amount(row)} au bénéficiaire de la mission {mission} ?",
            f"Confirm: invoice the beneficiary of mission {mission} for {_amount(row)}?",
        ),
    }
    return t(*questions[action])


def _document_words(documents: Sequence[Mapping[str, Any]]) -> str:
    kinds = {
        "invoice": ("facture", "invoice"),
        "credit_note": ("avoir", "credit note"),
        "refund_receipt": ("reçu de remboursement", "refund receipt"),
    }
    return ", ".join(
        f"{d['number']} ({label(kinds, d['kind'])},"
        f" {money(d['total']['incl_vat'] if 'total' in d else d.get('amount'))})"
        for d in documents
    )


def done_message(row: Any, done: Mapping[str, Any], driver: str) -> str:
    """What happened, for the flash: the act, the decisions sent, the documents issued."""
    what = label(ACTION_DONE, str(done["action"]))
    number = to_ref(ANOMALY, row.id)
    parts = [
        t(
            f"Anomalie n° {number} ({kind_label(row.kind)}) résolue : {what}.",
            f"Anomaly no. {number} ({kind_label(row.kind)}) resolved: {what}.",
        )
    ]
    sent = list(done.get("decisions") or [])
    if sent:
        ids = ", ".join(sent)
        parts.append(
            t(
                f"Décision envoyée à la tablette de {driver} ({ids}) : elle s'applique à sa"
                " prochaine synchronisation.",
                f"Decision sent to {driver}'s tablet ({ids}): it applies at its next sync.",
            )
        )
    revalued = done.get("revalued")
    if isinstance(revalued, Mapping):
        contract = revalued.get("contract") or {}
        parts.append(
            t(
                f"Mission revalorisée : convention {contract.get('id')} version"
                f" {contract.get('version')}, bénéficiaire"
                f" {money(revalued.get('beneficiary_due'))}, donneur d'ordre"
                f" {money(revalued.get('ordering_party_due'))}.",
                f"Mission valued again: contract {contract.get('id')} version"
                f" {contract.get('version')}, beneficiary {money(revalued.get('beneficiary_due'))},"
                f" ordering party {money(revalued.get('ordering_party_due'))}.",
            )
        )
    documents = list(done.get("documents") or [])
    if documents:
        listed = _document_words(documents)
        parts.append(t(f"Documents émis : {listed}.", f"Documents issued: {listed}."))
    elif done.get("action") == "void":
        parts.append(
            t(
                "Aucun document : la facture au bénéficiaire ne facture pas plus que ce qui est"
                " dû ; elle redevient due pour ce qui n'est plus payé.",
                "No document: the beneficiary's invoice bills no more than what is due; it is"
                " due again for what is no longer paid.",
            )
        )
    return " ".join(parts)


def _kept(anomaly_id: int) -> str:
    return f"resolve_anomaly:{anomaly_id}"


@desk.route("/anomalies/<anomaly_ref:anomaly_id>/resolve", endpoint="resolve_anomaly_form")
@page(Right.RECONCILE)
def resolve_anomaly_form(anomaly_id: int) -> Any:
    """Where a refused resolution lands: the anomaly page with the form as typed and its
    problem; without a kept form (a link, a bookmark), the anomaly page itself."""
    with reader().connect() as conn:
        row = anomaly_or_404(conn, current().tenant_id, anomaly_id)
    kept = refused_forms.take_back(_kept(anomaly_id))
    if kept is None:
        return redirect(url_for("desk.anomaly", anomaly_id=anomaly_id))
    form, problems = kept
    return detail_page(row, form={k: str(v) for k, v in form.items()}, error=str(problems[""]))


@desk.route("/anomalies/<anomaly_ref:anomaly_id>/resolve", methods=["POST"])
@page(Right.RECONCILE)
def resolve_anomaly(anomaly_id: int) -> Any:
    user = current()
    with reader().connect() as conn:
        row = anomaly_or_404(conn, user.tenant_id, anomaly_id)
    action = request.form.get("action", "").strip()
    reason = " ".join(request.form.get("reason", "").split())
    as_kind = request.form.get("as_kind", "deferral").strip() or "deferral"
    _check(row, action, user)
    form = {"action": action, "reason": reason, "as_kind": as_kind}
    problem = _form_error(action, reason, as_kind)
    if problem is not None:
        if refused_forms.keep(_kept(anomaly_id), form, {"": problem}):
            return refused_forms.back_to("desk.resolve_anomaly_form", anomaly_id=anomaly_id)
        return detail_page(row, status=422, form=form, error=problem)  # too large to keep
    refused_forms.drop()
    if request.form.get("confirm") != "1":
        return detail_page(row, form=form, confirm=_question(row, action, as_kind))
    with engine().begin() as conn:
        done = resolutions.resolve(
            conn,
            user.tenant_id,
            anomaly_id,
            action,
            reason,
            key=server_private_key(),
            actor=user.id,
            now=now(),
            as_kind=as_kind,
        )
        driver = driver_names(conn, user.tenant_id).get(row.driver_id or "", row.driver_id or "?")
    flash(done_message(row, done, driver), "ok")
    if row.mission_id:
        return redirect(url_for("desk.mission", mission_id=row.mission_id))
    return redirect(url_for("desk.anomaly", anomaly_id=anomaly_id))
