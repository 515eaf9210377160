"""Orders in: a mission order from an ordering party becomes a mission (docs/orders.md).

An order arrives from the party's system (API key) or from an import. It is kept exactly
as received, cleaned with the party's latest rule set (shared/cleaning.py), validated,
and becomes a mission (server.office.missions.create: a driver's tablets get it at their next
pull); each correction goes to the file's log with the rule and the rule set's version,
and the file moves with the `order` event (server.parties.files). The party's message id
makes it idempotent: the same order sent twice creates one mission and one event, and
the second call answers with the first outcome.

The rest of the orders' side lives beside it: the order document (order_document), what
is stored and read back (order_store), the file's other messages (messages), the files'
views (file_views), replaying rule sets on open files (replay), the office's hand fix and
a rule from it (hand_fix), the bug report bundle (bug_report) and batch imports
(order_import).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import agents, missions
from server.parties import files as party_files
from server.parties.order_document import (
    ORDER,
    mission_document,
    mission_id_for,
    validate_order,
    with_contract_coverage,
)
from server.parties.order_store import (
    HOLD_TEXTS,
    FileLog,
    Rules,
    baseline,
    cleaned_for,
    cleaning_of,
    event_with_message,
    hold_reason,
    log_corrections,
    mission_row,
    order_by_id,
    require_party,
    state_label,
    write_mission,
)
from server.platform.errors import Conflict, Forbidden
from server.platform.tables import orders as orders_table
from server.platform.web import nul_paths
from shared import file_lifecycle as lifecycle
from shared.canonical import canonical_json
from shared.cleaning_paths import same
from shared.errors import InvalidDocument, Problem
from shared.file_lifecycle import Event, State
from shared.i18n import Text
from shared.mission import load_mission
from shared.schema_tools import bilingual, problems

MISSION_SOURCE = "order"  # missions.source: made from an ordering party's order


def _identity(order: Any) -> tuple[str, str]:
    """The message id and file number, checked before anything else (they say whether
    the order is a duplicate, and which file it is about)."""
    if not isinstance(order, Mapping):
        raise InvalidDocument(ORDER, problems(["Invalid input type."]))
    found: list[Problem] = []
    nul = bilingual("caractère nul (\\u0000) refusé", "the null character (\\u0000) is refused")
    found += problems({path: [nul] for path in nul_paths(dict(order))})
    values: list[str] = []
    for name, high in (("message_id", 120), ("file_number", 64)):
        value = order.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > high:
            found.append(
                Problem(
                    name,
                    Text(
                        f"obligatoire : un texte de 1 à {high} caractères",
                        f"required: a text of 1 to {high} characters",
                    ),
                )
            )
        values.append(value if isinstance(value, str) else "")
    if found:
        raise InvalidDocument(ORDER, found)
    return values[0], values[1]


def _order_by_message(conn: sa.Connection, tenant_id: str, party_id: str, message_id: str) -> Any:
    return conn.execute(
        sa.select(orders_table).where(
            orders_table.c.tenant_id == tenant_id,
            orders_table.c.party_id == party_id,
            orders_table.c.message_id == message_id,
        )
    ).first()


def receive_order(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    order: Any,
    *,
    actor: str,
    now: datetime,
    received_text: str | None = None,
    driver_id: str | None = None,
) -> dict[str, Any]:
    """Take one order from `party_id`, inside the caller's transaction. Refused (nothing
    written) when malformed (422, every problem by its path), when it names another
    party (403) or reuses another message's id (409). The same message id again answers
    with the first outcome and changes nothing. `received_text` is the body exactly as
    it arrived (else the order's JSON is kept)."""
    require_party(conn, tenant_id, party_id)
    message_id, file_number = _identity(order)
    first = _order_by_message(conn, tenant_id, party_id, message_id)
    if first is not None:
        return outcome_of(conn, tenant_id, first, duplicate=True)
    if event_with_message(conn, tenant_id, party_id, message_id) is not None:
        raise Conflict(
            f"L'identifiant de message {message_id} a déjà servi à un autre message de ce "
            "dossier : chaque message a son propre identifiant.",
            f"Message id {message_id} was already used by another message: each message "
            "has its own id.",
            code="message_id_reused",
        )
    claimed = order.get("ordering_party")
    if claimed is not None and claimed != party_id:
        raise Forbidden(
            f"Cette clé est celle de {party_id} : elle ne peut pas envoyer d'ordre pour "
            f"« {claimed} ».",
            f"This key belongs to {party_id}: it cannot send orders for '{claimed}'.",
            code="party_mismatch",
        )
    rules = Rules(conn, tenant_id, party_id)
    cleaning = cleaning_of(order, rules.latest())
    loaded = validate_order(cleaning.order)
    if loaded.get("agent") is not None:  # refused before anything is written
        agents.require(conn, tenant_id, loaded["agent"])
    mission_id = mission_id_for(party_id, file_number, loaded["file_sequence"])
    document = mission_document(cleaning.order, mission_id, party_id, file_number)
    try:
        load_mission(document)
    except InvalidDocument as error:
        raise InvalidDocument(ORDER, list(error.problems)) from None
    document = with_contract_coverage(conn, tenant_id, document, now)
    existing = mission_row(conn, tenant_id, mission_id)
    if existing is not None and (
        existing.ordering_party_id != party_id or existing.file_number != file_number
    ):
        raise Conflict(
            f"La mission {mission_id} existe déjà pour un autre dossier.",
            f"Mission {mission_id} already exists for another file.",
            code="mission_exists",
        )
    before = party_files.state_of(conn, tenant_id, party_id, file_number)
    after = lifecycle.apply(before, Event.ORDER).state
    history = party_files.history(conn, tenant_id, party_id, file_number) if existing else []
    reason: str | None = None
    if after is State.DONE:
        outcome, reason = "not_created", "file_done"
    elif existing is None:
        outcome = "created"
    else:
        reason = hold_reason(conn, tenant_id, existing, baseline(conn, rules, history, mission_id))
        outcome = "held" if reason else "amended"
    order_id = "ord_" + secrets.token_hex(10)
    try:
        with conn.begin_nested():  # the same order racing itself: the second is a duplicate
            conn.execute(
                sa.insert(orders_table).values(
                    tenant_id=tenant_id,
                    id=order_id,
                    party_id=party_id,
                    file_number=file_number,
                    message_id=message_id,
                    received=received_text
                    if received_text is not None
                    else json.dumps(order, ensure_ascii=False),
                    cleaned=canonical_json(cleaning.order).decode("utf-8"),
                    ruleset_version=cleaning.version,
                    mission_id=None if outcome == "not_created" else mission_id,
                    received_at=now,
                    received_by=actor[:64],
                )
            )
    except sa.exc.IntegrityError:
        first = _order_by_message(conn, tenant_id, party_id, message_id)
        if first is None:
            raise
        return outcome_of(conn, tenant_id, first, duplicate=True)
    party_files.record(
        conn,
        tenant_id,
        party_id,
        file_number,
        Event.ORDER,
        source="party",
        actor=actor[:64],
        now=now,
        message_id=message_id,
        detail={
            "order_id": order_id,
            "mission_id": None if outcome == "not_created" else mission_id,
            "outcome": outcome,
            "reason": reason,
            "ruleset_version": cleaning.version,
            "ruleset_digest": cleaning.digest,
            "corrections": len(cleaning.corrections),
        },
    )
    log_corrections(
        conn,
        tenant_id,
        party_id,
        file_number,
        cleaning,
        order_id=order_id,
        cause="intake",
        actor=actor[:64],
        now=now,
    )
    on_file = FileLog(conn, tenant_id, party_id, file_number, actor[:64], now)
    log = {"mission_id": mission_id, "order_id": order_id, "version": cleaning.version}
    if outcome == "created":
        _create_mission(conn, tenant_id, document, driver_id, actor=actor[:64], now=now)
        on_file.log("mission_created", {**log, "driver_id": driver_id})
    elif outcome == "amended":
        assert existing is not None
        if not same(json.loads(existing.document), document):
            write_mission(
                conn,
                tenant_id,
                mission_id,
                document,
                actor=actor[:64],
                now=now,
                action="mission.update_from_order",
                detail={"order_id": order_id},
            )
        on_file.log("mission_updated", {**log, "cause": "amended_order"})
    elif outcome == "held":
        on_file.log("order_not_applied", {**log, "reason": reason})
    else:
        on_file.log("mission_not_created", {"order_id": order_id, "reason": reason})
    if outcome in ("created", "amended") and loaded.get("agent") is not None:
        agents.name_for_mission(
            conn, tenant_id, mission_id, loaded["agent"], via="api", actor=actor, now=now
        )
    row = order_by_id(conn, tenant_id, order_id)
    return outcome_of(conn, tenant_id, row, duplicate=False)


def _create_mission(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, Any],
    driver_id: str | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    try:
        with conn.begin_nested():  # another order of the same file sequence, at once
            missions.create(
                conn,
                tenant_id,
                document,
                driver_id,
                source=MISSION_SOURCE,
                actor=actor,
                now=now,
                path="order",
            )
    except sa.exc.IntegrityError:
        mission_id = document["id"]
        raise Conflict(
            f"Un autre ordre pour la mission {mission_id} arrive au même instant : "
            "renvoyez celui-ci, il sera pris comme une modification.",
            f"Another order for mission {mission_id} is arriving at the same time: send "
            "this one again, it will be taken as an amendment.",
            code="order_race",
        ) from None


def outcome_of(conn: sa.Connection, tenant_id: str, row: Any, *, duplicate: bool) -> dict[str, Any]:
    """What intake answered for this order; the same every time it is asked (a
    duplicate gets it again): cleaning is computed again with the version used then."""
    event = event_with_message(conn, tenant_id, row.party_id, row.message_id)
    detail = dict(event.detail or {}) if event is not None else {}
    rules = Rules(conn, tenant_id, row.party_id)
    cleaning = cleaned_for(rules, row, row.ruleset_version)
    reason = detail.get("reason")
    note = HOLD_TEXTS.get(reason) if isinstance(reason, str) else None
    return {
        "order_id": row.id,
        "message_id": row.message_id,
        "party_id": row.party_id,
        "file_number": row.file_number,
        "mission_id": row.mission_id,
        "outcome": detail.get("outcome"),
        "reason": reason,
        "note": None if note is None else {"fr": note.fr, "en": note.en},
        "state": None if event is None else event.state_after,
        "state_label": state_label(None if event is None else event.state_after),
        "warning": detail.get("warning"),
        "ruleset": None
        if cleaning.version is None
        else {"version": cleaning.version, "digest": cleaning.digest},
        "corrections": cleaning.wire(),
        "received_at": row.received_at,
        "duplicate": duplicate,
    }
