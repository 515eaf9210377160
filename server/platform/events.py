"""In-process events: how one area reacts to what happens in another without importing it.

The area where something happens publishes an event inside its transaction; the areas
that must react subscribe a handler, which runs at once, in the same transaction, on the
same connection (a failure in a handler rolls the whole act back, as a direct call would).
Every subscription is made in one place, `server.reactions`, which the app, the command
line and the tests import; an event published with nobody subscribed is a wiring bug and
raises instead of being lost.

    @dataclass(frozen=True)
    class DocumentStored(Event):
        tenant_id: str
        ...

    events.publish(conn, DocumentStored(...))          # in the area where it happens
    events.subscribe(DocumentStored, claims.on_stored)  # in server.reactions
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa


class Event:
    """Base of every event; subclasses are frozen dataclasses."""


E = TypeVar("E", bound=Event)
Handler = Callable[[sa.Connection, Any], None]

_handlers: dict[type[Event], list[Handler]] = {}


def subscribe(kind: type[E], handler: Callable[[sa.Connection, E], None]) -> None:
    """Call `handler(conn, event)` for every `kind` published from now on (once per
    handler, however often this is called)."""
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


def publish(conn: sa.Connection, event: Event) -> None:
    """Run every handler subscribed to the event's type, in subscription order."""
    handlers = _handlers.get(type(event))
    if not handlers:
        raise RuntimeError(
            f"Nobody subscribed to {type(event).__name__}: import server.reactions first."
        )
    for handler in handlers:
        handler(conn, event)


# --- the events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentStored(Event):
    """An invoice or credit note was numbered and stored (`server.office.invoicing`);
    `document` is its `documents` row. Claims and ordering parties' files follow it."""

    tenant_id: str
    document: Any
    actor: str
    now: datetime
