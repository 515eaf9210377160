"""Tablets: one-time enrolment codes, enrolment, challenge-signed sessions, revocation.

An enrolment code looks like `7KQ2-M9XD-4TBH` (Crockford base32, read out or typed by a
person). Its first four characters are stored in clear to find the code a typed value
aims at, so a wrong guess spends that code's attempts; the whole code is stored only as
a sha256 (60 random bits, 15 minutes, 5 attempts: hashing it more slowly adds nothing).

A session starts with a nonce the server makes and signs, but does not store
(server.devices.session_challenges); the tablet signs it, behind the session prefix of
`sync.protocol.challenge_message`, with the key it enrolled. No device clock is
involved anywhere (tablets' clocks can be months off). A revoked tablet can still open a
session, so that what it pushes can be recognised and quarantined;
`server.api.security.require_device` refuses it elsewhere.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.devices import enrolment_limits, integrity_reports, session_challenges
from server.devices.enrolment_proof import signature_for
from server.people.drivers import driver_data, driver_rows, existing_drivers
from server.people.identity import audit
from server.platform.db import reading
from server.platform.errors import (
    Conflict,
    Unauthenticated,
    Unprocessable,
    not_found,
)
from server.platform.tables import challenges, device_drivers, devices, enrolment_codes
from server.platform.web import server_private_key
from shared.signing import public_key_from_bytes, verify
from sync.protocol import challenge_message

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
LOOKUP_LENGTH = 4
SECRET_LENGTH = 8
CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5
CHALLENGE_TTL = timedelta(minutes=2)
LAST_SEEN_STEP = timedelta(minutes=1)  # a session moves `last_seen_at` when it is older
_READ_AS = {"O": "0", "I": "1", "L": "1"}


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who is calling on a device endpoint: set by `require_device`."""

    tenant_id: str
    device_id: str
    driver_ids: frozenset[str]
    revoked: bool


# --- enrolment codes ---------------------------------------------------------------


def normalise_code(text: str) -> str | None:
    """The code as generated, from what a person typed (case, dashes, spaces, O/0, I/1);
    None if it cannot be a code."""
    cleaned = "".join(_READ_AS.get(c, c) for c in text.upper() if c not in " -._")
    if len(cleaned) != LOOKUP_LENGTH + SECRET_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_hash(code: str) -> str:
    return hashlib.sha256(f"towline.enrolment/1:{code}".encode("ascii")).hexdigest()


def create_enrolment_code(
    conn: sa.Connection,
    tenant_id: str,
    driver_ids: Collection[str],
    label: str,
    *,
    created_by: str,
    now: datetime,
    ttl: timedelta = CODE_TTL,
    attempts: int = CODE_ATTEMPTS,
) -> dict[str, Any]:
    """A one-time code that enrols one tablet for `driver_ids` (the drivers who may sign
    in on it). Returns the code in clear: it is shown once and never stored so."""
    wanted = sorted(set(driver_ids))
    unknown = sorted(set(wanted) - existing_drivers(conn, tenant_id, wanted))
    if unknown:
        names = ", ".join(unknown)
        raise Unprocessable(
            f"Chauffeur inconnu ou inactif : {names}.",
            f"Unknown or inactive driver: {names}.",
            code="driver_unknown",
        )
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LOOKUP_LENGTH + SECRET_LENGTH))
        lookup = code[:LOOKUP_LENGTH]
        clash = conn.execute(
            sa.select(enrolment_codes.c.id).where(
                enrolment_codes.c.lookup == lookup,
                enrolment_codes.c.used_at.is_(None),
                enrolment_codes.c.withdrawn_at.is_(None),
                enrolment_codes.c.expires_at > now,
            )
        ).first()
        if clash is None:
            break
    expires_at = now + ttl
    conn.execute(
        sa.insert(enrolment_codes).values(
            tenant_id=tenant_id,
            code_hash=code_hash(code),
            lookup=lookup,
            label=label,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
            attempts_left=attempts,
            driver_ids=wanted,
        )
    )
    audit(
        conn,
        tenant_id,
        created_by,
        "enrolment_code.create",
        label,
        now,
        detail={"driver_ids": wanted, "expires_at": expires_at.isoformat()},
    )
    return {
        "code": display_code(code),
        "tenant_id": tenant_id,
        "label": label,
        "driver_ids": wanted,
        "expires_at": expires_at,
    }


