"""Helpers for the field client's tests: an enrolled tablet without any server.

`offline_tablet(path)` does what enrolment and a first pull would: keys in the key file,
drivers with PIN hashes and rights, the example contracts and missions applied through
`fieldclient.syncing.apply_change` (the same code a real pull runs). The approval secret
is known, so tests can issue managers' codes with `shared.approvals.issue_code`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fieldclient import store
from fieldclient.home import Home
from fieldclient.syncing import SyncReport, apply_change
from fieldclient.tablet import Tablet
from shared import signing
from shared.approvals import DeviceKey, Kind, Request, issue_code
from shared.secret_hash import format_hash
from sync.protocol import enrolment_message
from tests.conftest import EXAMPLES

DEVICE = "dev_test_tablet"
TENANT = "acme"
APPROVAL_SECRET = bytes(range(32, 64))
APPROVAL_KEY = DeviceKey(1, APPROVAL_SECRET)
PRIVATE_KEY_SEED = bytes(range(32))
SERVER_KEY = signing.private_key_from_bytes(bytes(range(64, 96)))  # the office's, for tests
START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # the example missions' day (a Tuesday)
PINS = {"d1": "1111", "d2": "2222"}


def pin_hash(pin: str) -> str:
    return format_hash(pin, b"salt-for-tests!!", 2**4, 8, 1)  # cheap on purpose


DRIVERS: list[dict[str, Any]] = [
    {
        "id": "d1",
        "name": "Karim",
        "role": "driver",
        "pin_hash": pin_hash("1111"),
        "active": True,
        "rights": ["collect"],
    },
    {
        "id": "d2",
        "name": "Julie",
        "role": "helper",
        "pin_hash": pin_hash("2222"),
        "active": True,
        "rights": [],
    },
]


class Clock:
    """A tablet clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def example_changes() -> list[dict[str, Any]]:
    """The pull feed a tablet of d1 would get: every example contract and mission."""
    changes: list[dict[str, Any]] = []
    for path in sorted((EXAMPLES / "contracts").glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        changes.append(
            {"kind": "contract", "id": f"{doc['id']}:{doc['version']}", "data": {"document": doc}}
        )
    for path in sorted((EXAMPLES / "missions").glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        changes.append(
            {
                "kind": "mission",
                "id": doc["id"],
                "data": {"id": doc["id"], "driver_id": "d1", "status": "assigned", "document": doc},
            }
        )
    return changes


def enrolment_signature(device_public_key: bytes) -> bytes:
    """What the server (its key is SERVER_KEY) signs for this tablet at enrolment."""
    message = enrolment_message(TENANT, DEVICE, device_public_key.hex())
    return signing.sign(SERVER_KEY, message)


def offline_tablet(
    path: Path, clock: Clock | None = None, *, signed_in: str | None = "d1"
) -> Tablet:
    tablet = Tablet(Home(path), clock=clock or Clock())
    key = signing.private_key_from_bytes(PRIVATE_KEY_SEED)
    tablet.save_enrolment(
        server_url="http://127.0.0.1:9",  # nothing listens there
        device_id=DEVICE,
        tenant_id=TENANT,
        server_public_key=signing.public_key_to_bytes(SERVER_KEY.public_key()),
        private_key=key,
        approval_key={"version": 1, "secret": APPROVAL_SECRET.hex()},
        drivers=DRIVERS,
        label="test",
        enrolment_signature=enrolment_signature(
            signing.public_key_to_bytes(signing.public_key_of(key))
        ),
    )
    feed(tablet, example_changes())
    if signed_in:
        tablet.login(signed_in, PINS[signed_in])
    return tablet


def feed(tablet: Tablet, changes: list[dict[str, Any]]) -> SyncReport:
    """Apply changes as one pulled page would."""
    report = SyncReport()
    ledger = tablet.ledger()
    with store.write(tablet.db):
        for change in changes:
            apply_change(tablet, ledger, change, report)
    return report


def approval_code(mission_id: str, kind: Kind, amount: str, at: datetime) -> str:
    """What the manager reads out for this tablet."""
    request = Request(TENANT, DEVICE, mission_id, kind, Decimal(amount))
    return issue_code(APPROVAL_KEY, request, at).code
