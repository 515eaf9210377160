"""phone orders taken at the desk (issue 14)

An order taken on the phone (server.parties.phone_orders): the caller, the vehicle's
plate and the caller's phone as search keys for the lookup at the call, the places, what
the caller said and the mission it became. Append-only: triggers refuse UPDATE and
DELETE, as on the office's other records.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "phone_orders"
MESSAGE = "phone orders are append-only: take a new call, or act on the mission"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("mission_id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=True),
        sa.Column("file_number", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("caller_phone", sa.String(length=40), nullable=True),
        sa.Column("phone_key", sa.String(length=20), nullable=True),
        sa.Column("plate", sa.String(length=20), nullable=True),
        sa.Column("plate_key", sa.String(length=20), nullable=True),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_phone_orders_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_phone_orders")),
    )
    op.create_index("ix_phone_orders_plate", TABLE, ["tenant_id", "plate_key"], unique=False)
    op.create_index("ix_phone_orders_phone", TABLE, ["tenant_id", "phone_key"], unique=False)
    op.create_index("ix_phone_orders_mission", TABLE, ["tenant_id", "mission_id"], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION phone_orders_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' "
            "|| TG_OP, ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION phone_orders_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION phone_orders_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{operation}")
    op.drop_index("ix_phone_orders_mission", table_name=TABLE)
    op.drop_index("ix_phone_orders_phone", table_name=TABLE)
    op.drop_index("ix_phone_orders_plate", table_name=TABLE)
    op.drop_table(TABLE)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS phone_orders_append_only()")
