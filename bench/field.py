"""Field client speed: a simulated year of one truck, then the tablet's cold start.

Builds one tablet's database as a year of work would (about 3,000 missions over 2026: the
office's missions pulled each morning, private customers met on the road, each mission
valued and driven through en_route, on_site, departed, delivered, closed; one or two
collections with their evidence when something is due, now and then a discount or a
"bill later" approved by a manager's code; the register opened and closed every day, a
bank deposit on Fridays, the outbox acknowledged every evening as a sync would). Then it
prints:
- the database: missions, journal entries, file size (after a WAL checkpoint), bytes per
  mission (aim: under 4 KB) and where the bytes are (dbstat);
- cold start of `towline-field show MISSION` (process start to output; aim: under
  150 ms) and its peak memory (aim: under 50 MB), median and max of several runs, and
  the same for `towline-field missions`;
- the writing commands `step`, `facts` and `collect` on a mission met on the road (each
  run on a fresh copy of the year's tablet; aim: under 300 ms);
- what the cold start spends importing (`python -X importtime`), by top-level package;
- with `--instructions` and valgrind installed: the instructions each command executes
  (callgrind's Ir, whole process). Unlike wall time, this count does not move with the
  machine's load, so it compares two versions on a busy shared machine.
When PYTHONDONTWRITEBYTECODE is set (as in some dev containers) the cold start is measured
twice: as is (every module compiled at each start) and with a bytecode cache in a
temporary folder (PYTHONPYCACHEPREFIX), as an installed tablet runs.

Figures, printed; never a timed test. Usage:
    python bench/field.py [--missions N] [--runs N] [--keep DIR] [--year DIR] [--instructions]
`--year DIR` measures a copy of a year kept earlier with `--keep DIR` instead of building
one (about 3 minutes); the copy is opened, and migrated if needed, by this version.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fieldclient import store  # noqa: E402
from fieldclient.home import Home  # noqa: E402
from fieldclient.tablet import Tablet  # noqa: E402
from shared import signing  # noqa: E402
from shared.approvals import DeviceKey, Kind, Request, issue_code  # noqa: E402
from shared.money import wire  # noqa: E402
from shared.secret_hash import format_hash  # noqa: E402

# Not `from fieldclient import syncing`: `mypy bench/field.py` puts bench/ first on its
# path, where bench/sync.py would stand for the `sync` package fieldclient.syncing imports.
syncing = importlib.import_module("fieldclient.syncing")

EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
FIELD = BIN / "towline-field"
PARIS = ZoneInfo("Europe/Paris")
YEAR = 2026  # the example contracts are valid from 2026-01-01 to 2026-12-31
DEVICE = "dev_bench_truck"
TENANT = "acme"
APPROVAL_KEY = DeviceKey(1, bytes(range(32, 64)))
PIN = "1111"
SEED = 2026

AIM_START_MS = 150
AIM_WRITE_MS = 300
AIM_PEAK_MB = 50
AIM_BYTES_PER_MISSION = 4096


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


class Clock:
    """The tablet's clock, moved by the simulation."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Acknowledged(NamedTuple):
    """The server's answer to a pushed batch, as `sync.client.Acknowledged` has it."""

    seq: int
    hash: str


class AcknowledgeAll:
    """What `fieldclient.syncing.push` needs of a sync client: every entry acknowledged
    (batches of 500, as the real client sends them)."""

    def push(
        self, wire: list[dict[str, Any]], *, on_acknowledged: Callable[[Acknowledged], None]
    ) -> None:
        for start in range(0, len(wire), 500):
            last = wire[start : start + 500][-1]
            on_acknowledged(Acknowledged(int(last["seq"]), str(last["hash"])))


# --- the tablet -------------------------------------------------------------------------------


