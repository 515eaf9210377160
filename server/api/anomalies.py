# mypy: disable-error-code="untyped-decorator"
"""The reconciliation desk's API: anomalies, one-action resolutions, reconciliation on
demand, card-terminal settlement imports. Every call needs the `reconcile` right; a
resolution also needs the right its act needs (voiding: `void_collection`; approving:
`approve_discount`; re-valuing, which issues credit notes: `issue_credit_note`; any
action on a security alert: `acknowledge_alerts`)."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import REASON
from server.api.security import current_user, require_user
from server.office import anomalies as raised
from server.office import reconcile, resolutions, settlements, tenant_jobs
from server.people.rights import Right, missing_right
from server.platform.errors import Conflict, not_found
from server.platform.public_ids import ANOMALY, SETTLEMENT, Ref, to_ref
from server.platform.tables import anomalies
from server.platform.web import Blueprint, Strict, engine, now, reader, server_private_key

blp = Blueprint(
    "anomalies", __name__, url_prefix="/api/v1", description="Reconciliation and anomalies"
)

ACTION_RIGHTS = {
    "void": Right.VOID_COLLECTION,
    "approve": Right.APPROVE_DISCOUNT,
    "accept_dispute": Right.ISSUE_CREDIT_NOTE,
}
# Security alerts: any action on one needs `acknowledge_alerts`, not only the clerk's
# `reconcile` (which still lets one see them).
SECURITY_ALERTS = frozenset(
    {"journal_fork", "journal_invalid", "quarantined_push", "entry_unauthorised"}
)


def missing_for(action: str, kind: str, rights: Collection[Right]) -> Right | None:
    """The first right beyond `reconcile` that `action` on an anomaly of `kind` needs and
    `rights` lack; None when they are enough. The desk asks the same."""
    needed = [ACTION_RIGHTS.get(action)]
    if kind in SECURITY_ALERTS:
        needed.append(Right.ACKNOWLEDGE_ALERTS)
    return next((r for r in needed if r is not None and r not in rights), None)


class AnomalyQuery(Strict):
    status = fields.String(validate=validate.OneOf(["open", "resolved", "cleared"]))
    kind = fields.String(validate=validate.Length(1, 40))
    driver_id = fields.String(validate=validate.Length(1, 64))
    mission_id = fields.String(validate=validate.Length(1, 64))
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


class AnomalyOut(Strict):
    id = fields.Integer(metadata={"description": "a ref, not a count: use it in the path"})
    kind = fields.String()
    subject = fields.String(allow_none=True)
    status = fields.String()
    mission_id = fields.String(allow_none=True)
    device_id = fields.String(allow_none=True)
    driver_id = fields.String(allow_none=True)
    amount = fields.String(allow_none=True, metadata={"description": 'e.g. "12.50"'})
    detail = fields.Dict()
    created_at = fields.AwareDateTime()
    caused_by = Ref(
        ANOMALY,
        allow_none=True,
        metadata={"description": "the anomaly this one follows from; resolving it closes both"},
    )
    linked = fields.List(
        Ref(ANOMALY), metadata={"description": "the anomalies this one causes, closed with it"}
    )


class ResolveIn(Strict):
    action = fields.String(required=True, validate=validate.OneOf(sorted(resolutions.ACTIONS)))
    reason = fields.String(required=True, validate=REASON)
    as_kind = fields.String(
        load_default="deferral",
        validate=validate.OneOf(["discount", "deferral"]),
        metadata={"description": "approve on money still owed: bill later, or a discount"},
    )


class ResolutionOut(Strict):
    anomaly = fields.Integer(metadata={"description": "the anomaly's ref, as in its path"})
    kind = fields.String()
    action = fields.String()
    journal_seq = fields.Integer(metadata={"description": "the entry in the server journal"})
    decisions = fields.List(fields.String(), metadata={"description": "sent to the tablets"})
    documents = fields.Raw(metadata={"description": "invoices or credit notes issued"})
    revalued = fields.Dict(metadata={"description": "the new valuation (accept_dispute)"})
    approved = fields.Dict(metadata={"description": "the driver's entry, now approved"})
    amount_cents = fields.Integer(allow_none=True)
    linked = fields.List(
        Ref(ANOMALY), metadata={"description": "the anomalies it caused, resolved with it"}
    )


class ReconcileOut(Strict):
    job = fields.String(
        allow_none=True, metadata={"description": "the job's key (towline-server jobs)"}
    )
    state = fields.String(metadata={"description": "pending, running, done, failed; none"})
    asked_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class SettlementIn(Strict):
    file_name = fields.String(required=True, validate=validate.Length(1, 200))
    content = fields.String(required=True, validate=validate.Length(1, 8_000_000))


class SettlementOut(Strict):
    id = Ref(SETTLEMENT, metadata={"description": "the import's ref (not its row id)"})
    file_name = fields.String()
    lines = fields.Integer()
    period_from = fields.String()
    period_to = fields.String()


def wire_cents(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def wire(row: Any, links: raised.Links | None = None) -> dict[str, Any]:
    """An anomaly for the API; `links` (server.office.anomalies.links) adds its cause and
    the anomalies it causes, as row ids that the schema writes as refs."""
    cents = row.amount_cents
    return {
        "caused_by": links.caused_by.get(row.id) if links else None,
        "linked": list(links.linked.get(row.id, ())) if links else [],
        "id": to_ref(ANOMALY, row.id),  # never the row id: it counts every tenant's
        "kind": row.kind,
        "subject": row.subject,
        "status": row.status,
        "mission_id": row.mission_id,
        "device_id": row.device_id,
        "driver_id": row.driver_id,
        "amount": None if cents is None else wire_cents(cents),
        "detail": row.detail,
        "created_at": row.created_at,
    }


@blp.route("/anomalies")
class Anomalies(MethodView):
    @require_user(Right.RECONCILE)
    @blp.arguments(AnomalyQuery, location="query")
    @blp.response(200, AnomalyOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The tenant's anomalies, newest first, filtered by status, kind, driver, mission."""
        user = current_user()
        select = sa.select(anomalies).where(anomalies.c.tenant_id == user.tenant_id)
        for name in ("status", "kind", "driver_id", "mission_id"):
            if name in query:
                select = select.where(anomalies.c[name] == query[name])
        select = select.order_by(anomalies.c.id.desc()).limit(query["limit"])
        with reader().connect() as conn:
            rows = conn.execute(select).all()
            found = raised.links(conn, user.tenant_id, rows)
            return [wire(r, found) for r in rows]


