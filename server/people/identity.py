"""Tenants, roles and office users in the database, office sign-in, and the audit log.
Drivers are in `server.people.drivers`.

Every function takes the open connection and the tenant, so every query is scoped by
it; the caller owns the transaction. Input is validated before (by the API's or the
command line's schema); what is checked here needs the database (existence, duplicates).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.people.hashing import dummy_hash, hash_secret, verify_secret
from server.people.rights import (
    DEFAULT_PAYMENT_RIGHTS,
    DEFAULT_ROLES,
    LABELS,
    PAYMENT_RIGHTS,
    Right,
    effective_rights,
)
from server.platform.errors import (
    Conflict,
    Forbidden,
    TooManyRequests,
    Unauthenticated,
    Unprocessable,
    not_found,
)
from server.platform.tables import audit_log, roles, tenants, users

MAX_FAILED_LOGINS = 5
LOCK_OUT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    payments_enabled: bool


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: str
    id: str
    login: str
    name: str
    role: str
    rights: frozenset[Right]
    # server.people.user_admin: a deactivated user is refused everywhere; sessions and
    # tokens begun before `sessions_ended_at` are over.
    active: bool = True
    sessions_ended_at: datetime | None = None


def audit(
    conn: sa.Connection,
    tenant_id: str,
    actor: str,
    action: str,
    target: str | None,
    now: datetime,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        sa.insert(audit_log).values(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            target=target,
            reason=reason,
            detail=detail or {},
            at=now,
        )
    )


# --- tenants and roles -------------------------------------------------------------


def get_tenant(conn: sa.Connection, tenant_id: str) -> Tenant | None:
    row = conn.execute(
        sa.select(tenants.c.id, tenants.c.name, tenants.c.payments_enabled).where(
            tenants.c.id == tenant_id
        )
    ).first()
    return None if row is None else Tenant(row.id, row.name, bool(row.payments_enabled))


def list_tenants(conn: sa.Connection) -> list[Tenant]:
    rows = conn.execute(
        sa.select(tenants.c.id, tenants.c.name, tenants.c.payments_enabled).order_by(tenants.c.id)
    )
    return [Tenant(r.id, r.name, bool(r.payments_enabled)) for r in rows]


def create_tenant(
    conn: sa.Connection,
    tenant_id: str,
    name: str,
    *,
    payments_enabled: bool,
    now: datetime,
    actor: str = "cli",
) -> Tenant:
    """A tenant with the default roles. With payments on, the default roles also get the
    default payment rights (the operator switching the module on chose so)."""
    if get_tenant(conn, tenant_id) is not None:
        raise Conflict(
            f"La société {tenant_id} existe déjà.",
            f"Tenant {tenant_id} already exists.",
            code="tenant_exists",
        )
    conn.execute(
        sa.insert(tenants).values(
            id=tenant_id,
            name=name,
            payments_enabled=payments_enabled,
            settings={},
            change_seq=0,
            created_at=now,
        )
    )
    for role, rights in DEFAULT_ROLES.items():
        granted = rights | (DEFAULT_PAYMENT_RIGHTS[role] if payments_enabled else frozenset())
        conn.execute(
            sa.insert(roles).values(tenant_id=tenant_id, name=role, rights=sorted(granted))
        )
    audit(
        conn,
        tenant_id,
        actor,
        "tenant.create",
        tenant_id,
        now,
        detail={"payments_enabled": payments_enabled},
    )
    return Tenant(tenant_id, name, payments_enabled)


def set_payments(
    conn: sa.Connection, tenant_id: str, enabled: bool, *, now: datetime, actor: str = "cli"
) -> None:
    """Switch the payments module; roles keep their rights (they take effect when on)."""
    done = conn.execute(
        sa.update(tenants).where(tenants.c.id == tenant_id).values(payments_enabled=enabled)
    )
    if done.rowcount == 0:
        raise not_found("Société", "Tenant", tenant_id)
    audit(conn, tenant_id, actor, "tenant.payments", tenant_id, now, detail={"enabled": enabled})


def role_rights(conn: sa.Connection, tenant_id: str, role: str) -> frozenset[str] | None:
    rights = conn.execute(
        sa.select(roles.c.rights).where(roles.c.tenant_id == tenant_id, roles.c.name == role)
    ).scalar_one_or_none()
    return None if rights is None else frozenset(rights)


def list_roles(conn: sa.Connection, tenant_id: str) -> list[tuple[str, list[str]]]:
    rows = conn.execute(
        sa.select(roles.c.name, roles.c.rights)
        .where(roles.c.tenant_id == tenant_id)
        .order_by(roles.c.name)
    )
    return [(r.name, sorted(r.rights)) for r in rows]


def set_role(
    conn: sa.Connection,
    tenant: Tenant,
    role: str,
    rights: Collection[str],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Create or replace a role's rights. Payment rights can only be given once the
    payments module is on (seed 004: they are released by it); nobody takes `manage_users`
    away from their own role, nor from the last role that gives it to an active user; an
    office user (`actor` a user id) edits only a role whose every right they hold."""
    wanted = sorted(set(rights))
    if not tenant.payments_enabled and PAYMENT_RIGHTS & set(wanted):
        raise Conflict(
            "Le module Paiements n'est pas activé : les droits de paiement ne peuvent pas "
            "encore être attribués.",
            "The payments module is not enabled: payment rights cannot be granted yet.",
            code="payments_disabled",
        )
    acting = get_user(conn, tenant.id, actor)
    if acting is not None and acting.role == role and Right.MANAGE_USERS not in wanted:
        # Else one click leaves the company with nobody able to manage users or tablets.
        raise Conflict(
            f"Vous ne pouvez pas retirer « gérer les utilisateurs » à votre propre rôle "
            f"({role}) : demandez-le à un autre administrateur.",
            f"You cannot take 'manage users' away from your own role ({role}): ask another "
            "administrator.",
            code="own_role_rights",
        )
    current = role_rights(conn, tenant.id, role)
    exists = current is not None
    if acting is not None and exists and rights_above(conn, current or (), acting):
        # Else one holding `manage_users` shrinks a role above theirs (admin) to their own.
        raise Forbidden(
            f"Le rôle {role} a des droits que vous n'avez pas : seul quelqu'un qui les a tous "
            "peut le modifier.",
            f"Role {role} has rights you do not have: only someone who has them all can edit it.",
            code="role_above_yours",
        )
    if exists and Right.MANAGE_USERS in (current or ()) and Right.MANAGE_USERS not in wanted:
        _refuse_last_user_manager(conn, tenant.id, role)
    if exists:
        conn.execute(
            sa.update(roles)
            .where(roles.c.tenant_id == tenant.id, roles.c.name == role)
            .values(rights=wanted)
        )
    else:
        conn.execute(sa.insert(roles).values(tenant_id=tenant.id, name=role, rights=wanted))
    audit(conn, tenant.id, actor, "role.set", role, now, detail={"rights": wanted})


