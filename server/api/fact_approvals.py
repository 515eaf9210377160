# mypy: disable-error-code="untyped-decorator"
"""The office approves, after the fact, a fact a driver found on site and kept for it
(anomaly `site_fact_beyond_tolerance` without a code): POST
/api/v1/anomalies/<id>/approve-site-facts with the reason. Needs `reconcile` and
`approve_discount` (the right that issues the manager's site-facts codes). The id is the
anomaly's ref (server/platform/public_ids.py), in the path, the answer and refusals."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields

from server.api.fields import REASON
from server.api.security import current_user, require_user
from server.office import fact_approvals, reconcile, site_facts
from server.people.rights import Right, missing_right
from server.platform.errors import Conflict, not_found
from server.platform.public_ids import ANOMALY, to_ref
from server.platform.tables import anomalies
from server.platform.web import Blueprint, Strict, engine, now, server_private_key

fact_approvals_blp = Blueprint(
    "fact_approvals",
    __name__,
    url_prefix="/api/v1",
    description="Facts found on site, approved by the office after the fact",
)
TAGS = ["anomalies"]


class ApproveFactsIn(Strict):
    reason = fields.String(required=True, validate=REASON)


class ApprovedFactsOut(Strict):
    anomaly = fields.Integer(metadata={"description": "the anomaly's ref"})
    kind = fields.String()
    action = fields.String()
    journal_seq = fields.Integer(metadata={"description": "the entry in the server journal"})
    decisions = fields.List(fields.String(), metadata={"description": "sent to the tablet"})
    revalued = fields.Dict(metadata={"description": "the server's new valuation"})
    documents = fields.Raw(metadata={"description": "credit notes and invoices issued"})


def check_by_ref(conn: sa.Connection, tenant_id: str, anomaly_id: int) -> None:
    """The refusals `fact_approvals.approve` would give for this anomaly, said with its ref
    (the office's name the row id, which tells how many anomalies other companies have)."""
    ref = to_ref(ANOMALY, anomaly_id)
    row = None
    if 0 < anomaly_id < 2**31:  # a 32-bit column
        row = conn.execute(
            sa.select(anomalies.c.kind, anomalies.c.status)
            .where(anomalies.c.tenant_id == tenant_id, anomalies.c.id == anomaly_id)
            .with_for_update()
        ).first()
    if row is None:
        raise not_found("Anomalie", "Anomaly", str(ref))
    if row.kind != site_facts.BEYOND:
        raise Conflict(
            f"L'anomalie {ref} n'est pas un constat sur place au-delà de la règle"
            f" ({row.kind}) : rien n'a été fait.",
            f"Anomaly {ref} is not a site fact beyond the rule ({row.kind}): nothing was done.",
            code="action_unfit",
        )
    if row.status != reconcile.OPEN:
        raise Conflict(
            f"L'anomalie {ref} n'est plus ouverte ({row.status}) : rien n'a été fait.",
            f"Anomaly {ref} is no longer open ({row.status}): nothing was done.",
            code="anomaly_not_open",
        )


@fact_approvals_blp.route("/anomalies/<anomaly_ref:anomaly_id>/approve-site-facts", tags=TAGS)
class ApproveSiteFacts(MethodView):
    @require_user(Right.RECONCILE)
    @fact_approvals_blp.arguments(ApproveFactsIn)
    @fact_approvals_blp.response(200, ApprovedFactsOut)
    def post(self, data: dict[str, Any], anomaly_id: int) -> dict[str, Any]:
        """Count the facts kept for the office: the server values the mission again at
        once, the tablet that recorded them at its next pull."""
        user = current_user()
        if Right.APPROVE_DISCOUNT not in user.rights:
            raise missing_right(Right.APPROVE_DISCOUNT)
        with engine().begin() as conn:
            check_by_ref(conn, user.tenant_id, anomaly_id)
            done = fact_approvals.approve(
                conn,
                user.tenant_id,
                anomaly_id,
                data["reason"],
                key=server_private_key(),
                actor=user.id,
                now=now(),
            )
        return {**done, "anomaly": to_ref(ANOMALY, anomaly_id)}
