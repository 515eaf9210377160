"""Site facts in words: the fact's name, a figure, and whether the driver could change it
alone, in French or English. Shared by the valuation's explanation (`shared.explain`),
the tablet's screens and the office."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.mission import LEG_WORDS  # one set of words per leg
from shared.money import format_amount
from shared.site_fact_rules import LABELS, UNITS
from shared.vehicle_class import kilograms


def _number(text: str, lang: str) -> str:
    return text.replace(".", ",") if lang == "fr" else text


def name(fact: str, key: str | None, lang: str) -> str:
    """« distance en charge », "distance loaded", « frais au réel TOLL »."""
    label = LABELS[fact](lang)
    if fact == "distance" and key is not None and key in LEG_WORDS:
        return f"{label} {LEG_WORDS[key](lang)}"
    if fact == "at_cost" and key:
        return f"{label} {key}"
    return label


def figure(fact: str, value: Any, lang: str) -> str:
    """A fact's figure for people: 80 km, 45 min, 12,40 € + 3,10 €, oui, 2 200 kg."""
    fr = lang == "fr"
    none = "non indiqué" if fr else "not given"
    if value is None:
        return none
    if fact == "at_cost":
        if not value:
            return "aucun" if fr else "none"
        return " + ".join(format_amount(Decimal(a), lang) for a in value)
    if fact == "services":
        return ", ".join(value) if value else ("aucune" if fr else "none")
    if fact == "accident":
        return ("oui" if value else "non") if fr else ("yes" if value else "no")
    if fact == "weight":
        return kilograms(int(value), lang)
    if fact in UNITS:
        return f"{_number(str(value), lang)} {UNITS[fact](lang)}"
    return str(value)


def status(params: Mapping[str, Any], lang: str) -> str:
    """How the fact was taken: free, within the tolerance, with the manager's code, or
    kept for the office without changing the price."""
    fr = lang == "fr"
    limit = params.get("limit")
    bound = (
        f" ({figure(params['fact'], limit, lang)} {'au plus' if fr else 'at most'})"
        if limit
        else ""
    )
    if params["allow"] == "free":
        return "libre" if fr else "free to change"
    if params["within"]:
        if params["allow"] == "tolerance":
            return f"dans la tolérance{bound}" if fr else f"within the tolerance{bound}"
        return "comme l'ordre" if fr else "as ordered"
    beyond = (
        f"au-delà de la tolérance{bound}"
        if fr and params["allow"] == "tolerance"
        else f"beyond the tolerance{bound}"
        if params["allow"] == "tolerance"
        else ("soumis à l'accord du gérant" if fr else "needs the manager's approval")
    )
    if params.get("approval_ref"):
        code = params["approval_ref"]
        return f"{beyond}, accord du gérant {code}" if fr else f"{beyond}, manager's code {code}"
    if fr:
        return f"{beyond}, sans accord : non appliqué, le bureau décide"
    return f"{beyond}, without approval: not applied, the office decides"


def sentence(params: Mapping[str, Any], lang: str) -> str:
    """One line of the explanation: the fact, order against site, how it was taken."""
    fact, key = params["fact"], params.get("key")
    what = name(fact, key, lang)
    order, found = figure(fact, params["order"], lang), figure(fact, params["found"], lang)
    if lang == "fr":
        return f"Sur place, {what} : {found} (ordre : {order}) — {status(params, lang)}."
    return f"On site, {what}: {found} (order: {order}) — {status(params, lang)}."
