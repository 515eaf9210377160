# mypy: disable-error-code="untyped-decorator"
"""Missions of the caller's tenant (right `manage_missions`): create, assign, cancel,
list. Assigning and cancelling are the dispatcher's acts (server.parties.mission_acts),
as on the desk's dispatch board."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import IDENT, REASON
from server.api.security import current_user, require_user
from server.office import missions
from server.parties import mission_acts
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader

blp = Blueprint("missions", __name__, url_prefix="/api/v1", description="Missions")


class MissionIn(Strict):
    document = fields.Dict(
        required=True, metadata={"description": "a mission document, validated by the core"}
    )
    driver_id = fields.String(load_default=None, allow_none=True, validate=IDENT)


class AssignIn(Strict):
    driver_id = fields.String(required=True, validate=IDENT)
    started_ok = fields.Boolean(
        load_default=False,
        metadata={
            "description": "reassign even though the tablet has started the mission "
            "(otherwise 409 mission_started)"
        },
    )


class CancelIn(Strict):
    reason = fields.String(required=True, validate=REASON)


class MissionOut(Strict):
    id = fields.String()
    file_number = fields.String(allow_none=True)
    ordering_party_id = fields.String(allow_none=True)
    driver_id = fields.String(allow_none=True)
    status = fields.String()
    cancel_reason = fields.String(allow_none=True, metadata={"description": "once cancelled"})
    source = fields.String()
    document = fields.Dict()


class ListQuery(Strict):
    driver_id = fields.String(validate=IDENT)
    status = fields.String(validate=validate.Length(min=1, max=32))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


@blp.route("/missions")
class Missions(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, MissionOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The tenant's missions, newest first."""
        with reader().connect() as conn:
            return missions.list_missions(
                conn,
                current_user().tenant_id,
                driver_id=query.get("driver_id"),
                status=query.get("status"),
                limit=query["limit"],
            )

    @require_user(Right.MANAGE_MISSIONS)
    @blp.arguments(MissionIn)
    @blp.response(201, MissionOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a mission; with `driver_id`, that driver's tablets receive it."""
        user = current_user()
        with engine().begin() as conn:
            return missions.create(
                conn, user.tenant_id, data["document"], data["driver_id"], actor=user.id, now=now()
            )


@blp.route("/missions/<string:mission_id>")
class Mission(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @blp.response(200, MissionOut)
    def get(self, mission_id: str) -> dict[str, Any]:
        """One mission."""
        with reader().connect() as conn:
            return missions.get(conn, current_user().tenant_id, mission_id)


@blp.route("/missions/<string:mission_id>/assign")
class Assign(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @blp.arguments(AssignIn)
    @blp.response(200, MissionOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """Give the mission to a driver; the previous driver's tablets drop it. Refused
        (409) for a cancelled or finished mission, and for one the tablet has started
        unless `started_ok`; logged on the ordering party's file."""
        user = current_user()
        with engine().begin() as conn:
            return mission_acts.assign(
                conn,
                user.tenant_id,
                mission_id,
                data["driver_id"],
                actor=user.id,
                now=now(),
                started_ok=data["started_ok"],
            )


@blp.route("/missions/<string:mission_id>/cancel")
class Cancel(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @blp.arguments(CancelIn)
    @blp.response(200, MissionOut)
    def post(self, data: dict[str, Any], mission_id: str) -> dict[str, Any]:
        """Cancel the mission (reason required, logged, on the ordering party's file
        too); its driver's tablets learn it at their next pull. Once only; refused (409)
        once the tablet has finished it."""
        user = current_user()
        with engine().begin() as conn:
            return mission_acts.cancel(
                conn, user.tenant_id, mission_id, data["reason"], actor=user.id, now=now()
            )
