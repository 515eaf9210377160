"""What the simulated day prints: what happened, tablet by tablet, and what the desk shows
(where, how to sign in, the open anomalies by kind as the API reports them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from shared.i18n import Text
from simulation.day import DayResult
from simulation.office import LOGINS, PASSWORD, TENANT

# The anomaly catalogue (docs/anomalies.md) in a clerk's words.
KINDS: Mapping[str, Text] = {
    "fictitious_collection": Text("encaissement fictif (rien n'était dû)", "fictitious collection"),
    "over_collection": Text("trop-perçu", "over-collection"),
    "under_collection": Text("encaissement insuffisant", "under-collection"),
    "gate_bypassed": Text("étape franchie sans encaisser", "gate bypassed"),
    "discount_without_approval": Text(
        "remise sans accord du gérant", "discount without the manager's approval"
    ),
    "approval_reused": Text("code d'accord réutilisé", "approval code reused"),
    "file_cap_exceeded": Text("plafond du dossier dépassé", "file cap exceeded"),
    "register_variance": Text("écart de caisse", "cash register variance"),
    "card_unmatched": Text(
        "paiement carte absent des remises", "card payment missing from the settlements"
    ),
    "dispute_raised": Text("litige signalé par le chauffeur", "dispute raised by the driver"),
    "valuation_mismatch": Text(
        "valorisation différente du serveur", "valuation differs from the server's"
    ),
}


def count_by_kind(anomalies: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(str(a["kind"]) for a in anomalies).items()))


def desk_url(url: str) -> str:
    return url.rstrip("/") + "/desk/"


def render(
    result: DayResult,
    open_kinds: Mapping[str, int],
    lang: str,
    *,
    already: bool = False,
    applied: list[tuple[str, int]] | None = None,
) -> str:
    fr = lang == "fr"
    when = result.finished_at.replace("T", " ").removesuffix("Z")[:16]
    if applied is not None:
        head = (
            f"Journée simulée n° {result.day} ({when} UTC) : tablettes resynchronisées."
            if fr
            else f"Simulated day {result.day} ({when} UTC): tablets synced again."
        )
    elif already:
        head = (
            f"Journée simulée n° {result.day} déjà faite ({when} UTC) : rien de refait"
            " (--again pour une nouvelle journée)."
            if fr
            else f"Simulated day {result.day} already done ({when} UTC): nothing redone"
            " (--again for a new day)."
        )
    else:
        head = (
            f"Journée simulée n° {result.day} ({when} UTC) : trois tablettes ont travaillé"
            " hors ligne, puis se sont synchronisées."
            if fr
            else f"Simulated day {result.day} ({when} UTC): three tablets worked offline,"
            " then synced."
        )
    lines = [head, ""]
    for tablet in result.tablets:
        lines.append(f"{tablet.name} ({tablet.driver}) — {tablet.home}")
        lines.extend(f"  • {t(lang)}" for t in result.story.get(tablet.slug, []))
    lines.append("Bureau" if fr else "Office")
    lines.extend(f"  • {t(lang)}" for t in result.story.get("office", []))
    lines.append("")
    lines.append(_journals(result, lang))
    if applied is not None:
        done = ", ".join(f"{name} {n}" for name, n in applied)
        lines.append(
            f"Resynchronisées : décisions du bureau appliquées — {done}."
            if fr
            else f"Synced again: office decisions applied — {done}."
        )
    lines.append("")
    total = sum(open_kinds.values())
    lines.append(
        f"Anomalies ouvertes au bureau : {total}" if fr else f"Open anomalies at the desk: {total}"
    )
    width = max((len(_label(k, lang)) for k in open_kinds), default=0)
    lines.extend(f"  {_label(k, lang):<{width}}  {n}" for k, n in open_kinds.items())
    lines.append("")
    logins = ", ".join(LOGINS[:-1]) + (" ou " if fr else " or ") + LOGINS[-1]
    desk = desk_url(result.url)
    if fr:
        lines += [
            f"Le bureau : {desk} — société « {TENANT} », identifiants {logins},"
            f" mot de passe « {PASSWORD} ».",
            f"Résoudre : {desk}anomalies, ouvrez une anomalie, choisissez l'action proposée"
            " (docs/demo-day.md).",
            "Puis « towline-simulate --sync » porte les décisions du bureau aux tablettes.",
        ]
    else:
        lines += [
            f"The desk: {desk} — company '{TENANT}', logins {logins}, password '{PASSWORD}'.",
            f"To resolve: {desk}anomalies, open an anomaly, pick the action it offers"
            " (docs/demo-day.md).",
            "Then 'towline-simulate --sync' takes the office's decisions to the tablets.",
        ]
    return "\n".join(lines)


def _journals(result: DayResult, lang: str) -> str:
    good = [t for t in result.tablets if t.verified and t.pending == 0]
    if len(good) == len(result.tablets):
        return (
            f"Journaux des tablettes : {len(good)}/{len(result.tablets)} vérifiés"
            " (chaînes et signatures), rien en attente d'envoi."
            if lang == "fr"
            else f"Tablet journals: {len(good)}/{len(result.tablets)} verified (chains and"
            " signatures), nothing waiting to be sent."
        )
    bad = ", ".join(
        f"{t.name} ({'non vérifié' if not t.verified else f'{t.pending} en attente'})"
        if lang == "fr"
        else f"{t.name} ({'not verified' if not t.verified else f'{t.pending} pending'})"
        for t in result.tablets
        if t not in good
    )
    return (
        f"Journaux des tablettes : problème — {bad}."
        if lang == "fr"
        else f"Tablet journals: problem — {bad}."
    )


def _label(kind: str, lang: str) -> str:
    text = KINDS.get(kind)
    return text(lang) if text else kind


def as_json(
    result: DayResult,
    open_kinds: Mapping[str, int],
    *,
    already: bool,
    applied: list[tuple[str, int]] | None = None,
) -> dict[str, Any]:
    return {
        **result.to_json(),
        "already_done": already,
        "desk": desk_url(result.url),
        "tenant": TENANT,
        "logins": list(LOGINS),
        "password": PASSWORD,
        "open_anomalies": dict(open_kinds),
        "decisions_applied": None if applied is None else dict(applied),
    }
