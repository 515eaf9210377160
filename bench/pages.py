"""Page speed: the office desk and the driver's screen after the demo's simulated day.

Builds what `make run` builds, in a temporary folder (SQLite database, demo tenant, the
simulated day of three tablets played against a real HTTP server), then requests each
main page of the desk (signed in as `bureau`) and of Karim's screen over HTTP, several
times, and prints the server's answer time per page: median, 95th percentile and max,
in milliseconds, with the page's size. No aim is set by the issue beyond "fast on a
tablet"; a page under 100 ms on this machine is the house's own bar.

`--year` measures the desk at a year of data instead (issue 18: anomaly list, mission
search, lookup, dispatch board and reports in at most 100 ms of server time with 730,000
missions): it writes a year of a company straight into a database with the reconciliation
bench's generator (simulation/year.py, written by tests/year_support.py: bulk inserts,
COPY on PostgreSQL; 200 trucks × 365 days × 10 missions by default), plants the year's
anomalies as open anomalies (what reconciliation would store, without running it), signs
in as an office user and asks each page through Flask's test client, in process (the
server's time: routing, queries, template; no socket), with the clock on the year's
last afternoon. `--db FILE` keeps or reuses a SQLite year (generated when the file does
not exist, reused as it is otherwise, migrated to the head first: the migration's own
time is printed, so a year generated before a migration measures it).

Figures, printed; never a timed test. Usage:
    python bench/pages.py [--runs N]
    python bench/pages.py --year [--trucks 200] [--days 365] [--runs 15]
        [--database sqlite|postgresql] [--db FILE]
e.g. python bench/pages.py --year --trucks 20 --days 90 --runs 5   (a quick look)
PostgreSQL: TOWLINE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
into a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner
from werkzeug.serving import make_server

# bench/ holds a sync.py: the repository's root must come first, as in the other benches.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fieldclient.screen.app import create_app as screen_app  # noqa: E402
from server import demo  # noqa: E402
from server.app import create_app  # noqa: E402
from server.platform.db import make_engine, upgrade  # noqa: E402
from simulation.cli import main as simulate  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def serve(app: object) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def timed(session: requests.Session, url: str, runs: int) -> tuple[list[float], int]:
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        answer = session.get(url)
        times.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
        size = len(answer.content)
    return times, size


def report(name: str, times: list[float], size: int) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"  {name:<34} median {statistics.median(ordered):6.1f}  p95 {p95:6.1f}"
        f"  max {ordered[-1]:6.1f} ms  {size / 1024:6.1f} KiB"
    )


def sign_in(session: requests.Session, url: str, data: dict[str, str]) -> None:
    token = TOKEN.search(session.get(url).text)
    assert token, f"no form at {url}"
    answer = session.post(url, data={"csrf_token": token.group(1), **data})
    answer.raise_for_status()


# ================================================================================================
# --year: the desk at a year of data
# ================================================================================================

YEAR_CLOCK = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)  # the year's last afternoon
PER_DAY = 10  # missions per truck per day, as in bench/reconcile.py
AIM_MS = 100.0
SLOW_MS = 10_000.0  # a page slower than this is timed once
OFFICE_LOGIN = "bureau"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def plant_anomalies(engine: Any, planted: Any) -> int:
    """The year's anomalies, open, as reconciliation would have stored them (their kind,
    subject, mission, amount, a sentence), created on their mission's day."""
    import sqlalchemy as sa

    from server.platform.tables import anomalies, missions
    from simulation.year import TENANT

    with engine.begin() as conn:
        made = {
            r.id: (r.driver_id, r.created_at)
            for r in conn.execute(
                sa.select(missions.c.id, missions.c.driver_id, missions.c.created_at).where(
                    missions.c.tenant_id == TENANT
                )
            )
        }
        rows = []
        for p in sorted(
            planted.values(),
            key=lambda p: (made.get(p.mission_id or "", ("", YEAR_CLOCK))[1], p.kind, p.subject),
        ):
            driver, at = made.get(p.mission_id or "", (None, YEAR_CLOCK))
            sentence = f"{p.kind} : {p.subject}"
            rows.append(
                {
                    "tenant_id": TENANT,
                    "kind": p.kind,
                    "subject": p.subject,
                    "mission_id": p.mission_id,
                    "driver_id": driver,
                    "amount_cents": p.amount_cents,
                    "detail": {"fr": sentence, "en": sentence},
                    "status": "open",
                    "created_at": at,
                }
            )
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(anomalies), rows[start : start + 5000])
    return len(rows)


