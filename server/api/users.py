# mypy: disable-error-code="untyped-decorator"
"""Office users and roles of the caller's tenant (right `manage_users`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from server.api.auth import UserOut, user_out
from server.api.fields import IDENT, NAME, PASSWORD, REASON
from server.api.security import current_user, require_user
from server.people import identity, user_admin
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


class UserAccountOut(UserOut):
    active = fields.Boolean(metadata={"description": "false: deactivated, cannot sign in"})
    locked_until = fields.AwareDateTime(
        allow_none=True, metadata={"description": "set while a lock-out lasts (UTC)"}
    )
    password_change_required = fields.Boolean(
        metadata={"description": "true: a reset password must be replaced at next sign-in"}
    )
    deactivated_at = fields.AwareDateTime(allow_none=True)


def account_out(account: user_admin.Account) -> dict[str, Any]:
    moment = now()
    return {
        **user_out(account.user),
        "active": account.user.active,
        "locked_until": account.locked_until if account.locked(moment) else None,
        "password_change_required": account.password_change_required,
        "deactivated_at": account.deactivated_at,
    }


def _account(user_id: str) -> dict[str, Any]:
    with reader().connect() as conn:
        found = user_admin.list_accounts(conn, current_user().tenant_id)
    return account_out(next(a for a in found if a.user.id == user_id))


@blp.route("/users")
class Users(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.response(200, UserAccountOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The tenant's office users, with the rights their role really gives, whether
        they are active, locked out, or must replace a reset password."""
        with reader().connect() as conn:
            found = user_admin.list_accounts(conn, current_user().tenant_id)
        return [account_out(a) for a in found]

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
        module; nobody grants a right they do not have, nor edits a role that has one
        (403 `role_above_yours`), nor takes `manage_users` from their own role or from the
        last role giving it to an active user (409 `own_role_rights`, `last_admin`)."""
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


@blp.route("/users/<string:user_id>/unlock")
class UserUnlock(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.response(200, UserAccountOut)
    def post(self, user_id: str) -> dict[str, Any]:
        """End a lock-out now (logged); 409 `user_not_locked` if there is none."""
        user = current_user()
        with engine().begin() as conn:
            user_admin.unlock_user(conn, user.tenant_id, user_id, actor=user, now=now())
        return _account(user_id)


class PasswordResetIn(Strict):
    password = fields.String(
        load_default=None,
        load_only=True,
        validate=PASSWORD,
        metadata={"description": "the temporary password; omitted: the server makes one"},
    )


class PasswordResetOut(Strict):
    temporary_password = fields.String(
        metadata={"description": "shown once: hand it to the user, who must replace it"}
    )
    user = fields.Nested(UserAccountOut)


@blp.route("/users/<string:user_id>/password-reset")
class UserPasswordReset(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.arguments(PasswordResetIn)
    @blp.response(200, PasswordResetOut)
    def post(self, data: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Give a user a temporary password (logged, never stored in clear): their sessions
        end now and they must choose a new one at the next sign-in. Nobody resets their
        own, nor that of a user with rights they lack."""
        user = current_user()
        with engine().begin() as conn:
            temporary = user_admin.reset_password(
                conn, user.tenant_id, user_id, actor=user, now=now(), password=data["password"]
            )
        return {"temporary_password": temporary, "user": _account(user_id)}


class DeactivateIn(Strict):
    reason = fields.String(required=True, validate=REASON)


@blp.route("/users/<string:user_id>/deactivate")
class UserDeactivate(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.arguments(DeactivateIn)
    @blp.response(200, UserAccountOut)
    def post(self, data: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Deactivate a user (reason logged): they cannot sign in and their sessions end
        now; nothing about them is deleted. Nobody deactivates themselves nor the last
        active user who can manage users."""
        user = current_user()
        with engine().begin() as conn:
            user_admin.deactivate_user(
                conn, user.tenant_id, user_id, actor=user, now=now(), reason=data["reason"].strip()
            )
        return _account(user_id)


@blp.route("/users/<string:user_id>/reactivate")
class UserReactivate(MethodView):
    @require_user(Right.MANAGE_USERS)
    @blp.response(200, UserAccountOut)
    def post(self, user_id: str) -> dict[str, Any]:
        """Let a deactivated user sign in again (logged)."""
        user = current_user()
        with engine().begin() as conn:
            user_admin.reactivate_user(conn, user.tenant_id, user_id, actor=user, now=now())
        return _account(user_id)


class PasswordChangeIn(Strict):
    tenant = fields.String(required=True, validate=validate.Length(min=1, max=64))
    login = fields.String(required=True, validate=validate.Length(min=1, max=120))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=200)
    )
    new_password = fields.String(required=True, load_only=True, validate=PASSWORD)


@blp.route("/auth/password")
class PasswordChange(MethodView):
    @blp.arguments(PasswordChangeIn)
    @blp.response(200, UserOut)
    # No token: the rules of openapi_refusals.py add none of these; they are login's.
    @blp.alt_response(401, response="Unauthenticated", description="login_failed")
    @blp.alt_response(403, response="Forbidden", description="account_deactivated")
    @blp.alt_response(429, response="RateLimited", description="account_locked")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Choose a new password, proving the current one (a temporary one included; a
        wrong one counts towards the lock-out). Then sign in with the new one."""
        user = user_admin.change_password(
            engine(), data["tenant"], data["login"], data["password"], data["new_password"], now()
        )
        return user_out(user)
