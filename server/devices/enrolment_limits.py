"""Bounded guessing of enrolment codes, across codes (docs/sync-protocol.md "Enrolment").

Each code has its own few attempts (`server.devices.tablets`); this bounds the failed
enrolments a client address, and those aimed at one tenant, may make in a sliding
window, whatever codes they try. Failures are rows in `enrolment_failures`, so every
gunicorn worker counts the same ones; a refused request (429) writes nothing and spends
no code's attempts, and a right code is refused too while a limit holds.

The tenant a guess aims at is the one whose newest code has the typed lookup prefix
(the first four characters); a guess matching no code counts for its address only.
Rows older than the window are deleted when a failure is recorded: they are counters,
not records, and an attacker with many addresses must not be able to fill the database.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from server.platform.errors import TooManyRequests
from server.platform.tables import enrolment_codes, enrolment_failures

WINDOW = timedelta(minutes=15)
PER_ADDRESS = 10  # a person mistyping twice or three times stays far below
PER_TENANT = 30  # a company enrolling several tablets at once, with typos, stays below
UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True, slots=True)
class Limits:
    window: timedelta = WINDOW
    per_address: int = PER_ADDRESS
    per_tenant: int = PER_TENANT


DEFAULT_LIMITS = Limits()


def address_key(remote: str | None) -> str:
    """What one client is counted as: an IPv4 address, an IPv6 address's /64 (one
    subscriber's network holds billions of addresses), or `unknown`."""
    try:
        address = ipaddress.ip_address((remote or "").strip())
    except ValueError:
        return UNKNOWN_ADDRESS
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def aimed_tenant(conn: sa.Connection, lookup: str | None) -> str | None:
    """The tenant whose newest code has this lookup prefix, if any."""
    if lookup is None:
        return None
    return conn.execute(
        sa.select(enrolment_codes.c.tenant_id)
        .where(enrolment_codes.c.lookup == lookup)
        .order_by(enrolment_codes.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _wait(
    conn: sa.Connection, where: sa.ColumnElement[bool], limit: int, now: datetime, window: timedelta
) -> float:
    """Seconds until fewer than `limit` failures matching `where` lie in the window
    (0: below the limit now)."""
    times: list[datetime] = list(
        conn.execute(
            sa.select(enrolment_failures.c.at)
            .where(where, enrolment_failures.c.at > now - window)
            .order_by(enrolment_failures.c.at)
        ).scalars()
    )
    if len(times) < limit:
        return 0.0
    # Allowed again once the oldest failures beyond `limit - 1` have left the window.
    return (times[len(times) - limit] + window - now).total_seconds()


def refusal(
    conn: sa.Connection,
    address: str,
    tenant_id: str | None,
    now: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> TooManyRequests | None:
    """The 429 to answer if the address or the aimed tenant has reached its limit."""
    wait = _wait(
        conn, enrolment_failures.c.address == address, limits.per_address, now, limits.window
    )
    if tenant_id is not None:
        wait = max(
            wait,
            _wait(
                conn,
                enrolment_failures.c.tenant_id == tenant_id,
                limits.per_tenant,
                now,
                limits.window,
            ),
        )
    if wait <= 0:
        return None
    minutes = max(1, math.ceil(wait / 60))
    return TooManyRequests(
        f"Trop d'essais d'enrôlement manqués depuis cette adresse ou pour cette société : "
        f"réessayez dans {minutes} min, avec le code donné par le bureau.",
        f"Too many failed enrolment attempts from this address or for this company: try "
        f"again in {minutes} min, with the code the office gave.",
        code="rate_limited",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def record_failure(
    conn: sa.Connection,
    address: str,
    tenant_id: str | None,
    now: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Count one failed enrolment (the caller commits it even though it refuses)."""
    conn.execute(
        sa.delete(enrolment_failures).where(enrolment_failures.c.at <= now - limits.window)
    )
    conn.execute(sa.insert(enrolment_failures).values(at=now, address=address, tenant_id=tenant_id))
