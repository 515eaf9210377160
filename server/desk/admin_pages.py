"""Administration on the desk: tablets (right `manage_devices`) and office users and
roles (right `manage_users`), with the API's rules and its domain functions.

Every act is one POST that calls the function the API calls (its audit line included)
and redirects with a message; bad input shows the page again with the reason, and
nothing is changed. Nobody hands out a right they do not have, and payment rights are
offered only once the company's payments module is on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from server.api.fields import IDENT, NAME, REASON
from server.api.users import UserIn
from server.desk.blueprint import desk, not_found, t
from server.desk.session import current, page
from server.devices import tablets as devices
from server.people import identity
from server.people.drivers import list_drivers
from server.people.rights import ALL_RIGHTS, LABELS, PAYMENT_RIGHTS, Right
from server.platform.errors import ApiError
from server.platform.web import engine, lang, now, reader
from shared.errors import TowlineError
from shared.schema_tools import problems

CODE_KEY = "desk_enrolment_code"  # the code just made, shown once on the next page
TTL_CHOICES = (15, 60, 240, 1440)  # minutes a new enrolment code lives


def _messages(error: ValidationError) -> list[str]:
    """A schema's refusal as "field: message" lines in the user's language."""
    return [p.message(lang()) for p in problems(error.messages)]


def _refusal(error: TowlineError) -> str:
    return error.message(lang())


# --- tablets ------------------------------------------------------------------------


def _devices_page(
    errors: Collection[str] = (), form: Mapping[str, Any] | None = None, status: int = 400
) -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        tablets = devices.list_devices(conn, tenant_id)
        drivers = list_drivers(conn, tenant_id)
        names = {u.id: u.name for u in identity.list_users(conn, tenant_id)}
    fresh = session.pop(CODE_KEY, None) if not errors else None
    html = render_template(
        "desk/devices.html",
        tablets=tablets,
        drivers=drivers,
        driver_names={d["id"]: d["name"] for d in drivers},
        names=names,
        fresh=fresh,
        errors=list(errors),
        form=form or {},
        ttl_choices=TTL_CHOICES,
    )
    return html, status if errors else 200


@desk.route("/devices", endpoint="devices")
@page(Right.MANAGE_DEVICES)
def devices_list() -> Any:
    return _devices_page()


def _code_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The enrolment code form checked as the API's schema checks it."""
    errors: list[str] = []
    label = str(form.get("label", "")).strip()
    drivers = sorted(set(form.getlist("drivers")))
    try:
        NAME(label)
    except ValidationError:
        errors.append(
            t("Nommez la tablette (1 à 200 caractères).", "Name the tablet (1 to 200 characters).")
        )
    if not drivers:
        errors.append(t("Cochez au moins un chauffeur.", "Tick at least one driver."))
    for driver in drivers:
        try:
            IDENT(driver)
        except ValidationError:
            errors.append(t(f"Chauffeur invalide : {driver}.", f"Invalid driver: {driver}."))
    ttl = str(form.get("ttl", "15"))
    minutes = int(ttl) if ttl.isdigit() else 0
    if minutes not in TTL_CHOICES:
        errors.append(t("Durée de validité invalide.", "Invalid validity period."))
    return {"label": label, "drivers": drivers, "ttl": minutes}, errors


@desk.route("/devices/codes", methods=["POST"], endpoint="devices_code")
@page(Right.MANAGE_DEVICES)
def devices_code() -> Any:
    """A one-time enrolment code for the chosen drivers, as POST /api/v1/enrolment-codes."""
    data, errors = _code_form(request.form)
    if errors:
        return _devices_page(errors, data)
    user = current()
    try:
        with engine().begin() as conn:
            made = devices.create_enrolment_code(
                conn,
                user.tenant_id,
                data["drivers"],
                data["label"],
                created_by=user.id,
                now=now(),
                ttl=timedelta(minutes=data["ttl"]),
            )
    except ApiError as refused:
        return _devices_page([_refusal(refused)], data, refused.status)
    # Shown once, on the next page only: the session is the user's own signed cookie.
    session[CODE_KEY] = {
        "code": made["code"],
        "label": made["label"],
        "driver_ids": made["driver_ids"],
        "expires_at": made["expires_at"].isoformat(),
    }
    flash(t("Code d'enrôlement créé.", "Enrolment code created."), "ok")
    return redirect(url_for("desk.devices"))


@desk.route("/devices/<string:device_id>/revoke", methods=["POST"], endpoint="devices_revoke")
@page(Right.MANAGE_DEVICES)
def devices_revoke(device_id: str) -> Any:
    """Revoke a tablet, as POST /api/v1/devices/<id>/revoke: reason and confirmation."""
    reason = request.form.get("reason", "").strip()
    errors = []
    try:
        for check in REASON:
            check(reason)
    except ValidationError:
        errors.append(
            t("Indiquez le motif de la révocation.", "Give the reason for the revocation.")
        )
    if request.form.get("confirm") != "yes":
        errors.append(
            t("Cochez la confirmation pour révoquer.", "Tick the confirmation to revoke.")
        )
    user = current()
    with reader().connect() as conn:
        if not devices.list_devices(conn, user.tenant_id, device_id):
            return not_found()  # another tenant's tablet, or none
    if errors:
        return _devices_page(errors, {"revoke": device_id, "reason": reason})
    try:
        with engine().begin() as conn:
            devices.revoke_device(conn, user.tenant_id, device_id, reason, actor=user.id, now=now())
    except ApiError as refused:
        return _devices_page([_refusal(refused)], status=refused.status)
    flash(
        t(
            f"Tablette {device_id} révoquée : elle ne peut plus synchroniser.",
            f"Tablet {device_id} revoked: it can no longer sync.",
        ),
        "ok",
    )
    return redirect(url_for("desk.devices"))