def _anomaly(conn: sa.Connection, tenant_id: str, anomaly_id: int) -> Any:
    """The tenant's anomaly, else 404; refusals name its ref, never its row id."""
    row = None
    if 0 < anomaly_id < 2**31:  # the column is a 32-bit integer
        row = conn.execute(
            sa.select(anomalies).where(
                anomalies.c.tenant_id == tenant_id, anomalies.c.id == anomaly_id
            )
        ).first()
    if row is None:
        raise not_found("Anomalie", "Anomaly", str(to_ref(ANOMALY, anomaly_id)))
    return row


@blp.route("/anomalies/<anomaly_ref:anomaly_id>")
class Anomaly(MethodView):
    @require_user(Right.RECONCILE)
    @blp.response(200, AnomalyOut)
    def get(self, anomaly_id: int) -> dict[str, Any]:
        """One anomaly with its evidence. The id in the path is the anomaly's `id` as the
        list gives it (a ref: it tells nothing of other companies' anomalies)."""
        user = current_user()
        with reader().connect() as conn:
            row = _anomaly(conn, user.tenant_id, anomaly_id)
            return wire(row, raised.links(conn, user.tenant_id, [row]))


@blp.route("/anomalies/<anomaly_ref:anomaly_id>/resolve")
class Resolve(MethodView):
    @require_user(Right.RECONCILE)
    @blp.arguments(ResolveIn)
    @blp.response(200, ResolutionOut)
    def post(self, data: dict[str, Any], anomaly_id: int) -> dict[str, Any]:
        """Resolve the anomaly in one action (void, approve, refuse, acknowledge,
        accept_dispute, invoice_overrun), with the reason; logged and journaled. 409
        `anomaly_not_open` once resolved, or for an action that does not fit its kind."""
        user = current_user()
        with engine().begin() as conn:
            row = _anomaly(conn, user.tenant_id, anomaly_id)
            needed = missing_for(data["action"], row.kind, user.rights)
            if needed is not None:
                raise missing_right(needed)
            if row.status != reconcile.OPEN:  # said here, with the ref (not the row id)
                ref = to_ref(ANOMALY, anomaly_id)
                raise Conflict(
                    f"L'anomalie {ref} n'est plus ouverte ({row.status}).",
                    f"Anomaly {ref} is no longer open ({row.status}).",
                    code="anomaly_not_open",
                )
            done = resolutions.resolve(
                conn,
                user.tenant_id,
                anomaly_id,
                data["action"],
                data["reason"],
                key=server_private_key(),
                actor=user.id,
                now=now(),
                as_kind=data["as_kind"],
            )
        return {**done, "anomaly": to_ref(ANOMALY, anomaly_id)}


@blp.route("/reconcile")
class Reconcile(MethodView):
    @require_user(Right.RECONCILE)
    @blp.response(202, ReconcileOut)
    def post(self) -> dict[str, Any]:
        """Ask for every mission, register, approval code and card payment of the tenant
        to be reconciled, by a job after this request (pushes already reconcile what they
        bring; it also runs nightly): what it finds shows in the anomalies. Asking again
        before it starts gives the same job."""
        user = current_user()
        with engine().begin() as conn:
            asked = tenant_jobs.ask_reconcile(conn, user.tenant_id, now())
        return _fields(asked)

    @require_user(Right.RECONCILE)
    @blp.response(200, ReconcileOut)
    def get(self) -> dict[str, Any]:
        """Where the tenant's latest reconciliation stands (asked or nightly)."""
        user = current_user()
        with reader().connect() as conn:
            return _fields(tenant_jobs.last_reconcile(conn, user.tenant_id))


def _fields(asked: tenant_jobs.Asked) -> dict[str, Any]:
    return {
        "job": asked.job,
        "state": asked.state,
        "asked_at": asked.asked_at,
        "finished_at": asked.finished_at,
    }


@blp.route("/settlements")
class Settlements(MethodView):
    @require_user(Right.RECONCILE)
    @blp.arguments(SettlementIn)
    @blp.response(201, SettlementOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Import a card-terminal settlement file (CSV text, see docs/anomalies.md); card
        collections of the days it covers are checked against it by a reconciliation job
        after this request."""
        user = current_user()
        with engine().begin() as conn:
            done = settlements.import_file(
                conn,
                user.tenant_id,
                data["file_name"],
                data["content"].encode("utf-8"),
                actor=user.id,
                now=now(),
            )
            tenant_jobs.ask_reconcile(conn, user.tenant_id, now())
        return done