def enrolled_tablet(path: Path, clock: Clock) -> Tablet:
    """What enrolment and a first pull give: keys, the driver, the example contracts."""
    tablet = Tablet(Home(path), clock=clock)
    tablet.save_enrolment(
        server_url="http://127.0.0.1:9",
        device_id=DEVICE,
        tenant_id=TENANT,
        server_public_key=bytes(32),
        private_key=signing.private_key_from_bytes(bytes(range(32))),
        approval_key={"version": APPROVAL_KEY.version, "secret": APPROVAL_KEY.secret.hex()},
        drivers=[
            {
                "id": "d1",
                "name": "Karim",
                "role": "driver",
                "pin_hash": format_hash(PIN, b"salt-for-bench!!", 2**4, 8, 1),
                "active": True,
                "rights": ["collect"],
            }
        ],
        label="Camion 1",
    )
    changes = []
    for file in sorted((EXAMPLES / "contracts").glob("*.json")):
        doc = json.loads(file.read_text("utf-8"))
        changes.append(
            {"kind": "contract", "id": f"{doc['id']}:{doc['version']}", "data": {"document": doc}}
        )
    pull(tablet, changes)
    tablet.login("d1", PIN)
    return tablet


def pull(tablet: Tablet, changes: list[dict[str, Any]]) -> None:
    """Apply one page of the pull feed, as `fieldclient.syncing.pull` does."""
    report = syncing.SyncReport()
    ledger = tablet.ledger()
    with store.write(tablet.db):
        for change in changes:
            syncing.apply_change(tablet, ledger, change, report)


def code(kind: Kind, mission_id: str, amount: str, now: datetime) -> str:
    """What the manager reads out on the phone."""
    return issue_code(
        APPROVAL_KEY, Request(TENANT, DEVICE, mission_id, kind, Decimal(amount)), now
    ).code


# --- a year -------------------------------------------------------------------------------


