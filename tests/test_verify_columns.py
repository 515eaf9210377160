"""The verifier against the columns copied from signed bodies, on SQLite and PostgreSQL: a
real day (a tablet's pushed card collection, invoices issued and rendered, office payments
with a credit applied and refunded, a credit note) verifies clean; then an insider edits
one column at a time, triggers dropped, and each edit is named with its table and row —
a wrong value, a wrong type, NULL, unreadable JSON — never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.devices import push
from server.office import integrity, invoicing, office_payments
from server.office.office_payments import Use
from server.platform.tables import journal_entries
from shared import signing
from shared.journal import EntryType
from tests.invoicing_support import KEY, render, set_up
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import TENANT, Tablet, add_tenant, enrol

SERVER_HEX = signing.public_key_to_bytes(signing.public_key_of(KEY)).hex()
DAY = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


@pytest.fixture
def day(engine):  # noqa: F811
    """M-A-0003: a card collection of 100.00 pushed by dev_a; invoices F2026-000001
    (ASSIST-A, 250.00) and F2026-000002 (the beneficiary, 164.00), rendered; payment
    R2026-000001 (cheque 80.00: 64.00 on F2026-000002, 16.00 of credit, then 10.00
    applied… nothing left to apply, so 6.00 refunded); credit note A2026-000001."""
    add_tenant(engine)
    with engine.begin() as conn:
        set_up(conn, TENANT)
    tablet = Tablet("dev_a")
    enrol(engine, tablet)
    tablet.write(
        type=EntryType.COLLECTION,
        at="2026-03-14T10:00:00.000Z",
        mission_id="M-A-0003",
        method="card",
        amount="100.00",
        terminal_ref="TPE-42",
    )
    tablet.write(type=EntryType.MISSION_STEP, at="2026-03-14T10:05:00.000Z", mission_id="M-A-0003")
    with engine.begin() as conn:
        result = push.receive(
            conn,
            tenant_id=TENANT,
            device_id="dev_a",
            public_key=tablet.public_key,
            entries=tablet.wire(),
            revoked=False,
            now=at(10, 30),
        )
    assert result.status is not None, result.to_wire("en")
    with engine.begin() as conn:
        issued = invoicing.issue_for_mission(
            conn, TENANT, "M-A-0003", key=KEY, actor="u1", now=at(11)
        )
    assert [(d["number"], d["recipient_kind"]) for d in issued] == [
        ("F2026-000001", "ordering_party"),
        ("F2026-000002", "beneficiary"),
    ]
    render(engine, at(11, 5))
    with engine.begin() as conn:
        office_payments.record(
            conn,
            TENANT,
            amount="80.00",
            method="cheque",
            received_on=date(2026, 3, 14),
            reference="CHQ 1234567",
            uses=[Use("F2026-000002")],
            key=KEY,
            actor="bureau",
            now=at(14),
        )
        office_payments.refund(
            conn,
            TENANT,
            "R2026-000001",
            amount="6.00",
            reference="VIR REMB 1",
            key=KEY,
            actor="bureau",
            now=at(15),
        )
        invoicing.credit_note(
            conn,
            TENANT,
            "F2026-000001",
            amount="20.00",
            reason="Geste commercial",
            key=KEY,
            actor="bureau",
            now=at(16),
        )
    render(engine, at(16, 5))
    return engine


def findings(eng) -> set[tuple[str, str]]:
    with eng.connect() as conn:
        return {
            (f.kind.value, f.message("en")) for f in integrity.verify_live(conn, TENANT, SERVER_HEX)
        }


def tamper(eng, table: str, where: str, assignment: str) -> None:
    """What an insider with the database's password does: drop (or disable) the
    triggers that refuse changes, then UPDATE the row with raw SQL."""
    with eng.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            for (name,) in conn.exec_driver_sql(
                f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}'"
            ).all():
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.exec_driver_sql(f"UPDATE {table} SET {assignment} WHERE {where}")


def sqlite_only(eng) -> None:
    if eng.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a value of the wrong type in a typed column")


def test_a_real_day_verifies_clean_and_its_rows_are_counted(day):
    with day.connect() as conn:
        report = integrity.check_live(conn, TENANT, SERVER_HEX)
    assert report.findings == []
    # 2 tablet + 9 server entries, 3 documents, 3 files, 1 payment, 2 uses, valuations.
    with day.connect() as conn:
        server = (
            conn.execute(
                sa.select(journal_entries.c.type)
                .where(journal_entries.c.device_id == "server:acme")
                .order_by(journal_entries.c.seq)
            )
            .scalars()
            .all()
        )
    assert server == [
        "invoice_issued",
        "invoice_issued",
        "document_rendered",
        "document_rendered",
        "office_payment",
        "office_payment",
        "credit_note_issued",
        "document_rendered",
    ]
    assert report.rows == 10 + 3 + 3 + 1 + 2 + 2


# --- a wrong value, named -------------------------------------------------------------------

DOC = "table documents, row F2026-000002 — chain server:acme no. 2"
PAY = "table office_payments, row R2026-000001 — chain server:acme no. 5"
USE1 = "table office_payment_uses, row R2026-000001 n° 1 — chain server:acme no. 5"
USE2 = "table office_payment_uses, row R2026-000001 n° 2 — chain server:acme no. 6"


@pytest.mark.parametrize(
    ("table", "where", "assignment", "expected"),
    [
        (
            "journal_entries",
            "device_id = 'dev_a' AND seq = 1",
            "mission_id = 'M-P-0002'",
            'table journal_entries — chain dev_a no. 1: column mission_id holds "M-P-0002", '
            'signed entry no. 1 says "M-A-0003": the row was changed.',
        ),
        (
            "journal_entries",
            "device_id = 'dev_a' AND seq = 1",
            'facts = \'{"amount":"10.00","method":"card","mission_id":"M-A-0003",'
            '"terminal_ref":"TPE-42"}\'',
            "table journal_entries — chain dev_a no. 1: column facts holds "
            '"{\\"amount\\":\\"10.00\\",',
        ),
        (
            "journal_entries",
            "device_id = 'dev_a' AND seq = 1",
            "ref = 'card:TPE42:1000'",
            'table journal_entries — chain dev_a no. 1: column ref holds "card:TPE42:1000", '
            'signed entry no. 1 says "card:TPE42:10000": the row was changed.',
        ),
        (
            "journal_entries",
            "device_id = 'server:acme' AND seq = 2",
            "mission_id = 'M-P-0002'",
            "table journal_entries — chain server:acme no. 2: column mission_id holds "
            '"M-P-0002", signed entry no. 2 says "M-A-0003": the row was changed.',
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "total_incl_cents = 1640",
            f"{DOC}: column total_incl_cents holds 1640, signed entry no. 2 says 16400: the "
            "row was changed.",
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "mission_id = 'M-P-0002'",
            f'{DOC}: column mission_id holds "M-P-0002", signed entry no. 2 says "M-A-0003": '
            "the row was changed.",
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "recipient = '{\"name\": \"Quelqu''un d''autre\"}'",
            f'{DOC}: column recipient holds {{"name": "Quelqu\'un d\'autre"}}, signed entry no. 2 '
            "says {",
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "created_by = 'gerant'",
            f'{DOC}: column created_by holds "gerant", signed entry no. 2 says "u1": the row '
            "was changed.",
        ),
        (
            "documents",
            "number = 'A2026-000001'",
            "corrects = 'F2026-000002'",
            "table documents, row A2026-000001 — chain server:acme no. 7: column corrects "
            'holds "F2026-000002", signed entry no. 7 says "F2026-000001": the row was changed.',
        ),
        (
            "office_payments",
            "number = 'R2026-000001'",
            "amount_cents = 8000000",
            f"{PAY}: column amount_cents holds 8000000, signed entry no. 5 says 8000: the row "
            "was changed.",
        ),
        (
            "office_payments",
            "number = 'R2026-000001'",
            "recorded_by = 'gerant'",
            f'{PAY}: column recorded_by holds "gerant", signed entry no. 5 says "bureau": the '
            "row was changed.",
        ),
        (
            "office_payment_uses",
            "payment_number = 'R2026-000001' AND line_no = 1",
            "invoice_number = 'F2026-000001'",
            f'{USE1}: column invoice_number holds "F2026-000001", signed entry no. 5 says '
            '"F2026-000002": the row was changed.',
        ),
        (
            "office_payment_uses",
            "payment_number = 'R2026-000001' AND line_no = 2",
            "amount_cents = 600000",
            f"{USE2}: column amount_cents holds 600000, signed entry no. 6 says 600: the row "
            "was changed.",
        ),
        (
            "document_files",
            "number = 'F2026-000002'",
            "pdf_sha256 = '" + "0" * 64 + "'",
            "table document_files, row F2026-000002 — chain server:acme no. 4: column "
            'pdf_sha256 holds "' + "0" * 64 + '", signed entry no. 4 says "',
        ),
    ],
)
def test_a_column_changed_by_an_insider_is_named_with_its_table_and_row(
    day, table, where, assignment, expected
):
    tamper(day, table, where, assignment)
    found = findings(day)
    assert len(found) == 1, found
    [(kind, message)] = found
    assert kind == "row_mismatch"
    assert message.startswith(expected), message


def test_a_valuation_copied_from_a_tablet_entry_is_checked_against_it(day):
    with day.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, source, device_id, entry_seq FROM valuations ORDER BY id"
        ).all()
    assert [(r.source, r.device_id, r.entry_seq) for r in rows] == [
        ("server", None, None),
        ("server", None, None),
    ]
    # The server's own valuations: their digest and due amount against their body.
    first = rows[0].id
    tamper(day, "valuations", f"id = {first}", "beneficiary_due_cents = 1")
    [(kind, message)] = findings(day)
    assert kind == "row_mismatch"
    assert message.startswith(
        f"table valuations, row {first}: column beneficiary_due_cents holds 1, signed entry"
    )


def test_what_reconciliation_reads_of_a_valuation_is_checked_against_its_body(day):
    with day.connect() as conn:
        first, version = conn.exec_driver_sql(
            "SELECT id, contract_version FROM valuations ORDER BY id"
        ).first()
    assert version is not None  # written with the valuation (migration 0014)
    tamper(day, "valuations", f"id = {first}", f"contract_version = {version + 1}")
    [(kind, message)] = findings(day)
    assert kind == "row_mismatch"
    assert message.startswith(
        f"table valuations, row {first}: column contract_version holds {version + 1}, "
    ), message
    # All three emptied: a row stored without them, which reconciliation reads from its
    # body, so nothing it reads has changed.
    tamper(
        day,
        "valuations",
        f"id = {first}",
        "contract_id = NULL, contract_version = NULL, file_cap_before_cents = NULL",
    )
    assert findings(day) == set()


def test_a_deleted_payment_use_is_named_against_the_entry_that_signs_it(day):
    with day.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE office_payment_uses DISABLE TRIGGER USER")
        else:
            for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'office_payment_uses'"
            ).all():
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.exec_driver_sql("DELETE FROM office_payment_uses WHERE line_no = 2")
    assert findings(day) == {
        (
            "row_mismatch",
            f"{USE2}: the use this signed entry records is not in the database.",
        )
    }


# --- a wrong type, NULL, unreadable JSON: a finding, never a traceback ------------------------


@pytest.mark.parametrize(
    ("table", "where", "assignment", "expected"),
    [
        (
            "documents",
            "number = 'F2026-000002'",
            "total_incl_cents = 'cent soixante-quatre'",
            f'{DOC}: column total_incl_cents is unreadable (not a whole number: "cent '
            'soixante-quatre"): the row was changed.',
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "total_incl_cents = 164.5",
            f"{DOC}: column total_incl_cents is unreadable (not a whole number: 164.5): the "
            "row was changed.",
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "by_rate = '[{not json'",
            f'{DOC}: column by_rate is unreadable (unreadable JSON: "[{{not json"): the row '
            "was changed.",
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "issued_at = 'mardi'",
            f'{DOC}: column issued_at is unreadable (not a date and time: "mardi"): the row '
            "was changed.",
        ),
        (
            "documents",
            "number = 'F2026-000002'",
            "service_date = 'demain'",
            f'{DOC}: column service_date is unreadable (not a date: "demain"): the row was '
            "changed.",
        ),
        (
            "office_payments",
            "number = 'R2026-000001'",
            "received_on = 'hier'",
            f'{PAY}: column received_on is unreadable (not a date: "hier"): the row was changed.',
        ),
        (
            "office_payment_uses",
            "payment_number = 'R2026-000001' AND line_no = 1",
            "amount_cents = X'00'",
            f'{USE1}: column amount_cents is unreadable (not a whole number: "',
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_a_finding_not_a_traceback(
    day, table, where, assignment, expected
):
    sqlite_only(day)
    tamper(day, table, where, assignment)
    found = findings(day)
    assert len(found) == 1, found
    [(kind, message)] = found
    assert kind == "row_mismatch"
    assert message.startswith(expected), message


def test_a_null_where_the_signed_body_gives_a_value_is_named(day):
    with day.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "ALTER TABLE journal_entries ALTER COLUMN mission_id DROP NOT NULL"
            )
    tamper(day, "journal_entries", "device_id = 'dev_a' AND seq = 2", "mission_id = NULL")
    assert findings(day) == {
        (
            "row_mismatch",
            "table journal_entries — chain dev_a no. 2: column mission_id holds null, signed "
            'entry no. 2 says "M-A-0003": the row was changed.',
        )
    }


def test_a_corrupt_reception_time_and_counter_are_findings(day):
    sqlite_only(day)
    tamper(day, "journal_entries", "device_id = 'dev_a' AND seq = 2", "received_at = 'hier'")
    tamper(day, "tenants", "id = 'acme'", "journal_seq = 'huit'")
    found = findings(day)
    assert (
        "row_mismatch",
        "table journal_entries, row dev_a n° 2 — chain dev_a: unreadable column(s) "
        "received_at: the row was changed.",
    ) in found
    assert (
        "row_mismatch",
        "table tenants, row acme: column journal_seq is unreadable ('huit' is not a whole "
        "number): the row was changed.",
    ) in found


# --- the command line -----------------------------------------------------------------------


def test_verify_names_a_changed_total_and_exits_4(day, tmp_path):
    sqlite_only(day)
    from server.cli.main import main  # first: it loads its command modules

    var = tmp_path / "var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    common = ["--database", day.url.render_as_string(hide_password=False), "--var-dir", str(var)]
    runner = CliRunner()
    clean = runner.invoke(main, ["verify", TENANT, *common, "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["checked"]["rows"] == 21
    tamper(day, "documents", "number = 'F2026-000002'", "total_incl_cents = 1640")
    bad = runner.invoke(main, ["verify", TENANT, *common])
    assert bad.exit_code == 4
    assert (
        "- table documents, ligne F2026-000002 — chaîne server:acme n° 2 : la colonne "
        "total_incl_cents vaut 1640, l'entrée signée n° 2 dit 16400 : la ligne a été modifiée."
    ) in bad.output
    as_json: Any = json.loads(runner.invoke(main, ["verify", TENANT, *common, "--json"]).output)
    assert as_json["findings"][0]["where"] == {
        "table": "documents",
        "row": "F2026-000002",
        "chain": "server:acme",
        "seq": 2,
    }
