"""What the driver reads: the tablet's views as text (French or English) and as JSON.

Pure functions of the values `fieldclient.tablet` returns, shared by the command line and
the driver's screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fieldclient import site_facts_text
from fieldclient.tablet import MissionView
from shared.balance import summary
from shared.contract import Amount
from shared.explain import breakdown, explain
from shared.i18n import Text
from shared.mission import Coverage
from shared.money import format_amount, wire
from shared.payment_terms import Method
from shared.payments import EVIDENCE, LABELS, allowed_methods
from shared.steps import LABELS as STEP_LABELS
from shared.steps import Step
from shared.vehicle_class import conflict

if TYPE_CHECKING:
    from shared.register import Register

EVIDENCE_OPTIONS: Mapping[str, str] = {
    "tendered": "--tendered",
    "terminal_ref": "--terminal-ref",
    "cheque_number": "--cheque-number",
    "bank": "--bank",
    "reference": "--reference",
}


def _m(amount: Decimal, lang: str) -> str:
    return format_amount(amount, lang)


def step_label(step: Step, lang: str) -> str:
    return f"{STEP_LABELS[step](lang)} ({step.value})"


def methods_for(view: MissionView) -> list[Method]:
    if view.contract is None:
        return []
    return sorted(allowed_methods(list(Method), view.contract.payment.methods))


def _basis(amount: Amount, lang: str) -> str:
    if lang == "fr":
        return "TTC" if amount.includes_vat else "HT"
    return "incl. VAT" if amount.includes_vat else "excl. VAT"


def _km(km: Decimal, lang: str) -> str:
    text = f"{km.normalize():f}"
    return text.replace(".", ",") if lang == "fr" else text


def coverage_text(coverage: Coverage, lang: str) -> str:
    """What the ordering party covers, in plain words, for the driver before accepting:
    "L'assistance prend en charge jusqu'à 250,00 € TTC par mission ; 50 km inclus ;
    franchise 50,00 € à la charge du client ; déjà consommé sur le dossier : 94,00 €"."""
    fr = lang == "fr"
    caps = [
        f"{_m(cap.amount, lang)} {_basis(cap, lang)} "
        + (("par " if fr else "per ") + (what if fr else what_en))
        for cap, what, what_en in (
            (coverage.mission_cap, "mission", "mission"),
            (coverage.file_cap, "dossier", "file"),
        )
        if cap is not None
    ]
    parts = []
    if caps:
        joined = (" et " if fr else " and ").join(caps)
        parts.append(
            f"L'assistance prend en charge jusqu'à {joined}"
            if fr
            else f"The assistance covers up to {joined}"
        )
    if coverage.km_covered is not None:
        km = _km(coverage.km_covered, lang)
        parts.append(f"{km} km inclus" if fr else f"{km} km included")
    if coverage.deductible is not None:
        amount = _m(coverage.deductible.amount, lang)
        if not coverage.deductible.includes_vat:
            amount += " " + _basis(coverage.deductible, lang)
        parts.append(
            f"franchise {amount} à la charge du client"
            if fr
            else f"deductible {amount} paid by the customer"
        )
    if coverage.file_consumed is not None:
        consumed = _m(coverage.file_consumed, lang)
        parts.append(
            f"déjà consommé sur le dossier : {consumed}"
            if fr
            else f"already consumed on the file: {consumed}"
        )
    if coverage.note:
        parts.append(coverage.note)
    if not caps:
        head = "Prise en charge de l'assistance" if fr else "The assistance's coverage"
        parts = (
            [f"{head} : {parts[0]}" if fr else f"{head}: {parts[0]}", *parts[1:]] if parts else []
        )
    return (" ; " if fr else "; ").join(parts)


