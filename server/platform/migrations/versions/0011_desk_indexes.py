"""the desk at a year of data: what the lists search missions by, and their indexes (issue 18)

`missions.call_at`, `missions.plate_key`, `missions.customer`: the call's instant, the
vehicle's plate key and the contract's customer account, derived from the stored
document whenever it is written (server.office.mission_keys) and filled here for the rows
stored before, so the dispatch board, the reports and the lookup at the call read them
through an index instead of parsing every document. Indexes for the board's day
(created, called, cancelled), the lookup (plate, customer) and the anomaly list, newest
first a page at a time (status and id; status and kind for its counts).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_missions_created", "missions", ["tenant_id", "created_at"]),
    ("ix_missions_call", "missions", ["tenant_id", "call_at"]),
    ("ix_missions_cancelled", "missions", ["tenant_id", "cancelled_at"]),
    ("ix_missions_plate", "missions", ["tenant_id", "plate_key", "created_at"]),
    ("ix_missions_customer", "missions", ["tenant_id", "customer"]),
    ("ix_anomalies_list", "anomalies", ["tenant_id", "status", "id"]),
    ("ix_anomalies_kinds", "anomalies", ["tenant_id", "status", "kind"]),
)


def upgrade() -> None:
    from server.office.mission_keys import backfill
    from server.platform.tables import UTCDateTime

    with op.batch_alter_table("missions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("plate_key", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("customer", sa.String(length=160), nullable=True))
    table = sa.table(
        "missions",
        sa.column("tenant_id"),
        sa.column("id"),
        sa.column("document"),
        sa.column("call_at", UTCDateTime),
        sa.column("plate_key"),
        sa.column("customer"),
    )
    backfill(op.get_bind(), table)
    for name, table_name, columns in INDEXES:
        op.create_index(name, table_name, columns, unique=False)


def downgrade() -> None:
    for name, table_name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table_name)
    with op.batch_alter_table("missions", schema=None) as batch_op:
        batch_op.drop_column("customer")
        batch_op.drop_column("plate_key")
        batch_op.drop_column("call_at")
