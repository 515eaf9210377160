"""What the driver reads: the tablet's views as text (French or English) and as JSON.

Pure functions of the values `fieldclient.tablet` returns, shared by the command line and
the driver's screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fieldclient.tablet import MissionView
from shared.balance import summary
from shared.explain import breakdown, explain
from shared.money import format_amount, wire
from shared.payment_terms import Method
from shared.payments import EVIDENCE, LABELS, allowed_methods
from shared.register import Register
from shared.steps import LABELS as STEP_LABELS
from shared.steps import Step

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
                r["id"],
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
