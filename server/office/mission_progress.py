"""Where a mission stands, as its tablets report it, and the status the office shows.

The office's own status (server.office.missions: new, assigned, cancelled) says what the
office did; the tablets' `mission_step` entries say what happened on the road. The status
shown to people (`shown_status`) follows the tablets: a mission closed on the tablet is
closed on the desk, one the driver marked "gone on arrival" says so, and an office
cancellation wins over everything (the tablet learns it at its next pull).

Also here: each mission's money as the tablets recorded it (what the server's valuation
says the beneficiary owes, what was collected net of reversals), for lists of missions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import missions as mission_store
from server.office.invoice_balances import field_events
from server.office.office_journal import PREFIX as SERVER_CHAIN
from server.platform.db import in_chunks
from server.platform.tables import entry_types, journal_entries, valuations
from shared.balance import fold
from shared.money import from_cents, to_cents, wire
from shared.steps import Step, is_terminal

# The statuses `shown_status` gives: the office's two open ones, then the tablets' steps.
OFFICE_OPEN = (mission_store.NEW, mission_store.ASSIGNED)
SHOWN_STATUSES = (*OFFICE_OPEN, *(s.value for s in Step if s is not Step.ASSIGNED))


@dataclass(frozen=True, slots=True)
class FieldStep:
    """The last step a tablet recorded for a mission."""

    step: str  # a shared.steps.Step value
    at: datetime | None  # when the tablet says it happened (its own clock)
    device_id: str
    driver_id: str | None
    received_at: datetime  # when the server received it


@dataclass(frozen=True, slots=True)
class FieldMoney:
    """A mission's money in cents: due per the server's latest valuation (None before any
    valuation), collected net of reversals, discounted and billed later."""

    due: int | None
    collected: int  # net of reversals
    discounted: int
    deferred: int
    remaining: int | None  # what the driver must still collect (None before a valuation)


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def last_steps(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, FieldStep]:
    """{mission: the last step its tablets recorded}, for the missions that have one. The
    last is the one the server received last (one tablet's entries in their order); an
    entry that names no readable step is skipped."""
    found: dict[str, tuple[tuple[Any, ...], FieldStep]] = {}
    for chunk in in_chunks(mission_ids):
        rows = conn.execute(
            sa.select(
                journal_entries.c.mission_id,
                journal_entries.c.device_id,
                journal_entries.c.seq,
                journal_entries.c.driver_id,
                journal_entries.c.at,
                journal_entries.c.body,
                journal_entries.c.received_at,
            ).where(
                journal_entries.c.tenant_id == tenant_id,
                journal_entries.c.mission_id.in_(chunk),
                entry_types("mission_step"),
                ~journal_entries.c.device_id.startswith(SERVER_CHAIN),
            )
        )
        for row in rows:
            try:
                step = Step(str((json.loads(row.body).get("payload") or {}).get("to")))
            except (TypeError, ValueError, AttributeError):
                continue
            order = (row.received_at, row.device_id, int(row.seq))
            held = found.get(row.mission_id)
            if held is None or held[0] < order:
                seen = FieldStep(
                    step.value, _instant(row.at), row.device_id, row.driver_id, row.received_at
                )
                found[row.mission_id] = (order, seen)
    return {mission_id: seen for mission_id, (_, seen) in found.items()}


def shown_status(office_status: str, step: str | None) -> str:
    """The status people read: the office's cancellation first, then what the tablet
    reported (any step past "assigned"), else the office's own status."""
    if office_status == mission_store.CANCELLED:
        return mission_store.CANCELLED
    if step is not None and step != Step.ASSIGNED.value:
        return step
    return office_status


def is_finished(office_status: str, step: str | None) -> bool:
    """Nothing more will happen on the road: cancelled by the office, or a final step."""
    if office_status == mission_store.CANCELLED:
        return True
    try:
        return step is not None and is_terminal(Step(step))
    except ValueError:
        return False


def latest_due(conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]) -> dict[str, int]:
    """{mission: what the beneficiary owes, in cents, per the server's latest valuation}."""
    out: dict[str, int] = {}
    for chunk in in_chunks(mission_ids):
        latest = (
            sa.select(sa.func.max(valuations.c.id))
            .where(
                valuations.c.tenant_id == tenant_id,
                valuations.c.source == "server",
                valuations.c.mission_id.in_(chunk),
            )
            .group_by(valuations.c.mission_id)
        )
        for row in conn.execute(
            sa.select(valuations.c.mission_id, valuations.c.beneficiary_due_cents).where(
                valuations.c.id.in_(latest)
            )
        ):
            out[row.mission_id] = int(row.beneficiary_due_cents)
    return out


def field_money(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str]
) -> dict[str, FieldMoney]:
    """{mission: its money as the tablets recorded it} for every mission asked."""
    wanted = sorted(set(mission_ids))
    dues = latest_due(conn, tenant_id, wanted)
    events = field_events(conn, tenant_id, wanted)
    out: dict[str, FieldMoney] = {}
    for mission_id in wanted:
        due = dues.get(mission_id)
        money = fold(mission_id, from_cents(due or 0), events.get(mission_id, ()))
        out[mission_id] = FieldMoney(
            due=due,
            collected=to_cents(money.net_collected),
            discounted=to_cents(money.discounted),
            deferred=to_cents(money.deferred),
            remaining=None if due is None else to_cents(money.remaining),
        )
    return out


def money_wire(money: FieldMoney | None) -> Mapping[str, str | None]:
    """The money for the API: decimal strings (None where unknown)."""

    def text(cents: int | None) -> str | None:
        return None if cents is None else wire(from_cents(cents))

    if money is None:
        return {"due": None, "collected": "0.00", "remaining": None}
    return {
        "due": text(money.due),
        "collected": text(money.collected),
        "remaining": text(money.remaining),
    }