def _refuse_last_user_manager(conn: sa.Connection, tenant_id: str, role: str) -> None:
    """Refuse if `role` is the only role giving `manage_users` to an active user: without
    it nobody could manage users or roles again (the rule of deactivating, `last_admin`)."""
    managing = {
        r.name
        for r in conn.execute(
            sa.select(roles.c.name, roles.c.rights)
            .where(roles.c.tenant_id == tenant_id)
            # Two roles losing the right at once: one waits and sees the other (PostgreSQL).
            .with_for_update()
        )
        if Right.MANAGE_USERS in (r.rights or ())
    }
    holders = {
        r.role
        for r in conn.execute(
            sa.select(users.c.role).where(
                users.c.tenant_id == tenant_id,
                users.c.deactivated_at.is_(None),
                users.c.role.in_(managing),
            )
        )
    }
    if holders == {role}:
        raise Conflict(
            f"Le rôle {role} est le dernier à donner « gérer les utilisateurs » à un utilisateur "
            "actif : donnez d'abord ce droit à quelqu'un d'autre.",
            f"Role {role} is the last to give 'manage users' to an active user: give that right "
            "to someone else first.",
            code="last_admin",
        )


def require_role(conn: sa.Connection, tenant_id: str, role: str) -> frozenset[str]:
    rights = role_rights(conn, tenant_id, role)
    if rights is None:
        raise Unprocessable(
            f"Rôle inconnu : {role}.", f"Unknown role: {role}.", code="role_unknown"
        )
    return rights


def rights_above(conn: sa.Connection, rights: Collection[str], grantor: User) -> frozenset[Right]:
    """The rights a role storing `rights` gives that the role of `grantor` does not.
    Payment rights count on both sides whether the payments module is on or not: they
    take effect together when it is (so switching it off blocks nobody, and switching it
    on promotes nobody above the one who chose their role)."""
    mine = effective_rights(True, role_rights(conn, grantor.tenant_id, grantor.role) or ())
    return effective_rights(True, rights) - mine


