# mypy: disable-error-code="untyped-decorator"
"""Office sign-in: a password gives a short-lived bearer token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.security import current_user, require_user
from server.people import tokens
from server.people.identity import User, authenticate
from server.platform.web import Blueprint, Strict, engine, now, token_key

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Office sign-in")


class LoginIn(Strict):
    tenant = fields.String(required=True, validate=validate.Length(min=1, max=64))
    login = fields.String(required=True, validate=validate.Length(min=1, max=120))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UserOut(Strict):
    id = fields.String()
    tenant_id = fields.String()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    rights = fields.List(fields.String())


class LoginOut(Strict):
    token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})
    user = fields.Nested(UserOut)


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "tenant_id": user.tenant_id,
        "login": user.login,
        "name": user.name,
        "role": user.role,
        "rights": sorted(user.rights),
    }


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginIn)
    @blp.response(200, LoginOut)
    @blp.alt_response(401, response="Unauthenticated", description="login_failed")
    @blp.alt_response(429, response="RateLimited", description="account_locked")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Sign in with a password; five failures lock the account for 15 minutes."""
        moment = now()
        user = authenticate(engine(), data["tenant"], data["login"], data["password"], moment)
        seconds = int(current_app.config["USER_TOKEN_SECONDS"])
        token = tokens.issue(
            token_key(),
            tokens.USER,
            user.id,
            user.tenant_id,
            moment + timedelta(seconds=seconds),
            issued=moment,
        )
        return {"token": token, "expires_in": seconds, "user": user_out(user)}


@blp.route("/me")
class Me(MethodView):
    @require_user()
    @blp.response(200, UserOut)
    def get(self) -> dict[str, Any]:
        """Who the token belongs to, with the rights the role really gives."""
        return user_out(current_user())
