"""what reconciliation reads of an entry, beside it (issue 18)

`journal_entries.facts`: the payload's fields the reconciliation rules read, as canonical
JSON; `journal_entries.ref`: the key a check finds the entry by (a card payment's
terminal reference and amount, an approval code, a reversed collection), indexed; and
`card_settlement_lines.ref`, a line's card key. All written once when an entry is stored
or a file imported (server.office.reconcile_facts), so a push's reconciliation reads
what it touched without parsing bodies. The rows stored before are filled here; the
server's own chain has none (no rule reads it). Rows without them stay readable from
their body or their line: partial indexes find them.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ref", sa.String(length=200), nullable=True))
    with op.batch_alter_table("card_settlement_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ref", sa.String(length=200), nullable=True))
    _fill(op.get_bind())
    _fill_lines(op.get_bind())
    op.create_index("ix_journal_ref", "journal_entries", ["tenant_id", "ref"], unique=False)
    op.create_index(
        "ix_journal_unread",
        "journal_entries",
        ["tenant_id", "type"],
        unique=False,
        sqlite_where=sa.text("facts IS NULL"),
        postgresql_where=sa.text("facts IS NULL"),
    )
    op.create_index(
        "ix_card_settlement_lines_ref", "card_settlement_lines", ["tenant_id", "ref"], unique=False
    )
    op.create_index(
        "ix_card_settlement_lines_unread",
        "card_settlement_lines",
        ["tenant_id"],
        unique=False,
        sqlite_where=sa.text("ref IS NULL"),
        postgresql_where=sa.text("ref IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_card_settlement_lines_unread", table_name="card_settlement_lines")
    op.drop_index("ix_card_settlement_lines_ref", table_name="card_settlement_lines")
    op.drop_index("ix_journal_unread", table_name="journal_entries")
    op.drop_index("ix_journal_ref", table_name="journal_entries")
    with op.batch_alter_table("card_settlement_lines", schema=None) as batch_op:
        batch_op.drop_column("ref")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_column("ref")
        batch_op.drop_column("facts")


def _fill(conn: sa.Connection) -> None:
    """The tablets' rows already stored, in batches of keys (the table may hold years)."""
    from server.office.reconcile_facts import columns

    table = sa.table(
        "journal_entries",
        sa.column("device_id"),
        sa.column("seq"),
        sa.column("type"),
        sa.column("body"),
        sa.column("facts"),
        sa.column("ref"),
    )
    after = ("", -1)
    while True:
        rows = conn.execute(
            sa.select(table.c.device_id, table.c.seq, table.c.type, table.c.body)
            .where(
                sa.tuple_(table.c.device_id, table.c.seq) > sa.tuple_(*after),
                ~table.c.device_id.startswith("server:"),
            )
            .order_by(table.c.device_id, table.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            payload = json.loads(row.body).get("payload")
            if isinstance(payload, dict):
                made = columns(row.type, payload)
                updates.append(
                    {"d": row.device_id, "s": row.seq, "f": made["facts"], "r": made["ref"]}
                )
        if updates:
            conn.execute(
                sa.update(table)
                .where(table.c.device_id == sa.bindparam("d"), table.c.seq == sa.bindparam("s"))
                .values(facts=sa.bindparam("f"), ref=sa.bindparam("r")),
                updates,
            )
        after = (rows[-1].device_id, rows[-1].seq)


def _fill_lines(conn: sa.Connection) -> None:
    """The settlement lines already imported, a file at a time."""
    from server.office.reconcile_facts import card_key

    lines = sa.table(
        "card_settlement_lines",
        sa.column("settlement_id"),
        sa.column("line_no"),
        sa.column("terminal_ref"),
        sa.column("amount_cents"),
        sa.column("ref"),
    )
    files = conn.execute(sa.select(lines.c.settlement_id).distinct()).scalars().all()
    for settlement_id in files:
        rows = conn.execute(
            sa.select(lines.c.line_no, lines.c.terminal_ref, lines.c.amount_cents).where(
                lines.c.settlement_id == settlement_id
            )
        ).all()
        conn.execute(
            sa.update(lines)
            .where(lines.c.settlement_id == settlement_id, lines.c.line_no == sa.bindparam("n"))
            .values(ref=sa.bindparam("r")),
            [{"n": r.line_no, "r": card_key(r.terminal_ref, int(r.amount_cents))} for r in rows],
        )
