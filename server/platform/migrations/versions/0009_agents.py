"""agents who bring business, and the agent of each mission (issue 15)

`agents`: a tenant's register of the people it pays on results for the business they
bring (seed 003's agents), not necessarily users. `mission_agents`: who brought a
mission, named at the phone call or in an API order; a correction is a new line (the
latest line is in force). Both only grow: triggers refuse UPDATE and DELETE, as on the
other office records.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY = ("agents", "mission_agents")
MESSAGE = "office records are append-only: record a correction as a new row"


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_agents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents")),
    )
    op.create_table(
        "mission_agents",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("mission_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("named_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("named_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mission_agents_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.id"],
            name="fk_mission_agents_agent",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "mission_id"],
            ["missions.tenant_id", "missions.id"],
            name="fk_mission_agents_mission",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "mission_id", "line_no", name=op.f("pk_mission_agents")
        ),
    )
    with op.batch_alter_table("mission_agents", schema=None) as batch_op:
        batch_op.create_index("ix_mission_agents_agent", ["tenant_id", "agent_id"], unique=False)
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON "
                    f"{table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
        elif dialect == "postgresql":  # the function is migration 0003's
            op.execute(
                f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION office_records_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION office_records_append_only()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in reversed(APPEND_ONLY):
        if dialect == "sqlite":
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    with op.batch_alter_table("mission_agents", schema=None) as batch_op:
        batch_op.drop_index("ix_mission_agents_agent")
    op.drop_table("mission_agents")
    op.drop_table("agents")
