"""Contracts on the desk: every ordering party's versions, one version in words, and a
workbench to try a draft on a mission before publishing it.

Reading needs only a signed-in user (everyone in the office answers customers about
prices); publishing needs `edit_contracts` and goes through `server.office.contracts.publish`,
exactly as POST /api/v1/contracts. Trying publishes nothing: the draft is valued with
the core (`shared.valuation.value`), next to the published version the server would
apply to the same mission, and a draft that does not validate shows its problems.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for

from server.desk import contract_form, refused_forms
from server.desk.blueprint import desk, money, t
from server.desk.session import current, page
from server.office import contracts, missions
from server.office.valuation import Valuer
from server.people.identity import list_users
from server.people.rights import Right
from server.platform.web import engine, lang, now, reader
from shared import calendar
from shared.contract import WEEKDAYS, Amount, Condition, Contract, Payer
from shared.contract_schema import CONTRACT, load_contract
from shared.errors import InvalidDocument, Problem, TowlineError
from shared.explain import explain
from shared.mission import MISSION, Mission, load_mission
from shared.payment_terms import Method
from shared.payments import LABELS as METHODS
from shared.schema_tools import parse_json
from shared.valuation import Line, Valuation, ValuationContext, value

MISSIONS_SHOWN = 200
_DAYS = {
    "fr": dict(
        zip(WEEKDAYS, ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."), strict=True)
    ),
    "en": dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)),
}
_PAY_WHEN = {
    "at_order": ("à la commande", "at order"),
    "before_departure": ("avant de quitter les lieux", "before leaving the scene"),
    "at_delivery": ("à la livraison du véhicule", "at the vehicle's delivery"),
    "on_invoice": ("sur facture (pas d'encaissement sur place)", "on invoice (nothing on site)"),
}
_DEPOSIT_WHEN = {
    "at_order": ("à la commande", "at order"),
    "before_departure": ("avant de quitter les lieux", "before leaving the scene"),
    "exempt": ("aucun acompte", "no deposit"),
}
_LEGS = {
    "en_route": ("trajet aller", "en route"),
    "loaded": ("en charge", "loaded"),
    "return": ("retour", "return"),
}


# --- words for a contract -----------------------------------------------------------


def _basis(includes_vat: bool) -> str:
    return t("TTC", "incl. VAT") if includes_vat else t("HT", "excl. VAT")


def _amount(amount: Amount | None) -> str | None:
    if amount is None:
        return None
    return f"{money(amount.amount)} {_basis(amount.includes_vat)}"


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",") if lang() == "fr" else text


def condition_text(condition: Condition) -> str:
    """A condition in words ("accident = oui"), or "always"."""
    if not condition:
        return t("toujours", "always")
    parts = []
    for name, expected in condition.facts.items():
        if expected is True:
            parts.append(name)
        elif expected is False:
            parts.append(t("sans ", "no ") + name)
        elif isinstance(expected, tuple):
            parts.append(f"{name} ∈ {{{', '.join(expected)}}}")
        else:
            parts.append(f"{name} = {expected}")
    return t("si ", "when ") + t(" et ", " and ").join(parts)


def _label(terms: Contract, code: str) -> str:
    if code == "*":
        return t("toutes les prestations", "every service")
    try:
        return terms.catalogue.label(code)(lang())
    except KeyError:
        return ""


def describe(terms: Contract) -> dict[str, Any]:
    """The contract as sections a clerk reads: every rule, in the user's language."""

    def code(c: str) -> dict[str, str]:
        return {"code": c, "label": _label(terms, c)}

    price_lists = [
        {
            "name": name,
            "default": name == terms.price_list,
            "prices": [{**code(c), "price": p} for c, p in prices.items()],
        }
        for name, prices in terms.price_lists.items()
    ]
    distance = None
    if terms.distance is not None:
        rule, start = terms.distance, terms.distance.included_km
        tiers: list[dict[str, Any]] = []
        for tier in rule.tiers:
            end = tier.up_to_km
            tiers.append({"from": _number(start), "to": end and _number(end), "price": tier.price})
            start = end or start
        distance = {
            "legs": ", ".join(t(*_LEGS[leg]) for leg in rule.legs),
            "included": _number(rule.included_km),
            "tiers": tiers,
            "code": rule.code,
        }
    bands = [
        {
            "name": band.label or band.id,
            "when": (
                t("jours fériés", "public holidays")
                if band.public_holidays
                else " ".join(_DAYS[lang()][d] for d in band.days)
                + f" {band.start:%H:%M}–{band.end.strftime('%H:%M') if band.end else '24:00'}"
            ),
            "percent": _number(band.percent),
            "applies_to": ", ".join(band.applies_to),
        }
        for band in terms.time_bands.bands
    ]
    payer = {
        Payer.ORDERING_PARTY: t("donneur d'ordre", "ordering party"),
        Payer.BENEFICIARY: t("bénéficiaire", "beneficiary"),
    }
    deposit = terms.payment.deposit
    return {
        "vat_rates": [{**code(c), "rate": _number(r)} for c, r in terms.vat_rates.items()],
        "classes": [{**code(v.code), "max": v.max_weight_kg} for v in terms.vehicle_classes],
        "price_lists": price_lists,
        "at_cost": [code(c) for c in terms.at_cost],
        "customers": [
            {
                "name": name,
                "price_list": c.price_list,
                "discounts": [{**code(d.code), "percent": _number(d.percent)} for d in c.discounts],
            }
            for name, c in terms.customers.items()
        ],
        "distance": distance,
        "decided_by": t("l'heure d'appel", "the call time")
        if terms.time_bands.decided_by == "call"
        else t("l'heure d'arrivée", "the arrival time"),
        "combine": t("seule la plus forte s'applique", "only the highest applies")
        if terms.time_bands.combine == "highest"
        else t("elles se cumulent", "they stack"),
        "bands": bands,
        "supplements": [
            {**code(s.code), "when": condition_text(s.when)} for s in terms.supplements
        ],
        "coverage": [
            {
                **code(rule.code),
                "band": rule.band,
                "when": condition_text(rule.when),
                "payer": payer[rule.payer],
            }
            for rule in terms.coverage
        ],
        "deductible": _amount(terms.deductible),
        "cap_mission": _amount(terms.caps.mission),
        "cap_file": _amount(terms.caps.file),
        "pays": t(*_PAY_WHEN[terms.payment.beneficiary_pays.value]),
        "methods": [METHODS[m](lang()) for m in sorted(terms.payment.methods)],
        "deposit": t(*_DEPOSIT_WHEN[deposit.when.value]),
        "deposit_amount": deposit.amount if deposit.when.value != "exempt" else None,
    }


