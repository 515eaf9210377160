"""money owed by beneficiaries and the accountant's books (issue 15)

Versioned office settings, payments received in the office and where their money went,
reminder letters, and what matching applied of each payment line. The new tables only
grow: like `documents`, triggers refuse UPDATE and DELETE on them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APPEND_ONLY = ("office_settings", "office_payments", "office_payment_uses", "payment_reminders")
MESSAGE = "office records are append-only: record a correction as a new row"


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(length=64), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "office_settings",
        _tenant(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        _tenant_fk("office_settings"),
        sa.PrimaryKeyConstraint("tenant_id", "name", "version", name=op.f("pk_office_settings")),
    )
    op.create_table(
        "office_payments",
        _tenant(),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("customer", sa.String(length=160), nullable=False),
        sa.Column("payer", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("journal_seq", sa.BigInteger(), nullable=False),
        _tenant_fk("office_payments"),
        sa.PrimaryKeyConstraint("tenant_id", "number", name=op.f("pk_office_payments")),
    )
    with op.batch_alter_table("office_payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_office_payments_customer", ["tenant_id", "customer"], unique=False
        )
    op.create_table(
        "office_payment_uses",
        _tenant(),
        sa.Column("payment_number", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("invoice_number", sa.String(length=32), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("journal_seq", sa.BigInteger(), nullable=False),
        _tenant_fk("office_payment_uses"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "payment_number"],
            ["office_payments.tenant_id", "office_payments.number"],
            name="fk_office_payment_uses_payment",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_number"],
            ["documents.tenant_id", "documents.number"],
            name="fk_office_payment_uses_invoice",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "payment_number", "line_no", name=op.f("pk_office_payment_uses")
        ),
    )
    with op.batch_alter_table("office_payment_uses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_office_payment_uses_invoice", ["tenant_id", "invoice_number"], unique=False
        )
    op.create_table(
        "payment_reminders",
        _tenant(),
        sa.Column("invoice_number", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("customer", sa.String(length=160), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("open_cents", sa.BigInteger(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(length=64), nullable=False),
        _tenant_fk("payment_reminders"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_number"],
            ["documents.tenant_id", "documents.number"],
            name="fk_payment_reminders_invoice",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "invoice_number", "level", name=op.f("pk_payment_reminders")
        ),
    )
    with op.batch_alter_table("payment_reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_reminders_customer", ["tenant_id", "customer"], unique=False
        )
    with op.batch_alter_table("payment_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_cents", sa.BigInteger(), nullable=True))
    _append_only()


def _append_only() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION office_records_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' "
            "|| TG_OP, ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        for table in APPEND_ONLY:
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
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS office_records_append_only()")
    with op.batch_alter_table("payment_lines", schema=None) as batch_op:
        batch_op.drop_column("applied_cents")
