"""Stored files follow the lifecycle table; a known message changes nothing; a refused
office act writes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from server.parties import files as party_files
from server.platform.tables import file_events
from shared.file_lifecycle import Event, LifecycleRefused, State
from tests.server_support import seed
from tests.storage import engine  # noqa: F401

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def _record(conn, event, message_id=None, name=None):
    return party_files.record(
        conn,
        "acme",
        "ASSIST-A",
        "F-1",
        event,
        source="party" if message_id else "office",
        actor="t",
        now=NOW,
        message_id=message_id,
        message_name=name,
    )


def test_a_file_moves_with_messages_and_documents(engine):  # noqa: F811
    seed(engine)
    with engine.begin() as conn:
        assert _record(conn, Event.OPENING_REQUEST, "m1").state is State.WAITING_FOR_ORDER
        assert _record(conn, Event.ORDER, "m2").state is State.NOT_INTEGRATED
        assert _record(conn, Event.USED_IN_DOCUMENT).state is State.INTEGRATED
        assert _record(conn, Event.DOCUMENT_SENT).state is State.SENT
        back = _record(conn, Event.FOLLOW_UP, "m3", "SD 54 Suivi")
        assert back.state is State.INTEGRATED
        stored = party_files.get_file(conn, "acme", "ASSIST-A", "F-1")
    assert stored["state"] == "integrated"
    assert stored["warning"]["fr"] == "Des changements sont intervenus sur le dossier : SD 54 Suivi"
    with engine.connect() as conn:
        log = party_files.history(conn, "acme", "ASSIST-A", "F-1")
    assert [(e["event"], e["state_before"], e["state_after"]) for e in log] == [
        ("opening_request", None, "waiting_for_order"),
        ("order", "waiting_for_order", "not_integrated"),
        ("used_in_document", "not_integrated", "integrated"),
        ("document_sent", "integrated", "sent"),
        ("follow_up", "sent", "integrated"),
    ]


def test_a_duplicated_message_changes_nothing(engine):  # noqa: F811
    seed(engine)
    with engine.begin() as conn:
        _record(conn, Event.ORDER, "m1")
        _record(conn, Event.USED_IN_DOCUMENT)
        again = _record(conn, Event.ORDER, "m1")
        assert again.duplicate and again.transition is None
        assert party_files.state_of(conn, "acme", "ASSIST-A", "F-1") is State.INTEGRATED
        count = conn.execute(sa.select(sa.func.count()).select_from(file_events)).scalar_one()
    assert count == 2


def test_a_refused_office_act_writes_nothing(engine):  # noqa: F811
    seed(engine)
    with engine.begin() as conn:
        _record(conn, Event.OPENING_REQUEST, "m1")
    with pytest.raises(LifecycleRefused), engine.begin() as conn:
        _record(conn, Event.USED_IN_DOCUMENT)
    with engine.connect() as conn:
        assert party_files.state_of(conn, "acme", "ASSIST-A", "F-1") is State.WAITING_FOR_ORDER
        assert len(party_files.history(conn, "acme", "ASSIST-A", "F-1")) == 1
        with pytest.raises(Exception, match="ne peut pas figurer"):
            party_files.require_selectable(conn, "acme", "ASSIST-A", "F-1")