def pretty(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


# --- the list and one version -------------------------------------------------------


def _names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    """Who published: user ids to names (other actors, e.g. "demo", stay as they are)."""
    return {u.id: u.name for u in list_users(conn, tenant_id)}


def _may_edit() -> bool:
    return Right.EDIT_CONTRACTS in current().rights


@desk.route("/contracts", endpoint="contracts")
@page()
def contracts_list() -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        versions = contracts.list_versions(conn, tenant_id)
        names = _names(conn, tenant_id)
    groups: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        groups.setdefault(version["id"], []).append(version)
    for found in groups.values():
        found.sort(key=lambda v: v["version"], reverse=True)  # the latest first
    return render_template("desk/contracts.html", groups=groups, names=names, may_edit=_may_edit())


@desk.route("/contracts/<string:contract_id>/v<int:version>", endpoint="contract")
@page()
def contract_version(contract_id: str, version: int) -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        found = contracts.get_version(conn, tenant_id, contract_id, version)  # 404
        names = _names(conn, tenant_id)
        later = [v["version"] for v in contracts.list_versions(conn, tenant_id, contract_id)]
    terms = load_contract(found["document"])
    return render_template(
        "desk/contract.html",
        summary=found,
        terms=terms,
        words=describe(terms),
        text=pretty(found["document"]),
        names=names,
        latest=max(later),
        may_edit=_may_edit(),
    )


# --- trying a draft -----------------------------------------------------------------


def _figures(line: Line | None) -> tuple[Decimal, Decimal, Decimal] | None:
    return None if line is None else (line.amount, line.ordering_party, line.beneficiary)


@dataclass
class Compared:
    """One line of the draft's valuation beside the same line of the published one."""

    code: str
    label: str
    draft: Line | None
    published: Line | None

    @property
    def differs(self) -> bool:
        return self.published is not None and _figures(self.draft) != _figures(self.published)

    @property
    def only(self) -> bool:
        """In one valuation only (a line the draft adds or removes)."""
        return self.draft is None or self.published is None


@dataclass
class Trial:
    mission_id: str = ""
    mission_json: str = ""
    document: str = ""
    problems: list[str] = field(default_factory=list)
    mission: Mission | None = None
    terms: Contract | None = None
    draft: Valuation | None = None
    draft_refusal: str | None = None
    published: Valuation | None = None
    published_summary: dict[str, Any] | None = None
    published_refusal: str | None = None
    lines: list[Compared] = field(default_factory=list)


def _problems(error: InvalidDocument, prefix: str = "") -> list[str]:
    """Each problem as "path: message" in the user's language."""
    out = []
    for problem in error.problems:
        path = ".".join(part for part in (prefix, problem.path) if part)
        out.append(Problem(path, problem.text).message(lang()))
    return out


def _key(line: Line) -> tuple[str, str, str | None]:
    return (line.code, line.kind, line.band)


def compare(draft: Valuation, published: Valuation | None) -> list[Compared]:
    """The draft's lines in order, each beside the published line with the same code,
    kind and band (the n-th with the n-th); lines only the published version has last."""
    pool: dict[tuple[str, str, str | None], list[Line]] = {}
    for line in published.lines if published else ():
        pool.setdefault(_key(line), []).append(line)
    out = []
    for line in draft.lines:
        same = pool.get(_key(line))
        out.append(Compared(line.code, line.label(lang()), line, same.pop(0) if same else None))
    for rest in pool.values():
        out.extend(Compared(x.code, x.label(lang()), None, x) for x in rest)
    return out


def _file_consumed(
    conn: sa.Connection, tenant_id: str, mission: Mission, contract_id: str
) -> Decimal:
    """What the file's other missions already consumed of its cap, as the server counts it
    when it values a synced mission (so the figures here are the server's)."""
    return Valuer(conn, tenant_id, now()).file_consumed(mission, contract_id)


def _applied_version(
    conn: sa.Connection, tenant_id: str, contract_id: str, mission: Mission
) -> tuple[Contract, dict[str, Any]] | None:
    """The published version the server applies to this mission: the highest one valid on
    the mission's day (as ingest chooses it)."""
    best: tuple[Contract, dict[str, Any]] | None = None
    for summary in contracts.list_versions(conn, tenant_id, contract_id):
        found = contracts.get_version(conn, tenant_id, contract_id, summary["version"])
        terms = load_contract(found["document"])
        day = calendar.local(mission.times["call"], terms.timezone).date()
        if terms.is_valid_on(day) and (best is None or terms.version > best[0].version):
            best = (terms, summary)
    return best


def _mission_document(conn: sa.Connection, tenant_id: str, trial: Trial) -> Any:
    """The pasted mission, else the chosen one of this tenant (404 for another's)."""
    if trial.mission_json.strip():
        return parse_json(trial.mission_json, MISSION)
    if not trial.mission_id:
        trial.problems.append(
            t("Choisissez une mission ou collez-en une.", "Choose a mission or paste one.")
        )
        return None
    return missions.get(conn, tenant_id, trial.mission_id)["document"]


def _valued(mission: Mission, terms: Contract, context: ValuationContext) -> Valuation | str:
    """The valuation, or why there is none in the user's language. Absurd magnitudes (a
    VAT rate of 1E+999999) overflow the decimal context: said so, never a 500."""
    try:
        return value(mission, terms, context)
    except TowlineError as refused:
        return refused.message(lang())
    except ArithmeticError:
        return t(
            "Nombres hors limites dans la convention ou la mission (taux, prix, quantités).",
            "Numbers out of range in the contract or the mission (rates, prices, quantities).",
        )


def run_trial(conn: sa.Connection, tenant_id: str, trial: Trial) -> Trial:
    """Value the mission with the draft and with the published version, writing nothing."""
    try:
        document = _mission_document(conn, tenant_id, trial)
        if document is not None:
            trial.mission = load_mission(document)
    except InvalidDocument as error:
        trial.problems += _problems(error, "mission")
    try:
        trial.terms = load_contract(parse_json(trial.document, CONTRACT))
    except InvalidDocument as error:
        trial.problems += _problems(error)
    if trial.mission is None or trial.terms is None:
        return trial
    mission, terms = trial.mission, trial.terms
    context = ValuationContext(file_consumed=_file_consumed(conn, tenant_id, mission, terms.id))
    draft = _valued(mission, terms, context)
    if isinstance(draft, str):
        trial.draft_refusal = draft
    else:
        trial.draft = draft
    applied = _applied_version(conn, tenant_id, terms.id, mission)
    if applied is None:
        trial.published_refusal = t(
            f"Aucune version publiée de {terms.id} n'est valable pour cette mission.",
            f"No published version of {terms.id} is valid for this mission.",
        )
    else:
        trial.published_summary = applied[1]
        published = _valued(mission, applied[0], context)
        if isinstance(published, str):
            trial.published_refusal = published
        else:
            trial.published = published
    if trial.draft is not None:
        trial.lines = compare(trial.draft, trial.published)
    return trial


def _prefill(conn: sa.Connection, tenant_id: str, args: Mapping[str, str]) -> str:
    """The JSON of the version asked for (?contract=&version=), else the latest version of
    the contract asked for, of the chosen mission's ordering party, or the first one."""
    versions = contracts.list_versions(conn, tenant_id)
    if not versions:
        return ""
    wanted = args.get("contract")
    if wanted and args.get("version", "").isdigit():
        found = contracts.get_version(conn, tenant_id, wanted, int(args["version"]))
        return pretty(found["document"])
    if not wanted and args.get("mission"):
        party = missions.get(conn, tenant_id, args["mission"])["ordering_party_id"]
        wanted = next((v["id"] for v in versions if v["ordering_party_id"] == party), None)
    wanted = wanted or versions[0]["id"]
    mine = [v for v in versions if v["id"] == wanted]
    if not mine:
        return ""
    latest = max(mine, key=lambda v: v["version"])
    return pretty(contracts.get_version(conn, tenant_id, wanted, latest["version"])["document"])


def _render(trial: Trial, status: int = 200) -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        choices = missions.list_missions(conn, tenant_id, limit=MISSIONS_SHOWN)

    def why(valuation: Valuation | None) -> list[str]:
        return explain(valuation, lang()) if valuation is not None else []

    html = render_template(
        "desk/contract_try.html",
        trial=trial,
        choices=choices,
        may_edit=_may_edit(),
        draft_why=why(trial.draft),
        published_why=why(trial.published),
    )
    return html, status


def _form_trial() -> Trial:
    return Trial(
        mission_id=request.form.get("mission", "").strip(),
        mission_json=request.form.get("mission_json", ""),
        document=request.form.get("document", ""),
    )


@desk.route("/contracts/try", methods=["GET", "POST"], endpoint="contract_try")
@page()
def contract_try() -> Any:
    tenant_id = current().tenant_id
    if request.method == "GET":
        kept = refused_forms.take(_PUBLISH)
        if kept is not None:  # a refused publication, as typed (see contract_publish)
            values, problems = kept
            trial = Trial(
                mission_id=str(values.get("mission_id", "")),
                mission_json=str(values.get("mission_json", "")),
                document=str(values.get("document", "")),
            )
            trial.problems = [str(p) for p in problems.get("", [])]
            return _render(trial)
        with reader().connect() as conn:
            trial = Trial(
                mission_id=request.args.get("mission", ""),
                document=_prefill(conn, tenant_id, request.args),
            )
        return _render(trial)
    with reader().connect() as conn:
        trial = run_trial(conn, tenant_id, _form_trial())
    failed = trial.problems or trial.draft_refusal
    return _render(trial, 422 if failed else 200)


_PUBLISH = "contract_publish"
_TRIAL_FIELDS = ("mission_id", "mission_json", "document")


def _refuse_publish(trial: Trial, status: int) -> Any:
    """Back to the workbench with the draft as typed: a redirect (a reload posts nothing
    again) when the session can hold the draft, else the page itself with `status`."""
    values = {k: getattr(trial, k) for k in _TRIAL_FIELDS}
    if refused_forms.keep(_PUBLISH, values, {"": trial.problems}):
        return redirect(url_for("desk.contract_try"))
    return _render(trial, status)


@desk.route("/contracts/publish", methods=["POST"], endpoint="contract_publish")
@page(Right.EDIT_CONTRACTS)
def contract_publish() -> Any:
    """Publish the draft as a new version, as POST /api/v1/contracts does; any refusal
    shows the workbench again with the draft as typed, and nothing is published."""
    trial = _form_trial()
    try:
        document = parse_json(trial.document, CONTRACT)
        load_contract(document)  # the problems by path, before the confirmation
    except InvalidDocument as error:
        trial.problems = _problems(error)
        return _refuse_publish(trial, 422)
    if request.form.get("confirm") != "yes":
        trial.problems = [
            t(
                "Cochez la case de confirmation pour publier cette version.",
                "Tick the confirmation box to publish this version.",
            )
        ]
        return _refuse_publish(trial, 400)
    user = current()
    try:
        with engine().begin() as conn:
            made = contracts.publish(conn, user.tenant_id, document, actor=user.id, now=now())
    except TowlineError as refused:
        trial.problems = (
            _problems(refused)
            if isinstance(refused, InvalidDocument)
            else [refused.message(lang())]
        )
        status = getattr(refused, "status", 422)
        return _refuse_publish(trial, status)
    refused_forms.drop()
    flash(
        t(
            f"Convention {made['id']} version {made['version']} publiée : les tablettes la "
            "recevront à leur prochaine synchronisation.",
            f"Contract {made['id']} version {made['version']} published: tablets receive it "
            "at their next sync.",
        ),
        "ok",
    )
    return redirect(url_for("desk.contract", contract_id=made["id"], version=made["version"]))


# --- the form editor: the common parts of a new version -----------------------------


def _latest(conn: sa.Connection, tenant_id: str, contract_id: str) -> dict[str, Any]:
    """The contract's latest version (404 for a contract this tenant does not have)."""
    versions = contracts.list_versions(conn, tenant_id, contract_id)
    if not versions:
        contracts.get_version(conn, tenant_id, contract_id, 1)  # raises the 404
    top = max(v["version"] for v in versions)
    return contracts.get_version(conn, tenant_id, contract_id, top)


def _edit_name(contract_id: str) -> str:
    return f"contract_edit:{contract_id}"


def _render_edit(
    contract_id: str,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    trial: Trial,
    status: int = 200,
) -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        base = _latest(conn, tenant_id, contract_id)
        choices = missions.list_missions(conn, tenant_id, limit=MISSIONS_SHOWN)
    terms = load_contract(base["document"])

    def why(valuation: Valuation | None) -> list[str]:
        return explain(valuation, lang()) if valuation is not None else []

    html = render_template(
        "desk/contract_edit.html",
        base=base,
        terms=terms,
        values=values,
        errors=errors,
        rows={kind: contract_form.rows(values, kind) for kind in contract_form.BLANK_ROWS},
        label_of=lambda code: _label(terms, code) if code else "",
        trial=trial,
        choices=choices,
        may_edit=_may_edit(),
        weekdays=[(d, _DAYS[lang()][d]) for d in WEEKDAYS],
        methods=[(m.value, METHODS[m](lang())) for m in Method],
        pay_when=[(k, t(*words)) for k, words in _PAY_WHEN.items()],
        deposit_when=[(k, t(*words)) for k, words in _DEPOSIT_WHEN.items()],
        draft_why=why(trial.draft),
        published_why=why(trial.published),
    )
    return html, status


def _built(contract_id: str) -> tuple[dict[str, Any], contract_form.Built, dict[str, list[str]]]:
    """The posted form, the draft it builds, and every problem by field ("" = general)."""
    values = contract_form.from_request(request.form.to_dict(flat=False))
    with reader().connect() as conn:
        base = _latest(conn, current().tenant_id, contract_id)
    built = contract_form.build(base["document"], values, lang())
    errors = {name: list(found) for name, found in built.errors.items()}
    try:
        load_contract(built.document)
    except InvalidDocument as error:
        by_field, general = contract_form.place(built, error, lang())
        for name, found in by_field.items():
            errors.setdefault(name, []).extend(found)
        if general:
            errors.setdefault("", []).extend(general)
    values["mission"] = request.form.get("mission", "").strip()
    return values, built, errors


def _refuse_edit(contract_id: str, values: dict[str, Any], errors: dict[str, list[str]]) -> Any:
    """Post/Redirect/Get: the form comes back with what was typed and its problems, and a
    reload shows them again without posting; a form too large for the session is answered
    directly (422), as the JSON workbench does."""
    if refused_forms.keep(_edit_name(contract_id), values, errors):
        return redirect(url_for("desk.contract_edit", contract_id=contract_id))
    return _render_edit(contract_id, values, errors, Trial(mission_id=values["mission"]), 422)


@desk.route(
    "/contracts/<string:contract_id>/edit", methods=["GET", "POST"], endpoint="contract_edit"
)
@page()
def contract_edit(contract_id: str) -> Any:
    """GET: the form for version N+1 of the latest version (or the refused form kept);
    POST: value the draft on a mission beside the published version, publishing nothing."""
    tenant_id = current().tenant_id
    if request.method == "GET":
        if request.args.get("fresh"):
            refused_forms.drop()
        kept = refused_forms.take(_edit_name(contract_id))
        if kept is not None:
            values, errors = kept
        else:
            with reader().connect() as conn:
                base = _latest(conn, tenant_id, contract_id)
            values = contract_form.values_from(base["document"], base["version"] + 1)
            values["mission"] = request.args.get("mission", "")
            errors = {}
        return _render_edit(contract_id, values, errors, Trial(mission_id=values["mission"]))
    values, built, errors = _built(contract_id)
    if not values["mission"]:
        errors.setdefault("mission", []).append(
            t(
                "Choisissez une mission pour essayer le brouillon.",
                "Choose a mission to try the draft on.",
            )
        )
    if errors:
        return _refuse_edit(contract_id, values, errors)
    refused_forms.drop()
    trial = Trial(mission_id=values["mission"], document=pretty(built.document))
    with reader().connect() as conn:
        run_trial(conn, tenant_id, trial)
    return _render_edit(contract_id, values, {}, trial, 422 if trial.draft_refusal else 200)


@desk.route(
    "/contracts/<string:contract_id>/edit/publish",
    methods=["POST"],
    endpoint="contract_edit_publish",
)
@page(Right.EDIT_CONTRACTS)
def contract_edit_publish(contract_id: str) -> Any:
    """Publish the form's draft as the next version, through the same path as the JSON
    workbench and the API; any refusal returns to the form with what was typed."""
    values, built, errors = _built(contract_id)
    if not errors and request.form.get("confirm") != "yes":
        errors[""] = [
            t(
                "Cochez la case de confirmation pour publier cette version.",
                "Tick the confirmation box to publish this version.",
            )
        ]
    if errors:
        return _refuse_edit(contract_id, values, errors)
    user = current()
    try:
        with engine().begin() as conn:
            made = contracts.publish(conn, user.tenant_id, built.document, actor=user.id, now=now())
    except TowlineError as refused:
        found = (
            _problems(refused)
            if isinstance(refused, InvalidDocument)
            else [refused.message(lang())]
        )
        return _refuse_edit(contract_id, values, {"": found})
    refused_forms.drop()
    flash(
        t(
            f"Convention {made['id']} version {made['version']} publiée : les tablettes la "
            "recevront à leur prochaine synchronisation.",
            f"Contract {made['id']} version {made['version']} published: tablets receive it "
            "at their next sync.",
        ),
        "ok",
    )
    return redirect(url_for("desk.contract", contract_id=made["id"], version=made["version"]))