def open_codes(conn: sa.Connection, tenant_id: str, now: datetime) -> list[dict[str, Any]]:
    """The tenant's codes that could still enrol a tablet: unused, not withdrawn, not
    expired, attempts left. The code itself is not among them: it is never stored."""
    rows = conn.execute(
        sa.select(enrolment_codes)
        .where(
            enrolment_codes.c.tenant_id == tenant_id,
            enrolment_codes.c.used_at.is_(None),
            enrolment_codes.c.withdrawn_at.is_(None),
            enrolment_codes.c.expires_at > now,
            enrolment_codes.c.attempts_left > 0,
        )
        .order_by(enrolment_codes.c.created_at, enrolment_codes.c.id)
    )
    return [
        {
            "id": r.id,
            "label": r.label,
            "driver_ids": list(r.driver_ids or []),
            "created_by": r.created_by,
            "created_at": r.created_at,
            "expires_at": r.expires_at,
            "attempts_left": r.attempts_left,
        }
        for r in rows
    ]


def withdraw_code(
    conn: sa.Connection, tenant_id: str, code_id: int, *, actor: str, now: datetime
) -> None:
    """Withdraw an unused code: it can no longer enrol. The row stays (set once, never
    deleted); the audit log says who and when."""
    row = conn.execute(
        sa.select(enrolment_codes)
        .where(enrolment_codes.c.tenant_id == tenant_id, enrolment_codes.c.id == code_id)
        .with_for_update()
    ).first()
    if row is None:
        raise not_found("Code d'enrôlement", "Enrolment code", str(code_id))
    state = (
        ("déjà retiré", "already withdrawn")
        if row.withdrawn_at is not None
        else ("déjà utilisé", "already used")
        if row.used_at is not None
        else ("expiré", "expired")
        if row.expires_at <= now or row.attempts_left <= 0
        else None
    )
    if state is not None:
        raise Conflict(
            f"Le code « {row.label} » est {state[0]} : il n'y a rien à retirer.",
            f"Code '{row.label}' is {state[1]}: there is nothing to withdraw.",
            code="enrolment_code_closed",
        )
    conn.execute(
        sa.update(enrolment_codes)
        .where(enrolment_codes.c.id == code_id, enrolment_codes.c.withdrawn_at.is_(None))
        .values(withdrawn_at=now, withdrawn_by=actor)
    )
    audit(
        conn,
        tenant_id,
        actor,
        "enrolment_code.withdraw",
        row.label,
        now,
        detail={"code_id": code_id, "driver_ids": list(row.driver_ids or [])},
    )


def _code_refused(code: str, fr: str, en: str) -> Unauthenticated:
    return Unauthenticated(fr, en, code=code)


CODE_WRONG = _code_refused(
    "enrolment_code_invalid",
    "Code d'enrôlement incorrect : vérifiez-le ou demandez-en un nouveau au bureau.",
    "Wrong enrolment code: check it or ask the office for a new one.",
)
CODE_USED = _code_refused(
    "enrolment_code_used",
    "Ce code d'enrôlement a déjà servi : demandez-en un nouveau au bureau.",
    "This enrolment code has already been used: ask the office for a new one.",
)
CODE_EXPIRED = _code_refused(
    "enrolment_code_expired",
    "Ce code d'enrôlement a expiré : demandez-en un nouveau au bureau.",
    "This enrolment code has expired: ask the office for a new one.",
)
CODE_WITHDRAWN = _code_refused(
    "enrolment_code_withdrawn",
    "Ce code d'enrôlement a été retiré par le bureau : demandez-en un nouveau.",
    "This enrolment code was withdrawn by the office: ask for a new one.",
)
CODE_EXHAUSTED = _code_refused(
    "enrolment_code_exhausted",
    "Trop d'essais avec ce code d'enrôlement : demandez-en un nouveau au bureau.",
    "Too many attempts with this enrolment code: ask the office for a new one.",
)


