"""a push's reconciliation reads what it touched: entries that repeat an earlier one (issue 18)

`journal_entries.repeats`: True when a tablet's entry repeats an earlier entry of the same
tablet and mission (same driver, type and reconciliation facts) and is neither money nor
a dispute — a step sent again, a second identical note — written once when the entry is
stored (server.office.reconcile_facts). A push's reconciliation reads a touched mission's
other entries through the partial index `ix_journal_mission_firsts` (rows where it is
NULL), so its cost follows what the mission holds that can change a verdict, not how
often a step was repeated. Rows stored before stay NULL: read, as before (nothing to fill).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeats", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_journal_mission_firsts",
        "journal_entries",
        ["tenant_id", "mission_id"],
        unique=False,
        sqlite_where=sa.text("repeats IS NULL"),
        postgresql_where=sa.text("repeats IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_journal_mission_firsts", table_name="journal_entries")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_column("repeats")
