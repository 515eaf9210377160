"""What the driver reads about the facts found on site: order against site, the new price,
and money collected beyond it. Shared by the command line and the driver's screen."""

from __future__ import annotations

from typing import Any

from fieldclient.site_facts import FactsRecorded
from shared.balance import MissionMoney
from shared.i18n import Text
from shared.money import format_amount, wire
from shared.site_facts import OnSite, step_of
from shared.site_facts_words import figure, name, status


def rows(site: OnSite | None, lang: str) -> list[dict[str, Any]]:
    """One row per fact the driver recorded (their last word on it): name, what the order
    said, what was found, how it was taken."""
    if site is None:
        return []
    out = []
    for judged in site.latest():
        params = step_of(judged).params
        out.append(
            {
                "fact": judged.fact.fact,
                "key": judged.fact.key,
                "name": name(judged.fact.fact, judged.fact.key, lang),
                "order": figure(judged.fact.fact, judged.order, lang),
                "found": figure(judged.fact.fact, judged.fact.found, lang),
                "status": status(params, lang),
                "applied": judged.applied,
            }
        )
    return out


def table(site: OnSite | None, lang: str) -> str:
    """Order and site side by side, as text."""
    found = rows(site, lang)
    fr = lang == "fr"
    if not found:
        return (
            "Aucun constat sur place : la mission est valorisée sur les faits de l'ordre."
            if fr
            else "No facts recorded on site: the mission is valued on the order's facts."
        )
    head = ("Constat", "Ordre", "Sur place", "") if fr else ("Fact", "Order", "On site", "")
    cells = [head, *((r["name"], r["order"], r["found"], r["status"]) for r in found)]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in cells
    ).rstrip()


def overpaid(money: MissionMoney | None) -> Text | None:
    """Collected beyond the new price (the price went down after the customer paid): what
    to tell the customer. The driver gives nothing back from the drawer, which would leave
    the register short: the office refunds, seeing the over-collection at the next sync."""
    if money is None or not money.overpaid:
        return None
    fr, en = format_amount(money.overpaid, "fr"), format_amount(money.overpaid, "en")
    return Text(
        f"TROP ENCAISSÉ : {fr} au-delà du nouveau prix. Ne rendez rien de la caisse : dites au"
        " client que le bureau le remboursera ; il le voit à la prochaine synchronisation"
        " (anomalie « trop encaissé »).",
        f"OVER-COLLECTED: {en} beyond the new price. Give nothing back from the drawer: tell"
        " the customer the office will refund it; it sees it at the next sync"
        " (over-collection anomaly).",
    )


def recorded_text(result: FactsRecorded, lang: str) -> str:
    fr = lang == "fr"
    view = result.view
    mission = view.mission.id
    parts = [
        f"Constats enregistrés sur {mission} (entrée {result.seq})."
        if fr
        else f"Site facts recorded on {mission} (entry {result.seq}).",
        "",
        table(result.site, lang),
    ]
    for warning in result.warnings:
        parts += ["", ("ATTENTION : " if fr else "WARNING: ") + warning(lang)]
    if result.held:
        parts += [
            "",
            "Au-delà de la tolérance sans code : gardé pour le bureau, le prix ne change pas"
            " pour ces constats."
            if fr
            else "Beyond the tolerance without a code: kept for the office, the price does"
            " not change for these facts.",
        ]
    if view.valuation is not None and view.money is not None:
        total = format_amount(view.valuation.total.incl, lang)
        due = format_amount(view.money.due, lang)
        before = (
            ""
            if result.due_before is None
            else (" (avant : " if fr else " (before: ")
            + format_amount(result.due_before, lang)
            + ")"
        )
        left = format_amount(view.money.remaining, lang)
        parts += [
            "",
            f"Nouveau total de la mission : {total} TTC. À payer par le bénéficiaire : {due}"
            f"{before}. Reste à encaisser : {left}."
            if fr
            else f"New mission total: {total} incl. VAT. Owed by the beneficiary: {due}"
            f"{before}. Remaining to collect: {left}.",
        ]
        extra = overpaid(view.money)
        if extra is not None:
            parts += ["", extra(lang)]
    return "\n".join(parts)


def recorded_json(result: FactsRecorded, lang: str) -> dict[str, Any]:
    view = result.view
    body: dict[str, Any] = {
        "mission": view.mission.id,
        "seq": result.seq,
        "hash": result.hash,
        "entry": dict(result.payload),
        "facts": rows(result.site, lang),
        "held": [{"fact": f.fact, "key": f.key, "found": f.found} for f in result.held],
        "warnings": [w(lang) for w in result.warnings],
        "valuation": None if view.valuation is None else view.valuation.to_wire(),
    }
    if view.money is not None:
        body["money"] = {
            "due_before": None if result.due_before is None else wire(result.due_before),
            "due": wire(view.money.due),
            "collected": wire(view.money.net_collected),
            "remaining": wire(view.money.remaining),
            "overpaid": wire(view.money.overpaid),
        }
    return body
