# mypy: disable-error-code="untyped-decorator"
"""Tablets: enrolment codes, enrolment, challenge-signed sessions, listing, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import HEX_KEY, HEX_SIGNATURE, IDENT, NAME, not_blank
from server.api.security import current_device, current_user, require_device, require_user
from server.devices import enrolment_limits
from server.devices import tablets as devices
from server.devices.enrolment_proof import signature_for
from server.people import tokens
from server.people.rights import Right
from server.platform.errors import not_found
from server.platform.public_ids import ENROLMENT_CODE, Ref, fits_column, to_ref
from server.platform.tables import enrolment_codes
from server.platform.web import (
    Blueprint,
    Strict,
    engine,
    now,
    reader,
    server_private_key,
    server_public_key_hex,
    token_key,
)

blp = Blueprint("devices", __name__, url_prefix="/api/v1", description="Tablets")


class EnrolmentCodeIn(Strict):
    driver_ids = fields.List(
        fields.String(validate=IDENT), required=True, validate=validate.Length(min=1, max=50)
    )
    label = fields.String(required=True, validate=NAME)
    ttl_minutes = fields.Integer(
        load_default=15, strict=True, validate=validate.Range(min=1, max=24 * 60)
    )


class EnrolmentCodeOut(Strict):
    code = fields.String(metadata={"description": "shown once; typed on the tablet"})
    tenant_id = fields.String()
    label = fields.String()
    driver_ids = fields.List(fields.String())
    expires_at = fields.AwareDateTime()


class EnrolIn(Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    public_key = fields.String(required=True, validate=HEX_KEY)
    label = fields.String(load_default="", validate=validate.Length(max=200))


class ApprovalKeyOut(Strict):
    version = fields.Integer()
    secret = fields.String(metadata={"description": "hex; the tablet checks approval codes"})


class EnrolledDriverOut(Strict):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    pin_hash = fields.String(metadata={"description": "scrypt$n$r$p$salt$hash"})
    active = fields.Boolean()
    rights = fields.List(
        fields.String(), metadata={"description": "the driver's effective rights, sorted"}
    )


class EnrolOut(Strict):
    device_id = fields.String()
    tenant_id = fields.String()
    server_public_key = fields.String(metadata={"description": "Ed25519, hex"})
    enrolment_signature = fields.String(
        metadata={"description": "the server's Ed25519 signature binding device, tenant and key"}
    )
    approval_key = fields.Nested(ApprovalKeyOut)
    drivers = fields.List(fields.Nested(EnrolledDriverOut))


class ChallengeIn(Strict):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ChallengeOut(Strict):
    nonce = fields.String(metadata={"description": "sign its UTF-8 bytes with the device key"})
    expires_at = fields.AwareDateTime()


class SessionIn(Strict):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    nonce = fields.String(required=True, validate=validate.Length(min=1, max=64))
    signature = fields.String(required=True, validate=HEX_SIGNATURE)


class SessionOut(Strict):
    token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})
    revoked = fields.Boolean(metadata={"description": "true: the office revoked this device"})
    server_time = fields.AwareDateTime(
        metadata={"description": "the server's clock (UTC): tablets correct their own with it"}
    )
    server_public_key = fields.String(metadata={"description": "Ed25519, hex"})
    enrolment_signature = fields.String(
        metadata={"description": "as in the enrolment answer: the tablet checks its stored copy"}
    )


class DeviceOut(Strict):
    id = fields.String()
    label = fields.String()
    driver_ids = fields.List(fields.String())
    enrolled_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
    revoked_by = fields.String(allow_none=True)
    revoked_reason = fields.String(allow_none=True)
    head_seq = fields.Integer()


class RevokeIn(Strict):
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), not_blank])


class SelfOut(Strict):
    device_id = fields.String()
    tenant_id = fields.String()
    driver_ids = fields.List(fields.String())
    revoked = fields.Boolean()


@blp.route("/enrolment-codes")
class EnrolmentCodes(MethodView):
    @require_user(Right.MANAGE_DEVICES)
    @blp.arguments(EnrolmentCodeIn)
    @blp.response(201, EnrolmentCodeOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """A one-time code to enrol one tablet for the given drivers (15 min, 5 tries)."""
        user = current_user()
        with engine().begin() as conn:
            return devices.create_enrolment_code(
                conn,
                user.tenant_id,
                data["driver_ids"],
                data["label"],
                created_by=user.id,
                now=now(),
                ttl=timedelta(minutes=data["ttl_minutes"]),
            )


class OpenCodeOut(Strict):
    id = Ref(
        ENROLMENT_CODE,
        metadata={"description": "what withdrawing names (the code is not kept); a ref"},
    )
    label = fields.String()
    driver_ids = fields.List(fields.String())
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    attempts_left = fields.Integer()


@blp.route("/enrolment-codes/open")
class OpenCodes(MethodView):
    @require_user(Right.MANAGE_DEVICES)
    @blp.response(200, OpenCodeOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The codes that could still enrol a tablet: unused, not withdrawn nor expired."""
        with reader().connect() as conn:
            return devices.open_codes(conn, current_user().tenant_id, now())


