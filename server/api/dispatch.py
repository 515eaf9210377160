# mypy: disable-error-code="untyped-decorator"
"""The dispatch board over the API (right `manage_missions`): the same data as the desk's
`/desk/dispatch` (server.office.dispatch), for a wallboard or another system. Assigning,
reassigning and cancelling are `/missions/<id>/assign` and `/missions/<id>/cancel`."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.security import current_user, require_user
from server.office import dispatch
from server.parties.order_places import places_of
from server.people.rights import Right
from server.people.tenant_time import local_day, tenant_zone
from server.platform.web import Blueprint, Strict, now, reader

dispatch_blp = Blueprint("dispatch", __name__, url_prefix="/api/v1", description="Dispatch")

MONEY = {"description": 'an amount incl. VAT, e.g. "96.00"'}
DAYS = validate.Range(min=date(2000, 1, 1), max=date(2099, 12, 31))


class DayQuery(Strict):
    day = fields.Date(validate=DAYS, metadata={"description": "YYYY-MM-DD; default: today"})


class BoardStepOut(Strict):
    step = fields.String(metadata={"description": "the last step the tablet reported"})
    at = fields.AwareDateTime(allow_none=True, metadata={"description": "the tablet's clock"})
    received_at = fields.AwareDateTime()
    device_id = fields.String()


class BoardMoneyOut(Strict):
    due = fields.String(allow_none=True, metadata=MONEY)
    collected = fields.String(allow_none=True, metadata=MONEY)
    remaining = fields.String(allow_none=True, metadata=MONEY)


class BoardPlacesOut(Strict):
    start = fields.String(allow_none=True, data_key="from")
    end = fields.String(allow_none=True, data_key="to")
    caller = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    by_phone = fields.Boolean()


class BoardMissionOut(Strict):
    id = fields.String()
    file_number = fields.String(allow_none=True)
    ordering_party_id = fields.String(allow_none=True)
    ordering_party_name = fields.String(allow_none=True)
    plate = fields.String(allow_none=True)
    call_at = fields.AwareDateTime(allow_none=True)
    driver_id = fields.String(allow_none=True)
    office_status = fields.String(metadata={"description": "new, assigned or cancelled"})
    status = fields.String(metadata={"description": "what the desk shows: follows the tablet"})
    finished = fields.Boolean()
    tablet_step = fields.Nested(BoardStepOut, allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    source = fields.String()
    money = fields.Nested(BoardMoneyOut)
    places = fields.Nested(BoardPlacesOut, allow_none=True)


class BoardDriverOut(Strict):
    id = fields.String()
    name = fields.String()
    last_sync = fields.AwareDateTime(allow_none=True)
    tablets = fields.Integer()
    open = fields.Integer()
    due = fields.String(metadata=MONEY)
    collected = fields.String(metadata=MONEY)
    missions = fields.List(fields.Nested(BoardMissionOut))


class BoardTotalsOut(Strict):
    due = fields.String(metadata=MONEY)
    collected = fields.String(metadata=MONEY)


class BoardOut(Strict):
    day = fields.String()
    timezone = fields.String()
    unassigned = fields.List(fields.Nested(BoardMissionOut))
    drivers = fields.List(fields.Nested(BoardDriverOut))
    cancelled = fields.List(fields.Nested(BoardMissionOut))
    totals = fields.Nested(BoardTotalsOut)


def _with_places(wire: dict[str, Any], places: dict[str, Any]) -> dict[str, Any]:
    for mission in (
        *wire["unassigned"],
        *wire["cancelled"],
        *(m for d in wire["drivers"] for m in d["missions"]),
    ):
        mission["places"] = places.get(mission["id"])
    return wire


@dispatch_blp.route("/dispatch")
class Board(MethodView):
    @require_user(Right.MANAGE_MISSIONS)
    @dispatch_blp.arguments(DayQuery, location="query")
    @dispatch_blp.response(200, BoardOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The day's board in the tenant's time zone: missions with no driver, each
        driver's missions with the tablet's last step and last sync, due and collected,
        and the day's cancellations."""
        tenant = current_user().tenant_id
        with reader().connect() as conn:
            zone = tenant_zone(conn, tenant)
            today = local_day(now(), zone)
            made = dispatch.board(conn, tenant, query.get("day") or today, zone, today)
            wire = made.to_wire()
            ids = [m["id"] for m in (*wire["unassigned"], *wire["cancelled"])]
            ids += [m["id"] for d in wire["drivers"] for m in d["missions"]]
            places = places_of(conn, tenant, ids)
        return _with_places(wire, places)
