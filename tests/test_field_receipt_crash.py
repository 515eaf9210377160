"""Receipt numbers stay gapless per tablet across 200 kills of the client mid-collection
(issue 13's must-hold): the crash worker of tests/test_field_crash.py records collections
until SIGKILL, 200 times; after each batch of kills the journal's collections carry the
numbers 1, 2, 3… in journal order, no gap and no repeat, every collection the client
reported is there with its number, and the journal verifies."""

from __future__ import annotations

import os
import random
import time
from decimal import Decimal
from pathlib import Path

import pytest

from fieldclient.home import Home
from fieldclient.ledger import unpack
from fieldclient.tablet import Tablet
from shared.receipt import number_of
from tests.field_support import offline_tablet
from tests.test_field_crash import Tally, Worker, check, one_round

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash worker forks")

SEED = 20260313
KILLS = 200
CHECK_EVERY = 50
TIME_LIMIT = 180.0  # seconds: a machine this slow fails the test rather than hang


def receipt_numbers(home: Path) -> dict[int, int | None]:
    """{seq: receipt number} of every collection in the journal."""
    tablet = Tablet(Home(home))  # recovers the WAL the last kill left
    try:
        return {
            int(seq): number_of(unpack(payload))
            for seq, payload in tablet.db.execute(
                "SELECT seq, payload FROM journal WHERE type = 'collection' ORDER BY seq"
            )
        }
    finally:
        tablet.close()


def assert_gapless(home: Path, tally: Tally) -> int:
    numbers = receipt_numbers(home)
    in_order = [numbers[seq] for seq in sorted(numbers)]
    assert in_order == list(range(1, len(in_order) + 1)), (
        f"receipt numbers not 1..{len(in_order)}: first wrong at position "
        f"{next(i for i, n in enumerate(in_order, 1) if n != i)}"
    )
    assert set(tally.reported) <= set(numbers)  # every reported collection has its number
    return len(in_order)


def test_receipt_numbers_stay_gapless_across_200_kills_mid_collection(tmp_path: Path) -> None:
    home = tmp_path / "tablet"
    prepared = offline_tablet(home)
    prepared.register_open(Decimal("50.00"))
    prepared.close()

    rng = random.Random(SEED)
    tally = Tally()
    worker = Worker(home)
    started = time.monotonic()
    try:
        worker.ready()
        while tally.kills < KILLS:
            assert time.monotonic() - started < TIME_LIMIT, f"only {tally.kills} kills"
            one_round(worker, rng, tally)
            if tally.kills % CHECK_EVERY == 0:
                assert_gapless(home, tally)
    finally:
        worker.stop()
    check(home, tally, full=True)  # sound file, nothing reported missing, journal verifies
    numbered = assert_gapless(home, tally)
    print(f"{tally.kills} kills, {numbered} receipts numbered 1..{numbered} without a gap")
    assert len(tally.reported) >= KILLS // 10  # the kills did land while recording
