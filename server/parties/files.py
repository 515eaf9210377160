"""Ordering parties' files on the server: the lifecycle (shared/file_lifecycle.py) applied
to stored files, and the file's log.

`record` applies one lifecycle event — a message from the ordering party or an act of the
office — inside the caller's transaction: the row in `party_files` follows, and the event
goes to `file_events` with the state before and after. A message the ordering party
already sent (same `message_id`) is recognised and changes nothing; so does any event
whose outcome is refused by the table (the refusal is raised, nothing is written).
`log` adds anything else worth keeping on the file (a cleaning correction, a claim
action, a payment matched) without moving it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.platform.errors import Conflict, not_found
from server.platform.tables import file_events, party_files
from shared import file_lifecycle as lifecycle
from shared.file_lifecycle import Event, State

# Where an entry of the file's log comes from.
SOURCES = ("party", "office", "intake", "claim", "payment")


@dataclass(frozen=True, slots=True)
class Recorded:
    """What `record` did: the transition, or `duplicate` when the message was known."""

    transition: lifecycle.Transition | None
    duplicate: bool = False
    event_id: int | None = None

    @property
    def state(self) -> State | None:
        return None if self.transition is None else self.transition.state


def _row(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str, *, lock: bool
) -> Any:
    query = sa.select(party_files).where(
        party_files.c.tenant_id == tenant_id,
        party_files.c.party_id == party_id,
        party_files.c.file_number == file_number,
    )
    return conn.execute(query.with_for_update() if lock else query).first()


def _known_message(conn: sa.Connection, tenant_id: str, party_id: str, message_id: str) -> bool:
    return (
        conn.execute(
            sa.select(file_events.c.id).where(
                file_events.c.tenant_id == tenant_id,
                file_events.c.party_id == party_id,
                file_events.c.message_id == message_id,
            )
        ).first()
        is not None
    )


def record(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    event: Event,
    *,
    source: str,
    actor: str,
    now: datetime,
    message_id: str | None = None,
    message_name: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Recorded:
    """Apply `event` to the file (creating it on its first event). Raises the table's
    `LifecycleRefused` for an office act the state does not allow."""
    if message_id is not None and _known_message(conn, tenant_id, party_id, message_id):
        return Recorded(None, duplicate=True)
    row = _row(conn, tenant_id, party_id, file_number, lock=True)
    before = None if row is None else lifecycle.parse_state(row.state)
    transition = lifecycle.apply(before, event, message_name=message_name)
    warning = (
        None
        if transition.warning is None
        else {"fr": transition.warning.fr, "en": transition.warning.en}
    )
    if row is None:
        conn.execute(
            sa.insert(party_files).values(
                tenant_id=tenant_id,
                party_id=party_id,
                file_number=file_number,
                state=transition.state.value,
                warning=warning,
                opened_at=now,
                updated_at=now,
            )
        )
    else:
        # A warning stays until the next move replaces it: the office sees the last news.
        values: dict[str, Any] = {"state": transition.state.value, "updated_at": now}
        if warning is not None or transition.changed:
            values["warning"] = warning
        conn.execute(
            sa.update(party_files)
            .where(
                party_files.c.tenant_id == tenant_id,
                party_files.c.party_id == party_id,
                party_files.c.file_number == file_number,
            )
            .values(**values)
        )
    entry = dict(detail or {})
    if message_name:
        entry["message_name"] = message_name
    if warning is not None:
        entry["warning"] = warning
    event_id = conn.execute(
        sa.insert(file_events)
        .values(
            tenant_id=tenant_id,
            party_id=party_id,
            file_number=file_number,
            source=source,
            event=event.value,
            message_id=message_id,
            state_before=None if before is None else before.value,
            state_after=transition.state.value,
            detail=entry,
            at=now,
            actor=actor,
        )
        .returning(file_events.c.id)
    ).scalar_one()
    return Recorded(transition, event_id=int(event_id))


def log(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    event: str,
    *,
    source: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Keep something on the file's log without moving the file."""
    if source not in SOURCES:
        raise ValueError(f"unknown file log source: {source}")
    event_id = conn.execute(
        sa.insert(file_events)
        .values(
            tenant_id=tenant_id,
            party_id=party_id,
            file_number=file_number,
            source=source,
            event=event,
            detail=dict(detail or {}),
            at=now,
            actor=actor,
        )
        .returning(file_events.c.id)
    ).scalar_one()
    return int(event_id)


def get_file(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    row = _row(conn, tenant_id, party_id, file_number, lock=False)
    if row is None:
        raise not_found("Dossier", "File", f"{party_id} {file_number}")
    return _wire(row)


def state_of(conn: sa.Connection, tenant_id: str, party_id: str, file_number: str) -> State | None:
    row = _row(conn, tenant_id, party_id, file_number, lock=False)
    return None if row is None else lifecycle.parse_state(row.state)


def require_selectable(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> None:
    """Refuse to put a file on a document when its state does not allow it (a file waiting
    for its order, a cancelled or done file). A file Towline never heard of is fine: the
    office's own missions have no ordering-party file history."""
    state = state_of(conn, tenant_id, party_id, file_number)
    if state is not None and not lifecycle.selectable_in_document(state):
        label = lifecycle.STATE_LABELS[state]
        raise Conflict(
            f"Le dossier {file_number} est « {label.fr} » : il ne peut pas figurer sur une "
            "facture.",
            f"File {file_number} is '{label.en}': it cannot be put on an invoice.",
            code="file_not_selectable",
        )


def _wire(row: Any) -> dict[str, Any]:
    return {
        "party_id": row.party_id,
        "file_number": row.file_number,
        "state": row.state,
        "warning": row.warning,
        "opened_at": row.opened_at,
        "updated_at": row.updated_at,
    }


def list_files(
    conn: sa.Connection,
    tenant_id: str,
    *,
    party_id: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    query = sa.select(party_files).where(party_files.c.tenant_id == tenant_id)
    if party_id is not None:
        query = query.where(party_files.c.party_id == party_id)
    if state is not None:
        query = query.where(party_files.c.state == state)
    query = query.order_by(party_files.c.updated_at.desc(), party_files.c.file_number).limit(limit)
    return [_wire(r) for r in conn.execute(query)]


def history(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> list[dict[str, Any]]:
    """The file's log, oldest first."""
    rows = conn.execute(
        sa.select(file_events)
        .where(
            file_events.c.tenant_id == tenant_id,
            file_events.c.party_id == party_id,
            file_events.c.file_number == file_number,
        )
        .order_by(file_events.c.id)
    )
    return [
        {
            "id": r.id,
            "source": r.source,
            "event": r.event,
            "message_id": r.message_id,
            "state_before": r.state_before,
            "state_after": r.state_after,
            "detail": r.detail,
            "at": r.at,
            "actor": r.actor,
        }
        for r in rows
    ]
