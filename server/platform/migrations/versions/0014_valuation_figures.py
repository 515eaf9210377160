"""a valuation keeps the figures reconciliation reads of it (issue 18)

`valuations.contract_id`, `valuations.contract_version`, `valuations.file_cap_before_cents`:
the contract version a valuation was made with and the file cap it found consumed
before it, derived from its body whenever a valuation is stored
(server.office.valuation_figures) and filled here for the rows stored before, so a
whole reconciliation reads columns instead of parsing every valuation's body (a quarter
of its time). The body stays the truth; `towline-server verify` compares them.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    # Imported, not frozen here: if valuation_figures.columns ever changes what it
    # derives, copy today's version into this file first.
    from server.office.valuation_figures import columns

    with op.batch_alter_table("valuations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("contract_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("file_cap_before_cents", sa.BigInteger(), nullable=True))
    table = sa.table(
        "valuations",
        sa.column("id"),
        sa.column("body"),
        sa.column("contract_id"),
        sa.column("contract_version"),
        sa.column("file_cap_before_cents"),
    )
    conn = op.get_bind()
    fill = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values(
            contract_id=sa.bindparam("contract_id"),
            contract_version=sa.bindparam("contract_version"),
            file_cap_before_cents=sa.bindparam("file_cap_before_cents"),
        )
    )
    last = 0
    while True:  # a batch at a time, by id: a year of rows never sits in memory at once
        rows = conn.execute(
            sa.select(table.c.id, table.c.body)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = []
        for row in rows:
            try:
                body = json.loads(row.body)
            except ValueError:
                continue  # unreadable: left NULL, read from its body (verify reports it)
            if isinstance(body, dict):
                values.append({"row_id": row.id, **columns(body)})
        if values:
            conn.execute(fill, values)
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("valuations", schema=None) as batch_op:
        batch_op.drop_column("file_cap_before_cents")
        batch_op.drop_column("contract_version")
        batch_op.drop_column("contract_id")