def refuse_role_above(
    conn: sa.Connection, role: str, rights: Collection[str], grantor: User
) -> None:
    """Nobody hands out a role above their own, to an office user or to a driver: the
    role may give no right that the grantor's role does not."""
    above = rights_above(conn, rights, grantor)
    if above:
        fr = ", ".join(f"« {LABELS[r][0]} »" for r in sorted(above))
        en = ", ".join(f"'{LABELS[r][1]}'" for r in sorted(above))
        raise Unprocessable(
            f"Le rôle {role} donne des droits que vous n'avez pas ({fr}) : choisissez un "
            "autre rôle ou demandez-le à un administrateur.",
            f"Role {role} gives rights you do not have ({en}): choose another role or ask an "
            "administrator.",
            code="role_above_yours",
        )


# --- office users ------------------------------------------------------------------


def _user(row: Any, tenant: Tenant, rights: Collection[str]) -> User:
    return User(
        tenant.id,
        row.id,
        row.login,
        row.name,
        row.role,
        effective_rights(tenant.payments_enabled, rights),
        active=row.deactivated_at is None,
        sessions_ended_at=row.sessions_ended_at,
    )


_USER_COLUMNS = (
    users.c.id,
    users.c.login,
    users.c.name,
    users.c.role,
    users.c.deactivated_at,
    users.c.sessions_ended_at,
)


def create_user(
    conn: sa.Connection,
    tenant_id: str,
    login: str,
    name: str,
    password: str,
    role: str,
    *,
    actor: str,
    now: datetime,
    grantor: User | None = None,
) -> User:
    """A new office user. `grantor`: the user who creates it (None: the command line,
    the installation's administrator); nobody hands out a role above their own."""
    tenant = get_tenant(conn, tenant_id)
    if tenant is None:
        raise not_found("Société", "Tenant", tenant_id)
    rights = require_role(conn, tenant_id, role)
    if grantor is not None:
        refuse_role_above(conn, role, rights, grantor)
    taken = conn.execute(
        sa.select(users.c.id).where(users.c.tenant_id == tenant_id, users.c.login == login)
    ).first()
    if taken is not None:
        raise Conflict(
            f"L'identifiant {login} est déjà utilisé.",
            f"Login {login} is already taken.",
            code="login_taken",
        )
    user_id = "u_" + secrets.token_hex(8)
    conn.execute(
        sa.insert(users).values(
            tenant_id=tenant_id,
            id=user_id,
            login=login,
            name=name,
            password_hash=hash_secret(password),
            role=role,
            failed_logins=0,
            locked_until=None,
            created_at=now,
        )
    )
    audit(
        conn, tenant_id, actor, "user.create", user_id, now, detail={"login": login, "role": role}
    )
    return User(
        tenant_id, user_id, login, name, role, effective_rights(tenant.payments_enabled, rights)
    )


def list_users(conn: sa.Connection, tenant_id: str) -> list[User]:
    tenant = get_tenant(conn, tenant_id)
    if tenant is None:
        return []
    all_roles = dict(list_roles(conn, tenant_id))
    rows = conn.execute(
        sa.select(*_USER_COLUMNS).where(users.c.tenant_id == tenant_id).order_by(users.c.login)
    )
    return [_user(r, tenant, all_roles.get(r.role, ())) for r in rows]


def get_user(conn: sa.Connection, tenant_id: str, user_id: str) -> User | None:
    tenant = get_tenant(conn, tenant_id)
    if tenant is None:
        return None
    row = conn.execute(
        sa.select(*_USER_COLUMNS).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
    ).first()
    if row is None:
        return None
    return _user(row, tenant, role_rights(conn, tenant_id, row.role) or ())


BAD_LOGIN = Unauthenticated(
    "Identifiant ou mot de passe incorrect.",
    "Wrong login or password.",
    code="login_failed",
)


def _locked(until: datetime) -> TooManyRequests:
    at = until.strftime("%H:%M UTC")
    return TooManyRequests(
        f"Compte verrouillé après {MAX_FAILED_LOGINS} échecs : réessayez après {at} ou "
        "demandez à un administrateur.",
        f"Account locked after {MAX_FAILED_LOGINS} failures: try again after {at} or ask an "
        "administrator.",
        code="account_locked",
    )


