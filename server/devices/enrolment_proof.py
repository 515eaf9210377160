"""The server's word on an enrolment: its Ed25519 signature of which device, of which
tenant, holds which public key (`sync.protocol.enrolment_message`).

The tablet keeps it from its enrolment answer and checks its own journal offline against
the key the server enrolled, not against whatever its key file holds now; the session
answer carries it again, so a tablet can compare the server's key with the one it
stored (docs/sync-protocol.md "Enrolment" and "Session").
"""

from __future__ import annotations

import sqlalchemy as sa

from server.platform.tables import devices
from shared.signing import PrivateKey, sign
from sync.protocol import enrolment_message


def enrolment_signature(
    key: PrivateKey, tenant_id: str, device_id: str, device_public_key_hex: str
) -> str:
    """The signature, as lowercase hex (Ed25519 is deterministic: always the same)."""
    return sign(key, enrolment_message(tenant_id, device_id, device_public_key_hex)).hex()


def signature_for(conn: sa.Connection, key: PrivateKey, device_id: str) -> str | None:
    """The signature for an enrolled device, from its stored row (None: no such device)."""
    row = conn.execute(
        sa.select(devices.c.tenant_id, devices.c.public_key).where(devices.c.id == device_id)
    ).first()
    if row is None:
        return None
    return enrolment_signature(key, row.tenant_id, device_id, str(row.public_key))
