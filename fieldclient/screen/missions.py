"""The driver's missions, and one mission: who pays what and why, what remains, the gate,
the collection with its evidence, the manager's approvals, a dispute, photos of the
vehicle and the customer's signature.

Each action asks the tablet (`fieldclient.tablet.Tablet`), which asks the core; a refusal
shows the mission page again with the core's sentence and the driver's input, and
records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for

from fieldclient import attachments, elsewhere, render, site_facts_text
from fieldclient.screen import forms, receipt_page, signature
from fieldclient.screen.context import (
    current_driver,
    day_name,
    lang,
    local_time,
    own_mission,
    own_mission_ids,
    page,
    screen,
    signed_in,
    status_of,
    t,
    tablet,
    tr,
)
from fieldclient.tablet import MissionView, Recorded
from shared.balance import summary
from shared.errors import TowlineError
from shared.explain import explain
from shared.gate import gate
from shared.i18n import Text
from shared.money import format_amount, wire
from shared.payment_terms import Method
from shared.payments import EVIDENCE, LABELS
from shared.register import Status
from shared.steps import LABELS as STEP_LABELS
from shared.steps import Step

# What the driver does, as a button says it.
ACTIONS: Mapping[Step, Text] = {
    Step.EN_ROUTE: Text("Partir en route", "Set off"),
    Step.ON_SITE: Text("Arrivé sur place", "Arrived on site"),
    Step.DEPARTED: Text("Quitter les lieux", "Leave the scene"),
    Step.DELIVERED: Text("Véhicule livré", "Vehicle delivered"),
    Step.CLOSED: Text("Clôturer la mission", "Close the mission"),
    Step.CANCELLED: Text("Annuler la mission", "Cancel the mission"),
    Step.GONE_ON_ARRIVAL: Text("Personne sur place", "Nobody on site"),
}
# What the gate holds, in the few words a locked button has room for.
BEFORE: Mapping[Step, Text] = {
    Step.EN_ROUTE: Text("prendre la route", "setting off"),
    Step.DEPARTED: Text("quitter les lieux", "leaving the scene"),
    Step.DELIVERED: Text("livrer le véhicule", "releasing the vehicle"),
    Step.CLOSED: Text("clôturer la mission", "closing the mission"),
}
# Ends that are not the normal course: kept apart, so a gloved thumb does not hit them.
OTHER_ENDS = frozenset({Step.CANCELLED, Step.GONE_ON_ARRIVAL})


@dataclass(frozen=True, slots=True)
class Move:
    step: Step
    action: str
    held: str | None  # the short reason on the locked button
    why: str | None  # the gate's whole sentence

    @property
    def open(self) -> bool:
        return self.why is None

    @property
    def other_end(self) -> bool:
        return self.step in OTHER_ENDS


def _moves(view: MissionView) -> list[Move]:
    moves = []
    for target, reason in view.next_moves():
        held = None
        if reason is not None:
            held = tr(reason)
            if view.money is not None and view.contract is not None and target in BEFORE:
                decision = gate(view.money, view.pays, view.step, target)
                if not decision.open:
                    owed = format_amount(decision.owed, lang())
                    held = t(
                        f"Encaissez {owed} avant de {BEFORE[target].fr}",
                        f"Collect {owed} before {BEFORE[target].en}",
                    )
        moves.append(
            Move(target, tr(ACTIONS[target]), held, None if reason is None else tr(reason))
        )
    return moves


def _methods(view: MissionView) -> list[Method]:
    """The methods both the company and the contract accept, in the usual order."""
    allowed = set(render.methods_for(view))
    return [m for m in Method if m in allowed]


# --- the list ------------------------------------------------------------------------------


@screen.route("/missions")
@signed_in
def missions() -> Any:
    device = tablet()
    mine = own_mission_ids()
    rows = [r for r in device.mission_rows() if r["id"] in mine]
    for row in rows:
        row["step_label"] = tr(STEP_LABELS[Step(row["step"])])
        row["remaining_amount"] = None if row["remaining"] is None else Decimal(row["remaining"])
        row["due_amount"] = None if row["due"] is None else Decimal(row["due"])
        coverage = device.mission(row["id"])[0].coverage
        row["coverage"] = None if coverage is None else render.coverage_short(coverage, lang())
        row["coverage_warning"] = coverage is not None and coverage.warning is not None
    today = device.today()
    return page(
        "missions.html",
        rows=rows,
        today=today.isoformat(),
        today_name=day_name(today),
        to_collect=sum(1 for r in rows if r["remaining_amount"]),
    )


# --- one mission ---------------------------------------------------------------------------


def mission_page(
    mission_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
    where: str | None = None,
) -> Any:
    """The mission page; after a refused action, with why (`error`, shown in the section
    `where` the action came from) and what the driver typed (`form`)."""
    device = tablet()
    driver = current_driver()
    view = device.view(mission_id)
    methods = _methods(view)
    chosen = None
    wanted = (form or {}).get("method") or request.args.get("method")
    if wanted:
        chosen = next((m for m in methods if m.value == wanted), None)
        if chosen is None and error is None:
            status, error = (
                400,
                t(
                    f"Ce mode de règlement n'est pas accepté pour cette mission : « {wanted} ».",
                    f"This payment method is not accepted for this mission: “{wanted}”.",
                ),
            )
    register = device.register(driver.id)
    valuation = view.valuation
    html = render_template(
        "mission.html",
        view=view,
        mission=view.mission,
        valuation=valuation,
        why=explain(valuation, lang()) if valuation else [],
        balance=view.money,
        summary_text=tr(summary(view.money)) if view.money else "",
        coverage_text=render.coverage_text(view.mission.coverage, lang())
        if view.mission.coverage
        else None,
        coverage_warning=tr(view.mission.coverage.warning)
        if view.mission.coverage and view.mission.coverage.warning
        else None,
        step_label=tr(STEP_LABELS[view.step]),
        moves=_moves(view),
        methods=[(m, tr(LABELS[m])) for m in methods],
        chosen=chosen,
        chosen_label=tr(LABELS[chosen]) if chosen else None,
        evidence=[(n, tr(w), forms.INPUT_MODE[n]) for n, w in EVIDENCE[chosen].items()]
        if chosen
        else [],
        labels={m: tr(LABELS[m]) for m in Method},
        register_open=register.status is Status.OPEN,
        may_collect="collect" in driver.rights,
        error=error,
        form=form or {},
        where=where,
        attachments=[_attachment_row(a) for a in attachments.for_mission(device.db, mission_id)],
        signature_script=signature.script_tag(),
        warnings=[tr(w) for w in render.warnings(view)],
        overpaid=tr(extra) if (extra := site_facts_text.overpaid(view.money)) else None,
        elsewhere=elsewhere.note(device.db, mission_id, device.device_id, lang()),
        debtor=tr(d.text) if (d := device.deferral_verdict(mission_id)).text else None,
        debtor_blocks=not d.allowed,
        **receipt_page.mission_extras(device, mission_id),
    )
    response = make_response(html, status)
    # This page alone runs a script: the signature pad, allowed by its hash.
    response.headers["Content-Security-Policy"] = signature.POLICY
    return response


def _attachment_row(item: attachments.Attachment) -> dict[str, Any]:
    fr, en = attachments.KIND_LABELS[item.kind]
    return {
        "id": item.id,
        "kind": item.kind,
        "label": t(fr, en),
        "taken": local_time(item.taken_at),
        "size": t(*attachments.sizes(item.size)),
        "sent": item.complete,
    }


@screen.route("/missions/<mission_id>")
@signed_in
def mission(mission_id: str) -> Any:
    own_mission(mission_id)
    return mission_page(mission_id)


def _act(mission_id: str, where: str, action: Any, done: Any, then: Any = None) -> Any:
    """Run `action()` on the tablet; on success flash `done(recorded)` and go back to the
    mission (PRG), or to `then(recorded)`; refused, show the mission again with why and
    what was typed."""
    own_mission(mission_id)
    try:
        recorded = action()
    except TowlineError as refused:
        return mission_page(
            mission_id,
            status=status_of(refused),
            error=refused.message(lang()),
            form=request.form,
            where=where,
        )
    flash(done(recorded), "ok")
    if then is not None:
        return redirect(then(recorded))
    return redirect(url_for("screen.mission", mission_id=mission_id))


def _left(recorded: Recorded) -> str:
    if recorded.money is None:
        return ""
    left = format_amount(recorded.money.remaining, lang())
    return t(f" Reste à encaisser : {left}.", f" Remaining to collect: {left}.")


@screen.route("/missions/<mission_id>/step", methods=["POST"])
@signed_in
def step(mission_id: str) -> Any:
    target = request.form.get("to", "")

    def done(_recorded: Recorded) -> str:
        label = tr(STEP_LABELS[Step(target)])
        return t(f"Étape enregistrée : {label}.", f"Step recorded: {label}.")

    return _act(mission_id, "step", lambda: tablet().step(mission_id, target), done)


@screen.route("/missions/<mission_id>/collect", methods=["POST"])
@signed_in
def collect(mission_id: str) -> Any:
    def action() -> Recorded:
        method = forms.read_method(request.form.get("method"))
        amount = forms.read_amount(
            request.form.get("amount"), Text("le montant encaissé", "the amount collected")
        )
        evidence = forms.read_evidence(method, request.form)
        return tablet().collect(mission_id, method.value, wire(amount), evidence)

    def done(recorded: Recorded) -> str:
        amount = format_amount(Decimal(recorded.payload["amount"]), lang())
        how = tr(LABELS[Method(recorded.payload["method"])])
        text = t(f"Encaissé : {amount} ({how}).", f"Collected: {amount} ({how}).")
        change = recorded.payload.get("change")
        if change and Decimal(change):
            give = format_amount(Decimal(change), lang())
            text += t(f" Monnaie à rendre : {give}.", f" Change to give: {give}.")
        return text + _left(recorded)

    def receipt(recorded: Recorded) -> str:  # shown to the customer at once
        number = recorded.payload["receipt"]["number"]
        return url_for("screen.receipt", mission_id=mission_id, number=number)

    return _act(mission_id, "collect", action, done, receipt)


@screen.route("/missions/<mission_id>/approval", methods=["POST"])
@signed_in
def approval(mission_id: str) -> Any:
    """A discount or a "bill later", with the code the manager read out by phone."""
    kind = request.form.get("kind")

    def action() -> Recorded:
        if kind not in ("discount", "deferral"):
            raise forms.BadInput(
                "Choisissez : remise ou facturer plus tard.",
                "Choose: discount or bill later.",
            )
        amount = forms.read_amount(request.form.get("amount"), Text("le montant", "the amount"))
        code = forms.read_text(
            request.form.get("code"),
            Text("le code d'accord donné par le gérant", "the manager's approval code"),
        )
        if kind == "discount":
            return tablet().discount(mission_id, wire(amount), code)
        return tablet().defer(mission_id, code, wire(amount))

    def done(recorded: Recorded) -> str:
        amount = format_amount(Decimal(recorded.payload["amount"]), lang())
        if kind == "discount":
            text = t(f"Remise de {amount} enregistrée.", f"Discount of {amount} recorded.")
        else:
            text = t(
                f"{amount} à facturer plus tard : enregistré.",
                f"{amount} to bill later: recorded.",
            )
            if recorded.warning is not None:  # the customer owes money (fieldclient.debtors)
                text = recorded.warning(lang()) + " " + text
        return text + _left(recorded)

    return _act(mission_id, "approval", action, done)


@screen.route("/missions/<mission_id>/dispute", methods=["POST"])
@signed_in
def dispute(mission_id: str) -> Any:
    def action() -> Recorded:
        reason = forms.read_text(
            request.form.get("reason"),
            Text("ce qui vous semble faux dans le prix", "what looks wrong with the price"),
        )
        return tablet().dispute(mission_id, reason)

    def done(_recorded: Recorded) -> str:
        return t(
            "Litige enregistré : le bureau le verra à la prochaine synchronisation.",
            "Dispute recorded: the office will see it at the next sync.",
        )

    return _act(mission_id, "dispute", action, done)


def _attached_bytes(kind: str) -> bytes:
    """The signature drawn on the pad (a PNG data URL), else the file chosen."""
    drawn = (request.form.get("signature") or "").strip()
    if drawn and kind == "signature":
        return attachments.from_data_url(drawn)
    chosen = request.files.get("file")
    if chosen is None or not chosen.filename:
        if kind == "signature":
            raise forms.BadInput(
                "Faites signer le client dans le cadre, ou photographiez sa signature.",
                "Have the customer sign in the box, or take a picture of their signature.",
            )
        raise forms.BadInput(
            "Prenez d'abord la photo du véhicule.", "Take the picture of the vehicle first."
        )
    data: bytes = chosen.read(attachments.max_bytes() + 1)
    return data


@screen.route("/missions/<mission_id>/attach", methods=["POST"])
@signed_in
def attach(mission_id: str) -> Any:
    """A photo of the vehicle or the customer's signature, kept on the tablet and sent to
    the office at the next sync."""
    kind = request.form.get("kind", "")

    def action() -> attachments.Attachment:
        if kind not in attachments.KINDS:
            raise forms.BadInput("Que joignez-vous ?", "What are you attaching?")
        kept, _new = attachments.attach(tablet(), mission_id, kind, _attached_bytes(kind))
        return kept

    def done(kept: attachments.Attachment) -> str:
        if kept.kind == "signature":
            return t(
                "Signature enregistrée : elle partira au bureau à la prochaine synchronisation.",
                "Signature recorded: it goes to the office at the next sync.",
            )
        return t(
            "Photo enregistrée : elle partira au bureau à la prochaine synchronisation.",
            "Photo recorded: it goes to the office at the next sync.",
        )

    return _act(mission_id, "attach", action, done)