def build_year(engine: Any, trucks: int, days: int) -> dict[str, Any]:
    """The year through the reconciliation bench's generator, then its anomalies."""
    from server.platform.db import upgrade
    from tests import year_support

    def progress(index: int, done: int, elapsed: float) -> None:
        if (index + 1) % 30 == 0 or index + 1 == days:
            print(f"    … day {index + 1}/{days}, {done:,} missions in {elapsed:.0f} s", flush=True)

    upgrade(engine)
    year_support.setup(engine, trucks)
    made = year_support.generate(engine, trucks, PER_DAY, 0, days, progress=progress)
    started = time.perf_counter()
    count = plant_anomalies(engine, made.year.planted)
    planted = time.perf_counter() - started
    try:  # the generator writes no search keys: fill them as migration 0011 does
        from server.office.mission_keys import backfill
        from server.platform.tables import missions
    except ImportError:  # a tree from before them
        backfill = None
    if backfill is not None:
        started = time.perf_counter()
        with engine.begin() as conn:
            backfill(conn, missions)
        print(f"  search keys filled in {time.perf_counter() - started:.1f} s", flush=True)
    return {
        "missions": made.year.counts.get("missions", 0),
        "seconds": made.seconds,
        "anomalies": count,
        "anomaly_seconds": planted,
    }


def add_office_user(engine: Any) -> None:
    from server.people import identity
    from simulation.year import TENANT

    with engine.begin() as conn:
        if not any(u.login == OFFICE_LOGIN for u in identity.list_users(conn, TENANT)):
            identity.create_user(
                conn,
                TENANT,
                OFFICE_LOGIN,
                "Bureau",
                demo.PASSWORD,
                "office",
                actor="bench",
                now=YEAR_CLOCK,
            )


def counted(engine: Any) -> dict[str, int]:
    out = {}
    with engine.connect() as conn:
        for table in ("missions", "journal_entries", "anomalies", "valuations"):
            out[table] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
    return out


def year_pages(client: Any, engine: Any) -> dict[str, str]:
    """The pages asked, with the query variants a clerk types."""
    import sqlalchemy as sa

    from server.platform.db import reading
    from server.platform.tables import missions
    from simulation.year import TENANT

    page_one = client.get("/desk/anomalies").get_data(as_text=True)
    late = re.findall(r'href="(/desk/anomalies\?[^"]*before=\d+[^"]*)"', page_one)
    pages = {
        "anomalies: page 1 (open)": "/desk/anomalies",
        "anomalies: all, page 1": "/desk/anomalies?status=all",
        "anomalies: one driver": "/desk/anomalies?driver_id=drv_0001",
        "anomalies: one kind": "/desk/anomalies?kind=gate_bypassed",
    }
    if late:  # follow "older" links to a late page
        path = late[0].replace("&amp;", "&")
        for _ in range(20):
            found = re.findall(
                r'href="(/desk/anomalies\?[^"]*before=\d+[^"]*)"',
                client.get(path).get_data(as_text=True),
            )
            if not found:
                break
            path = found[-1].replace("&amp;", "&")
        pages["anomalies: a late page (21st)"] = path
    with reading(engine).connect() as conn:  # a real mission of mid-year, and its file
        row = conn.execute(
            sa.select(missions.c.id, missions.c.file_number, missions.c.call_at)
            .where(missions.c.tenant_id == TENANT, missions.c.file_number.is_not(None))
            .order_by(missions.c.id)
            .offset(
                conn.execute(sa.select(sa.func.count()).select_from(missions)).scalar_one() // 2
            )
            .limit(1)
        ).one()
    mid, file_number = row.id, row.file_number
    # The reports' month and the board's past day: those of that mission's call, so that
    # a shorter run (--days) measures a month that holds missions, not an empty one.
    month = f"{row.call_at:%Y-%m}" if row.call_at else "2026-06"
    day = f"{row.call_at:%Y-%m-%d}" if row.call_at else "2026-06-15"
    pages.update(
        {
            "mission search: a mission id": f"/desk/missions?q={mid}",
            "mission search: an id prefix": f"/desk/missions?q={mid[:-3]}",
            "mission search: a file number": f"/desk/missions?q={file_number}",
            "mission search: nothing found": "/desk/missions?q=ZZ-404",
            "lookup: plate of many missions": "/desk/lookup?q=gh%20482%20kl",
            "lookup: unknown plate": "/desk/lookup?q=ZZ-999-ZZ",
            "lookup: a name": "/desk/lookup?q=Dupont",
            "lookup: a mission id": f"/desk/lookup?q={mid}",
            "lookup: a phone": "/desk/lookup?q=06%2012%2034%2056%2078",
            "vehicle history (200 missions)": "/desk/lookup/vehicle/GH482KL",
            "dispatch: today (Dec 31)": "/desk/dispatch",
            f"dispatch: a past day ({day})": f"/desk/dispatch?day={day}",
            f"report: parties, {month}": f"/desk/reports/parties?month={month}",
            f"report: drivers, {month}": f"/desk/reports/drivers?month={month}",
            f"report: profitability, {month}": f"/desk/reports/profitability?month={month}",
        }
    )
    return pages


