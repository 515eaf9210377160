"""a type's journal entries of a period through one index (issue 18)

`ix_journal_type` on (tenant_id, type) becomes (tenant_id, type, received_at). The
parties' and drivers' reports read the collections received in their month, and the
reversals received before its end (server.office.period_collections): SQLite read them
through the tenant's time index, every entry of the month whatever its type (a year of a
200-truck company: 370,000 rows fetched for 60,000 collections), or through the type
index, every collection of the tenant. Rebuilding the index reads the whole journal:
about a minute for 4.4 million entries on SQLite (docs/operations.md "Creating and
upgrading the schema").

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_journal_type", table_name="journal_entries")
    op.create_index(
        "ix_journal_type", "journal_entries", ["tenant_id", "type", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_journal_type", table_name="journal_entries")
    op.create_index("ix_journal_type", "journal_entries", ["tenant_id", "type"], unique=False)
