"""rights of their own: acknowledge_alerts and manage_party_keys (issue 16)

Security alerts (journal fork, invalid journal, quarantined push) were handled with
`reconcile`, ordering parties' API keys with `edit_contracts`. Each now has its own
right. So that nobody loses on upgrade what they could do the day before, every role
that had `reconcile` gets `acknowledge_alerts`, and every role that had `edit_contracts`
gets `manage_party_keys`; an administrator then narrows them (PUT /api/v1/roles/<name>
or the desk's users page). Tenants created from now on get the new defaults
(server.people.rights.DEFAULT_ROLES). Downgrading takes the two rights away again.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# What each new right is split from.
SPLIT = {"acknowledge_alerts": "reconcile", "manage_party_keys": "edit_contracts"}

roles = sa.table(
    "roles",
    sa.column("tenant_id", sa.String),
    sa.column("name", sa.String),
    sa.column("rights", sa.JSON),
)
audit_log = sa.table(
    "audit_log",
    sa.column("tenant_id", sa.String),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("reason", sa.Text),
    sa.column("detail", sa.JSON),
    sa.column("at", sa.DateTime(timezone=True)),
)
REASON = "migration 0004: alerts and API keys get rights of their own (issue 16)"


def _rewrite(change: dict[str, str], add: bool) -> None:
    """Every role whose rights change gets an audit line, as `identity.set_role` writes."""
    conn = op.get_bind()
    at = datetime.now(UTC)
    for row in conn.execute(sa.select(roles.c.tenant_id, roles.c.name, roles.c.rights)).all():
        rights = set(row.rights or ())
        if add:
            wanted = rights | {new for new, old in change.items() if old in rights}
        else:
            wanted = rights - set(change)
        if wanted != rights:
            conn.execute(
                sa.update(roles)
                .where(roles.c.tenant_id == row.tenant_id, roles.c.name == row.name)
                .values(rights=sorted(wanted))
            )
            conn.execute(
                sa.insert(audit_log).values(
                    tenant_id=row.tenant_id,
                    actor="migration",
                    action="role.set",
                    target=row.name,
                    reason=REASON,
                    detail={"rights": sorted(wanted)},
                    at=at,
                )
            )


def upgrade() -> None:
    _rewrite(SPLIT, add=True)


def downgrade() -> None:
    _rewrite(SPLIT, add=False)
