"""Words for people: every rule a valuation applied, and the breakdown of who pays
what, in French or English. Pure text built from the valuation's data, so the tablet
and the office say exactly the same thing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from shared.mission import LEG_WORDS
from shared.money import format_amount
from shared.site_facts_words import sentence as site_fact_sentence
from shared.time_words import WEEKDAYS, iso_words
from shared.valuation import Step, Valuation
from shared.vehicle_class import kilograms

_PAYER = {
    "fr": {"ordering_party": "du donneur d'ordre", "beneficiary": "du bénéficiaire"},
    "en": {"ordering_party": "the ordering party", "beneficiary": "the beneficiary"},
}
_INSTANT = {
    "fr": {"call": "appel", "arrival": "arrivée"},
    "en": {"call": "call", "arrival": "arrival"},
}


def _m(amount: Decimal | str, lang: str) -> str:
    return format_amount(Decimal(amount), lang)


def _vat(includes_vat: bool, lang: str) -> str:
    if lang == "fr":
        return "TTC" if includes_vat else "HT"
    return "incl. VAT" if includes_vat else "excl. VAT"


def _num(value: Decimal | str, lang: str) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",") if lang == "fr" else text


def _date(iso: str, lang: str) -> str:
    """2026-03-14 (10:00) → 14/03/2026 (10:00) in French, 14 Mar 2026 (10:00) in English."""
    return iso_words(iso, lang)


def _leg(leg: str, lang: str) -> str:
    """A leg of the distance in words ("en charge", "loaded with the vehicle")."""
    words = LEG_WORDS.get(leg)
    return words(lang) if words else leg  # the contract's schema admits only LEGS


def _when(facts: Mapping[str, Any], lang: str) -> str:
    """A condition in words: "si accident", "when no accident"."""
    if not facts:
        return ""
    parts = []
    for name, expected in facts.items():
        if expected is True:
            parts.append(name)
        elif expected is False:
            parts.append(("sans " if lang == "fr" else "no ") + name)
        elif isinstance(expected, list):
            parts.append(f"{name} ∈ {{{', '.join(expected)}}}")
        else:
            parts.append(f"{name} = {expected}")
    if lang == "fr":
        return "si " + " et ".join(parts)
    return "when " + " and ".join(parts)


def _contract(p: Mapping[str, Any], lang: str) -> str:
    if lang == "fr":
        return f"Convention {p['id']} version {p['version']}, valable le {_date(p['date'], lang)}."
    return f"Contract {p['id']} version {p['version']}, valid on {_date(p['date'], lang)}."


def _follow_up(p: Mapping[str, Any], lang: str) -> str:
    if lang == "fr":
        return f"Intervention n° {p['file_sequence']} du dossier : tarif d'intervention de suite."
    return f"Mission no. {p['file_sequence']} of the file: follow-up prices."


def _price_list(p: Mapping[str, Any], lang: str) -> str:
    who = p.get("customer")
    if lang == "fr":
        return f"Liste de prix « {p['list']} »" + (f" (client {who})." if who else ".")
    return f"Price list '{p['list']}'" + (f" (customer {who})." if who else ".")


def _discount(p: Mapping[str, Any], lang: str) -> str:
    pct = _num(p["percent"], lang)
    before, after = _m(p["list_price"], lang), _m(p["price"], lang)
    if lang == "fr":
        return f"Remise client {pct} % sur {p['code']} : {before} → {after}."
    return f"Customer discount {pct}% on {p['code']}: {before} → {after}."


def _by_weight(p: Mapping[str, Any], lang: str) -> str:
    if lang == "fr":
        return f"Véhicule de {kilograms(p['weight_kg'], lang)} : classe {p['class']}."
    return f"Vehicle of {kilograms(p['weight_kg'], lang)}: class {p['class']}."


def _weight_decides(p: Mapping[str, Any], lang: str) -> str:
    kg = kilograms(p["weight_kg"], lang)
    if lang == "fr":
        return (
            f"Tarif réglementé : le poids décide. Véhicule de {kg} : classe {p['class']}"
            f" (classe indiquée : {p['given']})."
        )
    return (
        f"Regulated tariff: the weight decides. Vehicle of {kg}: class {p['class']}"
        f" (class given: {p['given']})."
    )


def _weight_conflict(p: Mapping[str, Any], lang: str) -> str:
    kg = kilograms(p["weight_kg"], lang)
    fits = p.get("by_weight")
    if lang == "fr":
        band = f"la classe {fits}" if fits else "aucune de ses classes"
        return (
            f"ATTENTION : classe {p['class']} indiquée, mais un véhicule de {kg} relève de"
            f" {band} selon la convention. La classe indiquée est appliquée ; le bureau est"
            " prévenu."
        )
    band = f"class {fits}" if fits else "none of its classes"
    return (
        f"WARNING: class {p['class']} was given, but a vehicle of {kg} falls in {band} under"
        " the contract. The class given is applied; the office is told."
    )


def _at_cost(p: Mapping[str, Any], lang: str) -> str:
    if lang == "fr":
        return f"{p['code']} facturé au réel : {_m(p['amount'], lang)}."
    return f"{p['code']} charged at cost: {_m(p['amount'], lang)}."


def _supplement(p: Mapping[str, Any], lang: str) -> str:
    why = _when(p["when"], lang) or ("toujours" if lang == "fr" else "always")
    if lang == "fr":
        return f"Supplément {p['code']} ajouté ({why})."
    return f"Supplement {p['code']} added ({why})."


def _distance(p: Mapping[str, Any], lang: str) -> str:
    legs = ", ".join(_leg(leg, lang) for leg in p["legs"])
    counted, included = _num(p["counted_km"], lang), _num(p["included_km"], lang)
    extra = _num(p["extra_km"], lang)
    if lang == "fr":
        return (
            f"Distance comptée ({legs}) : {counted} km, dont {included} inclus ; {extra} km en sus."
        )
    return f"Counted distance ({legs}): {counted} km, {included} included; {extra} extra km."


def _time_band(p: Mapping[str, Any], lang: str) -> str:
    day = WEEKDAYS[lang][p["weekday"]]
    holiday = p.get("holiday")
    when = f"{day} {_date(p['local_time'], lang)}"
    if holiday:
        when += f", {holiday[lang]}"
    bands = ", ".join(p["bands"]) or ("aucune" if lang == "fr" else "none")
    instant = _INSTANT[lang][p["instant"]]
    if lang == "fr":
        rule = "la plus forte seule" if p["combine"] == "highest" else "cumulées"
        return f"Heure décisive ({instant}) : {when} → tranches : {bands} ({rule})."
    rule = "highest only" if p["combine"] == "highest" else "stacked"
    return f"Deciding time ({instant}): {when} → bands: {bands} ({rule})."


def _surcharge(p: Mapping[str, Any], lang: str) -> str:
    pct, amount = _num(p["percent"], lang), _m(p["amount"], lang)
    if lang == "fr":
        return (
            f"Majoration {p['band']} +{pct} % sur {p['code']} ({_m(p['base'], lang)}) : {amount}."
        )
    return f"{p['band']} surcharge +{pct}% on {p['code']} ({_m(p['base'], lang)}): {amount}."


def _coverage(p: Mapping[str, Any], lang: str) -> str:
    payer = _PAYER[lang][p["payer"]]
    why = _when(p["when"], lang)
    what = p["code"] + (f" ({p['band']})" if p.get("band") else "")
    if lang == "fr":
        return (
            f"{what} à la charge {payer}"
            + (f" ({why})" if why else "")
            + f", règle n° {p['rule'] + 1}."
        )
    return f"{what} paid by {payer}" + (f" ({why})" if why else "") + f", rule no. {p['rule'] + 1}."


def _limit(kind_fr: str, kind_en: str) -> Callable[[Mapping[str, Any], str], str]:
    def render(p: Mapping[str, Any], lang: str) -> str:
        amount = f"{_m(p['amount'], lang)} {_vat(p['includes_vat'], lang)}"
        before, after = _m(p["ordering_party_before"], lang), _m(p["ordering_party_after"], lang)
        moved = _m(p["to_beneficiary"], lang)
        consumed = p.get("consumed_before")
        if lang == "fr":
            extra = f" (déjà consommé : {_m(consumed, lang)})" if consumed is not None else ""
            return (
                f"{kind_fr} {amount}{extra} : le donneur d'ordre paie {after} "
                f"au lieu de {before} ; {moved} passent au bénéficiaire."
            )
        extra = f" (already used: {_m(consumed, lang)})" if consumed is not None else ""
        return (
            f"{kind_en} {amount}{extra}: the ordering party pays {after} instead of {before}; "
            f"{moved} go to the beneficiary."
        )

    return render


_RENDER: dict[str, Callable[[Mapping[str, Any], str], str]] = {
    "contract": _contract,
    "follow_up": _follow_up,
    "price_list": _price_list,
    "customer_discount": _discount,
    "vehicle_class_by_weight": _by_weight,
    "vehicle_class_weight_decides": _weight_decides,
    "vehicle_class_weight_conflict": _weight_conflict,
    "site_fact": site_fact_sentence,
    "at_cost": _at_cost,
    "supplement": _supplement,
    "distance": _distance,
    "time_band": _time_band,
    "surcharge": _surcharge,
    "coverage": _coverage,
    "deductible": _limit("Franchise", "Deductible"),
    "mission_cap": _limit("Plafond par mission", "Cap per mission"),
    "file_cap": _limit("Plafond par dossier", "Cap per file"),
}

RULES = frozenset(_RENDER)


def explain_step(step: Step, lang: str = "fr") -> str:
    return _RENDER[step.rule](step.params, lang)


def explain(valuation: Valuation, lang: str = "fr") -> list[str]:
    return [explain_step(step, lang) for step in valuation.explanation]


def breakdown(valuation: Valuation, lang: str = "fr") -> str:
    """The valuation as a person reads it: lines, who pays what, totals, and why."""
    fr = lang == "fr"
    basis = _vat(valuation.prices_include_vat, lang)
    head = (
        f"Mission {valuation.mission_id} — convention {valuation.contract_id} "
        f"v{valuation.contract_version} (prix {basis})"
        if fr
        else f"Mission {valuation.mission_id} — contract {valuation.contract_id} "
        f"v{valuation.contract_version} (prices {basis})"
    )
    cols = (
        ("Prestation", "Montant", "Donneur d'ordre", "Bénéficiaire")
        if fr
        else ("Service", "Amount", "Ordering party", "Beneficiary")
    )
    rows = [cols]
    for line in valuation.lines:
        label = line.label(lang)
        if line.quantity != 1:
            label += f" × {_num(line.quantity, lang)}"
        rows.append(
            (
                f"{line.code}  {label}",
                _m(line.amount, lang),
                _m(line.ordering_party, lang),
                _m(line.beneficiary, lang),
            )
        )
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    out = [head, ""]
    for row in rows:
        cells = [f"{row[0]:<{width[0]}}"] + [f"{row[i]:>{width[i]}}" for i in (1, 2, 3)]
        out.append("  ".join(cells))
    out.append("")
    payers = [
        (cols[2], valuation.ordering_party),
        (cols[3], valuation.beneficiary),
        ("Total", valuation.total),
    ]
    for name, t in payers:
        if fr:
            out.append(
                f"{name:<16} HT {_m(t.excl, lang):>12}   TVA {_m(t.vat, lang):>10}   "
                f"TTC {_m(t.incl, lang):>12}"
            )
        else:
            out.append(
                f"{name:<16} excl. {_m(t.excl, lang):>11}   VAT {_m(t.vat, lang):>10}   "
                f"incl. {_m(t.incl, lang):>11}"
            )
    due = valuation.beneficiary_due
    out.append("")
    if fr:
        out.append(
            f"À encaisser auprès du bénéficiaire : {_m(due, lang)}"
            if due
            else "Rien à encaisser auprès du bénéficiaire."
        )
        out.append("")
        out.append("Pourquoi :")
    else:
        out.append(
            f"To collect from the beneficiary: {_m(due, lang)}"
            if due
            else "Nothing to collect from the beneficiary."
        )
        out.append("")
        out.append("Why:")
    out.extend(f"  - {sentence}" for sentence in explain(valuation, lang))
    out.append("")
    out.append(f"Digest: {valuation.digest}")
    return "\n".join(out)