def _claim_code(conn: sa.Connection, typed: str, now: datetime) -> tuple[Any, Exception | None]:
    """The code's row, or the refusal. A wrong secret behind a live lookup spends one
    attempt of that code (the caller commits before raising)."""
    code = normalise_code(typed)
    if code is None:
        return None, CODE_WRONG
    rows = conn.execute(
        sa.select(enrolment_codes)
        .where(enrolment_codes.c.lookup == code[:LOOKUP_LENGTH])
        .order_by(enrolment_codes.c.id.desc())
        .with_for_update()
    ).all()
    wanted = code_hash(code)
    match = next((r for r in rows if secrets.compare_digest(r.code_hash, wanted)), None)
    if match is None:
        live = [
            r for r in rows if r.used_at is None and r.withdrawn_at is None and r.expires_at > now
        ]
        for row in live:
            conn.execute(
                sa.update(enrolment_codes)
                .where(enrolment_codes.c.id == row.id, enrolment_codes.c.attempts_left > 0)
                .values(attempts_left=enrolment_codes.c.attempts_left - 1)
            )
        return None, CODE_WRONG
    if match.used_at is not None:
        return match, CODE_USED  # the caller may recognise a retry of its own enrolment
    if match.withdrawn_at is not None:
        return None, CODE_WITHDRAWN
    if match.expires_at <= now:
        return None, CODE_EXPIRED
    if match.attempts_left <= 0:
        return None, CODE_EXHAUSTED
    return match, None


