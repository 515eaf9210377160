"""office users' administration and withdrawn enrolment codes (issue 14)

`users.deactivated_at`, `users.deactivated_by`: a deactivated user cannot sign in and
their sessions end at once; nothing about them is deleted, and reactivating clears these
(the audit log keeps every act). `users.sessions_ended_at`: desk sessions and API
tokens begun before it are over (a password reset, a deactivation).
`users.password_change_required`: set by an administrator's password reset, cleared when
the user chooses a new password.
`enrolment_codes.withdrawn_at`, `withdrawn_by`: set once when an unused code is
withdrawn; such a code can no longer enrol (the row stays).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deactivated_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("sessions_ended_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "password_change_required",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    with op.batch_alter_table("enrolment_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrolment_codes", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_by")
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_change_required")
        batch_op.drop_column("sessions_ended_at")
        batch_op.drop_column("deactivated_by")
        batch_op.drop_column("deactivated_at")
