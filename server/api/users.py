# mypy: disable-error-code="untyped-decorator"
"""Office users and roles of the caller's tenant (right `manage_users`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.auth import UserOut, user_out
from server.api.fields import IDENT, NAME, PASSWORD
from server.api.security import current_user, require_user
from server.people import identity
from server.people.rights import ALL_RIGHTS, Right
from server.platform.errors import not_found
from server.platform.web import Blueprint, Strict, engine, now, reader

blp = Blueprint("users", __name__, url_prefix="/api/v1", description="Office users and roles")

LOGIN = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,119}$")


class UserIn(Strict):
    login = fields.String(required=True, validate=LOGIN)
    name = fields.String(required=True, validate=NAME)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    role = fields.String(required=True, validate=IDENT)


class RoleOut(Strict):
    name = fields.String()
    rights = fields.List(fields.String())


class RoleIn(Strict):
    rights = fields.List(
        fields.String(validate=validate.OneOf(sorted(ALL_RIGHTS))),
        required=True,
        validate=validate.Length(max=len(ALL_RIGHTS)),
    )


@blp.route("/users")
class Users(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.response(200, UserOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The tenant's office users, with the rights their role really gives."""
        with reader().connect() as conn:
            return [user_out(u) for u in identity.list_users(conn, current_user().tenant_id)]

    @require_user(Right.MANAGE_USERS)
    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create an office user; nobody hands out a role with rights they lack."""
        user = current_user()
        with engine().begin() as conn:
            created = identity.create_user(
                conn,
                user.tenant_id,
                data["login"],
                data["name"],
                data["password"],
                data["role"],
                actor=user.id,
                now=now(),
                grantor=user,
            )
        return user_out(created)


class UserRoleIn(Strict):
    role = fields.String(required=True, validate=validate.Length(1, 64))


@blp.route("/users/<string:user_id>/role")
class UserRole(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.arguments(UserRoleIn)
    @blp.response(200, UserOut)
    def put(self, data: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Give an office user another role (logged). Nobody changes their own role, nor
        gives or takes a role with rights they lack; the user's next call uses it."""
        user = current_user()
        with engine().begin() as conn:
            changed = identity.set_user_role(
                conn, user.tenant_id, user_id, data["role"], actor=user, now=now()
            )
        return user_out(changed)


@blp.route("/roles")
class Roles(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.response(200, RoleOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The tenant's roles and the rights stored for each."""
        with reader().connect() as conn:
            roles = identity.list_roles(conn, current_user().tenant_id)
        return [{"name": name, "rights": rights} for name, rights in roles]


@blp.route("/roles/<string:name>")
class Role(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.arguments(RoleIn)
    @blp.response(200, RoleOut)
    def put(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Set a role's rights (creating the role). Payment rights need the payments
        module; nobody grants a right they do not have."""
        user = current_user()
        IDENT(name)
        wanted = set(data["rights"])
        if not wanted <= set(user.rights):
            missing = ", ".join(sorted(wanted - set(user.rights)))
            from server.platform.errors import Forbidden

            raise Forbidden(
                f"Vous ne pouvez pas donner un droit que vous n'avez pas : {missing}.",
                f"You cannot grant a right you do not have: {missing}.",
                code="right_missing",
            )
        with engine().begin() as conn:
            tenant = identity.get_tenant(conn, user.tenant_id)
            if tenant is None:
                raise not_found("Société", "Tenant", user.tenant_id)
            identity.set_role(conn, tenant, name, wanted, actor=user.id, now=now())
        return {"name": name, "rights": sorted(wanted)}
