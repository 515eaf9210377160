"""Replaying a party's latest rule set on its open files, always from the order as received
(never from the cleaned one): a mission is updated unless a tablet valued it, the office
corrected it by hand or it is cancelled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.parties import files as party_files
from server.parties.cleaning import Stored
from server.parties.order_document import (
    differences,
    mission_document,
    validate_order,
    with_contract_coverage,
)
from server.parties.order_store import (
    HOLD_TEXTS,
    FileLog,
    Rules,
    as_received,
    baseline,
    cleaned_for,
    cleaning_of,
    hold_reason,
    last_entry,
    log_corrections,
    mission_row,
    order_by_id,
    require_party,
    write_mission,
)
from server.platform.errors import Conflict
from server.platform.tables import party_files as party_files_table
from shared.cleaning_paths import same
from shared.errors import InvalidDocument
from shared.file_lifecycle import State
from shared.mission import load_mission

CLOSED = (State.DONE, State.CANCELLED)


def replay(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    *,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Clean again, with the party's latest rule set, the orders of its open files (not
    done, not cancelled by hand), each from the order AS RECEIVED. Where the result
    differs from the last cleaning, the corrections are logged and the mission is
    updated — unless a tablet valued it, the office corrected it by hand or it is
    cancelled: then it is left alone and reported. `dry_run` only reports."""
    require_party(conn, tenant_id, party_id)
    rules = Rules(conn, tenant_id, party_id)
    stored = rules.latest()
    if stored is None:
        raise Conflict(
            f"Aucune règle de nettoyage publiée pour {party_id} : rien à rejouer.",
            f"No cleaning rules published for {party_id}: nothing to replay.",
            code="no_ruleset",
        )
    version = stored.ruleset.version
    open_files = conn.execute(
        sa.select(party_files_table.c.file_number)
        .where(
            party_files_table.c.tenant_id == tenant_id,
            party_files_table.c.party_id == party_id,
            party_files_table.c.state.not_in([s.value for s in CLOSED]),
        )
        .order_by(party_files_table.c.file_number)
    ).scalars()
    report: list[dict[str, Any]] = []
    for file_number in list(open_files):
        history = party_files.history(conn, tenant_id, party_id, file_number)
        latest_orders: dict[str, str] = {}
        for entry in history:
            detail = entry["detail"] or {}
            if entry["event"] == "order" and detail.get("mission_id") and detail.get("order_id"):
                latest_orders[detail["mission_id"]] = detail["order_id"]
        for mission_id, order_id in latest_orders.items():
            row = order_by_id(conn, tenant_id, order_id)
            mission = mission_row(conn, tenant_id, mission_id)
            if row is None or mission is None:
                continue
            item = _replay_one(
                conn, rules, stored, row, mission, history, actor=actor, now=now, dry_run=dry_run
            )
            if item is not None:
                report.append({"file_number": file_number, **item})
    counts: dict[str, int] = {}
    for item in report:
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    return {
        "party_id": party_id,
        "version": version,
        "digest": stored.ruleset.digest,
        "dry_run": dry_run,
        "counts": counts,
        "files": report,
    }


def _replay_one(
    conn: sa.Connection,
    rules: Rules,
    stored: Stored,
    row: Any,
    mission: Any,
    history: Sequence[Mapping[str, Any]],
    *,
    actor: str,
    now: datetime,
    dry_run: bool,
) -> dict[str, Any] | None:
    tenant_id = rules.tenant_id
    version = stored.ruleset.version
    last = last_entry(history, ("order_recleaned",), order_id=row.id)
    previous = row.ruleset_version if last is None else last["detail"].get("version")
    if previous == version:
        return None
    old = cleaned_for(rules, row, previous)
    new = cleaning_of(as_received(row), stored)
    if same(old.order, new.order):
        return None
    item: dict[str, Any] = {
        "order_id": row.id,
        "mission_id": mission.id,
        "from_version": previous,
        "corrections": new.wire(),
        "changed": differences(old.order, new.order),
    }
    document = mission_document(new.order, mission.id, row.party_id, row.file_number)
    try:
        validate_order(new.order)
        load_mission(document)
    except InvalidDocument as error:
        item["outcome"] = "invalid"
        item["problems"] = [
            {"path": p.path, "fr": p.text.fr, "en": p.text.en} for p in error.problems
        ]
    else:
        reason = hold_reason(conn, tenant_id, mission, baseline(conn, rules, history, mission.id))
        item["outcome"] = (
            "would_update"
            if dry_run and reason is None
            else ("updated" if reason is None else "held")
        )
        if reason is not None:
            item["reason"] = reason
            note = HOLD_TEXTS[reason]
            item["note"] = {"fr": note.fr, "en": note.en}
    if dry_run:
        return item
    file_number = row.file_number
    log_corrections(
        conn,
        tenant_id,
        row.party_id,
        file_number,
        new,
        order_id=row.id,
        cause="replay",
        actor=actor,
        now=now,
    )
    FileLog(conn, tenant_id, row.party_id, file_number, actor, now).log(
        "order_recleaned",
        {
            "order_id": row.id,
            "mission_id": mission.id,
            "version": version,
            "digest": stored.ruleset.digest,
            "from_version": previous,
            "outcome": item["outcome"],
            **({"reason": item["reason"]} if "reason" in item else {}),
        },
    )
    if item["outcome"] == "updated":
        write_mission(
            conn,
            tenant_id,
            mission.id,
            with_contract_coverage(conn, tenant_id, document, now),
            actor=actor,
            now=now,
            action="mission.update_from_replay",
            detail={"order_id": row.id, "version": version},
        )
        FileLog(conn, tenant_id, row.party_id, file_number, actor, now).log(
            "mission_updated",
            {
                "mission_id": mission.id,
                "order_id": row.id,
                "version": version,
                "cause": "replay",
            },
        )
    return item
