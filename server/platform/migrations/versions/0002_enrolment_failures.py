"""enrolment failures: bounded guessing of enrolment codes across codes

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrolment_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_enrolment_failures_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_failures")),
    )
    op.create_index(
        "ix_enrolment_failures_address", "enrolment_failures", ["address", "at"], unique=False
    )
    op.create_index("ix_enrolment_failures_at", "enrolment_failures", ["at"], unique=False)
    op.create_index(
        "ix_enrolment_failures_tenant", "enrolment_failures", ["tenant_id", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_enrolment_failures_tenant", table_name="enrolment_failures")
    op.drop_index("ix_enrolment_failures_at", table_name="enrolment_failures")
    op.drop_index("ix_enrolment_failures_address", table_name="enrolment_failures")
    op.drop_table("enrolment_failures")