def enrol(
    engine: sa.Engine,
    typed_code: str,
    public_key_hex: str,
    label: str,
    *,
    server_public_key_hex: str,
    now: datetime,
    address: str = enrolment_limits.UNKNOWN_ADDRESS,
    limits: enrolment_limits.Limits = enrolment_limits.DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Enrol a tablet: spend the code, store the device's public key and its drivers,
    give it a fresh approval secret. Returns what the tablet must keep. `address`: the
    client's, as `enrolment_limits.address_key` counts it; while it, or the tenant the
    code aims at, has too many recent failures, even a right code is refused (429)."""
    public_key_from_bytes(bytes.fromhex(public_key_hex))  # InvalidDocument if not a key
    with engine.begin() as conn:
        typed = normalise_code(typed_code)
        aimed = enrolment_limits.aimed_tenant(conn, typed and typed[:LOOKUP_LENGTH])
        limited = enrolment_limits.refusal(conn, address, aimed, now, limits)
        if limited is not None:
            raise limited  # before the code is looked at: nothing spent, nothing written
        row, refusal = _claim_code(conn, typed_code, now)
        if refusal is CODE_USED:
            again = _repeated(conn, row, public_key_hex.lower(), server_public_key_hex, now)
            if again is not None:
                return again
        elif row is not None:
            known = conn.execute(
                sa.select(devices.c.id).where(devices.c.public_key == public_key_hex.lower())
            ).first()
            if known is not None:
                # Checked before the code is spent: the tablet can retry with a new key.
                raise Conflict(
                    "Cette clé publique est déjà enrôlée : générez une nouvelle paire de clés.",
                    "This public key is already enrolled: generate a new key pair.",
                    code="key_already_enrolled",
                )
            return _enrol_with(conn, row, public_key_hex.lower(), label, server_public_key_hex, now)
        enrolment_limits.record_failure(conn, address, aimed, now, limits)
    assert refusal is not None
    raise refusal


def _repeated(
    conn: sa.Connection,
    code_row: Any,
    public_key_hex: str,
    server_public_key_hex: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The same answer again when a tablet retries its enrolment (its first answer was
    lost): same code, same public key, within the code's lifetime, device not revoked."""
    if code_row.expires_at <= now or code_row.device_id is None:
        return None
    device = conn.execute(
        sa.select(devices).where(
            devices.c.id == code_row.device_id,
            devices.c.public_key == public_key_hex,
            devices.c.revoked_at.is_(None),
        )
    ).first()
    if device is None:
        return None
    allowed = {
        r.driver_id
        for r in conn.execute(
            sa.select(device_drivers.c.driver_id).where(device_drivers.c.device_id == device.id)
        )
    }
    return _answer(
        conn,
        device.tenant_id,
        device.id,
        server_public_key_hex,
        device.approval_secret,
        device.approval_key_id,
        allowed,
    )


def _answer(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    server_public_key_hex: str,
    secret: str,
    key_version: int,
    allowed: set[str],
) -> dict[str, Any]:
    rows = driver_rows(conn, tenant_id, allowed)
    # The server vouches for which key this device enrolled: the tablet checks its journal
    # against that key offline (docs/sync-protocol.md "Enrolment").
    signature = signature_for(conn, server_private_key(), device_id)
    return {
        "device_id": device_id,
        "tenant_id": tenant_id,
        "server_public_key": server_public_key_hex,
        "enrolment_signature": signature,
        "approval_key": {"version": key_version, "secret": secret},
        "drivers": [driver_data(r) for r in rows],
    }


def _enrol_with(
    conn: sa.Connection,
    code_row: Any,
    public_key_hex: str,
    label: str,
    server_public_key_hex: str,
    now: datetime,
) -> dict[str, Any]:
    tenant_id = code_row.tenant_id
    device_id = "dev_" + secrets.token_hex(10)
    spent = conn.execute(
        sa.update(enrolment_codes)
        .where(
            enrolment_codes.c.id == code_row.id,
            enrolment_codes.c.used_at.is_(None),
            enrolment_codes.c.withdrawn_at.is_(None),
        )
        .values(used_at=now, device_id=device_id)
    )
    if spent.rowcount != 1:  # another request spent it first
        raise CODE_USED
    secret = secrets.token_bytes(32).hex()
    conn.execute(
        sa.insert(devices).values(
            id=device_id,
            tenant_id=tenant_id,
            label=label or code_row.label,
            public_key=public_key_hex,
            approval_secret=secret,
            approval_key_id=1,
            enrolled_at=now,
            head_seq=0,
        )
    )
    allowed = existing_drivers(conn, tenant_id, code_row.driver_ids or [])
    for driver_id in sorted(allowed):
        conn.execute(
            sa.insert(device_drivers).values(
                tenant_id=tenant_id, device_id=device_id, driver_id=driver_id
            )
        )
    audit(
        conn,
        tenant_id,
        code_row.created_by,
        "device.enrol",
        device_id,
        now,
        detail={"label": label or code_row.label, "driver_ids": sorted(allowed)},
    )
    return _answer(conn, tenant_id, device_id, server_public_key_hex, secret, 1, set(allowed))


# --- sessions ----------------------------------------------------------------------

UNKNOWN_DEVICE = Unauthenticated(
    "Tablette inconnue : enrôlez-la à nouveau.",
    "Unknown device: enrol it again.",
    code="device_unknown",
)


def create_challenge(
    engine: sa.Engine, device_id: str, now: datetime, *, secret: bytes
) -> dict[str, Any]:
    """A single-use nonce for the device to sign, valid two minutes: signed with the
    app's `secret`, stored nowhere (server.devices.session_challenges), so asking for one
    only reads the device's row."""
    with reading(engine).connect() as conn:
        known = conn.execute(sa.select(devices.c.id).where(devices.c.id == device_id)).first()
    if known is None:
        raise UNKNOWN_DEVICE
    made = session_challenges.make(secret, device_id, now + CHALLENGE_TTL)
    return {"nonce": made.nonce, "expires_at": made.expires_at}


CHALLENGE_UNKNOWN = Unauthenticated(
    "Défi inconnu : demandez-en un nouveau.",
    "Unknown challenge: ask for a new one.",
    code="challenge_unknown",
)
CHALLENGE_USED = Unauthenticated(
    "Ce défi a déjà servi : demandez-en un nouveau.",
    "This challenge has already been used: ask for a new one.",
    code="challenge_used",
)
CHALLENGE_EXPIRED = Unauthenticated(
    "Ce défi a expiré : demandez-en un nouveau.",
    "This challenge has expired: ask for a new one.",
    code="challenge_expired",
)
BAD_SIGNATURE = Unauthenticated(
    "Signature incorrecte : la tablette n'a pas signé avec sa clé enrôlée.",
    "Wrong signature: the device did not sign with its enrolled key.",
    code="signature_invalid",
)


def open_session(
    engine: sa.Engine,
    device_id: str,
    nonce: str,
    signature: bytes,
    now: datetime,
    *,
    secret: bytes,
) -> DeviceIdentity:
    """Check the signed challenge; the nonce is spent whatever the signature says, so it
    can be tried once only. Everything is checked before the one short write that spends
    it (server.devices.session_challenges says why that write keeps single use)."""
    expires_at = session_challenges.read(secret, device_id, nonce)
    if expires_at is None:
        raise CHALLENGE_UNKNOWN
    if expires_at <= now:
        raise CHALLENGE_EXPIRED
    with reading(engine).connect() as conn:
        device = conn.execute(
            sa.select(devices.c.tenant_id, devices.c.public_key, devices.c.last_seen_at).where(
                devices.c.id == device_id
            )
        ).first()
    if device is None:
        raise CHALLENGE_UNKNOWN
    key = public_key_from_bytes(bytes.fromhex(device.public_key))
    signed = verify(key, signature, challenge_message(nonce))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(challenges).values(
                    nonce=nonce,
                    tenant_id=device.tenant_id,
                    device_id=device_id,
                    expires_at=expires_at,
                    used_at=now,
                )
            )
            if not signed:
                # The only way the office hears of a swapped key: such a tablet never
                # gets a session to report it (docs/sync-protocol.md, integrity report).
                integrity_reports.key_refused(
                    conn, tenant_id=device.tenant_id, device_id=device_id, now=now
                )
            elif device.last_seen_at is None or device.last_seen_at <= now - LAST_SEEN_STEP:
                conn.execute(
                    sa.update(devices).where(devices.c.id == device_id).values(last_seen_at=now)
                )
    except sa.exc.IntegrityError:
        raise CHALLENGE_USED from None
    if not signed:
        raise BAD_SIGNATURE
    with reading(engine).connect() as conn:
        identity = load_identity(conn, device_id)
    if identity is None:
        raise UNKNOWN_DEVICE
    return identity


