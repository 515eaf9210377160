"""The nightly archive job (server.cli.jobs `archive_closed`, docs/archives.md "Made every
month"), on SQLite and PostgreSQL: a closed month is archived once, into
`var/archives/<tenant>/`, and the file verifies clean; a month whose documents still wait
for their PDF is not archived half, and is the night after they are rendered."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import timedelta

import sqlalchemy as sa

import server.reactions  # noqa: F401 - the job kinds and their schedules
from server.cli.jobs import ARCHIVE_CLOSED, register_var_jobs
from server.office import integrity, office_journal
from server.platform import jobs, schedule
from server.platform.tables import document_files
from server.platform.tables import jobs as jobs_table
from shared.journal import EntryType
from tests.closing_support import FIRST_CLOSE, KEY, PDF, SERVER_HEX, TENANT, build, utc
from tests.storage import engine  # noqa: F401 - the fixture
from tests.test_schedule import existing_since, rows


def night(engine, var, when):  # noqa: F811
    """What the workers do at `when`: the schedules' slots, then every job due."""
    register_var_jobs(var)
    schedule.Scheduler().tick(engine, when)
    jobs.drain(jobs.Context(engine, lambda: KEY, lambda: when))


def test_a_closed_month_is_archived_once_and_verifies(engine, tmp_path):  # noqa: F811
    world = build(engine)
    existing_since(engine)
    var = tmp_path / "var"
    world.close(FIRST_CLOSE)  # days to 2026-04-02 and the month of March
    night(engine, var, FIRST_CLOSE)
    folder = var / "archives" / TENANT
    assert sorted(p.name for p in folder.iterdir()) == [f"{TENANT}-2026-03.zip"]
    march = folder / f"{TENANT}-2026-03.zip"
    report = integrity.check_archive(march, trusted_server_key_hex=SERVER_HEX)
    assert report.findings == []
    assert report.closings == 3  # the days of March 30 and 31, and the month
    written = march.read_bytes()
    night(engine, var, FIRST_CLOSE + timedelta(days=1))  # the next night: nothing new
    assert march.read_bytes() == written
    assert sorted(p.name for p in folder.iterdir()) == [f"{TENANT}-2026-03.zip"]
    assert {state for _key, state, _n in rows(engine, ARCHIVE_CLOSED)} == {jobs.DONE}
    assert len(rows(engine, ARCHIVE_CLOSED)) == 2  # one slot a night


def test_a_month_waiting_for_a_pdf_is_archived_after_it_is_rendered(engine, tmp_path):  # noqa: F811
    world = build(engine)
    existing_since(engine)
    var = tmp_path / "var"
    # Issued on the 31st, its PDF still to render: its row holds an empty one.
    world.issue(utc("2026-03-31T09:00:00"), "F2026-000002", "50.00", "20", pdf=b"", facturx=None)
    world.close(FIRST_CLOSE)
    night(engine, var, FIRST_CLOSE)
    march = var / "archives" / TENANT / f"{TENANT}-2026-03.zip"
    assert not march.exists()
    with engine.connect() as conn:
        [(state, error)] = conn.execute(
            sa.select(jobs_table.c.state, jobs_table.c.last_error).where(
                jobs_table.c.kind == ARCHIVE_CLOSED
            )
        ).all()
    assert state == jobs.PENDING  # tried again later
    assert "F2026-000002" in error and "wait for their PDF" in error
    rendered = b"%PDF-1.7\nF2026-000002\n%%EOF\n"
    with engine.begin() as conn:  # what the rendering job stores (document_files.render)
        signed = office_journal.append(
            conn,
            TENANT,
            EntryType.DOCUMENT_RENDERED,
            {"number": "F2026-000002", "pdf_sha256": hashlib.sha256(rendered).hexdigest()},
            key=KEY,
            actor="system",
            now=FIRST_CLOSE,
        )
        conn.execute(
            sa.insert(document_files).values(
                tenant_id=TENANT,
                number="F2026-000002",
                pdf=rendered,
                pdf_sha256=hashlib.sha256(rendered).hexdigest(),
                journal_seq=signed.entry.seq,
                rendered_at=FIRST_CLOSE,
            )
        )
    night(engine, var, utc("2026-04-04T08:00:00"))
    with zipfile.ZipFile(march) as zipped:
        assert zipped.read("documents/F2026-000002.pdf") == rendered
        assert zipped.read("documents/F2026-000001.pdf") == PDF
