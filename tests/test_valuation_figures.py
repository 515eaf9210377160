"""What a valuation row keeps beside its body for reconciliation (contract version, file
cap consumed before; server.office.valuation_figures): derived from the body, filled by
migration 0014 for the rows stored before exactly as the push now writes them, taken
away by its downgrade; and a row stored without them is read from its body, with the
same verdicts. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from server.office import reconcile
from server.office.valuation_figures import Figures, columns
from tests.test_rights_migration import migrate, old_engine  # noqa: F401 - the fixture

AT = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)
WITH_CAP = {
    "digest": "a" * 64,
    "contract": {"id": "ASSIST-A", "version": 3},
    "file_cap": {"consumed_before": "120.50", "cap": "300.00"},
    "payers": {"beneficiary": {"incl_vat": "40.00"}},
}
WITHOUT_CAP = {
    "digest": "b" * 64,
    "contract": {"id": "ASSIST-B", "version": 1},
    "file_cap": None,
    "payers": {"beneficiary": {"incl_vat": "0.00"}},
}
NO_CONTRACT = {"digest": "c" * 64, "payers": {"beneficiary": {"incl_vat": "12.00"}}}


def test_the_columns_say_what_the_body_says():
    assert columns(WITH_CAP) == {
        "contract_id": "ASSIST-A",
        "contract_version": 3,
        "file_cap_before_cents": 12050,
    }
    assert columns(WITHOUT_CAP) == {
        "contract_id": "ASSIST-B",
        "contract_version": 1,
        "file_cap_before_cents": None,
    }
    # What the body does not say (or says unreadably) is left empty, never guessed.
    assert columns(NO_CONTRACT) == dict.fromkeys(columns(WITH_CAP))
    odd = {"contract": {"id": "X" * 65, "version": True}, "file_cap": {"consumed_before": 1.5}}
    assert columns(odd) == dict.fromkeys(columns(WITH_CAP))
    # Beyond what the columns hold (a forged body): left empty, read from the body.
    huge = {"contract": {"id": "A\x00B", "version": 2**31}, "file_cap": {"consumed_before": 10**17}}
    assert columns(huge) == dict.fromkeys(columns(WITH_CAP))
    assert columns({"file_cap": {"consumed_before": 10**16}})["file_cap_before_cents"] == 10**18


def test_the_valuations_stored_before_get_their_figures(old_engine):  # noqa: F811
    migrate(old_engine, "0013")
    bodies = {1: WITH_CAP, 2: WITHOUT_CAP, 3: NO_CONTRACT}
    with old_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tenants (id, name, payments_enabled, settings, change_seq, journal_seq,"
            " created_at) VALUES ('acme', 'Acme', true, '{}', 0, 0, '2026-01-05 00:00:00+00')"
        )
        for row_id, body in bodies.items():
            conn.execute(
                sa.text(
                    "INSERT INTO valuations (id, tenant_id, mission_id, source, digest,"
                    " beneficiary_due_cents, body, created_at) VALUES (:id, 'acme', :m,"
                    " 'server', :d, 0, :b, :at)"
                ),
                {
                    "id": row_id,
                    "m": f"M-{row_id}",
                    "d": body["digest"],
                    "b": json.dumps(body),
                    "at": AT,
                },
            )

    migrate(old_engine, "0014")
    with old_engine.connect() as conn:
        stored = {
            r.id: {
                "contract_id": r.contract_id,
                "contract_version": r.contract_version,
                "file_cap_before_cents": r.file_cap_before_cents,
            }
            for r in conn.exec_driver_sql(
                "SELECT id, contract_id, contract_version, file_cap_before_cents FROM valuations"
            )
        }
    assert stored == {row_id: columns(body) for row_id, body in bodies.items()}
    assert stored[1]["file_cap_before_cents"] == 12050

    migrate(old_engine, "0013", down=True)
    with old_engine.connect() as conn:
        names = {c["name"] for c in sa.inspect(conn).get_columns("valuations")}
    assert "contract_version" not in names and "file_cap_before_cents" not in names


def test_a_row_without_its_figures_is_read_from_its_body(old_engine):  # noqa: F811
    migrate(old_engine, "head")
    with old_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tenants (id, name, payments_enabled, settings, change_seq, journal_seq,"
            " created_at) VALUES ('acme', 'Acme', true, '{}', 0, 0, '2026-01-05 00:00:00+00')"
        )
        for row_id, (mission, figures) in enumerate(
            (("M-1", columns(WITH_CAP)), ("M-2", dict.fromkeys(columns(WITH_CAP)))), start=1
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO valuations (id, tenant_id, mission_id, source, digest,"
                    " beneficiary_due_cents, body, created_at, contract_id, contract_version,"
                    " file_cap_before_cents) VALUES (:id, 'acme', :m, 'server', 'd', 4000, :b,"
                    " :at, :cid, :cv, :cap)"
                ),
                {
                    "id": row_id,
                    "m": mission,
                    "b": json.dumps(WITH_CAP),
                    "at": AT,
                    "cid": figures["contract_id"],
                    "cv": figures["contract_version"],
                    "cap": figures["file_cap_before_cents"],
                },
            )
        read = reconcile._latest_valuations(conn, "acme", ["M-1", "M-2"], "server")
    expected = Figures(4000, "ASSIST-A", 3, 12050)
    assert read == {"M-1": expected, "M-2": expected}
