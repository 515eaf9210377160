"""the desk finds a mission by its id or file number, in any case, through an index (issue 18)

`ix_missions_id_folded`, `ix_missions_file_folded` and `ix_party_files_number_folded`
on (tenant_id, lower(column)) (`server.platform.tables.folded_index`; on PostgreSQL with
`text_pattern_ops`, which serves a prefix `LIKE` whatever the collation). The mission
search and the lookup compared `lower(column)` with what the clerk typed: without them,
each read every mission of the tenant (a year: about a second a search).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# (index, table, column): the index's definition is frozen here, not read from tables.py
INDEXES = (
    ("ix_missions_id_folded", "missions", "id"),
    ("ix_missions_file_folded", "missions", "file_number"),
    ("ix_party_files_number_folded", "party_files", "file_number"),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, column in INDEXES:
        folded = f"lower({column}) text_pattern_ops" if postgres else f"lower({column})"
        op.create_index(name, table, [sa.text("tenant_id"), sa.text(folded)], unique=False)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
