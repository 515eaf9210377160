"""The file's other messages from an ordering party (opening request, follow-up, invoice
rejected or validated, payment advice, order cancelled, provider changed): each moves the
file through the lifecycle table (docs/file-lifecycle.md), the claims and the missions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError, fields, validate

from server.office import missions
from server.parties import claims
from server.parties import files as party_files
from server.parties.order_document import Strict, text_length
from server.parties.order_store import (
    FileLog,
    event_with_message,
    require_party,
    state_label,
    valued_by_tablet,
)
from server.platform.tables import file_events
from server.platform.tables import missions as missions_table
from server.platform.web import nul_paths
from shared import file_lifecycle as lifecycle
from shared.errors import InvalidDocument
from shared.file_lifecycle import Event, State
from shared.i18n import Text
from shared.schema_tools import AmountField, bilingual, problems

MESSAGE = Text("Message invalide", "Invalid message")
# The messages `receive_message` takes; an order goes through `receive_order`.
MESSAGE_KINDS = tuple(e.value for e in Event if lifecycle.is_message(e) and e is not Event.ORDER)


class _MessageDetailSchema(Strict):
    invoice_number = fields.String(validate=validate.Length(1, 32))
    reasons = fields.List(
        fields.String(validate=text_length(500)), validate=validate.Length(max=20)
    )
    amount = AmountField()
    reference = fields.String(validate=text_length(120))
    provider = fields.String(validate=text_length(200))
    note = fields.String(validate=text_length(1000))


class MessageSchema(Strict):
    message_id = fields.String(required=True, validate=validate.Length(1, 120))
    file_number = fields.String(required=True, validate=validate.Length(1, 64))
    kind = fields.String(required=True, validate=validate.OneOf(MESSAGE_KINDS))
    name = fields.String(load_default=None, allow_none=True, validate=text_length(200))
    at = fields.AwareDateTime(load_default=None, allow_none=True)
    detail = fields.Nested(_MessageDetailSchema, load_default=dict)


def receive_message(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    message: Any,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Apply one of the party's messages to its file (never refused once well formed:
    the world already happened). A known message id changes nothing and answers with
    the first outcome. An invoice validated or rejected moves the file's claims; an
    order cancelled or a provider changed cancels the file's missions no tablet has
    valued yet (the others stay, and are listed for the office)."""
    require_party(conn, tenant_id, party_id)
    if not isinstance(message, Mapping):
        raise InvalidDocument(MESSAGE, problems(["Invalid input type."]))
    nul = bilingual("caractère nul (\\u0000) refusé", "the null character (\\u0000) is refused")
    found = nul_paths(dict(message))
    if found:
        raise InvalidDocument(MESSAGE, problems({path: [nul] for path in found}))
    try:
        data = MessageSchema().load(message)
    except ValidationError as exc:
        raise InvalidDocument(MESSAGE, problems(exc.messages)) from None
    known = event_with_message(conn, tenant_id, party_id, data["message_id"])
    if known is not None:
        return _message_outcome(known, duplicate=True)
    event = Event(data["kind"])
    detail = {k: (str(v) if k == "amount" else v) for k, v in data["detail"].items()}
    entry: dict[str, Any] = {"kind": event.value, **detail}
    if data["at"] is not None:
        entry["sent_at"] = data["at"].isoformat()
    file_number = data["file_number"]
    try:
        with conn.begin_nested():
            recorded = party_files.record(
                conn,
                tenant_id,
                party_id,
                file_number,
                event,
                source="party",
                actor=actor[:64],
                now=now,
                message_id=data["message_id"],
                message_name=data["name"],
                detail=entry,
            )
    except sa.exc.IntegrityError:
        recorded = None
    if recorded is None or recorded.duplicate or recorded.event_id is None:
        known = event_with_message(conn, tenant_id, party_id, data["message_id"])
        return _message_outcome(known, duplicate=True)
    touched = claims.on_file_event(
        conn,
        tenant_id,
        party_id,
        file_number,
        event,
        actor=actor[:64],
        now=now,
        invoice_number=detail.get("invoice_number"),
        reasons=detail.get("reasons"),
        message_name=data["name"],
    )
    cancelled: list[str] = []
    kept: list[str] = []
    transition = recorded.transition
    if (
        event in (Event.ORDER_CANCELLED, Event.PROVIDER_CHANGED)
        and transition is not None
        and transition.state is State.DONE
    ):
        cancelled, kept = _stop_missions(
            conn, tenant_id, party_id, file_number, event, data, actor=actor, now=now
        )
    row = conn.execute(sa.select(file_events).where(file_events.c.id == recorded.event_id)).one()
    return {
        **_message_outcome(row, duplicate=False),
        "claims": [{"invoice_number": c["invoice_number"], "status": c["status"]} for c in touched],
        "missions_cancelled": cancelled,
        "missions_kept": kept,
    }


def _stop_missions(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    event: Event,
    data: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> tuple[list[str], list[str]]:
    rows = conn.execute(
        sa.select(missions_table)
        .where(
            missions_table.c.tenant_id == tenant_id,
            missions_table.c.ordering_party_id == party_id,
            missions_table.c.file_number == file_number,
            missions_table.c.status != missions.CANCELLED,
        )
        .order_by(missions_table.c.id)
    ).all()
    label = lifecycle.EVENT_LABELS[event].fr
    reason = f"{label} par le donneur d'ordre ({data['name'] or data['message_id']})"
    cancelled, kept = [], []
    for row in rows:
        if valued_by_tablet(conn, tenant_id, row.id):
            kept.append(row.id)
            FileLog(conn, tenant_id, party_id, file_number, actor, now).log(
                "mission_kept",
                {
                    "mission_id": row.id,
                    "reason": "valued_by_tablet",
                    "message_id": data["message_id"],
                },
            )
            continue
        missions.cancel(conn, tenant_id, row.id, reason, actor=actor[:64], now=now)
        cancelled.append(row.id)
        FileLog(conn, tenant_id, party_id, file_number, actor, now).log(
            "mission_cancelled",
            {"mission_id": row.id, "message_id": data["message_id"]},
        )
    return cancelled, kept


def _message_outcome(row: Any, *, duplicate: bool) -> dict[str, Any]:
    detail = dict(row.detail or {})
    return {
        "message_id": row.message_id,
        "file_number": row.file_number,
        "kind": row.event,
        "duplicate": duplicate,
        "state_before": row.state_before,
        "state": row.state_after,
        "state_label": state_label(row.state_after),
        "changed": row.state_before != row.state_after,
        "warning": detail.get("warning"),
        "claims": [],
        "missions_cancelled": [],
        "missions_kept": [],
    }
