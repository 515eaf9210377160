"""Manager approval codes, issued by the office (docs/approvals.md).

A driver offline asks for a discount or a "bill later" deferral; the manager asks the
office for a code (`issue`), reads it out over the phone, and the tablet checks it alone
with the approval secret it received at enrolment. The code is bound to the tenant, the
tablet, the mission, the kind and the exact amount, and lives 30 minutes. Every issued
code is in the audit log, with who asked for it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import devices, missions
from shared.approvals import DeviceKey, Kind, Request, issue_code
from shared.money import parse_amount, wire

KINDS = tuple(k.value for k in Kind)


def positive_amount(value: object) -> Decimal:
    """An approval's amount from the wire ("20.00"): a positive amount in cents. Floats,
    numbers with more than two decimals, zero and negative amounts are refused."""
    try:
        amount = parse_amount(value)
    except (TypeError, ValueError, ArithmeticError):
        amount = None
    if amount is None or amount <= 0:
        raise Unprocessable(
            f"Montant invalide : {value!s}. Attendu : un montant positif, en texte, avec au "
            'plus deux décimales, par exemple "20.00".',
            f"Invalid amount: {value!s}. Expected a positive amount as text with at most two "
            'decimals, such as "20.00".',
            code="amount_invalid",
        )
    return amount


def kind_of(value: object) -> Kind:
    if value not in KINDS:
        raise Unprocessable(
            f"Type d'accord inconnu : {value!s} (attendu : {', '.join(KINDS)}).",
            f"Unknown approval kind: {value!s} (expected: {', '.join(KINDS)}).",
            code="kind_invalid",
        )
    return Kind(str(value))


def device_key(conn: sa.Connection, tenant_id: str, device_id: str) -> DeviceKey:
    """The tablet's current approval key; refused for a tablet the tenant does not have
    or has revoked (it can no longer sync, so nothing it records would reach the office
    before the tablet is replaced)."""
    row = conn.execute(
        sa.select(devices.c.approval_secret, devices.c.approval_key_id, devices.c.revoked_at).where(
            devices.c.tenant_id == tenant_id, devices.c.id == device_id
        )
    ).first()
    if row is None:
        raise not_found("Tablette", "Device", device_id)
    if row.revoked_at is not None:
        raise Conflict(
            f"La tablette {device_id} est révoquée : aucun code d'accord ne peut lui être donné.",
            f"Device {device_id} is revoked: no approval code can be issued for it.",
            code="device_revoked",
        )
    return DeviceKey(int(row.approval_key_id), bytes.fromhex(row.approval_secret))


def issue(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    mission_id: str,
    kind: str,
    amount: object,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A code approving `kind` of `amount` on the mission, for that tablet only."""
    wanted_kind = kind_of(kind)
    value = positive_amount(amount)
    key = device_key(conn, tenant_id, device_id)
    known = conn.execute(
        sa.select(missions.c.id).where(
            missions.c.tenant_id == tenant_id, missions.c.id == mission_id
        )
    ).first()
    if known is None:
        raise not_found("Mission", "Mission", mission_id)
    issued = issue_code(key, Request(tenant_id, device_id, mission_id, wanted_kind, value), now)
    audit(
        conn,
        tenant_id,
        actor,
        "approval.issue",
        mission_id,
        now,
        detail={
            "device_id": device_id,
            "mission_id": mission_id,
            "kind": wanted_kind.value,
            "amount": wire(value),
            "key_version": issued.key_version,
            "code": issued.code,
            "expires_at": issued.expires_at.isoformat(),
        },
    )
    return {
        "code": issued.code,
        "spoken": issued.spoken,
        "device_id": device_id,
        "mission_id": mission_id,
        "kind": wanted_kind.value,
        "amount": wire(value),
        "issued_at": issued.issued_at,
        "expires_at": issued.expires_at,
    }