ACCOUNT_DEACTIVATED = Forbidden(
    "Ce compte a été désactivé : demandez à un administrateur de le réactiver.",
    "This account has been deactivated: ask an administrator to reactivate it.",
    code="account_deactivated",
)
PASSWORD_CHANGE_REQUIRED = Forbidden(
    "Mot de passe provisoire : choisissez un nouveau mot de passe pour vous connecter.",
    "Temporary password: choose a new password to sign in.",
    code="password_change_required",
)


def authenticate(
    engine: sa.Engine,
    tenant_id: str,
    login: str,
    password: str,
    now: datetime,
    *,
    changing_password: bool = False,
) -> User:
    """The user if the password is right. Five failures in a row lock the account for 15
    minutes; failures are committed even though the sign-in is refused. Only once the
    password is right does the caller learn that the account is deactivated, or that a
    temporary password must be replaced first (`changing_password`: the caller is doing
    that, server.people.user_admin.change_password)."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(
                users.c.id,
                users.c.login,
                users.c.name,
                users.c.role,
                users.c.password_hash,
                users.c.failed_logins,
                users.c.locked_until,
                users.c.deactivated_at,
                users.c.password_change_required,
            )
            .where(users.c.tenant_id == tenant_id, users.c.login == login)
            .with_for_update()  # two wrong passwords at once both count (PostgreSQL)
        ).first()
        if row is None:
            verify_secret(password, dummy_hash())
            raise BAD_LOGIN
        if row.locked_until is not None and row.locked_until > now:
            raise _locked(row.locked_until)
        where = sa.and_(users.c.tenant_id == tenant_id, users.c.id == row.id)
        error: Exception | None = None
        if not verify_secret(password, row.password_hash):
            failures = (row.failed_logins or 0) + 1
            locked = failures >= MAX_FAILED_LOGINS
            conn.execute(
                sa.update(users)
                .where(where)
                .values(
                    failed_logins=0 if locked else failures,
                    locked_until=now + LOCK_OUT if locked else None,
                )
            )
            if locked:
                audit(conn, tenant_id, row.id, "user.locked", row.id, now)
            error = _locked(now + LOCK_OUT) if locked else BAD_LOGIN
        else:
            if row.failed_logins or row.locked_until is not None:
                conn.execute(
                    sa.update(users).where(where).values(failed_logins=0, locked_until=None)
                )
            if row.deactivated_at is not None:
                error = ACCOUNT_DEACTIVATED
            elif row.password_change_required and not changing_password:
                error = PASSWORD_CHANGE_REQUIRED
        user = None if error else get_user(conn, tenant_id, row.id)
    if error is not None:
        raise error
    if user is None:  # cannot happen inside one transaction, but never sign in nobody
        raise BAD_LOGIN
    return user


def set_user_role(
    conn: sa.Connection, tenant_id: str, user_id: str, role: str, *, actor: User, now: datetime
) -> User:
    """Give an office user another role, logged. The rules of `create_user`:
    the role must exist and give no right the actor lacks; nobody changes their own role
    (an administrator cannot lock themselves out) nor the role of someone who has rights
    the actor lacks. The user's next page uses the new rights."""
    target = get_user(conn, tenant_id, user_id)
    if target is None:
        raise not_found("Utilisateur", "User", user_id)
    if target.id == actor.id:
        raise Forbidden(
            "Vous ne pouvez pas changer votre propre rôle : demandez-le à un autre administrateur.",
            "You cannot change your own role: ask another administrator.",
            code="own_role",
        )
    rights = require_role(conn, tenant_id, role)
    target_rights = role_rights(conn, tenant_id, target.role) or frozenset()
    if rights_above(conn, rights, actor) or rights_above(conn, target_rights, actor):
        raise Forbidden(
            f"Le rôle {role} ou celui de {target.login} donne des droits que vous n'avez pas.",
            f"Role {role} or {target.login}'s role gives rights you do not have.",
            code="role_above_yours",
        )
    conn.execute(
        sa.update(users)
        .where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        .values(role=role)
    )
    audit(
        conn,
        tenant_id,
        actor.id,
        "user.role",
        user_id,
        now,
        detail={"from": target.role, "to": role},
    )
    changed = get_user(conn, tenant_id, user_id)
    assert changed is not None
    return changed
