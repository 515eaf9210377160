"""What each ordering party earns the company over a period, against what the company
records as costs (docs/reports.md "Profitability"). Every amount excl. VAT, in cents
inside, strings on the way out; one row per party, one for private customers.

Revenue side, from the documents issued in the period on the party's missions (as the
report per party): `invoiced` (invoices to the party and to the beneficiaries) and
`credit_notes` (their credit notes), so `revenue` = invoiced − credit notes.

Cost side:
- `commissions`: the commission lines of the period on the party's missions
  (server.office.commissions: percentages, fixed amounts, reversals). A monthly tier
  belongs to a person's whole month, not to a party: it is in the totals only;
- `at_cost`: tolls, parts and other items re-invoiced at cost (the valuation's
  `at_cost` lines) — what the company paid out — on the missions called in the period,
  from each mission's latest server valuation;
- `km_cost`: the kilometres of the missions called in the period, as the server values
  them (the order with the distances and vehicle class its driver found on site:
  server.office.final_facts), at the tenant's cost per km of the vehicle's class
  (server.office.cost_settings), rounded half up to the cent per mission.

`costs` = commissions + at cost + km cost; `margin` = revenue − costs. Only missions the
server has valued (done, as far as the office knows) carry at-cost items and
kilometres: neither one still waiting for its tablet nor a cancelled one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from server.office import commissions, cost_settings, final_facts, ledger
from server.office.issued_documents import CREDIT_NOTE
from server.office.valuation import Valuer
from server.parties.party_report import PRIVATE
from server.platform.db import in_chunks
from server.platform.tables import documents, missions, ordering_parties, valuations
from shared.money import from_cents, parse_amount, to_cents, wire

COLUMNS = (
    "missions",
    "km",
    "invoiced",
    "credit_notes",
    "revenue",
    "commissions",
    "at_cost",
    "km_cost",
    "costs",
    "margin",
)
NOT_MONEY = ("missions", "km")
CANCELLED = "cancelled"
CENT = Decimal("0.01")


def _excl(amount: Decimal, rate: Decimal, includes_vat: bool) -> int:
    """A valuation line's amount excl. VAT, in cents (half up when taken out of a price
    incl. VAT)."""
    if not includes_vat:
        return to_cents(amount)
    return to_cents((amount / (1 + rate / 100)).quantize(CENT, rounding=ROUND_HALF_UP))


AT_COST = '"at_cost"'  # in every valuation body with a line charged at cost (and rarely others)


def _at_cost(body: Mapping[str, Any]) -> int:
    basis = bool(body.get("prices_include_vat"))
    return sum(
        _excl(parse_amount(line["amount"]), Decimal(str(line["vat_rate"])), basis)
        for line in body.get("lines") or []
        if line.get("kind") == "at_cost"
    )


def _km(document: Mapping[str, Any]) -> Decimal:
    legs = document.get("distance_km") or {}
    total = Decimal(0)
    for value in legs.values() if isinstance(legs, Mapping) else ():
        try:
            total += Decimal(str(value))
        except ArithmeticError:
            continue
    return total


def _ordered_class(document: Mapping[str, Any]) -> str | None:
    vehicle = document.get("vehicle")
    found = vehicle.get("class") if isinstance(vehicle, Mapping) else None
    return str(found) if found else None


def valued_km(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    document: Mapping[str, Any],
    valuer: Valuer | None = None,
) -> tuple[Decimal, str | None]:
    """The km and vehicle class the server values the mission on: the order with the facts
    its driver found on site (`final_facts`), else the order's own legs (never valued
    from a tablet, or its replay unreadable)."""
    found = final_facts.final_facts(conn, tenant_id, mission_id, valuer)
    ordered = _ordered_class(document)
    if found is None:
        return _km(document), ordered
    km, vehicle_class = Decimal(0), ordered
    for fact in found["facts"]:
        if fact["fact"] == "distance":
            try:
                km += Decimal(str(fact["final"]))
            except ArithmeticError:
                continue
        elif fact["fact"] == "vehicle_class" and fact["final"]:
            vehicle_class = str(fact["final"])
    return km, vehicle_class


def _party(ordering_party_id: str | None, document: Mapping[str, Any]) -> str:
    return str(ordering_party_id or document.get("ordering_party") or PRIVATE)


def _parties(
    conn: sa.Connection, tenant_id: str, mission_ids: set[str], *, known: Mapping[str, str]
) -> dict[str, str]:
    """{mission: its party} for these missions, but those already known."""
    out: dict[str, str] = {}
    for chunk in in_chunks(m for m in mission_ids if m not in known):
        for row in conn.execute(
            sa.select(missions.c.id, missions.c.ordering_party_id, missions.c.document).where(
                missions.c.tenant_id == tenant_id, missions.c.id.in_(chunk)
            )
        ):
            out[row.id] = _party(row.ordering_party_id, json.loads(row.document))
    return out


def report(conn: sa.Connection, tenant_id: str, start: date, end: date) -> dict[str, Any]:
    """One row per party with anything in the period, then the totals."""
    first, after = ledger.day_bounds(conn, tenant_id, start, end)
    costs = cost_settings.for_period(conn, tenant_id, after)
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {c: Decimal(0) if c == "km" else 0 for c in COLUMNS}
    )
    party_of: dict[str, str] = {}
    called: dict[str, str] = {}  # the period's missions, not cancelled: their documents
    # The period's missions by their call's instant (missions.call_at, indexed: the
    # local days start..end are the instants first..after).
    for row in conn.execute(
        sa.select(
            missions.c.id, missions.c.ordering_party_id, missions.c.document, missions.c.status
        ).where(
            missions.c.tenant_id == tenant_id,
            missions.c.call_at >= first,
            missions.c.call_at < after,
        )
    ):
        # A document is parsed only when a column does not say what is read of it.
        party = row.ordering_party_id or _party(None, json.loads(row.document))
        party_of[row.id] = party
        sums = rows[party]
        sums["missions"] += 1
        if row.status == CANCELLED:
            continue
        called[row.id] = row.document
    valuer = final_facts.reader(conn, tenant_id)  # each contract loaded once
    for mission_id, latest in _latest_valuations(conn, tenant_id, list(called)).items():
        sums = rows[party_of[mission_id]]
        if AT_COST in latest.body:  # a body without these bytes has no at-cost line
            sums["at_cost"] += _at_cost(json.loads(latest.body))
        if latest.valued_km is not None:  # kept with the valuation (migration 0013)
            km = Decimal(latest.valued_km)
            vehicle_class = latest.valued_class or _ordered_class(json.loads(called[mission_id]))
        else:  # valued before: replayed
            km, vehicle_class = valued_km(
                conn, tenant_id, mission_id, json.loads(called[mission_id]), valuer
            )
        sums["km"] += km
        rate = cost_settings.rate_for(costs, vehicle_class)
        sums["km_cost"] += to_cents((km * rate).quantize(CENT, rounding=ROUND_HALF_UP))
    issued = conn.execute(
        sa.select(documents.c.mission_id, documents.c.kind, documents.c.total_excl_cents).where(
            documents.c.tenant_id == tenant_id,
            documents.c.issued_at >= first,
            documents.c.issued_at < after,
        )
    ).all()
    earned = commissions.report(conn, tenant_id, start, end)
    # Documents and commissions of the period may be of missions called before it.
    party_of.update(
        _parties(
            conn,
            tenant_id,
            {d.mission_id for d in issued}
            | {line["mission_id"] for line in earned["lines"] if line["mission_id"]},
            known=party_of,
        )
    )
    for doc in issued:
        column = "credit_notes" if doc.kind == CREDIT_NOTE else "invoiced"
        rows[party_of.get(doc.mission_id, PRIVATE)][column] += int(doc.total_excl_cents)
    unattributed = 0
    for line in earned["lines"]:
        cents = to_cents(parse_amount(line["commission"]))
        if line["mission_id"] is None:
            unattributed += cents
        else:
            rows[party_of.get(line["mission_id"], PRIVATE)]["commissions"] += cents
    for sums in rows.values():
        _derive(sums)
    totals: dict[str, Any] = {c: sum(r[c] for r in rows.values()) for c in COLUMNS}
    totals["commissions"] += unattributed
    _derive(totals)
    names = {
        str(r.id): str(r.name)
        for r in conn.execute(
            sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
                ordering_parties.c.tenant_id == tenant_id
            )
        )
    }
    listed = [
        {"party_id": party or None, "name": names.get(party) if party else None, **_wire(sums)}
        for party, sums in sorted(rows.items(), key=lambda item: (item[0] == PRIVATE, item[0]))
        if any(sums.values())
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "cost_per_km": costs,
        "unattributed_commissions": wire(from_cents(unattributed)),
        "parties": listed,
        "totals": _wire(totals),
    }


def _derive(sums: dict[str, Any]) -> None:
    sums["revenue"] = sums["invoiced"] - sums["credit_notes"]
    sums["costs"] = sums["commissions"] + sums["at_cost"] + sums["km_cost"]
    sums["margin"] = sums["revenue"] - sums["costs"]


def _wire(sums: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in COLUMNS:
        value = sums[column]
        if column == "missions":
            out[column] = int(value)
        elif column == "km":
            out[column] = f"{Decimal(value).normalize():f}"
        else:
            out[column] = wire(from_cents(int(value)))
    return out


def _latest_valuations(
    conn: sa.Connection, tenant_id: str, mission_ids: list[str]
) -> dict[str, Any]:
    """Each mission's latest server valuation (the one invoiced, or to be): its row's
    body, valued_km and valued_class."""
    found: dict[str, Any] = {}
    for chunk in in_chunks(mission_ids):
        for row in conn.execute(
            sa.select(
                valuations.c.mission_id,
                valuations.c.body,
                valuations.c.valued_km,
                valuations.c.valued_class,
            )
            .where(
                valuations.c.tenant_id == tenant_id,
                valuations.c.source == "server",
                valuations.c.mission_id.in_(chunk),
            )
            .order_by(valuations.c.id)
        ):
            found[row.mission_id] = row
    return found


def csv_rows(found: Mapping[str, Any], lang: str) -> list[list[str]]:
    """The report as CSV rows (a header, one row per party, the totals)."""
    private = "Particuliers" if lang == "fr" else "Private customers"
    out = [["party_id", "name", *COLUMNS]]
    for row in [*found["parties"], {"party_id": "TOTAL", "name": "", **found["totals"]}]:
        name = row.get("name") or ("" if row.get("party_id") else private)
        out.append([str(row.get("party_id") or ""), str(name), *(str(row[c]) for c in COLUMNS)])
    return out
