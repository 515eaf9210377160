"""Migration 0007: the tablets' entries stored before get what reconciliation reads of
them (`facts`, `ref`) and the settlement lines their card key, exactly as the push and
the import now write them; the server's own chain is left without (no rule reads it).
Downgrading takes the columns away. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from server.office.reconcile_facts import card_key, columns
from tests.test_rights_migration import migrate, old_engine  # noqa: F401 - the fixture

AT = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)
PAYLOADS = [
    (
        "dev_a",
        1,
        "collection",
        {
            "mission_id": "M-1",
            "amount": "80.00",
            "method": "card",
            "terminal_ref": "a1-b2",
            "note": "x" * 300,
        },
    ),
    ("dev_a", 2, "discount", {"mission_id": "M-1", "amount": "10.00", "approval_ref": "3:K7"}),
    ("dev_a", 3, "reversal", {"mission_id": "M-1", "reverses": {"hash": "c" * 64}}),
    ("dev_a", 4, "mission_step", {"mission_id": "M-1", "from": "on_site", "to": "departed"}),
    ("server:acme", 1, "invoice_issued", {"mission_id": "M-1", "number": "F-1"}),
]


def test_the_entries_and_lines_stored_before_get_their_facts(old_engine):  # noqa: F811
    migrate(old_engine, "0006")
    with old_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tenants (id, name, payments_enabled, settings, change_seq, journal_seq,"
            " created_at) VALUES ('acme', 'Acme', true, '{}', 0, 0, '2026-01-05 00:00:00+00')"
        )
        for device_id, seq, type_, payload in PAYLOADS:
            body = json.dumps({"at": "2026-03-10T10:00:00.000Z", "payload": payload})
            conn.execute(
                sa.text(
                    "INSERT INTO journal_entries (device_id, seq, tenant_id, type, at, driver_id,"
                    " mission_id, hash, prev_hash, sig, body, received_at) VALUES (:d, :s,"
                    " 'acme', :t, '2026-03-10T10:00:00.000Z', 'd1', 'M-1', :h, :h, :sig, :b, :r)"
                ),
                {
                    "d": device_id,
                    "s": seq,
                    "t": type_,
                    "h": f"{seq:064d}",
                    "sig": "0" * 128,
                    "b": body,
                    "r": AT,
                },
            )
        conn.execute(
            sa.text(
                "INSERT INTO card_settlements (id, tenant_id, file_name, file_sha256, period_from,"
                " period_to, imported_by, imported_at) VALUES (1, 'acme', 'f.csv', :sha,"
                " '2026-03-10', '2026-03-10', 'office', :r)"
            ),
            {"sha": "e" * 64, "r": AT},
        )
        conn.execute(
            sa.text(
                "INSERT INTO card_settlement_lines (settlement_id, line_no, tenant_id, day,"
                " terminal_ref, amount_cents) VALUES (1, 1, 'acme', '2026-03-10', 'A1 B2', 8000)"
            )
        )

    migrate(old_engine, "0007")
    with old_engine.connect() as conn:
        stored = {
            (r.device_id, r.seq): (r.facts, r.ref)
            for r in conn.exec_driver_sql("SELECT device_id, seq, facts, ref FROM journal_entries")
        }
        line = conn.exec_driver_sql("SELECT ref FROM card_settlement_lines").scalar_one()
    for device_id, seq, type_, payload in PAYLOADS[:-1]:
        made = columns(type_, payload)
        assert stored[(device_id, seq)] == (made["facts"], made["ref"])
    assert stored[("server:acme", 1)] == (None, None)
    assert stored[("dev_a", 1)][1] == line == card_key("A1 B2", 8000) == "card:A1B2:8000"

    migrate(old_engine, "0006", down=True)
    with old_engine.connect() as conn:
        names = {c["name"] for c in sa.inspect(conn).get_columns("journal_entries")}
    assert "facts" not in names and "ref" not in names
