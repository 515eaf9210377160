"""The bug report bundle for a mission Towline valued wrong: everything needed to replay it
outside the tenant's data, and where each of seed 000's four causes is fixed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.parties import files as party_files
from server.parties.order_store import Rules, cleaned_for, mission_row, order_of_mission
from server.platform.errors import not_found
from server.platform.tables import anomalies, valuations
from shared.canonical import digest
from shared.errors import TowlineError


def bug_report(
    conn: sa.Connection, tenant_id: str, mission_id: str, *, now: datetime
) -> dict[str, Any]:
    """Everything needed to replay a mission Towline valued wrong outside the tenant's
    data: the order as received, its cleaning (rule set, corrections), the mission as
    valued, the contract version used, the valuations and the file's log. Its `homes`
    say where each of seed 000's four causes is fixed."""
    mission = mission_row(conn, tenant_id, mission_id)
    if mission is None:
        raise not_found("Mission", "Mission", mission_id)
    row = order_of_mission(conn, tenant_id, mission)
    order: dict[str, Any] | None = None
    if row is not None:
        rules = Rules(conn, tenant_id, row.party_id)
        stored = rules.version(row.ruleset_version)
        cleaning = cleaned_for(rules, row, row.ruleset_version)
        order = {
            "order_id": row.id,
            "message_id": row.message_id,
            "received_at": row.received_at.isoformat(),
            "received_by": row.received_by,
            "received": row.received,
            "cleaned": json.loads(row.cleaned),
            "ruleset": None
            if stored is None
            else {
                "version": stored.ruleset.version,
                "digest": stored.ruleset.digest,
                "document": stored.document,
            },
            "corrections": cleaning.wire(),
        }
    valued = conn.execute(
        sa.select(valuations)
        .where(valuations.c.tenant_id == tenant_id, valuations.c.mission_id == mission_id)
        .order_by(valuations.c.id)
    ).all()
    bodies = [
        {
            "source": v.source,
            "device_id": v.device_id,
            "entry_seq": v.entry_seq,
            "digest": v.digest,
            "created_at": v.created_at.isoformat(),
            "body": json.loads(v.body),
        }
        for v in valued
    ]
    contract = _contract_used(conn, tenant_id, bodies)
    found = conn.execute(
        sa.select(anomalies)
        .where(anomalies.c.tenant_id == tenant_id, anomalies.c.mission_id == mission_id)
        .order_by(anomalies.c.id)
    ).all()
    history: list[dict[str, Any]] = []
    if mission.ordering_party_id and mission.file_number:
        history = [
            {**e, "at": e["at"].isoformat()}
            for e in party_files.history(
                conn, tenant_id, mission.ordering_party_id, mission.file_number
            )
        ]
    fixes = "/api/v1/missions/" + mission_id
    bundle = {
        "format": "towline.bug-report/1",
        "generated_at": now.isoformat(),
        "tenant_id": tenant_id,
        "mission": {
            "id": mission.id,
            "status": mission.status,
            "driver_id": mission.driver_id,
            "source": mission.source,
            "document": json.loads(mission.document),
        },
        "order": order,
        "contract": contract,
        "valuations": bodies,
        "anomalies": [
            {
                "id": a.id,
                "kind": a.kind,
                "status": a.status,
                "detail": a.detail,
                "created_at": a.created_at.isoformat(),
            }
            for a in found
        ],
        "file_log": history,
        "homes": {
            "programming_error": {
                "fr": "Envoyez ce fichier aux développeurs de Towline : il suffit à rejouer "
                "la valorisation (towline-field quote CONTRACT.json MISSION.json).",
                "en": "Send this file to Towline's developers: it is enough to replay the "
                "valuation (towline-field quote CONTRACT.json MISSION.json).",
            },
            "configuration_error": {
                "contract": None
                if contract is None
                else {k: contract[k] for k in ("id", "version", "digest")},
                "fr": "Publiez une version corrigée de la convention (POST /api/v1/contracts) "
                "puis acceptez la contestation pour revaloriser.",
                "en": "Publish a corrected version of the contract (POST /api/v1/contracts), "
                "then accept the dispute to value it again.",
            },
            "one_off_order_error": {
                "endpoint": fixes + "/manual-clean",
                "fr": "Corrigez la mission au bureau avant que la tablette ne la valorise.",
                "en": "Correct the mission in the office before the tablet values it.",
            },
            "recurring_order_error": {
                "endpoint": fixes + "/rule-from-fix",
                "fr": "Faites une règle de nettoyage de la correction, puis publiez-la.",
                "en": "Make a cleaning rule from the fix, then publish it.",
            },
        },
    }
    bundle["digest"] = digest(json.loads(json.dumps(bundle, default=str)))
    return bundle


def _contract_used(
    conn: sa.Connection, tenant_id: str, bodies: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The contract version of the latest valuation (the server's if any), with its
    document."""
    chosen = None
    for body in bodies:  # oldest first: the last server valuation wins over the tablets'
        if body["source"] == "server" or chosen is None or chosen["source"] != "server":
            chosen = body
    if chosen is None:
        return None
    used = chosen["body"].get("contract") or {}
    contract_id, version = used.get("id"), used.get("version")
    if not isinstance(contract_id, str) or not isinstance(version, int):
        return None
    from server.office import contracts

    try:
        found = contracts.get_version(conn, tenant_id, contract_id, version)
    except TowlineError:
        return {
            "id": contract_id,
            "version": version,
            "digest": used.get("digest"),
            "document": None,
        }
    return {
        "id": contract_id,
        "version": version,
        "digest": used.get("digest"),
        "document": found["document"],
    }
