"""Crash: a client killed (SIGKILL) at random moments while recording collections, a
thousand times in a loop (bounded in time): `PRAGMA integrity_check` is ok, the journal
verifies, and no collection the command reported as recorded is missing.

The client is tests/field_crash_worker.py, a fork server (so a kill costs a fork, not a
Python start): each round forks a child that opens the tablet and records small
collections, printing `RECORDED <seq> <hash> <mission>` after each call returned; the test
kills it 0-50 ms after it started recording (sometimes 0-5 ms after the fork, while it
opens the database and recovers the WAL), reads every line it wrote, and starts the next.
The children also acknowledge the outbox now and then as a sync would, so kills land in
those transactions too. Every `CHECK_EVERY` kills, and at the end, the database is
checked. The randomness is seeded: a failure replays with the same delays and seeds.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from fieldclient.home import Home
from fieldclient.integrity import verify
from fieldclient.ledger import MONEY_TYPES
from fieldclient.tablet import Tablet
from tests.field_support import offline_tablet

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash worker forks")

SEED = 20261124
MAX_KILLS = 1000
TIME_BUDGET = 40.0  # seconds of killing; the checks come on top
MIN_KILLS = 100  # fewer than this in the budget and the test proves too little
MAX_DELAY = 0.050  # a kill comes 0-50 ms after the child started recording (at least:
COLLECTIONS_PER_WINDOW = 3  # the window covers three collections as timed by the worker)
EARLY_CHANCE = 0.1  # ... or 0-5 ms after the fork, while the child opens the database
CHECK_EVERY = 100  # kills between two checks of the database (the full verify at the end)
SILENCE = 20.0  # seconds without a line from the worker before the test gives up

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "field_crash_worker.py"


class Worker:
    """The fork server, read line by line with a deadline (a stuck worker fails the test
    instead of hanging it)."""

    def __init__(self, home: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.fd = self.process.stdout.fileno()
        self.buffer = b""
        self.child: int | None = None  # a child not yet seen dead
        self.window = MAX_DELAY  # seconds after START within which a kill comes

    def ready(self) -> None:
        """Wait for READY and widen the kill window to what collections take right now."""
        word, _, took = self.line().partition(" ")
        assert word == "READY"
        self.window = max(MAX_DELAY, COLLECTIONS_PER_WINDOW * float(took))

    def line(self) -> str:
        deadline = time.monotonic() + SILENCE
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the crash worker said nothing for {SILENCE:.0f} s")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    raise AssertionError(f"the crash worker ended ({self.process.wait()})")
                self.buffer += chunk
        text, _, self.buffer = self.buffer.partition(b"\n")
        return text.decode("utf-8")

    def send(self, text: str) -> None:
        self.stdin.write(text.encode("utf-8") + b"\n")
        self.stdin.flush()

    def stop(self) -> None:
        if self.child is not None:  # only a child this test forked and did not see die
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
        self.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Tally:
    kills: int = 0
    early: int = 0
    acks: int = 0
    reported: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq: (hash, mission)


def one_round(worker: Worker, rng: random.Random, tally: Tally) -> None:
    """Fork a recording child, kill it at a random moment, read all it reported."""
    early = rng.random() < EARLY_CHANCE
    delay = rng.uniform(0, 0.005 if early else worker.window)
    worker.send(f"run {rng.randrange(2**32)}")
    pid: int | None = None
    started = False
    errors: list[str] = []

    def take(text: str) -> bool:
        """Handle one line; True once the child is dead."""
        nonlocal pid, started
        word, _, rest = text.partition(" ")
        if word == "PID":
            pid = worker.child = int(rest)
        elif word == "START":
            started = True
        elif word == "RECORDED":
            seq, hash_, mission = rest.split(" ")
            assert int(seq) not in tally.reported, f"entry {seq} reported twice"
            tally.reported[int(seq)] = (hash_, mission)
        elif word == "ACKED":
            tally.acks += 1
        elif word == "ERROR":
            errors.append(rest)
        elif word == "EXIT":
            dead, status = (int(x) for x in rest.split(" "))
            assert dead == pid
            worker.child = None
            assert not errors, "the recording child failed: " + "\n".join(errors)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                f"the child ended by itself (status {status})"
            )
            return True
        else:
            raise AssertionError(f"unexpected line from the crash worker: {text!r}")
        return False

    while pid is None or not (early or started):
        if take(worker.line()):
            raise AssertionError("the child died before it was killed")
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):  # dead already: its EXIT line says why
        os.kill(pid, signal.SIGKILL)
    tally.kills += 1
    tally.early += early
    while not take(worker.line()):
        pass


def check(home: Path, tally: Tally, *, full: bool) -> None:
    """The database after the crashes: sound, holding everything reported, consistent."""
    tablet = Tablet(Home(home))  # opening it recovers the WAL the last kill left
    try:
        db = tablet.db
        assert tablet.integrity_problems() == []
        journal = {
            int(seq): (str(type_), bytes(hash_).hex())
            for seq, type_, hash_ in db.execute("SELECT seq, type, hash FROM journal")
        }
        money = {
            int(seq): (str(kind), str(mission))
            for seq, kind, mission in db.execute("SELECT seq, kind, mission_id FROM money")
        }
        missing = [
            seq
            for seq, (hash_, mission) in sorted(tally.reported.items())
            if journal.get(seq) != ("collection", hash_)
            or money.get(seq) != ("collection", mission)
        ]
        assert not missing, f"{len(missing)} reported collection(s) missing, e.g. {missing[:5]}"

        acknowledged = int(tablet.meta("acknowledged_seq") or 0)
        outbox = [int(r[0]) for r in db.execute("SELECT seq FROM outbox ORDER BY seq")]
        unacknowledged = [seq for seq in sorted(journal) if seq > acknowledged]
        assert outbox == unacknowledged, (
            f"outbox and journal disagree after no. {acknowledged}: only in the outbox"
            f" {sorted(set(outbox) - set(unacknowledged))[:5]}, only in the journal"
            f" {sorted(set(unacknowledged) - set(outbox))[:5]}"
        )
        moving = sorted(seq for seq, (type_, _) in journal.items() if type_ in MONEY_TYPES)
        assert sorted(money) == moving, (
            f"{len(money)} money rows for {len(moving)} money entries: without a row"
            f" {sorted(set(moving) - set(money))[:5]}, without an entry"
            f" {sorted(set(money) - set(moving))[:5]}"
        )
        if full:
            report = verify(tablet)
            assert report.ok, report.problems("en")
            assert report.entries == len(journal)
    finally:
        tablet.close()


def test_a_client_killed_at_random_moments_loses_nothing_it_reported(tmp_path: Path) -> None:
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
        while tally.kills < MAX_KILLS and time.monotonic() - started < TIME_BUDGET:
            one_round(worker, rng, tally)
            if tally.kills % CHECK_EVERY == 0:
                check(home, tally, full=False)
    finally:
        worker.stop()
    elapsed = time.monotonic() - started
    check(home, tally, full=True)

    print(
        f"{tally.kills} kills ({tally.early} while opening) in {elapsed:.1f} s,"
        f" {len(tally.reported)} collections reported and all found,"
        f" {tally.acks} acknowledgements"
    )
    assert tally.kills >= MIN_KILLS, f"only {tally.kills} kills in {TIME_BUDGET:.0f} s"
    assert len(tally.reported) >= tally.kills // 10  # the kills did land while recording