# --- office users and roles ---------------------------------------------------------


def grantable(payments_enabled: bool) -> list[Right]:
    """The rights a role can be given in this company, in the order of `Right`."""
    return [r for r in Right if payments_enabled or r not in PAYMENT_RIGHTS]


def _users_page(
    errors: Collection[str] = (), form: Mapping[str, Any] | None = None, status: int = 400
) -> Any:
    me = current()
    with reader().connect() as conn:
        tenant = identity.get_tenant(conn, me.tenant_id)
        people = identity.list_users(conn, me.tenant_id)
        roles = identity.list_roles(conn, me.tenant_id)
    payments = bool(tenant and tenant.payments_enabled)
    html = render_template(
        "desk/users.html",
        people=people,
        roles=roles,
        rights=grantable(payments),
        labels={r: t(*LABELS[r]) for r in Right},
        payments=payments,
        mine=me.rights,
        me=me,
        errors=list(errors),
        form=form or {},
    )
    return html, status if errors else 200


@desk.route("/users", endpoint="users")
@page(Right.MANAGE_USERS)
def users_list() -> Any:
    return _users_page()


def _user_problems(error: ValidationError) -> list[str]:
    """The schema's problems; the login's pattern has no words of its own, so say it."""
    found = _messages(error)
    if isinstance(error.messages, dict) and "login" in error.messages:
        found = [m for m in found if not m.startswith("login:")]
        found.insert(
            0,
            t(
                "login : lettres, chiffres et _ . @ + - seulement, sans espace (120 au plus).",
                "login: letters, digits and _ . @ + - only, no space (120 at most).",
            ),
        )
    return found


@desk.route("/users/new", methods=["POST"], endpoint="users_create")
@page(Right.MANAGE_USERS)
def users_create() -> Any:
    """Create an office user, as POST /api/v1/users (same schema, same function)."""
    fields = ("login", "name", "password", "role")
    raw = {key: request.form.get(key, "").strip() for key in fields}
    raw["password"] = request.form.get("password", "")  # as typed: spaces count
    shown = {k: v for k, v in raw.items() if k != "password"}
    try:
        data = UserIn().load(raw)
    except ValidationError as error:
        return _users_page(_user_problems(error), {"create": shown})
    user = current()
    try:
        with engine().begin() as conn:
            made = identity.create_user(
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
    except ApiError as refused:
        return _users_page([_refusal(refused)], {"create": shown}, refused.status)
    flash(
        t(
            f"Utilisateur {made.login} créé avec le rôle {made.role}.",
            f"User {made.login} created with role {made.role}.",
        ),
        "ok",
    )
    return redirect(url_for("desk.users"))


@desk.route("/users/<string:user_id>/role", methods=["POST"], endpoint="users_role")
@page(Right.MANAGE_USERS)
def users_role(user_id: str) -> Any:
    role = request.form.get("role", "").strip()
    me = current()
    try:
        with engine().begin() as conn:
            changed = identity.set_user_role(conn, me.tenant_id, user_id, role, actor=me, now=now())
    except ApiError as refused:
        if refused.status == 404:
            raise
        return _users_page([_refusal(refused)], status=refused.status)
    flash(
        t(
            f"{changed.login} a maintenant le rôle {changed.role}.",
            f"{changed.login} now has role {changed.role}.",
        ),
        "ok",
    )
    return redirect(url_for("desk.users"))


@desk.route("/roles", methods=["POST"], endpoint="roles_set")
@page(Right.MANAGE_USERS)
def roles_set() -> Any:
    """Set a role's rights (creating it), as PUT /api/v1/roles/<name>: only rights the
    user has, payment rights only with the payments module (identity.set_role)."""
    me = current()
    name = request.form.get("name", "").strip()
    wanted = set(request.form.getlist("rights"))
    errors = []
    try:
        IDENT(name)
    except ValidationError:
        errors.append(
            t(
                "Nom de rôle invalide : lettres, chiffres, _ . - (64 au plus).",
                "Invalid role name: letters, digits, _ . - (64 at most).",
            )
        )
    unknown = sorted(wanted - ALL_RIGHTS)
    if unknown:
        errors.append(
            t(f"Droits inconnus : {', '.join(unknown)}.", f"Unknown rights: {', '.join(unknown)}.")
        )
    form = {"role": name, "rights": sorted(wanted)}
    if errors:
        return _users_page(errors, form)
    lacking = ", ".join(t(*LABELS[Right(r)]) for r in sorted(wanted - set(me.rights)))
    if lacking:
        refusal = t(
            f"Vous ne pouvez pas donner un droit que vous n'avez pas : {lacking}.",
            f"You cannot grant a right you do not have: {lacking}.",
        )
        return _users_page([refusal], form, 403)
    try:
        with engine().begin() as conn:
            tenant = identity.get_tenant(conn, me.tenant_id)
            if tenant is None:
                return not_found()
            identity.set_role(conn, tenant, name, wanted, actor=me.id, now=now())
    except ApiError as refused:
        return _users_page([_refusal(refused)], form, refused.status)
    flash(
        t(
            f"Droits du rôle {name} enregistrés ; ils s'appliquent dès la page suivante.",
            f"Rights of role {name} saved; they apply from the next page.",
        ),
        "ok",
    )
    return redirect(url_for("desk.users"))
