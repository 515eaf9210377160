"""API keys for ordering parties' systems: each key is scoped to one tenant and one
ordering party (ARCHITECTURE "Security").

A key reads `<key id>.<secret>`: the id is stored in clear to find the row, the secret is
shown once, when the key is created, and only its SHA-256 is kept (the secret is 256
random bits: no slow hash is needed). The secret is compared in constant time. A key
whose secret does not match is "unknown", exactly like a key that does not exist; only a
caller who holds the right secret learns that it was revoked.

    @party_blp.route("/party/orders")
    class Orders(MethodView):
        @require_party_key()
        def post(self):
            key = current_party_key()  # tenant_id, party_id, key_id
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import g, request

from server.people import ordering_parties as parties
from server.people.identity import audit
from server.platform.errors import Conflict, Unauthenticated, not_found
from server.platform.tables import party_api_keys
from server.platform.web import reader

F = TypeVar("F", bound=Callable[..., Any])

KEY_PREFIX = "pk_"
SECURITY_SCHEME = "party_key"
_KEY_ID = re.compile(r"^pk_[0-9a-f]{16}$")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="towline-party"'}
# A secret that matches nothing, compared when the id is unknown so an unknown id takes
# as long to refuse as a wrong secret.
_NOTHING = hashlib.sha256(b"towline: no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class PartyKey:
    """Who is calling: one ordering party of one tenant, through one key."""

    tenant_id: str
    party_id: str
    key_id: str


def _no_key() -> Unauthenticated:
    return Unauthenticated(
        "Clé d'API requise : envoyez « Authorization: Bearer <identifiant>.<secret> » avec la "
        "clé fournie par la société de dépannage.",
        "API key required: send 'Authorization: Bearer <id>.<secret>' with the key the "
        "towing company gave you.",
        code="api_key_required",
        headers=_CHALLENGE,
    )


def _unknown_key() -> Unauthenticated:
    return Unauthenticated(
        "Clé d'API inconnue : vérifiez la clé (identifiant et secret) fournie par la société "
        "de dépannage.",
        "Unknown API key: check the key (id and secret) the towing company gave you.",
        code="api_key_unknown",
        headers=_CHALLENGE,
    )


def _revoked_key(key_id: str, at: datetime) -> Unauthenticated:
    return Unauthenticated(
        f"La clé d'API {key_id} a été révoquée le {at:%d/%m/%Y} : demandez-en une nouvelle "
        "à la société de dépannage.",
        f"API key {key_id} was revoked on {at:%Y-%m-%d}: ask the towing company for a new one.",
        code="api_key_revoked",
        headers=_CHALLENGE,
    )


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "party_id": row.party_id,
        "label": row.label,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "revoked_at": row.revoked_at,
        "revoked_by": row.revoked_by,
    }


def _require_party(conn: sa.Connection, tenant_id: str, party_id: str) -> None:
    if not parties.exists(conn, tenant_id, party_id):
        raise not_found("Donneur d'ordre", "Ordering party", party_id)


def create_key(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    label: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A new key for the party; the answer's `key` is the only time the secret is shown."""
    _require_party(conn, tenant_id, party_id)
    key_id = KEY_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(party_api_keys).values(
            tenant_id=tenant_id,
            id=key_id,
            party_id=party_id,
            secret_sha256=_sha256(secret),
            label=label,
            created_at=now,
            created_by=actor,
        )
    )
    audit(conn, tenant_id, actor, "party_key.create", key_id, now, detail={"party_id": party_id})
    row = _row(conn, tenant_id, party_id, key_id)
    return {**_summary(row), "key": f"{key_id}.{secret}"}


def _row(conn: sa.Connection, tenant_id: str, party_id: str | None, key_id: str) -> Any:
    query = sa.select(party_api_keys).where(
        party_api_keys.c.tenant_id == tenant_id, party_api_keys.c.id == key_id
    )
    if party_id is not None:
        query = query.where(party_api_keys.c.party_id == party_id)
    return conn.execute(query).first()


def list_keys(
    conn: sa.Connection, tenant_id: str, party_id: str | None = None
) -> list[dict[str, Any]]:
    """The keys (never their secrets), newest first."""
    query = sa.select(party_api_keys).where(party_api_keys.c.tenant_id == tenant_id)
    if party_id is not None:
        _require_party(conn, tenant_id, party_id)
        query = query.where(party_api_keys.c.party_id == party_id)
    rows = conn.execute(query.order_by(party_api_keys.c.created_at.desc(), party_api_keys.c.id))
    return [_summary(r) for r in rows]


def revoke_key(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str | None,
    key_id: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Revoke the key: its next call gets 401. Once only (409 the second time)."""
    row = _row(conn, tenant_id, party_id, key_id)
    if row is None:
        raise not_found("Clé d'API", "API key", key_id)
    if row.revoked_at is not None:
        raise Conflict(
            f"La clé d'API {key_id} est déjà révoquée.",
            f"API key {key_id} is already revoked.",
            code="api_key_already_revoked",
        )
    conn.execute(
        sa.update(party_api_keys)
        .where(party_api_keys.c.tenant_id == tenant_id, party_api_keys.c.id == key_id)
        .values(revoked_at=now, revoked_by=actor)
    )
    audit(
        conn, tenant_id, actor, "party_key.revoke", key_id, now, detail={"party_id": row.party_id}
    )
    return _summary(_row(conn, tenant_id, None, key_id))


def authenticate(conn: sa.Connection, presented: str) -> PartyKey:
    """The party behind a presented key, or 401 (unknown, malformed or revoked)."""
    key_id, dot, secret = presented.partition(".")
    row = None
    if dot and secret and _KEY_ID.match(key_id):
        row = conn.execute(sa.select(party_api_keys).where(party_api_keys.c.id == key_id)).first()
    stored = _NOTHING if row is None else str(row.secret_sha256)
    matches = hmac.compare_digest(_sha256(secret), stored)
    if row is None or not matches:
        raise _unknown_key()
    if row.revoked_at is not None:
        raise _revoked_key(row.id, row.revoked_at)
    return PartyKey(row.tenant_id, row.party_id, row.id)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _no_key()
    return value.strip()


def _document(wrapper: Any) -> None:
    """Mark the operation as needing a party key in the OpenAPI document."""
    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    apidoc.setdefault("manual_doc", {})["security"] = [{SECURITY_SCHEME: []}]
    wrapper._apidoc = apidoc


def require_party_key() -> Callable[[F], F]:
    """An ordering party's API key (`Authorization: Bearer <id>.<secret>`); the caller is
    then `current_party_key()`. Looked up at every request: a revocation is immediate."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            presented = _bearer()
            with reader().connect() as conn:
                g.party_key = authenticate(conn, presented)
            return view(*args, **kwargs)

        _document(wrapper)
        return cast(F, wrapper)

    return decorator


def current_party_key() -> PartyKey:
    key: PartyKey = g.party_key
    return key
