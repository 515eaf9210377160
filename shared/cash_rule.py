"""The limit on cash collected on site for one mission: the one rule the tablet applies
before a collection and the server checks again on what was stored (issue 16).

France, Code monétaire et financier art. L112-6 and D112-3: a debt may be paid in cash up
to 1 000 € when the debtor has their tax domicile in France or acts for a business, up to
15 000 € for a private person whose tax domicile is not in France. A tenant may be
stricter (server.office.cash_limits), never looser. On site nobody establishes the
payer's tax domicile, so the tablet and the server apply the `resident` limit, the
stricter one: a non-resident pays the rest by another method or at the office
(docs/collection.md "Cash limit").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from shared.errors import Refused
from shared.money import ZERO, format_amount, parse_amount

LEGAL_RESIDENT = Decimal("1000.00")
LEGAL_NON_RESIDENT = Decimal("15000.00")
# The pull feed's kind carrying the tenant's limits (docs/sync-protocol.md "Change kinds").
KIND = "cash_limits"


def on_site_limit(limits: Mapping[str, object] | None) -> Decimal:
    """The limit per mission on site, from the tenant's limits as the pull feed gives them
    (`{"resident": "800.00", ...}`): never above the law's; the law's when none is known
    or the value is unreadable (a tablet never loosens the law)."""
    if not isinstance(limits, Mapping):
        return LEGAL_RESIDENT
    try:
        value = parse_amount(limits.get("resident"))
    except (TypeError, ValueError, ArithmeticError):
        return LEGAL_RESIDENT
    return value if ZERO <= value <= LEGAL_RESIDENT else LEGAL_RESIDENT


def over_limit(limit: Decimal, cash_collected: Decimal) -> Decimal:
    """How much of the cash collected on a mission (net of reversals) is above the limit."""
    return max(cash_collected - limit, ZERO)


def cash_refusal(limit: Decimal, already: Decimal, amount: Decimal) -> Refused | None:
    """Why `amount` more in cash may not be collected on a mission that has had `already`
    in cash, or None if it may."""
    if already + amount <= limit:
        return None
    room = max(limit - already, ZERO)
    if limit >= LEGAL_RESIDENT:
        by_fr, by_en = "par la loi", "by law"
    else:  # the company's own, stricter limit: say so, or the driver blames the law
        by_fr, by_en = "par votre entreprise", "by your company"
    return Refused(
        f"Paiement en espèces limité {by_fr} à {format_amount(limit, 'fr')} pour"
        f" cette mission (déjà encaissé en espèces : {format_amount(already, 'fr')})."
        f" Encaissez au plus {format_amount(room, 'fr')} en espèces et le reste par un"
        " autre moyen.",
        f"Cash payments are limited {by_en} to {format_amount(limit, 'en')} for this"
        f" mission (already collected in cash: {format_amount(already, 'en')})."
        f" Collect at most {format_amount(room, 'en')} in cash and the rest another way.",
    )
