"""the desk's period reports read a month's documents through an index (issue 18)

`ix_documents_issued` on (tenant_id, issued_at): the parties', drivers' (commissions)
and profitability reports read the documents issued in their period; without it each
read every document the tenant ever issued.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_issued", "documents", ["tenant_id", "issued_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_documents_issued", table_name="documents")