def withdraw_code(tenant_id: str, code_id: int, actor: str) -> None:
    """`devices.withdraw_code` for a code named by its ref: a 404 names the ref, never the
    row id behind it, and an id no row can have is refused before any query."""
    unknown = not_found("Code d'enrôlement", "Enrolment code", str(to_ref(ENROLMENT_CODE, code_id)))
    if not fits_column(code_id):
        raise unknown
    with engine().begin() as conn:
        mine = sa.select(enrolment_codes.c.id).where(
            enrolment_codes.c.tenant_id == tenant_id, enrolment_codes.c.id == code_id
        )
        if conn.execute(mine).first() is None:
            raise unknown
        devices.withdraw_code(conn, tenant_id, code_id, actor=actor, now=now())


@blp.route("/enrolment-codes/<enrolment_code_ref:code_id>/withdraw")
class WithdrawCode(MethodView):
    @require_user(Right.MANAGE_DEVICES)
    @blp.response(204)
    def post(self, code_id: int) -> None:
        """Withdraw an unused code (logged): it can no longer enrol; 409 if it is used,
        expired or withdrawn already. The id is the `id` the open codes give (a ref)."""
        user = current_user()
        withdraw_code(user.tenant_id, code_id, user.id)


def client_address() -> str:
    """The caller's address as the enrolment limits count it. Behind reverse proxies,
    `FORWARDED_HOPS` (TOWLINE_FORWARDED_HOPS) says how many append to X-Forwarded-For:
    the address the outermost of them saw is taken, never one the client wrote."""
    hops = int(current_app.config.get("FORWARDED_HOPS", 0))
    remote = request.remote_addr
    if hops > 0:
        forwarded = [
            part.strip()
            for header in request.headers.getlist("X-Forwarded-For")
            for part in header.split(",")
        ]
        remote = forwarded[-hops] if len(forwarded) >= hops else None
    return enrolment_limits.address_key(remote)


@blp.route("/devices/enrol")
class Enrol(MethodView):
    @blp.arguments(EnrolIn)
    @blp.response(201, EnrolOut)
    @blp.alt_response(401, response="Unauthenticated", description="enrolment_code_…")
    @blp.alt_response(409, response="Conflict", description="key_already_enrolled")
    @blp.alt_response(
        429,
        response="RateLimited",
        description="rate_limited: too many failed enrolments from this address or aimed at "
        "this company in the last 15 minutes; Retry-After in seconds",
    )
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Enrol a tablet with a one-time code and the public key it generated. Failed
        enrolments are bounded per client address and per company (docs/sync-protocol.md)."""
        return devices.enrol(
            engine(),
            data["code"],
            data["public_key"],
            data["label"],
            server_public_key_hex=server_public_key_hex(),
            now=now(),
            address=client_address(),
        )


@blp.route("/devices/challenge")
class Challenge(MethodView):
    @blp.arguments(ChallengeIn)
    @blp.response(200, ChallengeOut)
    @blp.alt_response(401, response="Unauthenticated")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """A single-use nonce (2 minutes) for the tablet to sign; signed by the server,
        stored nowhere (docs/sync-protocol.md "Sessions")."""
        return devices.create_challenge(engine(), data["device_id"], now(), secret=token_key())


@blp.route("/devices/session")
class Session(MethodView):
    @blp.arguments(SessionIn)
    @blp.response(200, SessionOut)
    @blp.alt_response(401, response="Unauthenticated")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """A 15-minute bearer token for a correctly signed challenge."""
        moment = now()
        identity = devices.open_session(
            engine(),
            data["device_id"],
            data["nonce"],
            bytes.fromhex(data["signature"]),
            moment,
            secret=token_key(),
        )
        seconds = int(current_app.config["DEVICE_TOKEN_SECONDS"])
        token = tokens.issue(
            token_key(),
            tokens.DEVICE,
            identity.device_id,
            identity.tenant_id,
            moment + timedelta(seconds=seconds),
        )
        with reader().connect() as conn:
            vouched = signature_for(conn, server_private_key(), identity.device_id)
        return {
            "token": token,
            "expires_in": seconds,
            "revoked": identity.revoked,
            "server_time": moment,
            "server_public_key": server_public_key_hex(),
            "enrolment_signature": vouched,
        }


@blp.route("/devices/me")
class Self(MethodView):
    @require_device()
    @blp.response(200, SelfOut)
    def get(self) -> dict[str, Any]:
        """The calling tablet as the server sees it (its tenant and drivers)."""
        device = current_device()
        return {
            "device_id": device.device_id,
            "tenant_id": device.tenant_id,
            "driver_ids": sorted(device.driver_ids),
            "revoked": device.revoked,
        }


@blp.route("/devices")
class Devices(MethodView):
    @require_user(Right.MANAGE_DEVICES)
    @blp.response(200, DeviceOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The tenant's tablets, revoked ones included."""
        with reader().connect() as conn:
            return devices.list_devices(conn, current_user().tenant_id)


@blp.route("/devices/<string:device_id>/revoke")
class Revoke(MethodView):
    @require_user(Right.MANAGE_DEVICES)
    @blp.arguments(RevokeIn)
    @blp.response(200, DeviceOut)
    def post(self, data: dict[str, Any], device_id: str) -> dict[str, Any]:
        """Revoke a tablet (reason required, logged); what it pushes later is quarantined."""
        user = current_user()
        with engine().begin() as conn:
            devices.revoke_device(
                conn, user.tenant_id, device_id, data["reason"].strip(), actor=user.id, now=now()
            )
            return devices.list_devices(conn, user.tenant_id, device_id)[0]
