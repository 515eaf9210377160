"""Journal speed: entries appended (built, chained, signed) per second, and the time to verify
a chain of 100,000 entries with every signature (audit) and on the fast path.

Prints figures; asserts nothing about time. Run: `.venv/bin/python bench/journal.py [count]`.
"""

from __future__ import annotations

import platform
import sys
import time
from decimal import Decimal

from shared import journal, signing
from shared.chain_verifier import SignatureCheck, verify_chain

DEVICE = "tablet-bench"


def main(count: int = 100_000) -> None:
    key = signing.private_key_from_bytes(bytes(range(32)))
    public = signing.public_key_of(key)
    payload = {
        "mission_id": "M-2026-0042",
        "method": "card",
        "amount": Decimal("38.40"),
        "evidence": {"authorisation": "A1B2C3"},
    }
    head = journal.genesis(DEVICE)
    chain = []
    started = time.perf_counter()
    for _ in range(count):
        signed = journal.append(
            head,
            type=journal.EntryType.COLLECTION,
            at="2026-11-24T09:30:00.000Z",
            driver_id="driver-17",
            payload=payload,
            private_key=key,
        )
        chain.append(signed)
        head = signed.head
    appended = time.perf_counter() - started

    started = time.perf_counter()
    stored = [journal.to_wire_bytes(signed) for signed in chain]
    encoded = time.perf_counter() - started
    started = time.perf_counter()
    read = [journal.from_wire_bytes(raw) for raw in stored]
    decoded = time.perf_counter() - started

    print(f"Python {platform.python_version()} on {platform.machine()}, {count:,} entries")
    print(f"append (build, chain, sign):   {count / appended:>10,.0f} entries/s")
    print(f"to_wire_bytes:                 {count / encoded:>10,.0f} entries/s")
    print(f"from_wire_bytes (checked):     {count / decoded:>10,.0f} entries/s")
    for mode in (SignatureCheck.EVERY, SignatureCheck.RUN_ENDS):
        started = time.perf_counter()
        findings = verify_chain(
            read, device_id=DEVICE, public_key=public, acknowledged=head, signatures=mode
        )
        elapsed = time.perf_counter() - started
        label = "every signature" if mode is SignatureCheck.EVERY else "fast path"
        print(
            f"verify {count:,} ({label}):".ljust(31)
            + f"{elapsed:>10.2f} s  ({count / elapsed:,.0f} entries/s, "
            f"{len(findings)} findings)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
