"""Profitability costs the kilometres the server values the mission on, site facts
included, on SQLite and PostgreSQL, with the real field client: Julie finds 92 km loaded
on M-A-0002 where the order said 80 (ASSIST-A), with the manager's code → ASSIST-A's
profitability counts 12 km more, at the tenant's cost per km; a fact only kept for the
office does not count until approved (the valuation does not either)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from fieldclient.site_facts import ApprovalNeeded
from server.office import cost_settings
from server.parties import profitability
from server.platform.tables import missions, valuations
from shared.site_facts_found import Found
from tests.office_world import START, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0002"  # Julie's: 80 km loaded ordered, ASSIST-A
FOUND = Found(distance_km={"loaded": D("92")})
DAY = START.date()


def _assist_a(world):  # noqa: F811
    with world.engine.connect() as conn:
        found = profitability.report(conn, "demo", date(2026, 1, 1), date(2026, 12, 31))
    return next(p for p in found["parties"] if p["party_id"] == "ASSIST-A")


def _kept(world):  # noqa: F811
    """(valued_km, valued_class) of the mission's latest server valuation."""
    with world.engine.connect() as conn:
        row = conn.execute(
            sa.select(valuations.c.valued_km, valuations.c.valued_class)
            .where(
                valuations.c.tenant_id == "demo",
                valuations.c.mission_id == MISSION,
                valuations.c.source == "server",
            )
            .order_by(valuations.c.id.desc())
            .limit(1)
        ).one()
    return (row.valued_km, row.valued_class)


def _ordered_km(world):  # noqa: F811
    with world.engine.connect() as conn:
        body = conn.execute(
            sa.select(missions.c.document).where(
                missions.c.tenant_id == "demo", missions.c.id == MISSION
            )
        ).scalar_one()
    return sum(D(str(v)) for v in json.loads(body)["distance_km"].values())


@pytest.fixture
def julie(world, tmp_path):  # noqa: F811
    with world.engine.begin() as conn:
        cost_settings.set_costs(conn, "demo", {"per_km": {"VL": "0.50"}}, actor="g", now=START)
    tablet = world.tablet(tmp_path / "julie", "d2", "2222")
    world.sync(tablet)
    for step in ("en_route", "on_site"):
        tablet.step(MISSION, step)
    return tablet


def test_the_km_found_on_site_are_the_km_costed(world, julie):  # noqa: F811
    ordered = _ordered_km(world)
    with pytest.raises(ApprovalNeeded) as needed:
        julie.record_site_facts(MISSION, FOUND)
    code = world.approval(julie, MISSION, "site_facts", str(needed.value.total))
    julie.record_site_facts(MISSION, FOUND, code=code)
    world.sync(julie)
    row = _assist_a(world)
    # M-A-0002 is ASSIST-A's only valued mission: 92 km ordered (en route and loaded), 104
    # as valued, at 0.50 €/km (the order's legs would give 92 km, 46.00).
    assert ordered == 92
    assert (row["km"], row["km_cost"], row["costs"]) == ("104", "52.00", "52.00")
    with world.engine.connect() as conn:
        km, vehicle_class = profitability.valued_km(conn, "demo", MISSION, {})
    assert (km, vehicle_class) == (ordered + 12, "VL")
    # The server's valuation kept the same figures, which the report sums (migration 0013).
    assert _kept(world) == ("104", "VL")


def test_a_fact_kept_for_the_office_is_not_costed(world, julie):  # noqa: F811
    ordered = _ordered_km(world)
    julie.record_site_facts(MISSION, FOUND, for_office=True)
    world.sync(julie)
    with world.engine.connect() as conn:
        km, _ = profitability.valued_km(conn, "demo", MISSION, {})
    assert km == ordered
    assert _kept(world) == ("92", "VL")
    assert (_assist_a(world)["km"], _assist_a(world)["km_cost"]) == ("92", "46.00")


def test_a_valuation_kept_before_its_km_is_replayed(world, julie):  # noqa: F811
    # Server valuations stored before migration 0013 hold no km: the report replays the
    # mission's final facts for them, and finds what the column would have said.
    code_needed = pytest.raises(ApprovalNeeded)
    with code_needed as needed:
        julie.record_site_facts(MISSION, FOUND)
    code = world.approval(julie, MISSION, "site_facts", str(needed.value.total))
    julie.record_site_facts(MISSION, FOUND, code=code)
    world.sync(julie)
    kept = _assist_a(world)
    with world.engine.begin() as conn:
        conn.execute(
            sa.update(valuations)
            .where(valuations.c.tenant_id == "demo")
            .values(valued_km=None, valued_class=None)
        )
    assert _assist_a(world) == kept
    assert (kept["km"], kept["km_cost"]) == ("104", "52.00")
