"""Was each collection taken as the contract allows? A pure rule (issue 16).

A tablet offers only the methods its copy of the contract accepts and asks for each
method's evidence (`shared.payments.collection_payload`). A tablet whose contract copy
was altered, or whose code was, can record a collection the real contract refuses: cash
where the contract takes cards only, a card payment without its authorisation
reference. The server checks every collection that still stands against the contract
version its own valuation used (`MissionFacts.methods`) and the card's reference, and
raises `collection_method_invalid` per collection (subject: the entry `device:seq`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from server.office.reconcile_rules import Finding, MissionFacts, cents, standing_collections
from shared.i18n import Text
from shared.money import format_amount
from shared.payment_terms import Method
from shared.payments import EVIDENCE, LABELS, MAX_TEXT

KIND = "collection_method_invalid"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The evidence fields the stored facts of an entry keep (server.office.reconcile_facts).
CHECKED_EVIDENCE = frozenset({"terminal_ref"})


def _words(methods: Collection[str], lang: str) -> str:
    named = [LABELS[m](lang) for m in Method if m.value in methods]
    return ", ".join(named) or ("aucun" if lang == "fr" else "none")


def problems(payload: Mapping[str, Any], methods: Collection[str] | None) -> list[dict[str, str]]:
    """What is wrong with one collection's method and evidence: [{code, field, fr, en}];
    empty when it is as the contract (`methods`, None: not known) and the rules allow."""
    found: list[dict[str, str]] = []

    def add(code: str, field: str, fr: str, en: str) -> None:
        found.append({"code": code, "field": field, "fr": fr, "en": en})

    raw = str(payload.get("method", ""))
    try:
        method = Method(raw)
    except ValueError:
        add(
            "method_unknown",
            "method",
            f"mode de règlement inconnu « {raw} »",
            f"unknown payment method “{raw}”",
        )
        return found
    label = LABELS[method]
    if methods is not None and method.value not in methods:
        add(
            "method_not_allowed",
            "method",
            f"la convention n'accepte pas le règlement par {label.fr} (modes acceptés :"
            f" {_words(methods, 'fr')})",
            f"the contract does not accept payment by {label.en} (accepted methods:"
            f" {_words(methods, 'en')})",
        )
    # Of the evidence, only what `journal_entries.facts` keeps of every collection is
    # checked (the card's authorisation reference): a cheque's number, a transfer's
    # reference or cash tendered are not kept there (docs/anomalies.md, known limits).
    for name in sorted(CHECKED_EVIDENCE & set(EVIDENCE[method])):
        what = EVIDENCE[method][name]
        value = payload.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if (
            not text
            or len(text) > MAX_TEXT
            or _CONTROL.search(text)
            or not any(c.isalnum() for c in text)
        ):
            add(
                "evidence_missing",
                name,
                f"{what.fr} absente ou illisible",
                f"{what.en} missing or unreadable",
            )
    return found


def method_findings(facts: MissionFacts) -> list[Finding]:
    """One `collection_method_invalid` per collection still standing on the mission whose
    method or evidence the contract (the server valuation's version) or the rules refuse."""
    found = []
    contract = facts.contract or "?"
    for item in standing_collections(facts):
        wrong = problems(item.payload, facts.methods)
        if not wrong:
            continue
        amount = cents(item.payload.get("amount", "0"))
        method = str(item.payload.get("method", ""))
        known = method in {m.value for m in Method}
        said = LABELS[Method(method)] if known else Text(method, method)
        euros = Decimal(amount) / 100
        where = f"{item.device_id} n° {item.seq}"
        found.append(
            Finding(
                KIND,
                f"{item.device_id}:{item.seq}",
                amount,
                Text(
                    f"Encaissement de {format_amount(euros, 'fr')} par {said.fr} (tablette"
                    f" {where}) hors de la convention {contract} :"
                    f" {' ; '.join(w['fr'] for w in wrong)}. La copie de la convention sur la"
                    " tablette a pu être modifiée : vérifiez la tablette, puis annulez"
                    " l'encaissement ou acceptez-le en l'état.",
                    f"Collection of {format_amount(euros, 'en')} by {said.en} (tablet"
                    f" {item.device_id} no. {item.seq}) outside contract {contract}:"
                    f" {'; '.join(w['en'] for w in wrong)}. The tablet's copy of the contract"
                    " may have been altered: check the tablet, then void the collection or"
                    " accept it as is.",
                ),
                facts.mission_id,
                item.device_id,
                item.driver_id,
                {
                    "entry": item.ref,
                    "method": method,
                    "contract": contract,
                    "accepted": sorted(facts.methods) if facts.methods is not None else None,
                    "problems": wrong,
                },
            )
        )
    return found