def timed_in_process(client: Any, path: str, runs: int) -> tuple[list[float], int, int]:
    times, size, status = [], 0, 0
    for _ in range(runs):
        start = time.perf_counter()
        answer = client.get(path)
        body = answer.get_data()
        times.append((time.perf_counter() - start) * 1000)
        size, status = len(body), answer.status_code
    return times, size, status


def measure_year(engine: Any, runs: int, label: str) -> None:
    from server.platform.db import upgrade

    started = time.perf_counter()
    upgrade(engine)  # a year made before a migration: its backfill and indexes, timed
    print(f"  schema at head in {time.perf_counter() - started:.1f} s (load {load_average()})")
    add_office_user(engine)
    sizes = counted(engine)
    print(
        f"  {label}: "
        + ", ".join(f"{n:,} {table}" for table, n in sizes.items())
        + f"; load {load_average()}"
    )
    folder = Path(tempfile.mkdtemp(prefix="towline-pages-year-"))
    app = create_app(
        {
            "ENGINE": engine,
            "VAR_DIR": str(folder),
            "CLOCK": lambda: YEAR_CLOCK,
            "WTF_CSRF_ENABLED": False,
            # No worker in this process: the pages alone are timed. The generated year has
            # never been closed, so the scheduler's first tick would close all of it (and
            # reconcile it) while the pages are asked, holding SQLite's write lock.
            "JOBS": "worker",
        }
    )
    client = app.test_client()
    form = client.get("/desk/login").get_data(as_text=True)
    token = TOKEN.search(form)
    answer = client.post(
        "/desk/login",
        data={
            "csrf_token": token.group(1) if token else "",
            "tenant": "bench",
            "login": OFFICE_LOGIN,
            "password": demo.PASSWORD,
        },
    )
    if answer.status_code >= 400:
        sys.exit(f"sign-in refused: {answer.status_code}")
    print(f"  server time per page, in process ({runs} requests each after one warm-up):")
    worst = 0.0
    for name, path in year_pages(client, engine).items():
        # Warm-up: the first request compiles templates. A page that takes longer than
        # SLOW_MS is not asked again: its one time is printed (a year's board can take
        # minutes, and repeating it would say nothing more).
        warm, size, status = timed_in_process(client, path, 1)
        if warm[0] > SLOW_MS:
            times = warm
            name += " (once)"
        else:
            times, size, status = timed_in_process(client, path, runs)
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        worst = max(worst, p95)
        print(
            f"  {name:<34} median {statistics.median(ordered):7.1f}  p95 {p95:7.1f}"
            f"  max {ordered[-1]:7.1f} ms  {size / 1024:6.1f} KiB  {status}"
        )
    verdict = "met" if worst <= AIM_MS else "NOT met"
    print(f"  worst p95 {worst:.1f} ms: aim ≤ {AIM_MS:.0f} ms {verdict}; load {load_average()}")