class Year:
    def __init__(self, tablet: Tablet, clock: Clock, rng: random.Random) -> None:
        self.tablet = tablet
        self.clock = clock
        self.rng = rng
        self.office_numbers = {"A": 0, "B": 0}
        self.last_b_file: str | None = None
        self.counts: dict[str, int] = defaultdict(int)
        self.longest: dict[str, float] = defaultdict(float)

    def at(self, moment: datetime) -> None:
        self.clock.now = max(self.clock.now, moment.astimezone(UTC))

    def timed(self, what: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = action()
        self.longest[what] = max(self.longest[what], time.perf_counter() - started)
        self.counts[what] += 1
        return result

    def document(self, kind: str, call: datetime, mission_id: str) -> dict[str, Any]:
        rng = self.rng
        accident = rng.random() < 0.2
        services: list[dict[str, Any]] = [{"code": "TOW"}]
        if rng.random() < 0.25:
            services.append({"code": "WIN"})
        loaded = rng.choice([5, 12, 18, 25, 30, 42, 55, 65, 80, 95, 120])
        doc: dict[str, Any] = {
            "id": mission_id,
            "customer": None,
            "vehicle": {
                "plate": f"{rng.choice('ABCDEFGH')}{rng.choice('JKLMNP')}-"
                f"{rng.randrange(1000):03d}-{rng.choice('QRSTUV')}{rng.choice('WXYZ')}",
                "class": "VL",
            },
            "times": {"call": call.isoformat(timespec="seconds")},
            "distance_km": {"en_route": str(rng.randint(3, 40)), "loaded": str(loaded)},
            "facts": {"accident": accident},
            "services": services,
        }
        if kind == "P":
            doc.update(file_number=None, file_sequence=1, ordering_party=None)
            doc["customer"] = rng.choice([None, "M. Martin", "Mme Bernard", "GARAGE-DUPONT"])
            return doc
        self.office_numbers[kind] += 1
        number = self.office_numbers[kind]
        if kind == "B" and self.last_b_file and rng.random() < 0.1:
            doc.update(file_number=self.last_b_file, file_sequence=2)  # the file's 2nd tow
        else:
            doc.update(file_number=f"{kind}-{YEAR}-{number:05d}", file_sequence=1)
        if kind == "B":
            self.last_b_file = doc["file_number"]
        doc["ordering_party"] = f"ASSIST-{kind}"
        return doc

    def day(self, day: date, count: int) -> None:
        tablet, rng = self.tablet, self.rng
        start = datetime(day.year, day.month, day.day, 6, 45, tzinfo=PARIS)
        self.at(start)
        self.timed("register open", lambda: tablet.register_open(Decimal("50.00")))
        spacing = timedelta(minutes=min(110, 15 * 60 // max(count, 1)))
        calls = [
            start + timedelta(minutes=15) + n * spacing + timedelta(minutes=rng.randint(0, 20))
            for n in range(count)
        ]
        kinds = [rng.choices("ABP", weights=(45, 25, 30))[0] for _ in calls]
        office = []
        for call, kind in zip(calls, kinds, strict=True):
            if kind != "P":
                mission_id = f"M-{kind}-{YEAR % 100}-{self.office_numbers[kind] + 1:05d}"
                doc = self.document(kind, call, mission_id)
                office.append((call, mission_id, doc))
        # The morning sync brings the office's missions of the day (one pulled page).
        pull(
            tablet,
            [
                {
                    "kind": "mission",
                    "id": mission_id,
                    "data": {
                        "id": mission_id,
                        "driver_id": "d1",
                        "status": "assigned",
                        "document": doc,
                    },
                }
                for _, mission_id, doc in office
            ],
        )
        assigned = iter(office)
        for call, kind in zip(calls, kinds, strict=True):
            if kind == "P":
                self.at(call)
                doc = self.document("P", call, tablet.next_mission_id())
                self.timed("new-mission", partial(tablet.new_mission, doc))
                mission_id = doc["id"]
            else:
                _, mission_id, _ = next(assigned)
            self.mission(mission_id, call)
        end = datetime(day.year, day.month, day.day, 23, 0, tzinfo=PARIS)
        self.at(end)
        register = tablet.register("d1")
        if day.weekday() == 4 and register.expected_cash > Decimal("100.00"):
            banked = wire(register.expected_cash - Decimal("50.00"))
            slip = f"BORD-{day.isoformat()}"
            self.timed("register deposit", lambda: tablet.register_deposit(Decimal(banked), slip))
            register = tablet.register("d1")
        counted = register.expected_cash
        if rng.random() < 0.05:
            counted -= Decimal("0.50")  # a coin missing now and then
        self.timed("register close", lambda: tablet.register_close(counted))
        report = syncing.SyncReport()
        self.timed(
            "sync push (acknowledged)",
            lambda: syncing.push(tablet, AcknowledgeAll(), report, lambda _t: None),
        )

    def mission(self, mission_id: str, call: datetime) -> None:
        tablet, rng = self.tablet, self.rng
        self.at(call + timedelta(minutes=5))
        self.timed("step", lambda: tablet.step(mission_id, "en_route"))
        if rng.random() < 0.01:
            self.timed("step", lambda: tablet.step(mission_id, "gone_on_arrival"))
            return
        self.at(call + timedelta(minutes=35))
        self.timed("step", lambda: tablet.step(mission_id, "on_site"))
        money = tablet.view(mission_id).money
        remaining = money.remaining if money is not None else Decimal(0)
        self.at(call + timedelta(minutes=40))
        if remaining > 0 and rng.random() < 0.04:
            amount = wire(min(remaining, Decimal("20.00")))
            given = code(Kind.DISCOUNT, mission_id, amount, self.clock.now)
            recorded = self.timed("discount", lambda: tablet.discount(mission_id, amount, given))
            remaining = recorded.money.remaining
        if remaining > 0 and rng.random() < 0.02:
            given = code(Kind.DEFERRAL, mission_id, wire(remaining), self.clock.now)
            self.timed("defer", lambda: tablet.defer(mission_id, given))
            remaining = Decimal(0)
        if remaining > 0:
            contract = tablet.view(mission_id).contract
            assert contract is not None
            methods = contract.payment.methods
            parts = [remaining]
            if remaining > Decimal("60.00") and rng.random() < 0.3:
                cash = Decimal(rng.choice([20, 30, 40, 50]))
                parts = [cash, remaining - cash]
            for n, part in enumerate(parts):
                method = "cash" if n == 0 and len(parts) == 2 else self.method(methods)
                self.at(call + timedelta(minutes=42 + n))
                evidence = self.evidence(method, part)
                self.timed(
                    "collect", partial(tablet.collect, mission_id, method, wire(part), evidence)
                )
        self.at(call + timedelta(minutes=50))
        self.timed("step", lambda: tablet.step(mission_id, "departed"))
        self.at(call + timedelta(minutes=85))
        self.timed("step", lambda: tablet.step(mission_id, "delivered"))
        self.at(call + timedelta(minutes=90))
        self.timed("step", lambda: tablet.step(mission_id, "closed"))

    def method(self, allowed: Any) -> str:
        names = [str(getattr(m, "value", m)) for m in allowed]
        weights = {"card": 60, "cash": 25, "cheque": 8, "transfer": 4, "payment_link": 3}
        return self.rng.choices(names, weights=[weights.get(n, 1) for n in names])[0]

    def evidence(self, method: str, amount: Decimal) -> dict[str, object]:
        rng = self.rng
        if method == "cash":
            return {"tendered": wire(Decimal(math.ceil(amount / 10) * 10))}
        if method == "card":
            return {"terminal_ref": f"AUT-{rng.randrange(10**6):06d}"}
        if method == "cheque":
            return {"cheque_number": f"{rng.randrange(10**7):07d}", "bank": "Crédit Agricole"}
        return {"reference": f"{method[:3].upper()}-{rng.randrange(10**8):08d}"}


def build_year(path: Path, missions: int) -> tuple[float, Year]:
    first = date(YEAR, 1, 1)
    days = (date(YEAR + 1, 1, 1) - first).days
    per_day = [0] * days
    for n in range(missions):
        per_day[n * days // missions] += 1
    clock = Clock(datetime(YEAR, 1, 1, 5, 0, tzinfo=UTC))
    tablet = enrolled_tablet(path, clock)
    year = Year(tablet, clock, random.Random(SEED))
    started = time.perf_counter()
    try:
        for offset, count in enumerate(per_day):
            year.day(first + timedelta(days=offset), count)
            if (offset + 1) % 61 == 0:
                elapsed = time.perf_counter() - started
                print(f"  … day {offset + 1}/{days}, {elapsed:.0f} s", file=sys.stderr)
    finally:
        tablet.close()
    return time.perf_counter() - started, year


# --- measuring --------------------------------------------------------------------------------


def database_figures(path: Path) -> dict[str, Any]:
    database = Home(path).database
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        figures: dict[str, Any] = {
            "size": database.stat().st_size,
            "missions": conn.execute("SELECT COUNT(*) FROM missions").fetchone()[0],
            "entries": conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0],
            "types": conn.execute(
                "SELECT type, COUNT(*) FROM journal GROUP BY type ORDER BY 2 DESC"
            ).fetchall(),
            "outbox": conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
        }
        try:
            figures["tables"] = conn.execute(
                "SELECT name, SUM(pgsize), SUM(payload), SUM(unused) FROM dbstat"
                " GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # SQLite built without dbstat
            figures["tables"] = []
        figures["journal_columns"] = conn.execute(
            "SELECT type, COUNT(*), SUM(LENGTH(payload)), SUM(LENGTH(prev_hash) + LENGTH(hash)"
            " + LENGTH(sig)), SUM(LENGTH(at) + LENGTH(type) + COALESCE(LENGTH(driver_id), 0)"
            " + COALESCE(LENGTH(mission_id), 0)) FROM journal GROUP BY type ORDER BY 3 DESC"
        ).fetchall()
        figures["mission_documents"] = conn.execute(
            "SELECT SUM(LENGTH(document)) FROM missions"
        ).fetchone()[0]
        a_mission = conn.execute(  # the last day's mission with money moved, else any
            "SELECT m.id FROM missions m LEFT JOIN money ON money.mission_id = m.id"
            " ORDER BY money.seq IS NULL, m.day DESC, m.id LIMIT 1"
        ).fetchone()
        figures["mission"] = a_mission[0]
        a_day = conn.execute("SELECT MAX(day) FROM missions").fetchone()
        figures["day"] = a_day[0]
    finally:
        conn.close()
    return figures


GNU_TIME = Path("/usr/bin/time")


def python_env(pycache: Path | None) -> dict[str, str]:
    """The environment of a measured command: English output, and a bytecode cache in
    `pycache` if given (PYTHONPYCACHEPREFIX), else the environment's own setting."""
    env = {**os.environ, "TOWLINE_LANG": "en"}
    env.pop("TOWLINE_FIELD_HOME", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def timed_runs(
    command: list[str],
    runs: int,
    pycache: Path | None = None,
    setup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Wall time from process start to its exit (all output read), median and max of
    `runs` after one warm-up run; and the peak RSS of the command.

    Peak RSS comes from GNU time when it is there: a child's own `ru_maxrss` (os.wait4)
    also counts the forked copy of this bench before exec (Linux keeps that high-water
    mark across exec), so it would report this process's size, not the command's.
    `pycache`: run with a bytecode cache there (PYTHONPYCACHEPREFIX), as an installed
    tablet runs; without it, the environment's setting holds. `setup` runs before each
    run, untimed (a writing command gets a fresh tablet)."""
    env = python_env(pycache)
    times: list[float] = []
    peaks: list[float] = []
    output, code = "", 0
    for _ in range(runs + 1):  # one more run first: page cache, and bytecode if cached
        if setup is not None:
            setup()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        data, _ = process.communicate()
        times.append((time.perf_counter() - started) * 1000)
        output, code = data.decode("utf-8", "replace"), process.returncode
    if GNU_TIME.exists():
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
            for _ in range(3):
                if setup is not None:
                    setup()
                subprocess.run(
                    [str(GNU_TIME), "-f", "%M", "-o", report.name, *command],
                    capture_output=True,
                    env=env,
                    cwd=ROOT,
                    check=False,
                )
                report.seek(0)
                peaks.append(int(report.read().split()[-1]) / 1024)  # KiB
        exact = True
    else:
        for _ in range(3):
            if setup is not None:
                setup()
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
            )
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = 0
            peaks.append(usage.ru_maxrss / 1024)
        exact = False
    return {
        "median": statistics.median(times[1:]),
        "max": max(times[1:]),
        "peak": max(peaks),
        "exact_peak": exact,
        "code": code,
        "output": output,
    }


def instructions(
    command: list[str], pycache: Path | None, setup: Callable[[], None] | None = None
) -> int | None:
    """Instructions the whole process executes (callgrind's Ir), or None without valgrind.
    Run once, after the timed runs (the bytecode cache is warm)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    if setup is not None:
        setup()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            capture_output=True,
            env=python_env(pycache),
            cwd=ROOT,
            check=False,
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return None


def road_mission(year_path: Path, folder: Path) -> tuple[str, Path, Path]:
    """Two copies of the year's tablet with the register open and a mission met on the
    road: one where it is assigned (for `step`), one where the driver is on site (for
    `facts` and `collect`). Made through the tablet, untimed."""
    assigned, on_site = folder / "assigned", folder / "on_site"
    shutil.copytree(year_path, assigned)
    tablet = Tablet(Home(assigned))
    try:
        tablet.register_open(Decimal("50.00"))
        mission_id = tablet.next_mission_id()
        tablet.new_mission(
            {
                "id": mission_id,
                "customer": "M. Martin",
                "vehicle": {"plate": "AB-123-CD", "class": "VL"},
                "times": {"call": tablet.now().isoformat(timespec="seconds")},
                "distance_km": {"loaded": "12"},
                "services": [{"code": "TOW"}],
            }
        )
    finally:
        tablet.close()
    shutil.copytree(assigned, on_site)
    tablet = Tablet(Home(on_site))
    try:
        tablet.step(mission_id, "en_route")
        tablet.step(mission_id, "on_site")
    finally:
        tablet.close()
    return mission_id, assigned, on_site


def fresh_copy(source: Path, target: Path) -> Callable[[], None]:
    def copy() -> None:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)

    return copy


def python_start(runs: int) -> float:
    """The floor: a bare interpreter starting and exiting."""
    return float(timed_runs([sys.executable, "-c", "pass"], runs)["median"])


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
PROJECT = ("shared", "sync", "server", "fieldclient")


def import_breakdown(pycache: Path | None) -> dict[str, Any]:
    """`python -X importtime -c "import fieldclient.cli"`: the total, each third-party
    package with everything it imports (cumulative, at its first import), and the
    project's own modules by self time."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import fieldclient.cli"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=python_env(pycache),
        check=True,
    )
    total = 0.0
    startup = 0.0  # `site` and what it imports: before the program's first line
    third_party: dict[str, float] = {}
    own: list[tuple[str, float]] = []
    for line in result.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        self_us, cumulative_us, indent, name = match.groups()
        cumulative = int(cumulative_us) / 1000
        root = name.split(".")[0]
        if len(indent) <= 1:
            if name == "site":
                startup = cumulative
            else:
                total += cumulative
        if root in PROJECT:
            own.append((name, int(self_us) / 1000))
        elif root not in sys.stdlib_module_names and not root.startswith("_") and "." not in name:
            third_party[name] = max(third_party.get(name, 0.0), cumulative)
    own.sort(key=lambda kv: -kv[1])
    return {
        "total": total,
        "site": startup,
        "third_party": sorted(third_party.items(), key=lambda kv: -kv[1]),
        "own": own,
        "own_total": sum(ms for _, ms in own),
    }


def first_view_profile(path: Path, mission: str, pycache: Path | None) -> list[tuple[str, float]]:
    """Where `show` spends its time after the imports: one `Tablet.view`, in process."""
    code = (
        "import time, sys\n"
        "from pathlib import Path\n"
        "t0 = time.perf_counter()\n"
        "import fieldclient.cli\n"
        "from fieldclient.home import Home\n"
        "from fieldclient.tablet import Tablet\n"
        "from fieldclient import render\n"
        "t1 = time.perf_counter()\n"
        "tablet = Tablet(Home(Path(sys.argv[1])))\n"
        "t2 = time.perf_counter()\n"
        "view = tablet.view(sys.argv[2])\n"
        "t3 = time.perf_counter()\n"
        "text = render.mission_text(view, 'en')\n"
        "t4 = time.perf_counter()\n"
        "view = tablet.view(sys.argv[2])\n"
        "t5 = time.perf_counter()\n"
        "print((t1-t0)*1000, (t2-t1)*1000, (t3-t2)*1000, (t4-t3)*1000, (t5-t4)*1000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), mission],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=python_env(pycache),
        check=True,
    )
    values = [float(v) for v in result.stdout.split()]
    names = [
        "import fieldclient.cli",
        "open the tablet (connect, migrate check)",
        "first Tablet.view (contracts, valuation, money)",
        "render the text",
        "second Tablet.view (warm)",
    ]
    return list(zip(names, values, strict=True))


def print_start(label: str, figures: dict[str, Any], aim_ms: int = AIM_START_MS) -> None:
    print(
        f"  {label:<40} median {figures['median']:5.0f} ms, max {figures['max']:5.0f} ms,"
        f" peak RSS {figures['peak']:5.1f} MB{'' if figures['exact_peak'] else ' (at most)'}"
        f"   aim {aim_ms} ms: {met(figures['median'] < aim_ms)},"
        f" aim {AIM_PEAK_MB} MB: {met(figures['peak'] < AIM_PEAK_MB)}"
    )
    if figures.get("instructions"):
        print(f"  {'':<40} {figures['instructions'] / 1e6:,.0f} M instructions (callgrind Ir)")
    if figures["code"] != 0:
        print(f"  {'':<40} exit code {figures['code']}: {figures['output'].strip()[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--missions", type=int, default=3000, help="missions in the year")
    parser.add_argument("--runs", type=int, default=10, help="cold starts measured per command")
    parser.add_argument("--keep", type=Path, default=None, help="build the tablet here, keep it")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each command's instructions with valgrind (slow; load-proof)",
    )
    parser.add_argument(
        "--year",
        type=Path,
        default=None,
        help="measure a copy of a year kept with --keep instead of building one",
    )
    args = parser.parse_args()

    if args.keep is not None and args.keep.exists():
        parser.error(f"{args.keep} exists: --keep takes a new folder")
    if args.year is not None and not Home(args.year).database.exists():
        parser.error(f"{args.year} holds no tablet database")
    workdir = Path(tempfile.mkdtemp(prefix="towline-bench-field-"))
    path = args.keep or workdir / "tablet"
    try:
        print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU")
        if args.year is not None:
            shutil.copytree(args.year, path)
            Tablet(Home(path)).close()  # migrated now, not in the first measured run
            built, year = 0.0, None
        else:
            print(f"A year of one truck: {args.missions:,} missions in {YEAR} …", file=sys.stderr)
            built, year = build_year(path, args.missions)
        db = database_figures(path)
        per_mission = db["size"] / max(db["missions"], 1)
        print()
        print("== The database after a year")
        print(f"missions                           {db['missions']:>10,}")
        print(f"journal entries                    {db['entries']:>10,}")
        print("  by type: " + ", ".join(f"{t} {n:,}" for t, n in db["types"]))
        print(f"outbox (not acknowledged)          {db['outbox']:>10,}")
        print(f"database file (after checkpoint)   {db['size'] / 1e6:>10.2f} MB")
        print(
            f"bytes per mission                  {per_mission:>10,.0f}"
            f"   aim {AIM_BYTES_PER_MISSION:,}: {met(per_mission < AIM_BYTES_PER_MISSION)}"
        )
        if year is not None:
            print(f"time to build the year             {built:>10.1f} s")
            print(
                "  actions (count, slowest): "
                + ", ".join(
                    f"{what} {year.counts[what]:,} ({year.longest[what] * 1000:.0f} ms)"
                    for what in sorted(year.counts)
                )
            )
        if db["tables"]:
            print("  where the bytes are (dbstat: pages, payload, unused):")
            for name, pages, payload, unused in db["tables"]:
                if pages >= 0.01 * db["size"]:
                    each = pages / max(db["missions"], 1)
                    print(
                        f"    {name:<24} {pages / 1e6:7.2f} MB  {each:6.0f} B/mission"
                        f"  payload {payload / 1e6:6.2f} MB  unused {unused / 1e6:5.2f} MB"
                    )
        print("  journal columns by entry type (payload, hashes+sig, envelope):")
        for type_, count, payload, crypto, envelope in db["journal_columns"]:
            print(
                f"    {type_:<24} {count:>7,}  payload {payload / 1e6:6.2f} MB"
                f" ({payload / count:5.0f} B each)  hashes+sig {crypto / 1e6:5.2f} MB"
                f"  envelope {envelope / 1e6:5.2f} MB"
            )
        print(f"  missions.document                {db['mission_documents'] / 1e6:6.2f} MB")

        print()
        print(f"== Cold start ({args.runs} runs each, after one warm-up run)")
        floor = python_start(args.runs)
        print(f"  (a bare `python -c pass` takes {floor:.0f} ms here)")
        mission = db["mission"]
        home = ["--home", str(path)]
        commands = [
            (f"towline-field show {mission}", [str(FIELD), "show", mission, *home]),
            ("towline-field missions", [str(FIELD), "missions", *home]),
            (
                f"towline-field missions --day {db['day']}",
                [str(FIELD), "missions", "--day", db["day"], *home],
            ),
        ]
        settings: list[tuple[str, Path | None]] = [("as this environment runs Python", None)]
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            settings = [
                ("PYTHONDONTWRITEBYTECODE is set: the sources are compiled at every start", None),
                ("with a bytecode cache, as an installed tablet runs", workdir / "pycache"),
            ]
        mission_id, assigned, on_site = road_mission(path, workdir / "road")
        scratch = workdir / "scratch"
        writing = [
            (
                f"towline-field step {mission_id[:6]} en_route",
                assigned,
                ["step", mission_id, "en_route"],
            ),
            (
                f"towline-field facts {mission_id[:6]} --km-loaded 20",
                on_site,
                ["facts", mission_id, "--km-loaded", "20"],
            ),
            (
                f"towline-field collect {mission_id[:6]} (card)",
                on_site,
                [
                    "collect",
                    mission_id,
                    "--method",
                    "card",
                    "--amount",
                    "50.00",
                    "--terminal-ref",
                    "AUT-1",
                ],
            ),
        ]
        for title, pycache in settings:
            print(f" {title}:")
            for label, command in commands:
                figures = timed_runs(command, args.runs, pycache)
                if args.instructions and pycache is settings[-1][1]:
                    figures["instructions"] = instructions(command, pycache)
                print_start(label, figures)
            for label, source, words in writing:
                command = [str(FIELD), *words, "--home", str(scratch)]
                setup = fresh_copy(source, scratch)
                figures = timed_runs(command, args.runs, pycache, setup)
                if args.instructions and pycache is settings[-1][1]:
                    figures["instructions"] = instructions(command, pycache, setup)
                print_start(label, figures, AIM_WRITE_MS)

        print()
        cached = settings[-1][1]
        print("== Where the cold start of `show` goes" + (" (bytecode cached)" if cached else ""))
        for name, ms in first_view_profile(path, mission, cached):
            print(f"  {name:<48} {ms:7.1f} ms")
        imports = import_breakdown(cached)
        print(
            f"  python -X importtime: import fieldclient.cli {imports['total']:.0f} ms"
            f" (plus {imports['site']:.0f} ms in `site` before the program starts)"
        )
        print("  third-party packages, each with what it imports (nested ones counted twice):")
        for name, ms in imports["third_party"][:10]:
            print(f"    {name:<28} {ms:7.1f} ms")
        print(f"  the project's own modules, self time: {imports['own_total']:.0f} ms; heaviest:")
        for name, ms in imports["own"][:10]:
            print(f"    {name:<28} {ms:7.1f} ms")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
