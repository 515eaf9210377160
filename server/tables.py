"""The server's tables (SQLAlchemy Core). Every row carries its tenant, and every query
is scoped by it. Money columns are integer cents; documents are stored as the JSON text
they arrived as. Journal rows are never updated or deleted (corrections are new rows).
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
    # Head of the tenant's server journal (server.office_journal), bumped under lock.
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
    sa.Column("created_at", UTCDateTime, nullable=False),
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
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index("ix_missions_driver", "tenant_id", "driver_id"),
    sa.Index("ix_missions_file", "tenant_id", "file_number"),
)

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
    sa.PrimaryKeyConstraint("device_id", "seq"),
    sa.Index("ix_journal_mission", "tenant_id", "mission_id"),
    sa.Index("ix_journal_type", "tenant_id", "type"),
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
    sa.Index("ix_valuations_mission", "tenant_id", "mission_id"),
)

anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("kind", sa.String(40), nullable=False),
    # What it is about, unique per kind (a mission, an entry "dev:seq", a code): what
    # reconciling again recognises (server.reconcile).
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
    sa.Index("ix_anomalies_subject", "tenant_id", "kind", "subject"),
    sa.Index("ix_anomalies_mission", "tenant_id", "mission_id"),
)

# Card-terminal settlement files imported by the office (server.settlements): each line
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
    sa.PrimaryKeyConstraint("settlement_id", "line_no"),
    sa.Index("ix_card_settlement_lines_tenant", "tenant_id"),
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

# --- Invoicing (docs/invoicing.md; server.numbering, server.invoicing) -----------------

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

# --- closings and archives (server/closing.py, server/archive.py) ---------------------------
# Tenant closings read a tenant's entries of every chain by the time the server received
# them (docs/archives.md); without this index each nightly closing scans every tenant.
sa.Index("ix_journal_received", journal_entries.c.tenant_id, journal_entries.c.received_at)
