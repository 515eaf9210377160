"""A mission's final facts: what the server values it on, beside what the order said.

The ordering party is invoiced on the server's valuation, which values the order with the
facts its driver found on site (`server.office.site_facts`): the ones within the party's
rule or covered by a manager's code, and the ones the office approved after the fact. A
fact kept for the office (beyond the rule, no code) is not counted until the office
approves it. This module replays the mission the same way (the same
`stored_records` + `approved_later` + `shared.site_facts.on_site` over the tablet's last
`valuation_recorded` entry, as `server.office.valuation.revalue_mission` does) so the
party's file shows the facts its invoice was made from; it writes nothing.

Known limit: like the valuation, it follows the tablet whose valuation arrived last; site
facts another tablet recorded on the same mission are not replayed over it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from server.office import site_facts
from server.office.valuation import (
    Valuer,
    contract_id_of,
    last_valuation_entry,
    mission_to_value,
)
from server.platform.tables import missions, valuations
from shared.canonical import plain
from shared.contract import Contract
from shared.errors import TowlineError
from shared.mission import LEGS, Mission
from shared.site_facts import Judged, OnSite, on_site, same, value_of
from shared.site_facts_words import figure, name

LANGS = ("fr", "en")
EVERY = 2**62  # a journal position after every entry


def _keys(order: Mission, final: Mission, contract: Contract) -> list[tuple[str, str | None]]:
    """Every fact a party reads on its file: the km of each leg either mission has, the
    services, waiting, storage, each family at cost, accident, weight and class."""
    legs = [leg for leg in LEGS if leg in order.distance_km or leg in final.distance_km]
    shown: list[tuple[str, str | None]] = [("distance", leg) for leg in legs]
    shown += [("services", None), ("waiting", None), ("storage", None)]
    shown += [("at_cost", family) for family in contract.at_cost]
    shown += [("accident", None), ("weight", None), ("vehicle_class", None)]
    return shown


def _fact(fact: str, key: str | None, order: Any, final: Any) -> dict[str, Any]:
    return {
        "fact": fact,
        "key": key,
        "name": {lang: name(fact, key, lang) for lang in LANGS},
        "order": order,
        "final": final,
        "order_text": {lang: figure(fact, order, lang) for lang in LANGS},
        "final_text": {lang: figure(fact, final, lang) for lang in LANGS},
        "changed": not same(fact, order, final),
    }


def _server_valuation(conn: sa.Connection, tenant_id: str, mission_id: str) -> dict[str, Any]:
    """The server's latest valuation of the mission (what its invoices follow), or {}."""
    body = conn.execute(
        sa.select(valuations.c.body)
        .where(
            valuations.c.tenant_id == tenant_id,
            valuations.c.mission_id == mission_id,
            valuations.c.source == "server",
        )
        .order_by(valuations.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return json.loads(body) if body else {}


def reader(conn: sa.Connection, tenant_id: str) -> Valuer:
    """A Valuer for replays only: `now` is only used when writing, and a replay writes
    nothing (the mission is known). Pass one to `final_facts` for many missions."""
    return Valuer(conn, tenant_id, datetime.now(UTC))


def _replayed(
    conn: sa.Connection, tenant_id: str, mission_id: str, valuer: Valuer | None = None
) -> tuple[OnSite, tuple[Judged, ...], Contract] | None:
    """The mission on site as the server values it: the last valuation entry's mission
    with that tablet's site facts and the office's approvals. None: never valued."""
    signed = last_valuation_entry(conn, tenant_id, mission_id)
    if signed is None:
        return None
    ctx = valuer or reader(conn, tenant_id)
    payload = plain(signed.entry.payload)
    mission = mission_to_value(ctx, signed, mission_id, payload.get("mission"), by="final_facts")
    if isinstance(mission, str):
        return None
    contract = ctx.contract_for(contract_id_of(payload["valuation"]), mission)
    device = signed.entry.device_id
    records = site_facts.stored_records(conn, tenant_id, device, mission_id, signed.seq)
    records += site_facts.approved_later(conn, tenant_id, device, mission_id, records)
    # Facts kept for the office change no price, so no valuation need follow them: the
    # ones still held are read from every entry of that tablet, not only those before.
    every = site_facts.stored_records(conn, tenant_id, device, mission_id, EVERY)
    held = on_site(mission, every, contract).held
    return on_site(mission, records, contract), held, contract


def final_facts(
    conn: sa.Connection, tenant_id: str, mission_id: str, valuer: Valuer | None = None
) -> dict[str, Any] | None:
    """The mission's facts as ordered and as the server values them, fact by fact, with
    the facts still kept for the office (not counted) and the server's amounts. None when
    the mission was never valued from a tablet (nothing but the order to show). A caller
    reading many missions passes one `valuer`: each contract is then loaded once."""
    known = conn.execute(
        sa.select(missions.c.id).where(
            missions.c.tenant_id == tenant_id, missions.c.id == mission_id
        )
    ).first()
    if known is None:
        return None
    try:
        replayed = _replayed(conn, tenant_id, mission_id, valuer)
    except (TowlineError, KeyError, TypeError, ValueError):
        return None  # no contract, or an unreadable entry: its anomaly says why
    if replayed is None:
        return None
    site, kept, contract = replayed
    order, final = site.order, site.mission
    facts = [
        _fact(fact, key, value_of(order, fact, key, contract), value_of(final, fact, key, contract))
        for fact, key in _keys(order, final, contract)
    ]
    held = [
        {
            "fact": j.fact.fact,
            "key": j.fact.key,
            "name": {lang: name(j.fact.fact, j.fact.key, lang) for lang in LANGS},
            "found": j.fact.found,
            "found_text": {lang: figure(j.fact.fact, j.fact.found, lang) for lang in LANGS},
        }
        for j in kept
        if not any(same(j.fact.fact, j.fact.found, f["final"]) for f in facts if _is(f, j))
    ]
    server = _server_valuation(conn, tenant_id, mission_id)
    payers = server.get("payers") or {}
    return {
        "mission_id": mission_id,
        "contract": {"id": contract.id, "version": contract.version},
        "facts": facts,
        "held_for_office": held,
        "digest": server.get("digest"),
        "ordering_party_due": (payers.get("ordering_party") or {}).get("incl_vat"),
        "beneficiary_due": (payers.get("beneficiary") or {}).get("incl_vat"),
    }


def _is(shown: dict[str, Any], judged: Any) -> bool:
    return bool(shown["fact"] == judged.fact.fact and shown["key"] == judged.fact.key)
