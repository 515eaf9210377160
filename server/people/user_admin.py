"""Administering office users: unlock, reset a password, deactivate and reactivate; and
the user's own change of a temporary password.

The rules (docs/operations.md "Office users"): the actor needs `manage_users` (checked by
the caller); nobody acts on a user whose role gives rights the actor's role lacks; nobody
resets their own password here (they change it, knowing the current one) nor deactivates
themselves; the last active user able to manage users is never deactivated. `actor`
None is the command line, the installation's administrator: it skips the rights check,
never the last-administrator rule. Every act is on the audit log; nothing is deleted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from server.people.hashing import hash_secret
from server.people.identity import (
    User,
    audit,
    authenticate,
    get_user,
    list_users,
    rights_above,
    role_rights,
)
from server.people.rights import Right
from server.platform.errors import Conflict, Forbidden, Unprocessable, not_found
from server.platform.tables import roles, users

TEMPORARY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # read out on the phone: no 0/O, 1/I/L
TEMPORARY_LENGTH = 12  # about 59 bits, and a sign-in locks after five failures
MIN_PASSWORD = 10
MAX_PASSWORD = 200


@dataclass(frozen=True, slots=True)
class Account:
    """An office user as the administration page shows them."""

    user: User
    locked_until: datetime | None
    deactivated_at: datetime | None
    deactivated_by: str | None
    password_change_required: bool

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def list_accounts(conn: sa.Connection, tenant_id: str) -> list[Account]:
    found = {u.id: u for u in list_users(conn, tenant_id)}
    rows = conn.execute(
        sa.select(
            users.c.id,
            users.c.locked_until,
            users.c.deactivated_at,
            users.c.deactivated_by,
            users.c.password_change_required,
        )
        .where(users.c.tenant_id == tenant_id)
        .order_by(users.c.login)
    )
    return [
        Account(
            found[r.id],
            r.locked_until,
            r.deactivated_at,
            r.deactivated_by,
            bool(r.password_change_required),
        )
        for r in rows
        if r.id in found
    ]


def user_id_by_login(conn: sa.Connection, tenant_id: str, login: str) -> str:
    """The id of the user with `login` (the command line names users by login)."""
    found = conn.execute(
        sa.select(users.c.id).where(users.c.tenant_id == tenant_id, users.c.login == login)
    ).scalar()
    if found is None:
        raise not_found("Utilisateur", "User", login)
    return str(found)


def temporary_password() -> str:
    """A password the administrator hands over once, in groups of four to read out."""
    raw = "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, TEMPORARY_LENGTH, 4))


def _target(conn: sa.Connection, tenant_id: str, user_id: str, actor: User | None) -> User:
    """The user acted on, if the actor may act on them."""
    target = get_user(conn, tenant_id, user_id)
    if target is None:
        raise not_found("Utilisateur", "User", user_id)
    if actor is not None:
        stored = role_rights(conn, tenant_id, target.role) or frozenset()
        if rights_above(conn, stored, actor):
            raise Forbidden(
                f"{target.login} a des droits que vous n'avez pas : demandez-le à un "
                "administrateur qui les a.",
                f"{target.login} has rights you do not have: ask an administrator who has them.",
                code="user_above_yours",
            )
    return target


def _not_yourself(target: User, actor: User | None, fr: str, en: str) -> None:
    if actor is not None and target.id == actor.id:
        raise Forbidden(fr, en, code="own_account")


def _where(tenant_id: str, user_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(users.c.tenant_id == tenant_id, users.c.id == user_id)


def unlock_user(
    conn: sa.Connection, tenant_id: str, user_id: str, *, actor: User | None, now: datetime
) -> User:
    """End a lock-out at once (and forget the failures counted so far)."""
    target = _target(conn, tenant_id, user_id, actor)
    locked_until = conn.execute(
        sa.select(users.c.locked_until).where(_where(tenant_id, user_id))
    ).scalar()
    if locked_until is None or locked_until <= now:
        raise Conflict(
            f"Le compte {target.login} n'est pas verrouillé.",
            f"Account {target.login} is not locked.",
            code="user_not_locked",
        )
    conn.execute(
        sa.update(users)
        .where(_where(tenant_id, user_id))
        .values(failed_logins=0, locked_until=None)
    )
    audit(conn, tenant_id, _actor_id(actor), "user.unlock", user_id, now)
    return target


def reset_password(
    conn: sa.Connection,
    tenant_id: str,
    user_id: str,
    *,
    actor: User | None,
    now: datetime,
    password: str | None = None,
) -> str:
    """Give the user a temporary password (the one typed by the administrator, or one
    made here) and return it, to be shown once. The user must choose a new one at the
    next sign-in; their sessions end now and any lock-out is lifted."""
    target = _target(conn, tenant_id, user_id, actor)
    _not_yourself(
        target,
        actor,
        "Vous ne pouvez pas réinitialiser votre propre mot de passe : changez-le avec "
        "l'actuel, ou demandez à un autre administrateur.",
        "You cannot reset your own password: change it with the current one, or ask another "
        "administrator.",
    )
    chosen = temporary_password() if password is None else password
    _check_length(chosen)
    conn.execute(
        sa.update(users)
        .where(_where(tenant_id, user_id))
        .values(
            password_hash=hash_secret(chosen),
            password_change_required=True,
            failed_logins=0,
            locked_until=None,
            sessions_ended_at=now,
            signed_out_at=now,
        )
    )
    audit(
        conn,
        tenant_id,
        _actor_id(actor),
        "user.password_reset",
        user_id,
        now,
        detail={"typed": password is not None},
    )
    return chosen


def deactivate_user(
    conn: sa.Connection,
    tenant_id: str,
    user_id: str,
    *,
    actor: User | None,
    now: datetime,
    reason: str,
) -> User:
    """The user can no longer sign in and their sessions end now; everything they did
    stays, named after them."""
    target = _target(conn, tenant_id, user_id, actor)
    _not_yourself(
        target,
        actor,
        "Vous ne pouvez pas désactiver votre propre compte : demandez-le à un autre "
        "administrateur.",
        "You cannot deactivate your own account: ask another administrator.",
    )
    if not target.active:
        raise Conflict(
            f"Le compte {target.login} est déjà désactivé.",
            f"Account {target.login} is already deactivated.",
            code="user_already_deactivated",
        )
    if _is_admin(conn, tenant_id, target.role) and not _other_admins(conn, tenant_id, user_id):
        raise Conflict(
            f"{target.login} est le dernier utilisateur actif qui peut gérer les utilisateurs : "
            "donnez d'abord ce droit à quelqu'un d'autre.",
            f"{target.login} is the last active user who can manage users: give that right to "
            "someone else first.",
            code="last_admin",
        )
    conn.execute(
        sa.update(users)
        .where(_where(tenant_id, user_id))
        .values(
            deactivated_at=now,
            deactivated_by=_actor_id(actor),
            sessions_ended_at=now,
            signed_out_at=now,
        )
    )
    audit(conn, tenant_id, _actor_id(actor), "user.deactivate", user_id, now, reason=reason)
    changed = get_user(conn, tenant_id, user_id)
    assert changed is not None
    return changed


def reactivate_user(
    conn: sa.Connection, tenant_id: str, user_id: str, *, actor: User | None, now: datetime
) -> User:
    """The user may sign in again with their password; the sessions that deactivation
    ended stay ended."""
    target = _target(conn, tenant_id, user_id, actor)
    if target.active:
        raise Conflict(
            f"Le compte {target.login} est actif.",
            f"Account {target.login} is active.",
            code="user_active",
        )
    conn.execute(
        sa.update(users)
        .where(_where(tenant_id, user_id))
        .values(deactivated_at=None, deactivated_by=None, failed_logins=0, locked_until=None)
    )
    audit(conn, tenant_id, _actor_id(actor), "user.reactivate", user_id, now)
    changed = get_user(conn, tenant_id, user_id)
    assert changed is not None
    return changed


def change_password(
    engine: sa.Engine, tenant_id: str, login: str, current: str, new: str, now: datetime
) -> User:
    """The user replaces their password, proving the current one (a temporary one
    included); failures count towards the lock-out as at sign-in. The new one must
    differ from the current one."""
    _check_length(new)
    if new == current:
        raise Unprocessable(
            "Le nouveau mot de passe doit être différent de l'actuel.",
            "The new password must differ from the current one.",
            code="password_unchanged",
        )
    user = authenticate(engine, tenant_id, login, current, now, changing_password=True)
    with engine.begin() as conn:
        conn.execute(
            sa.update(users)
            .where(_where(tenant_id, user.id))
            .values(password_hash=hash_secret(new), password_change_required=False)
        )
        audit(conn, tenant_id, user.id, "user.password_change", user.id, now)
    return user


def _check_length(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Unprocessable(
            f"Mot de passe de {MIN_PASSWORD} à {MAX_PASSWORD} caractères.",
            f"A password of {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            code="password_length",
        )


def _actor_id(actor: User | None) -> str:
    return "cli" if actor is None else actor.id


def _admin_roles(conn: sa.Connection, tenant_id: str) -> set[str]:
    rows = conn.execute(
        sa.select(roles.c.name, roles.c.rights).where(roles.c.tenant_id == tenant_id)
    )
    return {r.name for r in rows if Right.MANAGE_USERS in (r.rights or ())}


def _is_admin(conn: sa.Connection, tenant_id: str, role: str) -> bool:
    return role in _admin_roles(conn, tenant_id)


def _other_admins(conn: sa.Connection, tenant_id: str, user_id: str) -> bool:
    return (
        conn.execute(
            sa.select(users.c.id)
            .where(
                users.c.tenant_id == tenant_id,
                users.c.id != user_id,
                users.c.deactivated_at.is_(None),
                users.c.role.in_(_admin_roles(conn, tenant_id)),
            )
            # Two administrators deactivating each other at once: one waits (PostgreSQL).
            .with_for_update()
        ).first()
        is not None
    )
