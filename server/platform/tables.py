"""The server's tables (SQLAlchemy Core). Every row carries its tenant, and every query
is scoped by it. Money columns are integer cents; documents are stored as the JSON text
they arrived as. Journal rows are never updated or deleted (corrections are new rows).

Why one module over 500 lines: it is the schema, read top to bottom like a migration;
`make schema` generates the initial migration from it, and split tables would hide the
foreign keys that tie them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An instant, always aware and in UTC, on SQLite (text) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC instant")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False)


tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("payments_enabled", sa.Boolean, nullable=False, default=False),
    sa.Column("settings", sa.JSON, nullable=False, default=dict),
    # The pull cursor: a per-tenant counter row, locked by the transaction that adds a
    # change, so change numbers are gapless and commit in order (ARCHITECTURE "Storage").
    sa.Column("change_seq", sa.BigInteger, nullable=False, default=0),
    # Head of the tenant's server journal (server.office.office_journal), bumped under lock.
    sa.Column("journal_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

roles = sa.Table(
    "roles",
    metadata,
    _tenant(),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("rights", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "name"),
)

users = sa.Table(
    "users",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("login", sa.String(120), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", UTCDateTime),
    # Desk sessions signed in before this instant are over (the cookie alone proves nothing).
    sa.Column("signed_out_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Migration 0008 (server.people.user_admin): a deactivated user cannot sign in; a reset
    # password must be replaced at the next sign-in.
    sa.Column("deactivated_at", UTCDateTime),
    sa.Column("deactivated_by", sa.String(64)),
    # Desk sessions and API tokens begun before this instant are over (reset, deactivation).
    sa.Column("sessions_ended_at", UTCDateTime),
    sa.Column(
        "password_change_required",
        sa.Boolean,
        nullable=False,
        default=False,
        server_default=sa.false(),
    ),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "login"),
)

drivers = sa.Table(
    "drivers",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("pin_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

ordering_parties = sa.Table(
    "ordering_parties",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

contracts = sa.Table(
    "contracts",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_until", sa.Date),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id", "version"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    _tenant(),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("public_key", sa.String(128), nullable=False),
    sa.Column("approval_secret", sa.String(128), nullable=False),
    sa.Column("approval_key_id", sa.Integer, nullable=False, default=1),
    sa.Column("enrolled_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("revoked_by", sa.String(64)),
    sa.Column("revoked_reason", sa.Text),
    sa.Column("last_seen_at", UTCDateTime),
    # The last entry of the device's chain the server stored and acknowledged.
    sa.Column("head_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("head_hash", sa.String(64)),
    sa.Index("ix_devices_public_key", "public_key", unique=True),
)

enrolment_codes = sa.Table(
    "enrolment_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("attempts_left", sa.Integer, nullable=False),
    sa.Column("used_at", UTCDateTime),
    sa.Column("device_id", sa.String(64)),
    # The code's first characters, kept in clear to find the row a typed code aims at,
    # so a wrong guess spends that code's attempts (the rest is only stored hashed).
    sa.Column("lookup", sa.String(16), nullable=False),
    sa.Column("driver_ids", sa.JSON, nullable=False, default=list),
    # Set once when the office withdraws an unused code (migration 0008): it cannot enrol.
    sa.Column("withdrawn_at", UTCDateTime),
    sa.Column("withdrawn_by", sa.String(64)),
    sa.Index("ix_enrolment_codes_lookup", "lookup"),
)

device_drivers = sa.Table(
    "device_drivers",
    metadata,
    _tenant(),
    sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("driver_id", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("device_id", "driver_id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "driver_id"],
        ["drivers.tenant_id", "drivers.id"],
        name="fk_device_drivers_driver",
    ),
)

challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    _tenant(),
    sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
    sa.Index("ix_challenges_device", "device_id"),
)

missions = sa.Table(
    "missions",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("file_number", sa.String(64)),
    sa.Column("ordering_party_id", sa.String(64)),
    sa.Column("driver_id", sa.String(64)),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # office | device
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("cancel_reason", sa.Text),  # set when the office cancels the mission
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("cancelled_by", sa.String(64)),
    # What the desk's lists find a mission by, derived from `document` whenever it is
    # written (server.office.mission_keys; migration 0011): the call's instant, the
    # vehicle's plate key, the contract's customer account. The document is the record.
    sa.Column("call_at", UTCDateTime),
    sa.Column("plate_key", sa.String(20)),
    sa.Column("customer", sa.String(160)),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index("ix_missions_driver", "tenant_id", "driver_id"),
    sa.Index("ix_missions_file", "tenant_id", "file_number"),
    # The desk at a year (docs/scaling.md): the board's day, the lookup, newest first.
    sa.Index("ix_missions_created", "tenant_id", "created_at"),
    sa.Index("ix_missions_call", "tenant_id", "call_at"),
    sa.Index("ix_missions_cancelled", "tenant_id", "cancelled_at"),
    sa.Index("ix_missions_plate", "tenant_id", "plate_key", "created_at"),
    sa.Index("ix_missions_customer", "tenant_id", "customer"),
)


def folded_index(name: str, tenant: sa.Column[Any], column: sa.Column[Any]) -> sa.Index:
    """An index on (tenant, lower(column)), for `folded_is` and `folded_prefix`: a desk
    search of an id or a file number in any case. On PostgreSQL its operator class is
    `text_pattern_ops`, which serves `LIKE 'abc%'` whatever the database's collation."""
    label = f"{column.name}_folded"
    return sa.Index(
        name,
        tenant,
        sa.func.lower(column).label(label),
        postgresql_ops={label: "text_pattern_ops"},
    )


