"""What a kilometre costs the company, per vehicle class: a tenant setting kept as
versioned data (`office_settings`, name `cost_per_km`; docs/reports.md
"Profitability"). A change is a new version; the same document again adds none.

    {"per_km": {"VL": "0.45", "PL": "1.20", "*": "0.60"}}

A class not listed costs the `*` rate, else nothing. Rates are euros per km, as text,
at most three decimals (a mission's cost is rounded half up to the cent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from server.office import office_settings
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

NAME = "cost_per_km"
WHAT = Text("Coûts au kilomètre invalides", "Invalid costs per km")
CLASS = re.compile(r"^([A-Z0-9][A-Z0-9_-]{0,15}|\*)$")
LIMIT = Decimal("1000")


def _rate(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        found = Decimal(value)
    except InvalidOperation:
        return None
    if not found.is_finite() or not 0 <= found < LIMIT:
        return None
    if found != found.quantize(Decimal("0.001")):
        return None
    return found


def validate(data: object) -> dict[str, Any]:
    """The setting, normalised, or `InvalidDocument` naming every problem."""
    if not isinstance(data, Mapping):
        raise InvalidDocument(WHAT, [Problem("", Text("un objet JSON", "a JSON object"))])
    problems = [
        Problem(k, Text("champ inconnu", "unknown field")) for k in sorted(set(data) - {"per_km"})
    ]
    given = data.get("per_km", {})
    if not isinstance(given, Mapping):
        problems.append(Problem("per_km", Text("classe → coût", "class → cost")))
        given = {}
    rates: dict[str, str] = {}
    for key, value in given.items():
        rate = _rate(value)
        if not isinstance(key, str) or not CLASS.match(key):
            problems.append(
                Problem(
                    f"per_km.{key}",
                    Text("une classe de véhicule (VL, PL…) ou *", "a vehicle class (VL, PL…) or *"),
                )
            )
        elif rate is None:
            problems.append(
                Problem(
                    f"per_km.{key}",
                    Text(
                        "un coût en euros par km, en texte, 3 décimales au plus (« 0.45 »)",
                        'a cost in euros per km, as text, 3 decimals at most ("0.45")',
                    ),
                )
            )
        else:
            rates[key] = f"{rate.normalize():f}"  # 0.50 and 0.5: one rate, one version
    if problems:
        raise InvalidDocument(WHAT, problems)
    return {"per_km": dict(sorted(rates.items()))}


def set_costs(
    conn: sa.Connection, tenant_id: str, data: object, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Check and store a new version (the same again adds none)."""
    document = validate(data)
    stored = office_settings.store(conn, tenant_id, NAME, document, actor=actor, now=now)
    return {"version": stored["version"], **stored["document"]}


def current(conn: sa.Connection, tenant_id: str) -> dict[str, Any]:
    """The version in force now (version 0, no cost, until one is set)."""
    found = office_settings.latest(conn, tenant_id, NAME)
    if found is None:
        return {"version": 0, "per_km": {}}
    return {"version": found["version"], **found["document"]}


def for_period(conn: sa.Connection, tenant_id: str, after: datetime) -> dict[str, Any]:
    """The version a report uses: the one in force at the period's end, else (costs set
    only later) the first one, so a tenant that sets its costs today sees last month's."""
    found = office_settings.in_force(conn, tenant_id, NAME, after)
    if found is None:
        versions = office_settings.history(conn, tenant_id, NAME)
        found = versions[0] if versions else None
    if found is None:
        return {"version": 0, "per_km": {}}
    return {"version": found["version"], **found["document"]}


def rate_for(costs: Mapping[str, Any], vehicle_class: str | None) -> Decimal:
    rates = costs.get("per_km", {})
    return Decimal(rates.get(vehicle_class or "", rates.get("*", "0")))
