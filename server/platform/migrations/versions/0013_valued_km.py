"""a server valuation keeps the kilometres and vehicle class it valued (issue 18)

`valuations.valued_km`, `valuations.valued_class`: on the server's own valuations, the
km of the mission as valued (the order with the facts its driver found on site, the
office's approvals included) and its vehicle class, written with the valuation
(server.office.valuation.valued_facts). The profitability report sums them instead of
replaying each mission's final facts. Rows stored before stay NULL: the report replays
those missions, as before (nothing to fill).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("valuations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valued_km", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("valued_class", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("valuations", schema=None) as batch_op:
        batch_op.drop_column("valued_class")
        batch_op.drop_column("valued_km")