def coverage_short(coverage: Coverage, lang: str) -> str:
    """The same, compact, for a list of missions: "plafond 250,00 € · 50 km · franchise
    50,00 € · consommé 94,00 €" (and "écart ordre/convention" when they differ)."""
    fr = lang == "fr"
    bits = []
    cap = coverage.mission_cap or coverage.file_cap
    if cap is not None:
        bits.append(("plafond " if fr else "cap ") + _m(cap.amount, lang))
    if coverage.km_covered is not None:
        bits.append(f"{_km(coverage.km_covered, lang)} km")
    if coverage.deductible is not None:
        bits.append(("franchise " if fr else "deductible ") + _m(coverage.deductible.amount, lang))
    if coverage.file_consumed:
        bits.append(("consommé " if fr else "consumed ") + _m(coverage.file_consumed, lang))
    if coverage.warning is not None:
        bits.append("écart ordre/convention" if fr else "order/contract differ")
    return " · ".join(bits)


def coverage_wire(coverage: Coverage, lang: str) -> dict[str, Any]:
    return {
        "text": coverage_text(coverage, lang),
        "warning": coverage.warning(lang) if coverage.warning else None,
        "contract": None
        if coverage.contract is None
        else {"id": coverage.contract.contract_id, "version": coverage.contract.version},
    }


def warnings(view: MissionView) -> list[Text]:
    """Said before the valuation: a class that contradicts the weight given or found."""
    if view.contract is None:
        return []
    found = conflict(view.mission.vehicle, view.contract)
    return [] if found is None else [found.warning(view.contract)]


def mission_text(view: MissionView, lang: str) -> str:
    fr = lang == "fr"
    m = view.mission
    who = m.ordering_party or ("particulier" if fr else "private customer")
    head = [
        f"Mission {m.id} — {who}"
        + (f", {'dossier' if fr else 'file'} {m.file_number}" if m.file_number else ""),
        (f"Véhicule {m.vehicle.plate or '?'}" if fr else f"Vehicle {m.vehicle.plate or '?'}")
        + (f" ({m.vehicle.vehicle_class})" if m.vehicle.vehicle_class else "")
        + (" — étape : " if fr else " — step: ")
        + step_label(view.step, lang),
    ]
    if view.cancelled_by_office:
        head.append(
            ("ANNULÉE PAR LE BUREAU" if fr else "CANCELLED BY THE OFFICE")
            + (f" : {view.cancel_reason}" if view.cancel_reason else "")
        )
    coverage = m.coverage
    if coverage is not None:
        head.append(("Prise en charge : " if fr else "Coverage: ") + coverage_text(coverage, lang))
        if coverage.warning is not None:
            head.append(("ATTENTION : " if fr else "WARNING: ") + coverage.warning(lang))
    head += [("ATTENTION : " if fr else "WARNING: ") + w(lang) for w in warnings(view)]
    parts = ["\n".join(head), ""]
    if view.valuation is None:
        assert view.refusal is not None
        parts.append(
            ("Valorisation impossible : " if fr else "Cannot value this mission: ")
            + view.refusal.message(lang)
        )
    else:
        parts.append(breakdown(view.valuation, lang))
    if view.money is not None:
        money = view.money
        parts += ["", summary(money)(lang)]
        remaining = _m(money.remaining, lang)
        parts.append(
            f"RESTE À ENCAISSER : {remaining}" if fr else f"REMAINING TO COLLECT: {remaining}"
        )
        beyond = site_facts_text.overpaid(money)  # the price went down after a payment
        if beyond is not None:
            parts.append(beyond(lang))
        if money.remaining and view.contract is not None:
            parts.append("Modes acceptés :" if fr else "Accepted methods:")
            for method in methods_for(view):
                needs = ", ".join(
                    f"{EVIDENCE_OPTIONS[name]} ({text(lang)})"
                    for name, text in EVIDENCE[method].items()
                )
                parts.append(f"  {method.value:<13} {LABELS[method](lang)} — {needs}")
    moves = view.next_moves()
    if moves:
        parts += ["", "Étapes suivantes :" if fr else "Next steps:"]
        for target, reason in moves:
            if reason is None:
                state = "possible" if fr else "allowed"
            else:
                state = ("BLOQUÉE — " if fr else "HELD — ") + reason(lang)
            parts.append(f"  {step_label(target, lang)} : {state}")
    return "\n".join(parts)


