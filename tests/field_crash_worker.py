"""The client that tests/test_field_crash.py kills: it records collections until SIGKILL.

Starting Python and importing the field client takes ~0.3 s, too long to pay a thousand
times. So this script is a small fork server: it imports everything once and runs the read
paths once (`warm_up`), prints `READY`, then for each `run SEED` line read on stdin it
forks a child that opens the tablet and records collections in a loop, and waits for that
child to die. What it writes, one line
each (lines are written with one `os.write`, so they never interleave):

    PID <pid>                       the zygote, right after forking the child
    START <pid>                     the child, once the tablet is open, before recording
    RECORDED <seq> <hash> <mission> the child, after `Tablet.collect` returned (committed)
    ACKED <seq>                     the child, after a sync-like acknowledgement
    ERROR <pid> <text>              the child, on an unexpected exception (then it exits 1)
    EXIT <pid> <status>             the zygote, once the child is dead (waitpid)

The child's lines are all in the pipe before `EXIT`: a reader that stops at `EXIT` has
read every collection the child reported. Run: python tests/field_crash_worker.py HOME
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fieldclient
import shared
from fieldclient import syncing
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from shared.errors import Refused
from sync.client import Acknowledged

# The missions the prepared tablet may collect on (something is due on each).
MISSIONS = ("M-A-0003", "M-A-0004", "M-B-0001", "M-B-0002", "M-P-0001")
ACK_CHANCE = 0.05  # per collection: acknowledge the outbox as a sync would


def say(line: str) -> None:
    os.write(1, (line + "\n").encode("utf-8"))


class AcknowledgeAll:
    """A sync client that acknowledges every entry it is given, one batch at a time."""

    def push(
        self, wire: list[dict[str, Any]], *, on_acknowledged: Callable[[Acknowledged], None]
    ) -> None:
        for start in range(0, len(wire), 500):
            last = wire[start : start + 500][-1]
            on_acknowledged(Acknowledged(int(last["seq"]), str(last["hash"])))


def evidence(rng: random.Random, method: str, amount: str) -> dict[str, object]:
    if method == "cash":
        return {"tendered": rng.choice([amount, "1.00", "5.00"])}
    if method == "card":
        return {"terminal_ref": f"AUT-{rng.randrange(10**6):06d}"}
    return {"cheque_number": f"{rng.randrange(10**7):07d}", "bank": "Banque Populaire"}


def record(home: Path, seed: int) -> None:
    """The child: collect small amounts on random missions until killed."""
    rng = random.Random(seed)
    tablet = Tablet(Home(home))
    say(f"START {os.getpid()}")
    open_missions = list(MISSIONS)
    why = ""
    while open_missions:
        mission = rng.choice(open_missions)
        method = rng.choice(["cash", "card", "cheque"])
        amount = f"0.0{rng.randint(1, 3)}"
        try:
            recorded = tablet.collect(mission, method, amount, evidence(rng, method, amount))
        except Refused as refused:  # nothing left to collect on this mission
            open_missions.remove(mission)
            why = refused.message("en")
            continue
        say(f"RECORDED {recorded.seq} {recorded.hash} {mission}")
        if rng.random() < ACK_CHANCE:
            report = syncing.SyncReport()
            syncing.push(tablet, AcknowledgeAll(), report, lambda _text: None)  # type: ignore[arg-type]
            say(f"ACKED {report.acknowledged_seq}")
    say(f"ERROR {os.getpid()} nothing more to collect (last refusal: {why})")
    os._exit(1)


def warm_up(home: Path) -> float:
    """Import every module of the core and the field client, and run the read paths once
    before forking, so a child does not pay for first-use work: the tablet imports what
    only some actions need inside them (a collection's receipts, guards, register…), and
    the `holidays` package imports all its countries on first use (~90 ms). The
    connection is closed before any fork: a child never inherits an open one.

    Returns the seconds one collection takes here and now (the median of three, on a
    copy of the tablet): the test kills within a few of those, so its kills land while
    recording however loaded the machine is."""
    for package in (shared, fieldclient):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    tablet = Tablet(Home(home))
    try:
        for mission in MISSIONS:
            tablet.view(mission)
    finally:
        tablet.close()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "tablet"
        shutil.copytree(home, copy)
        trial = Tablet(Home(copy))
        try:
            rng = random.Random(0)
            took = []
            for mission in MISSIONS[:3]:
                started = time.perf_counter()
                trial.collect(mission, "cash", "0.01", evidence(rng, "cash", "0.01"))
                took.append(time.perf_counter() - started)
        finally:
            trial.close()
    return sorted(took)[1]


def serve(home: Path) -> None:
    say(f"READY {warm_up(home):.6f}")
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command != "run":
            continue
        pid = os.fork()
        if pid == 0:  # the child never returns into this loop
            try:
                record(home, int(argument))
            except BaseException:
                text = traceback.format_exc().replace("\n", " | ")
                say(f"ERROR {os.getpid()} {text}")
            finally:
                os._exit(1)
        say(f"PID {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"EXIT {pid} {status}")


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