def load_identity(conn: sa.Connection, device_id: str) -> DeviceIdentity | None:
    device = conn.execute(
        sa.select(devices.c.tenant_id, devices.c.revoked_at).where(devices.c.id == device_id)
    ).first()
    if device is None:
        return None
    driver_ids = conn.execute(
        sa.select(device_drivers.c.driver_id).where(device_drivers.c.device_id == device_id)
    ).scalars()
    return DeviceIdentity(
        device.tenant_id, device_id, frozenset(driver_ids), device.revoked_at is not None
    )


# --- administration ----------------------------------------------------------------


def list_devices(
    conn: sa.Connection, tenant_id: str, device_id: str | None = None
) -> list[dict[str, Any]]:
    """The tenant's tablets (or the one `device_id`, if it is the tenant's)."""
    links_query = sa.select(device_drivers.c.device_id, device_drivers.c.driver_id).where(
        device_drivers.c.tenant_id == tenant_id
    )
    query = sa.select(devices).where(devices.c.tenant_id == tenant_id)
    if device_id is not None:
        links_query = links_query.where(device_drivers.c.device_id == device_id)
        query = query.where(devices.c.id == device_id)
    links: dict[str, list[str]] = {}
    for link in conn.execute(links_query.order_by(device_drivers.c.driver_id)):
        links.setdefault(link.device_id, []).append(link.driver_id)
    rows = conn.execute(query.order_by(devices.c.enrolled_at, devices.c.id))
    return [
        {
            "id": r.id,
            "label": r.label,
            "driver_ids": links.get(r.id, []),
            "enrolled_at": r.enrolled_at,
            "last_seen_at": r.last_seen_at,
            "revoked_at": r.revoked_at,
            "revoked_by": r.revoked_by,
            "revoked_reason": r.revoked_reason,
            "head_seq": r.head_seq,
        }
        for r in rows
    ]


def revoke_device(
    conn: sa.Connection, tenant_id: str, device_id: str, reason: str, *, actor: str, now: datetime
) -> None:
    """Revoke a tablet: its sessions end at their next request; what it pushes from now
    on is quarantined, never lost. Logged with who and why."""
    row = conn.execute(
        sa.select(devices.c.revoked_at).where(
            devices.c.tenant_id == tenant_id, devices.c.id == device_id
        )
    ).first()
    if row is None:
        raise not_found("Tablette", "Device", device_id)
    if row.revoked_at is not None:
        raise Conflict(
            f"La tablette {device_id} est déjà révoquée.",
            f"Device {device_id} is already revoked.",
            code="device_already_revoked",
        )
    conn.execute(
        sa.update(devices)
        .where(devices.c.tenant_id == tenant_id, devices.c.id == device_id)
        .values(revoked_at=now, revoked_by=actor, revoked_reason=reason)
    )
    audit(conn, tenant_id, actor, "device.revoke", device_id, now, reason=reason)
