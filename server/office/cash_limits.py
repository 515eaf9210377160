"""The legal limit on a debt paid in cash, as the tenant sets it (docs/customer-debts.md
"Cash at the office").

France, Code monétaire et financier art. L112-6 and D112-3: a debt may be paid in cash
up to 1 000 € when the debtor has their tax domicile in France or acts for the needs of
a business, up to 15 000 € for a private person whose tax domicile is not in France.
A tenant may be stricter, never looser: each limit is at most the law's. The setting is
a versioned office document (`office_settings`, name `cash_limits`); without one, the
law's limits apply. Setting them announces them in the pull feed (kind `cash_limits`,
docs/sync-protocol.md), so tablets hold cash collected on site to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import office_settings
from server.platform import changes
from server.platform.errors import Unprocessable
from shared.cash_rule import KIND, on_site_limit
from shared.i18n import Text
from shared.money import from_cents, parse_amount, to_cents, wire

NAME = "cash_limits"
RESIDENT = "resident"  # tax domicile in France, or acting for a business
NON_RESIDENT = "non_resident"  # a private person whose tax domicile is not in France
LEGAL: Mapping[str, int] = {RESIDENT: 100_000, NON_RESIDENT: 1_500_000}  # cents
PAYERS: Mapping[str, Text] = {
    RESIDENT: Text(
        "domicilié fiscalement en France ou agissant pour une activité professionnelle",
        "with a tax domicile in France, or acting for a business",
    ),
    NON_RESIDENT: Text(
        "particulier sans domicile fiscal en France",
        "a private person without a tax domicile in France",
    ),
}


@dataclass(frozen=True, slots=True)
class CashLimits:
    cents: Mapping[str, int]
    version: int | None  # None: the law's, never set by the tenant

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": self.version,
            **{k: wire(from_cents(v)) for k, v in self.cents.items()},
        }


def current(conn: sa.Connection, tenant_id: str) -> CashLimits:
    found = office_settings.latest(conn, tenant_id, NAME)
    if found is None:
        return CashLimits(dict(LEGAL), None)
    document = found["document"]
    return CashLimits(
        {k: to_cents(parse_amount(document.get(k, wire(from_cents(v))))) for k, v in LEGAL.items()},
        found["version"],
    )


def check(document: Mapping[str, object]) -> dict[str, str]:
    """The document checked: known keys only, each an amount from 0 to the law's."""
    unknown = sorted(set(document) - set(LEGAL))
    if unknown:
        raise Unprocessable(
            f"Clé inconnue : {', '.join(unknown)} (resident, non_resident).",
            f"Unknown key: {', '.join(unknown)} (resident, non_resident).",
            code="cash_limits_invalid",
        )
    out = {}
    for key, legal in LEGAL.items():
        value = document.get(key, wire(from_cents(legal)))
        try:
            cents = to_cents(parse_amount(value))
        except (TypeError, ValueError, ArithmeticError):
            cents = -1
        if not 0 <= cents <= legal:
            law = wire(from_cents(legal))
            raise Unprocessable(
                f"Plafond d'espèces « {key} » invalide : un montant de 0 à {law} € (la loi ne "
                "permet pas plus ; une société peut être plus stricte).",
                f"Cash limit '{key}' invalid: an amount from 0 to €{law} (the law allows no "
                "more; a company may be stricter).",
                code="cash_limits_invalid",
            )
        out[key] = wire(from_cents(cents))
    return out


def set_limits(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, object],
    *,
    actor: str,
    now: datetime,
) -> CashLimits:
    office_settings.store(conn, tenant_id, NAME, check(document), actor=actor, now=now)
    limits = current(conn, tenant_id)
    # Every tablet of the tenant learns them at its next pull: cash collected on site is
    # held to them (shared.cash_rule), and the server checks it again (`cash_over_limit`).
    changes.record(conn, tenant_id, KIND, tenant_id, limits.to_wire(), scope=None, now=now)
    return limits


def on_site_limit_cents(conn: sa.Connection, tenant_id: str) -> int:
    """The limit per mission on cash collected on site: the tenant's `resident` one (on site
    nobody establishes the payer's tax domicile: shared.cash_rule)."""
    return to_cents(on_site_limit(current(conn, tenant_id).to_wire()))
