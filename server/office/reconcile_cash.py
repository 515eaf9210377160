"""Was the cash collected on site within the limit? A pure rule (issue 16).

A tablet refuses cash above the tenant's limit per mission (`shared.cash_rule`, the limit
it learnt from the pull feed). A tablet whose code or files were altered, or one that has
not pulled since the office made the limit stricter, can still record more. The server
adds up the cash collections that still stand on each mission (every tablet's, net of
reversals and voids) and raises `cash_over_limit` when they pass the limit in force
(`MissionFacts.cash_limit_cents`), subject: the mission. Cash taken at the office for the
same mission is not added (docs/security.md).
"""

from __future__ import annotations

from decimal import Decimal

from server.office.reconcile_rules import Finding, MissionFacts, cents, standing_collections
from shared.cash_rule import over_limit
from shared.i18n import Text
from shared.money import format_amount, from_cents, wire

KIND = "cash_over_limit"


def _euros(value: int, lang: str) -> str:
    return format_amount(Decimal(value) / 100, lang)


def cash_findings(facts: MissionFacts) -> list[Finding]:
    """`cash_over_limit` for the mission, if its standing cash collections pass the limit."""
    if facts.cash_limit_cents is None:
        return []
    cash = [i for i in standing_collections(facts) if i.payload.get("method") == "cash"]
    taken = sum(cents(i.payload["amount"]) for i in cash)
    excess = int(over_limit(Decimal(facts.cash_limit_cents), Decimal(taken)))
    if excess <= 0:
        return []
    limit = facts.cash_limit_cents

    def sentence(lang: str) -> tuple[str, str, str]:
        return _euros(taken, lang), _euros(limit, lang), _euros(excess, lang)

    fr, en = sentence("fr"), sentence("en")
    text = Text(
        f"Espèces au-delà du plafond : {fr[0]} encaissés en espèces sur la mission pour un"
        f" plafond de {fr[1]}, soit {fr[2]} de trop (Code monétaire et financier, art."
        " D112-3). Annulez l'encaissement et faites régler autrement, ou acceptez en"
        " expliquant.",
        f"Cash above the limit: {en[0]} collected in cash on the mission for a limit of"
        f" {en[1]}, {en[2]} too much (French Monetary and Financial Code, art. D112-3)."
        " Void the collection and have it paid another way, or acknowledge with a reason.",
    )
    first = cash[0]
    return [
        Finding(
            KIND,
            facts.mission_id,
            excess,
            text,
            facts.mission_id,
            first.device_id,
            first.driver_id,
            # Amounts as on the wire: the desk shows them as they are.
            {
                "collections": [i.ref for i in cash],
                "limit": wire(from_cents(limit)),
                "cash": wire(from_cents(taken)),
            },
        )
    ]