def mission_json(view: MissionView, lang: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mission": view.mission.id,
        "file_number": view.mission.file_number,
        "ordering_party": view.mission.ordering_party,
        "step": view.step.value,
        "office_status": view.office_status,
        "valuation": None,
        "error": view.refusal.message(lang) if view.refusal else None,
        "coverage": None
        if view.mission.coverage is None
        else coverage_wire(view.mission.coverage, lang),
    }
    if view.valuation is not None:
        body["valuation"] = view.valuation.to_wire()
        body["why"] = explain(view.valuation, lang)
        body["recorded"] = view.recorded_digest == view.valuation.digest
    if view.money is not None:
        money = view.money
        body["money"] = {
            "due": wire(money.due),
            "collected": wire(money.net_collected),
            "discounted": wire(money.discounted),
            "deferred": wire(money.deferred),
            "remaining": wire(money.remaining),
        }
        body["methods"] = {m.value: sorted(EVIDENCE[m]) for m in methods_for(view)}
        body["money"]["overpaid"] = wire(money.overpaid)
    body["warnings"] = [w(lang) for w in warnings(view)]
    body["next_steps"] = [
        {"step": t.value, "open": r is None, "reason": r(lang) if r else None}
        for t, r in view.next_moves()
    ]
    return body


def register_json(register: Register) -> dict[str, Any]:
    return {
        "status": register.status.value,
        "session": register.session,
        "float": wire(register.float_amount),
        "by_method": {m.value: wire(a) for m, a in register.net_by_method.items()},
        "deposited": wire(register.deposited),
        "expected_cash": wire(register.expected_cash),
        "counted": None if register.counted is None else wire(register.counted),
        "variance": None if register.variance is None else wire(register.variance),
    }


_STATUS = {
    "never_opened": ("jamais ouverte", "never opened"),
    "open": ("ouverte", "open"),
    "closed": ("fermée", "closed"),
}


def register_text(register: Register, driver: str, lang: str) -> str:
    fr = lang == "fr"
    status = _STATUS[register.status.value][0 if fr else 1]
    lines = [
        (f"Caisse de {driver} : {status}" if fr else f"{driver}'s register: {status}")
        + (f" (session {register.session})" if register.session else ""),
    ]
    if register.session:
        lines.append(
            (f"Fond de caisse : {_m(register.float_amount, lang)}")
            if fr
            else f"Float: {_m(register.float_amount, lang)}"
        )
        for method, amount in register.net_by_method.items():
            lines.append(f"  {LABELS[method](lang)} : {_m(amount, lang)}")
        if register.deposited:
            lines.append(
                ("Déposé en banque : " if fr else "Paid into the bank: ")
                + _m(register.deposited, lang)
            )
        lines.append(
            ("Espèces attendues : " if fr else "Cash expected: ") + _m(register.expected_cash, lang)
        )
        if register.counted is not None and register.variance is not None:
            lines.append(
                ("Compté : " if fr else "Counted: ")
                + _m(register.counted, lang)
                + ("  écart : " if fr else "  variance: ")
                + _m(register.variance, lang)
            )
    return "\n".join(lines)


def missions_text(rows: list[dict[str, Any]], lang: str) -> str:
    fr = lang == "fr"
    if not rows:
        return "Aucune mission." if fr else "No missions."
    header = (
        ("Mission", "Jour", "Donneur d'ordre", "Plaque", "Étape", "Dû", "Reste")
        if fr
        else ("Mission", "Day", "Ordering party", "Plate", "Step", "Due", "Remaining")
    )
    table = [header]
    for r in rows:
        step = STEP_LABELS[Step(r["step"])](lang)
        if r["office_status"] == "cancelled":
            step += " (annulée par le bureau)" if fr else " (cancelled by the office)"
        table.append(
            (
                r.get("short") or r["id"],
                r["day"],
                r["ordering_party"] or ("particulier" if fr else "private"),
                r["plate"] or "",
                step,
                "" if r["due"] is None else _m(Decimal(r["due"]), lang),
                "" if r["remaining"] is None else _m(Decimal(r["remaining"]), lang),
            )
        )
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