def folded_is(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """`column` equals `text` in any case, through the column's `folded_index`."""
    return sa.func.lower(column) == sa.func.lower(sa.literal(text, sa.String))


def folded_prefix(dialect: str, column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """`column` starts with `text` in any case, through the column's `folded_index`.
    PostgreSQL reads the `LIKE` through it; SQLite reads an index on an expression only
    for comparisons, so the `LIKE` comes with the range of keys it can match."""
    key = sa.func.lower(column, type_=sa.String)
    pattern = text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    starts = key.like(sa.func.lower(sa.literal(pattern, sa.String)), escape="/")
    if dialect == "postgresql":
        return starts
    low = sa.func.lower(sa.literal(text, sa.String), type_=sa.String)
    return sa.and_(key >= low, key < low.op("||")(_AFTER_ALL), starts)


def newest_first(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """`ORDER BY column DESC` for a search that finds its rows through another index (a
    folded one). SQLite, which keeps no statistics, would read such a query with a LIMIT
    through the tenant's index on `column` to spare the sort, testing every mission the
    tenant has; written `column || ''` there (a text in the same order), it reads the
    search's own index and sorts the rows found."""
    if dialect == "postgresql":
        return column.desc()
    return sa.type_coerce(column, sa.String).concat("").desc()


# A byte no UTF-8 text holds (0xF5): SQLite compares text byte by byte, so every text that
# starts with P sorts before P followed by it, whatever follows P (U+10FFFF included).
_AFTER_ALL = sa.literal_column("CAST(x'F5' AS TEXT)", sa.String)
folded_index("ix_missions_id_folded", missions.c.tenant_id, missions.c.id)
folded_index("ix_missions_file_folded", missions.c.tenant_id, missions.c.file_number)


journal_entries = sa.Table(
    "journal_entries",
    metadata,
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    _tenant(),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),  # as the device wrote it (not trusted)
    sa.Column("driver_id", sa.String(64)),
    sa.Column("mission_id", sa.String(64)),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("sig", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the entry's canonical JSON
    sa.Column("received_at", UTCDateTime, nullable=False),
    # What reconciliation reads of a tablet's entry, derived from it once when it is
    # stored (server.office.reconcile_facts): the payload's fields its rules read, and
    # the key a check finds the entry by. NULL: read the body (the server's own chain).
    sa.Column("facts", sa.Text),
    sa.Column("ref", sa.String(200)),
    # True: the entry repeats an earlier one of its tablet and mission, neither money nor
    # a dispute (same driver, type and facts), so a push's reconciliation need not read it
    # (server.office.reconcile_facts; migration 0010). NULL: read it.
    sa.Column("repeats", sa.Boolean),
    sa.PrimaryKeyConstraint("device_id", "seq"),
    sa.Index("ix_journal_mission", "tenant_id", "mission_id"),
    # A type's entries of a period (the reports' collections and voids), or all of them
    sa.Index("ix_journal_type", "tenant_id", "type", "received_at"),
    sa.Index("ix_journal_ref", "tenant_id", "ref"),
    sa.Index(
        "ix_journal_mission_firsts",
        "tenant_id",
        "mission_id",
        sqlite_where=sa.text("repeats IS NULL"),
        postgresql_where=sa.text("repeats IS NULL"),
    ),
    sa.Index(
        "ix_journal_unread",
        "tenant_id",
        "type",
        sqlite_where=sa.text("facts IS NULL"),
        postgresql_where=sa.text("facts IS NULL"),
    ),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

changes = sa.Table(
    "changes",
    metadata,
    _tenant(),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("entity_id", sa.String(128), nullable=False),
    # A driver id, "device:<device id>" for one tablet, or NULL for every device of the tenant.
    sa.Column("scope", sa.String(80)),
    sa.Column("data", sa.Text),  # NULL: a tombstone
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "seq"),
)

# The office's decisions the tablets apply (docs/sync-protocol.md "Office decisions"):
# each is also a `decision` change of the pull feed, with `data` as stored here.
decisions = sa.Table(
    "decisions",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),  # "dec_" + 20 hex
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("mission_id", sa.String(64)),
    sa.Column("device_id", sa.String(64)),  # the tablet concerned (void, unlock)
    sa.Column("entry_seq", sa.BigInteger),  # the voided collection's seq (void only)
    sa.Column("driver_id", sa.String(64)),
    sa.Column("data", sa.Text, nullable=False),  # the change's data, as JSON text
    sa.Column("decided_by", sa.String(64), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    # A collection is voided at most once (entry_seq is NULL for every other decision).
    sa.UniqueConstraint("tenant_id", "device_id", "entry_seq"),
    sa.Index("ix_decisions_mission", "tenant_id", "mission_id"),
)

valuations = sa.Table(
    "valuations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("mission_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # device | server
    sa.Column("device_id", sa.String(64)),
    sa.Column("entry_seq", sa.BigInteger),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("beneficiary_due_cents", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The server's own valuations: the km and class it valued (migration 0013; NULL before)
    sa.Column("valued_km", sa.String(24)),
    sa.Column("valued_class", sa.String(20)),
    # What reconciliation reads of the body, written with it (migration 0014 filled the
    # rows stored before): server.office.valuation_figures
    sa.Column("contract_id", sa.String(64)),
    sa.Column("contract_version", sa.Integer),
    sa.Column("file_cap_before_cents", sa.BigInteger),
    sa.Index("ix_valuations_mission", "tenant_id", "mission_id"),
)

anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("kind", sa.String(40), nullable=False),
    # What it is about, unique per kind (a mission, an entry "dev:seq", a code): what
    # reconciling again recognises (server.office.reconcile).
    sa.Column("subject", sa.String(200)),
    sa.Column("device_id", sa.String(64)),
    sa.Column("mission_id", sa.String(64)),
    sa.Column("driver_id", sa.String(64)),
    sa.Column("amount_cents", sa.BigInteger),
    sa.Column("detail", sa.JSON, nullable=False),
    # open → resolved (by an office action) or cleared (no longer holds); never deleted
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_anomalies_open", "tenant_id", "status"),
    # The desk's list, newest first, a page at a time (docs/scaling.md "The desk at a year").
    sa.Index("ix_anomalies_list", "tenant_id", "status", "id"),
    sa.Index("ix_anomalies_kinds", "tenant_id", "status", "kind"),
    sa.Index("ix_anomalies_subject", "tenant_id", "kind", "subject"),
    sa.Index("ix_anomalies_mission", "tenant_id", "mission_id"),
)

# Card-terminal settlement files imported by the office (server.office.settlements): each line
# should match one card collection by its authorisation reference and amount.
card_settlements = sa.Table(
    "card_settlements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("file_name", sa.String(200), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("period_from", sa.String(10), nullable=False),  # ISO dates, inclusive
    sa.Column("period_to", sa.String(10), nullable=False),
    sa.Column("imported_by", sa.String(64), nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "file_sha256", name="uq_card_settlements_file"),
)

card_settlement_lines = sa.Table(
    "card_settlement_lines",
    metadata,
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("card_settlements.id"), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    _tenant(),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("terminal_ref", sa.String(64), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    # The card key a payment is matched by (server.office.reconcile_facts.card_key), the
    # same as its journal entry's `ref`. NULL: computed from the line when read.
    sa.Column("ref", sa.String(200)),
    sa.PrimaryKeyConstraint("settlement_id", "line_no"),
    sa.Index("ix_card_settlement_lines_tenant", "tenant_id"),
    sa.Index("ix_card_settlement_lines_ref", "tenant_id", "ref"),
    sa.Index(
        "ix_card_settlement_lines_unread",
        "tenant_id",
        sqlite_where=sa.text("ref IS NULL"),
        postgresql_where=sa.text("ref IS NULL"),
    ),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128)),
    sa.Column("reason", sa.Text),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
    sa.Column("at", UTCDateTime, nullable=False),
    # reconciliation looks up the approval codes issued for missions
    sa.Index("ix_audit_log_action", "tenant_id", "action", "target"),
)

# --- Invoicing (docs/invoicing.md; server.office.numbering, server.office.invoicing) --------------

# One row per tenant and series ("F2026" invoices, "A2026" credit notes): the last number
# given. The issuing transaction bumps it with UPDATE … RETURNING and holds the row lock
# until it commits, so numbers are gapless and follow the order of issue.
number_series = sa.Table(
    "number_series",
    metadata,
    _tenant(),
    sa.Column("series", sa.String(16), nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_issued_at", UTCDateTime),  # issue instants never go back within a series
    sa.PrimaryKeyConstraint("tenant_id", "series"),
)

# Invoices and credit notes as issued: never updated nor deleted (database triggers below);
# a mistake is corrected by a credit note that names the invoice in `corrects`.
documents = sa.Table(
    "documents",
    metadata,
    _tenant(),
    sa.Column("number", sa.String(32), nullable=False),  # F2026-000001, A2026-000001
    sa.Column("kind", sa.String(16), nullable=False),  # invoice | credit_note
    sa.Column("series", sa.String(16), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("mission_id", sa.String(64), nullable=False),
    sa.Column("file_number", sa.String(64)),
    sa.Column("recipient_kind", sa.String(16), nullable=False),  # ordering_party | beneficiary
    sa.Column("recipient", sa.JSON, nullable=False),
    sa.Column("seller", sa.JSON, nullable=False),  # the seller's identity as printed
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("by_rate", sa.JSON, nullable=False),
    sa.Column("total_excl_cents", sa.BigInteger, nullable=False),
    sa.Column("total_vat_cents", sa.BigInteger, nullable=False),
    sa.Column("total_incl_cents", sa.BigInteger, nullable=False),
    sa.Column("corrects", sa.String(32)),  # credit notes: the invoice's number
    sa.Column("reason", sa.Text),
    sa.Column("valuation_digest", sa.String(64)),  # invoices: the server valuation billed
    sa.Column("journal_seq", sa.BigInteger, nullable=False),  # its server journal entry
    sa.Column("pdf", sa.LargeBinary, nullable=False),
    sa.Column("facturx", sa.LargeBinary),  # ordering parties' documents: the Factur-X PDF
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "number"),
    sa.UniqueConstraint("tenant_id", "series", "seq", name="uq_documents_series_seq"),
    # One invoice per payer per valuation (credit notes carry no digest: NULLs differ).
    sa.UniqueConstraint(
        "tenant_id",
        "mission_id",
        "recipient_kind",
        "valuation_digest",
        name="uq_documents_invoice_per_valuation",
    ),
    sa.ForeignKeyConstraint(
        ["tenant_id", "corrects"],
        ["documents.tenant_id", "documents.number"],
        name="fk_documents_corrects",
    ),
    sa.Index("ix_documents_mission", "tenant_id", "mission_id"),
    sa.Index("ix_documents_issued", "tenant_id", "issued_at"),
)

IMMUTABLE_DOCUMENTS = (
    "documents are immutable: an issued invoice or credit note is never updated nor "
    "deleted (issue a credit note)"
)
_IMMUTABILITY_DDL = {
    "sqlite": [
        f"CREATE TRIGGER IF NOT EXISTS documents_no_{op.lower()} BEFORE {op} ON documents "
        f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_DOCUMENTS}'); END"
        for op in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION documents_immutable() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = '{IMMUTABLE_DOCUMENTS}: ' || TG_OP, "
        "ERRCODE = 'integrity_constraint_violation'; END $$",
        "CREATE TRIGGER documents_no_update_delete BEFORE UPDATE OR DELETE ON documents "
        "FOR EACH ROW EXECUTE FUNCTION documents_immutable()",
        "CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents "
        "FOR EACH STATEMENT EXECUTE FUNCTION documents_immutable()",
    ],
}


def _documents_immutable(target: sa.Table, connection: sa.Connection, **_: Any) -> None:
    """Refuse UPDATE and DELETE on `documents` in the database itself. Listens to every
    Table's creation, so the table Alembic's migration creates (a copy of this one, not
    this object) gets the triggers as well as `metadata.create_all`'s."""
    if target.name != "documents" or "valuation_digest" not in target.c:
        return
    for statement in _IMMUTABILITY_DDL.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


sa.event.listen(sa.Table, "after_create", _documents_immutable)

# --- closings and archives (server/office/closing.py, server/office/archive.py) -------------------
# Tenant closings read a tenant's entries of every chain by the time the server received
# them (docs/archives.md); without this index each nightly closing scans every tenant.
sa.Index("ix_journal_received", journal_entries.c.tenant_id, journal_entries.c.received_at)


def entry_types(*types: str) -> sa.ColumnElement[bool]:
    """`journal_entries.type IN types`, for a query that reads missions' entries by
    mission: written `type || ''` so that no database reads it through the tenant's type
    index (ix_journal_type). SQLite, which keeps no statistics, prefers that index to the
    mission's and reads every such entry the tenant ever received (a year: 100 times the
    entries wanted)."""
    return journal_entries.c.type.concat("").in_(types)


# --- ordering parties: orders in, files, claims, payments back (issue 8) --------------------

# An ordering party's system signs its calls with an API key: `<key id>.<secret>`; only
# the secret's SHA-256 is kept (the secret is random, 256 bits: no slow hash needed).
party_api_keys = sa.Table(
    "party_api_keys",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("revoked_by", sa.String(64)),
    sa.PrimaryKeyConstraint("id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "party_id"], ["ordering_parties.tenant_id", "ordering_parties.id"]
    ),
)

# Cleaning rule sets (shared/cleaning*.py), one version per publication, never changed.
cleaning_rulesets = sa.Table(
    "cleaning_rulesets",
    metadata,
    _tenant(),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "party_id", "version"),
)

# The ordering party's file (dossier): its state per shared/file_lifecycle.py. The row is
# the current state of the history in `file_events`, which is never changed.
party_files = sa.Table(
    "party_files",
    metadata,
    _tenant(),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("file_number", sa.String(64), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("warning", sa.JSON),  # {"fr", "en"}: what the office must see, until acted on
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "party_id", "file_number"),
    sa.Index("ix_party_files_state", "tenant_id", "state"),
)
folded_index("ix_party_files_number_folded", party_files.c.tenant_id, party_files.c.file_number)

# The file's log: every message, office act, cleaning correction and claim action, in
# order. `message_id` is the ordering party's id for a message: a duplicate is recognised
# by it and changes nothing.
file_events = sa.Table(
    "file_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    _tenant(),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("file_number", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # party | office | intake | claim | payment
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("message_id", sa.String(120)),
    sa.Column("state_before", sa.String(32)),
    sa.Column("state_after", sa.String(32)),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.UniqueConstraint("tenant_id", "party_id", "message_id", name="uq_file_events_message"),
    sa.Index("ix_file_events_file", "tenant_id", "party_id", "file_number"),
)

# Mission orders as received, and as cleaned before valuation.
orders = sa.Table(
    "orders",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("file_number", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(120), nullable=False),
    sa.Column("received", sa.Text, nullable=False),  # the order exactly as it arrived
    sa.Column("cleaned", sa.Text, nullable=False),
    sa.Column("ruleset_version", sa.Integer),
    sa.Column("mission_id", sa.String(64)),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("received_by", sa.String(64), nullable=False),  # an API key id or a user
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "party_id", "message_id", name="uq_orders_message"),
    sa.Index("ix_orders_file", "tenant_id", "party_id", "file_number"),
)

