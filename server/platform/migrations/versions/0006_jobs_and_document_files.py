"""jobs and document files: rendering leaves the issuing transaction (issue 18)

`jobs`: work a transaction asks for and a worker does after it commits
(server.platform.jobs). `document_files`: an issued document's PDF and Factur-X PDF,
rendered by such a job; append-only, with the same triggers as `documents`.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FILES = "document_files"
MESSAGE = "document files are immutable: a rendered PDF is never updated nor deleted"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_jobs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("kind", "key", name="uq_jobs_kind_key"),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "available_at"], unique=False)
    op.create_table(
        FILES,
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("facturx", sa.LargeBinary(), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("facturx_sha256", sa.String(length=64), nullable=True),
        sa.Column("journal_seq", sa.BigInteger(), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_files_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "number"],
            ["documents.tenant_id", "documents.number"],
            name="fk_document_files_document",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "number", name=op.f("pk_document_files")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {FILES}_no_{operation.lower()} BEFORE {operation} ON {FILES} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION document_files_immutable() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' "
            "|| TG_OP, ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {FILES}_no_update_delete BEFORE UPDATE OR DELETE ON {FILES} "
            "FOR EACH ROW EXECUTE FUNCTION document_files_immutable()"
        )
        op.execute(
            f"CREATE TRIGGER {FILES}_no_truncate BEFORE TRUNCATE ON {FILES} "
            "FOR EACH STATEMENT EXECUTE FUNCTION document_files_immutable()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {FILES}_no_{operation}")
    op.drop_table(FILES)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS document_files_immutable()")
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_table("jobs")
