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

from server.api.devices import withdraw_code
from server.api.fields import IDENT, NAME, REASON
from server.api.users import UserIn
from server.desk.blueprint import desk, not_found, t
from server.desk.session import current, page
from server.devices import tablets as devices
from server.people import identity, user_admin
from server.people.drivers import list_drivers
from server.people.rights import ALL_RIGHTS, LABELS, PAYMENT_RIGHTS, Right
from server.platform.errors import ApiError
from server.platform.web import engine, lang, now, reader
from shared.errors import TowlineError
from shared.schema_tools import problems

CODE_KEY = "desk_enrolment_code"  # the code just made, shown once on the next page
PASSWORD_KEY = "desk_temporary_password"  # a reset's temporary password, shown once
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
        codes = devices.open_codes(conn, tenant_id, now())
        drivers = list_drivers(conn, tenant_id)
        names = {u.id: u.name for u in identity.list_users(conn, tenant_id)}
    fresh = session.pop(CODE_KEY, None) if not errors else None
    html = render_template(
        "desk/devices.html",
        tablets=tablets,
        codes=codes,
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


@desk.route(
    "/devices/codes/<enrolment_code_ref:code_id>/withdraw",
    methods=["POST"],
    endpoint="devices_code_withdraw",
)
@page(Right.MANAGE_DEVICES)
def devices_code_withdraw(code_id: int) -> Any:
    """Withdraw an unused enrolment code, as POST /api/v1/enrolment-codes/<id>/withdraw."""
    user = current()
    try:
        withdraw_code(user.tenant_id, code_id, user.id)  # the API's: checks the ref first
    except ApiError as refused:
        if refused.status == 404:
            return not_found()
        return _devices_page([_refusal(refused)], status=refused.status)
    flash(
        t(
            "Code d'enrôlement retiré : il ne peut plus enrôler de tablette.",
            "Enrolment code withdrawn: it can no longer enrol a tablet.",
        ),
        "ok",
    )
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
        accounts = user_admin.list_accounts(conn, me.tenant_id)
        roles = identity.list_roles(conn, me.tenant_id)
        above = {
            a.user.id
            for a in accounts
            if identity.rights_above(conn, dict(roles).get(a.user.role, ()), me)
        }
    payments = bool(tenant and tenant.payments_enabled)
    moment = now()
    html = render_template(
        "desk/users.html",
        people=[a.user for a in accounts],
        accounts={a.user.id: a for a in accounts},
        locked={a.user.id for a in accounts if a.locked(moment)},
        above=above,
        temporary=session.pop(PASSWORD_KEY, None) if not errors else None,
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
    user has, on a role whose every right they have, payment rights only with the
    payments module (identity.set_role)."""
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


# --- an office user's account: unlock, reset, deactivate, reactivate ----------------


def _account_act(user_id: str, act: Any, done: tuple[str, str]) -> Any:
    """Run `act(conn, me)` on `user_id` with the function the API calls; a refusal shows
    the page again with the reason (nothing changed), another tenant's user is a 404."""
    me = current()
    try:
        with engine().begin() as conn:
            result = act(conn, me)
    except ApiError as refused:
        if refused.status == 404:
            return not_found()
        return _users_page([_refusal(refused)], {"account": user_id}, refused.status)
    flash(t(*done), "ok")
    return result


@desk.route("/users/<string:user_id>/unlock", methods=["POST"], endpoint="users_unlock")
@page(Right.MANAGE_USERS)
def users_unlock(user_id: str) -> Any:
    """As POST /api/v1/users/<id>/unlock."""
    out = _account_act(
        user_id,
        lambda conn, me: user_admin.unlock_user(conn, me.tenant_id, user_id, actor=me, now=now()),
        ("Compte déverrouillé.", "Account unlocked."),
    )
    return redirect(url_for("desk.users")) if isinstance(out, identity.User) else out


@desk.route("/users/<string:user_id>/password", methods=["POST"], endpoint="users_reset")
@page(Right.MANAGE_USERS)
def users_reset(user_id: str) -> Any:
    """As POST /api/v1/users/<id>/password-reset, with a password made here: shown once
    on the next page, to hand over; the user must replace it at the next sign-in."""
    if request.form.get("confirm") != "yes":
        refusal = t(
            "Cochez la confirmation pour réinitialiser le mot de passe.",
            "Tick the confirmation to reset the password.",
        )
        return _users_page([refusal], {"account": user_id})
    out = _account_act(
        user_id,
        lambda conn, me: user_admin.reset_password(
            conn, me.tenant_id, user_id, actor=me, now=now()
        ),
        (
            "Mot de passe réinitialisé : les sessions de l'utilisateur sont terminées.",
            "Password reset: the user's sessions have ended.",
        ),
    )
    if not isinstance(out, str):
        return out
    # Shown once, on the next page only (the administrator's own signed cookie, as the
    # enrolment codes); never stored in clear on the server.
    session[PASSWORD_KEY] = {"user_id": user_id, "password": out}
    return redirect(url_for("desk.users"))


@desk.route("/users/<string:user_id>/deactivate", methods=["POST"], endpoint="users_deactivate")
@page(Right.MANAGE_USERS)
def users_deactivate(user_id: str) -> Any:
    """As POST /api/v1/users/<id>/deactivate: reason and confirmation."""
    reason = request.form.get("reason", "").strip()
    errors = []
    try:
        for check in REASON:
            check(reason)
    except ValidationError:
        errors.append(
            t("Indiquez le motif de la désactivation.", "Give the reason for the deactivation.")
        )
    if request.form.get("confirm") != "yes":
        errors.append(
            t("Cochez la confirmation pour désactiver.", "Tick the confirmation to deactivate.")
        )
    if errors:
        return _users_page(errors, {"account": user_id, "reason": reason})
    out = _account_act(
        user_id,
        lambda conn, me: user_admin.deactivate_user(
            conn, me.tenant_id, user_id, actor=me, now=now(), reason=reason
        ),
        (
            "Compte désactivé : l'utilisateur ne peut plus se connecter et ses sessions sont "
            "terminées.",
            "Account deactivated: the user can no longer sign in and their sessions have ended.",
        ),
    )
    return redirect(url_for("desk.users")) if isinstance(out, identity.User) else out


@desk.route("/users/<string:user_id>/reactivate", methods=["POST"], endpoint="users_reactivate")
@page(Right.MANAGE_USERS)
def users_reactivate(user_id: str) -> Any:
    """As POST /api/v1/users/<id>/reactivate."""
    out = _account_act(
        user_id,
        lambda conn, me: user_admin.reactivate_user(
            conn, me.tenant_id, user_id, actor=me, now=now()
        ),
        ("Compte réactivé.", "Account reactivated."),
    )
    return redirect(url_for("desk.users")) if isinstance(out, identity.User) else out


# --- the user's own new password (after a reset) ------------------------------------


@desk.route("/password", methods=["GET", "POST"], endpoint="password")
def password() -> Any:
    """Choose a new password, proving the current (temporary) one, as POST
    /api/v1/auth/password; the sign-in page sends a user here when theirs was reset.
    Then back to the sign-in page, to sign in with the new one."""
    form = {"tenant": request.values.get("tenant", ""), "login": request.values.get("login", "")}
    error = None
    status = 200
    if request.method == "POST":
        status = 400
        current_password = request.form.get("password", "")
        new = request.form.get("new_password", "")
        if not all((form["tenant"], form["login"], current_password, new)):
            error = t(
                "Indiquez la société, l'identifiant, le mot de passe actuel et le nouveau.",
                "Enter the company, the login, the current password and the new one.",
            )
        elif new != request.form.get("confirm", ""):
            error = t(
                "Les deux saisies du nouveau mot de passe diffèrent.",
                "The two entries of the new password differ.",
            )
        else:
            try:
                user_admin.change_password(
                    engine(), form["tenant"], form["login"], current_password, new, now()
                )
            except ApiError as refused:
                error, status = refused.text(lang()), refused.status
            else:
                flash(
                    t(
                        "Mot de passe changé : connectez-vous avec le nouveau.",
                        "Password changed: sign in with the new one.",
                    ),
                    "ok",
                )
                return redirect(url_for("desk.login", tenant=form["tenant"]))
    return render_template("desk/password.html", form=form, error=error), status