# The documents an ordering party requires with a claim, one version per change.
claim_requirements = sa.Table(
    "claim_requirements",
    metadata,
    _tenant(),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kinds", sa.JSON, nullable=False),  # ["invoice_pdf", "vehicle_photo", …]
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "party_id", "version"),
)

# A claim: an invoice to an ordering party, followed until paid. `status` is the current
# state of its actions, logged in `file_events` (source "claim").
claims = sa.Table(
    "claims",
    metadata,
    _tenant(),
    sa.Column("invoice_number", sa.String(32), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("file_number", sa.String(64)),
    sa.Column("mission_id", sa.String(64), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("paid_cents", sa.BigInteger, nullable=False, default=0),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("rejection", sa.JSON),  # the ordering party's reasons, when rejected
    sa.Column("issued_on", sa.Date, nullable=False),  # the invoice's date: ageing starts here
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "invoice_number"),
    sa.Index("ix_claims_party_status", "tenant_id", "party_id", "status"),
)

# Photos, signatures and reports taken on a tablet for a mission, uploaded in chunks
# (resumable); complete once every byte arrived and the SHA-256 matches.
attachments = sa.Table(
    "attachments",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("mission_id", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # vehicle_photo | signature | …
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("received", sa.BigInteger, nullable=False, default=0),
    sa.Column("taken_at", sa.String(40), nullable=False),  # the tablet's own clock
    sa.Column("announced_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index("ix_attachments_mission", "tenant_id", "mission_id"),
)

attachment_chunks = sa.Table(
    "attachment_chunks",
    metadata,
    _tenant(),
    sa.Column("attachment_id", sa.String(64), nullable=False),
    sa.Column("start", sa.BigInteger, nullable=False),  # the chunk's first byte
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "attachment_id", "start"),
)

# Payment advices and bank statement lines, imported from CSV files (each file once).
payment_imports = sa.Table(
    "payment_imports",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # advice | bank
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Column("imported_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "sha256", name="uq_payment_imports_file"),
)

payment_lines = sa.Table(
    "payment_lines",
    metadata,
    _tenant(),
    sa.Column("import_id", sa.String(32), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("reference", sa.String(120), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("party_id", sa.String(64)),
    sa.Column("label", sa.Text),
    # What matching decided: matched | amount_differs | unknown_reference | already_paid
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("invoice_number", sa.String(32)),  # the claim it was matched to, if any
    # What matching applied to that claim (a partial payment: all of it; more than owed:
    # nothing). NULL on lines imported before migration 0003: read as the whole line when
    # matched, else nothing (server.office.ledger).
    sa.Column("applied_cents", sa.BigInteger),
    sa.PrimaryKeyConstraint("tenant_id", "import_id", "line_no"),
    sa.Index("ix_payment_lines_invoice", "tenant_id", "invoice_number"),
)

# Failed tablet enrolments in the last window (migration 0002): what bounds guessing
# across codes, per client address and per tenant aimed at, for every worker at once.
# Rows older than the window are deleted (counters, not records; docs/sync-protocol.md).
enrolment_failures = sa.Table(
    "enrolment_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("address", sa.String(64), nullable=False),  # IPv4, or an IPv6 /64
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id")),  # None: no code aimed at
    sa.Index("ix_enrolment_failures_address", "address", "at"),
    sa.Index("ix_enrolment_failures_tenant", "tenant_id", "at"),
    sa.Index("ix_enrolment_failures_at", "at"),
)

# --- money owed by beneficiaries, the accountant's books (issue 15) -------------------------
# docs/customer-debts.md, docs/accounting.md. These rows are never updated nor deleted:
# migration 0003 gives them the same triggers as `documents`.

# Settings the office keeps as versioned documents (payment terms and reminder delays, the
# chart of accounts): a change is a new version, the old ones stay (server.office.office_settings).
office_settings = sa.Table(
    "office_settings",
    metadata,
    _tenant(),
    sa.Column("name", sa.String(100), nullable=False),  # debt_terms, accounts, commission:<id>
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "name", "version"),
)

# The people a tenant pays on results for the business they bring (seed 003's agents;
# server.office.agents), not necessarily users. Append-only (migration 0009).
agents = sa.Table(
    "agents",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("added_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

# Who brought a mission, named at the phone call or in an API order; a correction is a
# new line, the latest is in force (server.office.agents). Append-only (migration 0009).
mission_agents = sa.Table(
    "mission_agents",
    metadata,
    _tenant(),
    sa.Column("mission_id", sa.String(64), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("via", sa.String(16), nullable=False),  # phone | api | desk
    sa.Column("named_at", UTCDateTime, nullable=False),
    sa.Column("named_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "mission_id", "line_no"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "agent_id"], ["agents.tenant_id", "agents.id"], name="fk_mission_agents_agent"
    ),
    sa.ForeignKeyConstraint(
        ["tenant_id", "mission_id"],
        ["missions.tenant_id", "missions.id"],
        name="fk_mission_agents_mission",
    ),
    sa.Index("ix_mission_agents_agent", "tenant_id", "agent_id"),
)

# A payment the office received from a beneficiary (transfer, cheque, card by phone,
# payment link), numbered R2026-000001 (server.office.office_payments).
office_payments = sa.Table(
    "office_payments",
    metadata,
    _tenant(),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.String(120)),  # cheque number, transfer reference…
    sa.Column("customer", sa.String(160), nullable=False),  # the customer's key
    sa.Column("payer", sa.String(200), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("journal_seq", sa.BigInteger, nullable=False),  # its server journal entry
    sa.PrimaryKeyConstraint("tenant_id", "number"),
    sa.Index("ix_office_payments_customer", "tenant_id", "customer"),
)

# Where a payment's money went: to an invoice (when received, or a credit applied later)
# or back to the payer (a refund). The payment's amount minus its uses is the credit the
# payer holds: an overpayment is never lost.
office_payment_uses = sa.Table(
    "office_payment_uses",
    metadata,
    _tenant(),
    sa.Column("payment_number", sa.String(32), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # invoice | refund
    sa.Column("invoice_number", sa.String(32)),  # kind invoice
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("on_date", sa.Date, nullable=False),  # the money's date, in the tenant's time
    sa.Column("reference", sa.String(120)),  # a refund's transfer reference
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.String(64), nullable=False),
    sa.Column("journal_seq", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "payment_number", "line_no"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "payment_number"],
        ["office_payments.tenant_id", "office_payments.number"],
        name="fk_office_payment_uses_payment",
    ),
    sa.ForeignKeyConstraint(
        ["tenant_id", "invoice_number"],
        ["documents.tenant_id", "documents.number"],
        name="fk_office_payment_uses_invoice",
    ),
    sa.Index("ix_office_payment_uses_invoice", "tenant_id", "invoice_number"),
)

# Reminder letters sent for a beneficiary's unpaid invoice, one per level (server.office.reminders).
payment_reminders = sa.Table(
    "payment_reminders",
    metadata,
    _tenant(),
    sa.Column("invoice_number", sa.String(32), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),  # 1, 2, 3…: the tenant's delays in order
    sa.Column("lang", sa.String(2), nullable=False),
    sa.Column("customer", sa.String(160), nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("sent_on", sa.Date, nullable=False),
    sa.Column("open_cents", sa.BigInteger, nullable=False),  # what the letter asks for
    sa.Column("pdf", sa.LargeBinary, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.Column("sent_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "invoice_number", "level"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "invoice_number"],
        ["documents.tenant_id", "documents.number"],
        name="fk_payment_reminders_invoice",
    ),
    sa.Index("ix_payment_reminders_customer", "tenant_id", "customer"),
)

# --- the office's day: phone orders (issue 14) ----------------------------------------------
# An order taken on the phone at the desk (server.parties.phone_orders): who called, about
# which vehicle, from where to where, what they said, and the mission it became. An
# ordering party's call is also an order of the `orders` table (`order_id`); a private
# customer's exists only here. Never updated nor deleted (migration 0005's triggers). The
# plate and phone keys (letters and digits only) are what the lookup at the call searches.
phone_orders = sa.Table(
    "phone_orders",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(32), nullable=False),  # "tel_" + 16 hex
    sa.Column("mission_id", sa.String(64), nullable=False),
    sa.Column("party_id", sa.String(64)),  # None: a private customer
    sa.Column("file_number", sa.String(64)),
    sa.Column("order_id", sa.String(64)),  # the `orders` row of a party's order
    sa.Column("caller_name", sa.String(200)),
    sa.Column("caller_phone", sa.String(40)),
    sa.Column("phone_key", sa.String(20)),  # shared.phones.phone_key
    sa.Column("plate", sa.String(20)),  # as normalised (shared.plates)
    sa.Column("plate_key", sa.String(20)),  # shared.plates.plate_key
    sa.Column("places", sa.JSON, nullable=False, default=dict),  # {"from": place, "to": place}
    sa.Column("note", sa.Text),  # what the caller said
    sa.Column("taken_at", UTCDateTime, nullable=False),
    sa.Column("taken_by", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index("ix_phone_orders_plate", "tenant_id", "plate_key"),
    sa.Index("ix_phone_orders_phone", "tenant_id", "phone_key"),
    sa.Index("ix_phone_orders_mission", "tenant_id", "mission_id"),
)

# --- work done after the request (issue 18) -------------------------------------------------
# A job is work a transaction asks for and a worker does after it commits (server.platform.jobs):
# inserted in the asking transaction, so it exists exactly when what asked for it does. Its
# row is working state, not a record: a worker leases it (`lease_until`), finishes it or
# schedules the next attempt (migration 0006). Rows are kept once done, never deleted.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),  # render_document…
    sa.Column("key", sa.String(200), nullable=False),  # one job per kind and key
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id")),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | running | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("available_at", UTCDateTime, nullable=False),  # not before
    sa.Column("lease_until", UTCDateTime),  # running: another worker may take it after this
    sa.Column("worker", sa.String(120)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.UniqueConstraint("kind", "key", name="uq_jobs_kind_key"),
    sa.Index("ix_jobs_due", "state", "available_at"),
)

# An issued document's files, rendered after the issuing transaction by a job
# (server.office.document_files): the PDF and, for an ordering party, the Factur-X PDF,
# with their hashes as the `document_rendered` entry of the server journal signs them.
# Never updated nor deleted (migration 0006's triggers). Documents issued before
# migration 0006 keep their files in `documents.pdf` / `documents.facturx`; later ones
# store an empty `documents.pdf` (the column cannot be relaxed without rebuilding the
# table its triggers protect).
document_files = sa.Table(
    "document_files",
    metadata,
    _tenant(),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("pdf", sa.LargeBinary, nullable=False),
    sa.Column("facturx", sa.LargeBinary),
    sa.Column("pdf_sha256", sa.String(64), nullable=False),
    sa.Column("facturx_sha256", sa.String(64)),
    sa.Column("journal_seq", sa.BigInteger, nullable=False),  # its document_rendered entry
    sa.Column("rendered_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "number"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "number"],
        ["documents.tenant_id", "documents.number"],
        name="fk_document_files_document",
    ),
)
