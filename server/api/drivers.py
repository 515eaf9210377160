# mypy: disable-error-code="untyped-decorator"
"""Drivers of the caller's tenant and their PINs (right `manage_users`). Every change
reaches the tablets the driver may sign in on, through the pull feed."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from server.api.fields import IDENT, NAME, PIN
from server.api.security import current_user, require_user
from server.people.drivers import create_driver, list_drivers, set_pin
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader

blp = Blueprint("drivers", __name__, url_prefix="/api/v1", description="Drivers")


class DriverIn(Strict):
    id = fields.String(required=True, validate=IDENT)
    name = fields.String(required=True, validate=NAME)
    pin = fields.String(required=True, load_only=True, validate=PIN)
    role = fields.String(load_default="driver", validate=IDENT)


class DriverOut(Strict):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    active = fields.Boolean()


class PinIn(Strict):
    pin = fields.String(required=True, validate=PIN)


@blp.route("/drivers")
class Drivers(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.response(200, DriverOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The tenant's drivers (PIN hashes are never listed)."""
        with reader().connect() as conn:
            return list_drivers(conn, current_user().tenant_id)

    @require_user(Right.MANAGE_USERS)
    @blp.arguments(DriverIn)
    @blp.response(201, DriverOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a driver with a PIN (4 to 8 digits, stored hashed). Nobody gives a driver
        a role with rights they lack (422 `role_above_yours`)."""
        user = current_user()
        with engine().begin() as conn:
            return create_driver(
                conn,
                user.tenant_id,
                data["id"],
                data["name"],
                data["pin"],
                data["role"],
                actor=user.id,
                now=now(),
                grantor=user,
            )


@blp.route("/drivers/<string:driver_id>/pin")
class Pin(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.arguments(PinIn)
    @blp.response(204)
    def put(self, data: dict[str, Any], driver_id: str) -> None:
        """Set a driver's PIN; the driver's tablets learn the new hash at their next pull."""
        user = current_user()
        with engine().begin() as conn:
            set_pin(conn, user.tenant_id, driver_id, data["pin"], actor=user.id, now=now())