def year_main(args: argparse.Namespace) -> None:
    print(
        f"The desk at a year: {args.trucks} trucks × {args.days} days × {PER_DAY} missions"
        f" = {args.trucks * args.days * PER_DAY:,} missions ({args.database}); load"
        f" {load_average()}"
    )
    if args.database == "postgresql":
        from bench.reconcile import postgres_database

        with postgres_database(keep=False) as db:
            options = db.get("connect_args") or {}
            engine = make_engine(db["url"], **({"connect_args": options} if options else {}))
            made = build_year(engine, args.trucks, args.days)
            print_built(made)
            measure_year(engine, args.runs, db["where"])
            engine.dispose()
        return
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="towline-pages-")) / "y.db"
    fresh = not path.exists()
    engine = make_engine(f"sqlite:///{path}")
    if fresh:
        print_built(build_year(engine, args.trucks, args.days))
    else:
        print(f"  reusing {path}")
    measure_year(engine, args.runs, str(path))
    engine.dispose()
    if fresh and not args.db:
        shutil.rmtree(path.parent, ignore_errors=True)


def print_built(made: dict[str, Any]) -> None:
    print(
        f"  generated {made['missions']:,} missions in {made['seconds']:.0f} s"
        f" ({made['missions'] / max(made['seconds'], 1e-9):,.0f}/s),"
        f" {made['anomalies']:,} anomalies planted in {made['anomaly_seconds']:.1f} s;"
        f" load {load_average()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Page speed of the desk and the screen.",
        epilog="example: python bench/pages.py --year --trucks 20 --days 90 --runs 5",
    )
    parser.add_argument("--runs", type=int, default=None, help="requests per page")
    parser.add_argument("--year", action="store_true", help="the desk at a year of data")
    parser.add_argument("--trucks", type=int, default=200, help="--year: trucks (200: 730,000)")
    parser.add_argument("--days", type=int, default=365, help="--year: days of the year")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db", help="--year on SQLite: keep the year in FILE, or reuse it")
    args = parser.parse_args()
    if args.year:
        args.runs = args.runs or 15
        year_main(args)
        return
    runs = args.runs or 30
    folder = Path(tempfile.mkdtemp(prefix="towline-pages-"))
    engine = make_engine(f"sqlite:///{folder / 'towline.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        demo.seed(conn, datetime.now(UTC))
    office, _ = serve(create_app({"ENGINE": engine, "VAR_DIR": str(folder / "var")}))
    played = CliRunner().invoke(
        simulate, ["--url", office, "--dir", str(folder / "simulation"), "--json"]
    )
    if played.exit_code != 0:
        sys.exit(f"the simulated day failed: {played.output}")

    desk = requests.Session()
    sign_in(
        desk,
        f"{office}/desk/login",
        {"tenant": "demo", "login": "bureau", "password": demo.PASSWORD},
    )
    first_anomaly = re.search(
        r'href="(/desk/anomalies/\d+)"', desk.get(f"{office}/desk/anomalies").text
    )
    pages = {
        "desk: today at a glance": "/desk/",
        "desk: anomalies": "/desk/anomalies",
        "desk: one anomaly": first_anomaly.group(1) if first_anomaly else "/desk/anomalies",
        "desk: mission M-A-0001": "/desk/missions/M-A-0001",
        "desk: registers": "/desk/registers",
        "desk: invoices and credit notes": "/desk/documents",
        "desk: contracts": "/desk/contracts",
    }
    print(f"Towline pages after the simulated day ({runs} requests each, {folder}):")
    for name, path in pages.items():
        report(name, *timed(desk, office + path, runs))

    screen, _ = serve(screen_app(folder / "simulation" / "karim"))
    driver = requests.Session()
    sign_in(driver, f"{screen}/login", {"driver": "d1", "pin": "1111"})
    for name, path in {
        "screen: missions of the day": "/missions",
        "screen: mission M-A-0001": "/missions/M-A-0001",
        "screen: sync state": "/sync",
    }.items():
        report(name, *timed(driver, screen + path, runs))


if __name__ == "__main__":
    main()
