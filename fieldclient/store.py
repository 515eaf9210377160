"""The tablet's SQLite database, through the standard library's `sqlite3`: connection,
pragmas, migrations.

- WAL, so a reader (the driver's screen) never waits for a writer;
- `synchronous=FULL`: a collection reported as recorded survives a power cut;
- every write that touches money is one `BEGIN IMMEDIATE` transaction (`write()`): the
  journal entry, its derived rows and its outbox row commit together or not at all;
- money is integer cents (never hand SQLite a Decimal: it has no decimal type);
- the journal is append-only: triggers refuse UPDATE and DELETE.

Migrations are numbered SQL scripts applied in order; `PRAGMA user_version` says how far
a database went. Never edit a released script: add the next one.

No sqlite-utils (ARCHITECTURE.md "Storage" names it): the tablet only ever called its
`execute`, and importing it and its plugin scan cost a large share of a command's 150 ms
(docs/field-client.md "Speed"). The connection is opened with `isolation_level=None`, so
nothing opens a transaction behind the code's back: `write()` is the one that does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE journal (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        driver_id TEXT,
        mission_id TEXT,
        payload NOT NULL,             -- canonical JSON text, or zlib of it (ledger.pack)
        prev_hash BLOB NOT NULL,      -- 32 bytes
        hash BLOB NOT NULL,           -- 32 bytes (the chain makes it unique)
        sig BLOB NOT NULL             -- 64 bytes
    );
    CREATE INDEX journal_by_mission ON journal (mission_id) WHERE mission_id IS NOT NULL;
    CREATE INDEX journal_by_driver ON journal (driver_id, type, seq);
    CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
    CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

    -- entries not yet acknowledged by the server; a row leaves once acknowledged
    CREATE TABLE outbox (seq INTEGER PRIMARY KEY REFERENCES journal (seq));

    CREATE TABLE drivers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT, pin_hash TEXT NOT NULL,
        active INTEGER NOT NULL, rights TEXT NOT NULL  -- JSON list
    );

    CREATE TABLE contracts (
        id TEXT NOT NULL, version INTEGER NOT NULL, ordering_party_id TEXT,
        valid_from TEXT NOT NULL, valid_until TEXT, document TEXT NOT NULL,
        PRIMARY KEY (id, version)
    );

    CREATE TABLE missions (
        id TEXT PRIMARY KEY,
        file_number TEXT,
        ordering_party_id TEXT,
        driver_id TEXT,
        office_status TEXT,          -- the office's word: assigned, cancelled…
        cancel_reason TEXT,
        source TEXT NOT NULL,        -- office (pulled) or tablet (met on the road)
        document TEXT NOT NULL,      -- the mission document (JSON)
        day TEXT NOT NULL            -- local date of the call, for "missions of the day"
    );
    CREATE INDEX missions_by_day ON missions (day, id);
    CREATE INDEX missions_by_file ON missions (file_number) WHERE file_number IS NOT NULL;

    -- derived from the journal, written in the same transaction as the entry
    CREATE TABLE mission_state (
        mission_id TEXT PRIMARY KEY,
        step TEXT NOT NULL,
        valuation_seq INTEGER,
        digest TEXT,
        contract_id TEXT,
        due_cents INTEGER,           -- what the beneficiary owes, incl. VAT
        file_cap_consumed_cents INTEGER
    );
    CREATE TABLE money (
        seq INTEGER PRIMARY KEY REFERENCES journal (seq),
        mission_id TEXT NOT NULL,
        kind TEXT NOT NULL,          -- collection, reversal, discount, deferral
        method TEXT,
        amount_cents INTEGER NOT NULL,
        driver_id TEXT
    );
    CREATE INDEX money_by_mission ON money (mission_id);

    -- wrong approval codes typed, per mission; the office's unlock clears them
    CREATE TABLE approval_failures (
        id INTEGER PRIMARY KEY, mission_id TEXT NOT NULL, at TEXT NOT NULL,
        reason TEXT NOT NULL, cleared INTEGER NOT NULL DEFAULT 0
    );
    -- office decisions already applied (a decision pulled twice is applied once)
    CREATE TABLE decisions (id TEXT PRIMARY KEY, type TEXT NOT NULL, seq INTEGER);
    """,
    # 2: photos, signatures and reports taken for a mission (fieldclient/attachments.py),
    # kept for good; only `uploaded` (bytes the server confirmed holding) ever changes.
    """
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        mission_id TEXT NOT NULL,
        driver_id TEXT,
        kind TEXT NOT NULL,          -- vehicle_photo, signature, handover_report, other
        content_type TEXT NOT NULL,  -- read from the bytes, not from the file's name
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,        -- hex, of `data`
        data BLOB NOT NULL,
        taken_at TEXT NOT NULL,      -- the tablet's corrected clock, UTC
        uploaded INTEGER NOT NULL DEFAULT 0  -- = size once the server checked the file
    );
    CREATE INDEX attachments_by_mission ON attachments (mission_id, taken_at);
    CREATE INDEX attachments_to_upload ON attachments (taken_at) WHERE uploaded < size;
    CREATE TRIGGER attachments_no_delete BEFORE DELETE ON attachments
        BEGIN SELECT RAISE(ABORT, 'attachments are kept'); END;
    CREATE TRIGGER attachments_fixed BEFORE UPDATE OF id, mission_id, driver_id, kind,
        content_type, size, sha256, data, taken_at ON attachments
        BEGIN SELECT RAISE(ABORT, 'an attachment is never changed'); END;
    """,
    # 3: what protects money is read from the signed journal (fieldclient/guards.py):
    # entries by type (wrong codes and PINs, codes used, office unlocks). The tablet's
    # integrity reports wait here until the office has them (fieldclient/integrity_report.py).
    # `approval_failures` is no longer written; the rows it holds still count.
    """
    CREATE INDEX journal_by_type ON journal (type, seq);

    CREATE TABLE integrity_reports (
        id TEXT PRIMARY KEY,         -- sha256 of the findings (hex)
        found_at TEXT NOT NULL,      -- the tablet's corrected clock, UTC
        body TEXT NOT NULL           -- the report as sent (JSON)
    );
    CREATE TRIGGER integrity_reports_kept BEFORE UPDATE ON integrity_reports
        BEGIN SELECT RAISE(ABORT, 'an integrity report is kept as found'); END;
    CREATE TRIGGER integrity_reports_no_delete BEFORE DELETE ON integrity_reports
        BEGIN SELECT RAISE(ABORT, 'an integrity report is kept as found'); END;
    -- reports the server said it recorded
    CREATE TABLE integrity_reports_told (
        id TEXT PRIMARY KEY REFERENCES integrity_reports (id),
        told_at TEXT NOT NULL
    );
    """,
    # 4: the money other tablets recorded on a mission, as the server last announced it
    # (pull feed kind `mission_money`, fieldclient/elsewhere.py): one row per mission.
    # A cache of the server's word, replaced by the next announcement; the signed entries
    # it describes are the other tablets' and the server's.
    """
    CREATE TABLE money_elsewhere (
        mission_id TEXT PRIMARY KEY,
        feed_seq INTEGER NOT NULL,       -- the pull feed's seq of the announcement
        settled_cents INTEGER NOT NULL,  -- collected net, discounted, deferred elsewhere
        data TEXT NOT NULL               -- the announcement as received (JSON)
    );
    """,
    # 5: a mission's deposit and payment moment set by hand in the office, as the server
    # last announced them (pull feed kind `mission_terms`, fieldclient/office_terms.py).
    """
    CREATE TABLE office_terms (
        mission_id TEXT PRIMARY KEY,
        feed_seq INTEGER NOT NULL,       -- the pull feed's seq of the announcement
        data TEXT NOT NULL               -- {"deposit", "pays", …} as received (JSON)
    );
    """,
    # 6: the contract and mission documents that passed their schema on this tablet, by
    # digest (fieldclient/checked_documents.py): a stored document whose digest is here
    # is built again without the schema. A fact about a document: kept, never changed.
    """
    CREATE TABLE checked_documents (
        kind TEXT NOT NULL,              -- the schema and its version: contract/1, mission/1
        digest TEXT NOT NULL,            -- sha256 of the document's canonical JSON (hex)
        PRIMARY KEY (kind, digest)
    ) WITHOUT ROWID;
    CREATE TRIGGER checked_documents_kept BEFORE UPDATE ON checked_documents
        BEGIN SELECT RAISE(ABORT, 'a checked digest is kept as found'); END;
    CREATE TRIGGER checked_documents_no_delete BEFORE DELETE ON checked_documents
        BEGIN SELECT RAISE(ABORT, 'a checked digest is kept as found'); END;
    """,
    # 7: a year's public holidays as the `holidays` library computed them, kept so that a
    # command values a mission without importing the library (fieldclient/holiday_table.py).
    """
    CREATE TABLE holiday_years (
        country TEXT NOT NULL,
        subdivision TEXT NOT NULL,       -- '' when the contract names none
        year INTEGER NOT NULL,
        names TEXT NOT NULL,             -- {"2026-05-01": ["Fête du Travail", "Labor Day"]…}
        library TEXT NOT NULL,           -- the library's version that computed them
        PRIMARY KEY (country, subdivision, year)
    ) WITHOUT ROWID;
    """,
)


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at `path`."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite-utils set it
    migrate(conn)
    return conn


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> int:
    """Apply the scripts this database has not seen, each in its own transaction."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"this database is at schema {version}, newer than this program "
            f"({len(MIGRATIONS)}): update towline-field"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        with write(db):
            for statement in _statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    return schema_version(db)


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements (triggers hold `;` inside BEGIN … END)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


@contextmanager
def write(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (BEGIN IMMEDIATE) so two commands on the same
    tablet queue up instead of both reading the journal head and one failing later."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # the work failed, or the commit did (disk full…)
            db.execute("ROLLBACK")
        raise


def get_meta(db: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return default if row is None else str(row[0])


# Meta keys read in more than one place.
LAST_SYNC_AT = "last_sync_at"  # when the tablet last completed a sync (its corrected clock)
ACKNOWLEDGED_SEQ = "acknowledged_seq"  # the head the server last acknowledged…
ACKNOWLEDGED_HASH = "acknowledged_hash"  # …and its hash


def set_meta(db: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", [key])
    else:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
