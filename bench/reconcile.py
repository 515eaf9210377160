"""Reconciliation speed: a year of a towing company, on SQLite and on PostgreSQL.

Generates the year directly into the database (bulk inserts; COPY on PostgreSQL), not
through the push endpoint: a tenant with the example contracts, one tablet and one driver
per truck, every day of every truck its register, missions, steps, collections, approved
discounts and deferrals, and the card-terminal settlements imported for each period; a
few percent of the missions go wrong the ways the anomaly catalogue knows, so the rules
do real work. The generator is shared with the tests: simulation/year.py makes the rows,
tests/year_support.py writes them (tests/test_synthetic_year.py reconciles a small year
and checks every planted anomaly is found).

Prints, per backend:
- generation: time and missions/s;
- full reconciliation (`reconcile.reconcile_tenant`, anomalies table emptied first) at
  25 %, 50 % and 100 % of the year: time, peak memory as the `ru_maxrss` delta and the
  kernel's peak RSS (VmHWM) delta of a fresh process, and tracemalloc's peak in another
  run (aims: under 60 s for the year, memory that does not grow with the year); then
  once more with every anomaly already known (a nightly run);
- incremental reconciliation after one push (`reconcile.reconcile_entries` on the last 50
  stored entries of one truck's evening, rolled back each time), median of 20 runs, as
  usual (the day's card settlement not imported yet) and late (the day already settled)
  (aim: 50 ms);
- where the time goes: cProfile of the full reconciliation, top 15 by cumulative time,
  and the reconciliation's own functions.
The default is a year of 50 trucks (182,500 missions): the whole bench then takes about
10 minutes per backend on 2 CPUs. The time for 730,000 missions is then printed as an
EXTRAPOLATION (linear, from the largest measured size), said to be one; `--trucks 200`
measures it: about 7 minutes to generate and 4 per full reconciliation on SQLite, 8 and
8 on PostgreSQL, so about 25 and 40 minutes with `--no-profile --no-trace
--checkpoints 25,100` (docs/scaling.md "The year's reconciliation" has the figures).

Usage: python bench/reconcile.py [--trucks 50] [--days 365] [--missions-per-day-per-truck 10]
           [--database sqlite|postgresql|both] [--keep] [--no-trace] [--no-profile]
           [--checkpoints 25,50,100] [--variant server|PATH]
`--variant` measures a prototype copy of server/office/reconcile.py instead (its `prepare(engine)`,
if any, adds its indexes first, timed and printed).
PostgreSQL: TOWLINE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
the year goes into a database of its own (CREATE DATABASE), or if that is not allowed a
schema of its own, dropped afterwards unless --keep. Each measurement runs in a fresh
process (the orchestrating one imports nothing heavy, so peak RSS figures are the
measured process's own). Figures, printed; never a timed test.
"""

# What stays here (about 800 lines) is the bench itself, not the year: the measurements,
# each run in a child process (full and incremental reconciliation, peak memory, profiles:
# some 300 lines) and the orchestration that prints every figure (some 350). Neither is
# used by anything else, and moving them would only hide the bench behind an import.

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Names only: simulation.year imports nothing but the standard library at first.
from simulation.year import TENANT, YEAR, device_of  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TOWLINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
A_YEAR = 730_000  # missions of 200 trucks × 365 days × 10
AIM_FULL_S = 60.0
AIM_PUSH_MS = 50.0
PUSH_ENTRIES = 50
PUSH_RUNS = 20
CHILD = "--child"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ================================================================================================
# The year (each step in a child process): simulation/year.py, written by tests/year_support.py
# ================================================================================================


def engine_for(spec: dict[str, Any]) -> Any:
    from server.platform.db import make_engine

    options = spec.get("connect_args") or {}
    return make_engine(spec["url"], **({"connect_args": options} if options else {}))


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema, the tenant, its ordering parties and contracts, trucks and drivers."""
    from server.platform.db import upgrade
    from tests import year_support

    engine = engine_for(spec)
    started = time.perf_counter()
    upgrade(engine)
    year_support.setup(engine, int(spec["trucks"]))
    engine.dispose()
    return {"seconds": time.perf_counter() - started}


def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """Days [first, last) of every truck, flushed every few days, one transaction each."""
    from tests import year_support

    def progress(index: int, missions: int, elapsed: float) -> None:
        print(
            f"    … day {index + 1}/{spec['days']}, {missions:,} missions in {elapsed:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    engine = engine_for(spec)
    trucks, per_day = int(spec["trucks"]), int(spec["per_day"])
    first, last = int(spec["first"]), int(spec["last"])
    done = year_support.generate(engine, trucks, per_day, first, last, progress=progress)
    analysed = 0.0
    if engine.dialect.name == "postgresql":  # what autovacuum would have done meanwhile
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        analysed = time.perf_counter() - t0
    with engine.connect() as conn:
        size = database_size(conn)
    engine.dispose()
    return {
        "seconds": done.seconds,
        "python_seconds": done.python_seconds,
        "analyse_seconds": analysed,
        "counts": done.year.counts,
        "size": size,
    }


def database_size(conn: Any) -> int:
    if conn.dialect.name == "postgresql":
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())
    pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    size = conn.exec_driver_sql("PRAGMA page_size").scalar()
    return int(pages) * int(size)


# ================================================================================================
# Measurements (each in a child process)
# ================================================================================================


def reconcile_module(spec: dict[str, Any]) -> Any:
    """`server.office.reconcile`, or a prototype copy given by path (--variant)."""
    variant = spec.get("variant") or "server"
    if variant == "server":
        from server.office import reconcile

        return reconcile
    import importlib.util

    path = Path(variant)
    module_spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module


def prepare(reconcile: Any, engine: Any) -> dict[str, Any] | None:
    """A prototype's indexes (what its migration would add), made once, timed."""
    if not hasattr(reconcile, "prepare"):
        return None
    started = time.perf_counter()
    made = reconcile.prepare(engine)
    return {"made": made, "seconds": time.perf_counter() - started} if made else None


def rss_now_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB, from /proc (0, 0 elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0, 0
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def reset_peak() -> bool:
    """Reset the kernel's peak RSS mark (VmHWM) of this process (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def summary_of(summary: Any) -> dict[str, Any]:
    return {
        "missions": summary.missions,
        "found": summary.found,
        "opened": summary.opened,
        "cleared": summary.cleared,
        "by_kind": dict(sorted(summary.by_kind.items())),
    }


def measure_full(spec: dict[str, Any]) -> dict[str, Any]:
    """One whole reconciliation as `towline-server reconcile` runs it: a batch of missions
    a transaction (`reconcile_tenant_in_steps`); in one transaction when profiled, or
    when the variant measured has no steps."""
    import gc
    import resource
    import tracemalloc
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from server.platform.tables import anomalies

    reconcile = reconcile_module(spec)
    engine = engine_for(spec)
    prepared = prepare(reconcile, engine)
    if spec.get("fresh"):
        with engine.begin() as conn:
            conn.execute(sa.delete(anomalies).where(anomalies.c.tenant_id == TENANT))
    with engine.connect() as conn:  # a warm pool, as in a running server
        conn.exec_driver_sql("SELECT 1")
    gc.collect()
    base_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_reset = reset_peak()
    base_rss, _ = rss_now_kb()
    profile = None
    if spec.get("mode") == "trace":
        tracemalloc.start()
    elif spec.get("mode") == "profile":
        import cProfile

        profile = cProfile.Profile()
    error = None
    started = time.perf_counter()
    when = datetime(YEAR + 1, 1, 2, 6, 0, tzinfo=UTC)
    stepped = profile is None and hasattr(reconcile, "reconcile_tenant_in_steps")
    try:
        if stepped:
            summary = reconcile.reconcile_tenant_in_steps(engine, TENANT, now=when)
        else:
            with engine.begin() as conn:
                if profile is not None:
                    profile.enable()
                try:
                    summary = reconcile.reconcile_tenant(conn, TENANT, now=when)
                finally:
                    if profile is not None:
                        profile.disable()
    except Exception as exc:  # a figure to print, not a crash of the bench
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        summary = None
    elapsed = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, hwm = rss_now_kb()
    engine.dispose()
    out: dict[str, Any] = {
        "seconds": elapsed,
        "error": error,
        "summary": summary_of(summary) if summary else None,
        "maxrss_base_mb": base_maxrss / 1024,
        "maxrss_delta_mb": (maxrss - base_maxrss) / 1024,
        "hwm_delta_mb": (hwm - base_rss) / 1024 if hwm_reset else None,
        "traced_peak_mb": traced / 2**20 if traced is not None else None,
        "prepared": prepared,
        "stepped": stepped,
    }
    if profile is not None:
        out["profile"] = profile_text(profile, 15)
        out["phases"] = phases(profile, reconcile)
    return out


def profile_text(profile: Any, top: int) -> dict[str, str]:
    import io
    import pstats

    texts = {}
    for order in ("cumulative", "tottime"):
        stream = io.StringIO()
        stats = pstats.Stats(profile, stream=stream)
        stats.strip_dirs().sort_stats(order).print_stats(top if order == "cumulative" else 12)
        lines = stream.getvalue().splitlines()
        start = next((i for i, x in enumerate(lines) if x.strip().startswith("ncalls")), 0)
        texts[order] = "\n".join(line for line in lines[start:] if line.strip())
    return texts


PHASES = (
    "reconcile_missions",
    "mission_facts",
    "_entries",
    "_latest_valuations",
    "_approvals",
    "_voided",
    "mission_findings",
    "store",
    "typed",
    "_check_cards",
    "_settled_cards",
    "register_findings",
    "reused_approvals",
    "card_findings",
)


def phases(profile: Any, reconcile: Any) -> dict[str, tuple[int, float]]:
    """Cumulative seconds and calls of the reconciliation's own functions (recursion-free,
    so cumulative times add up within one level)."""
    import pstats

    from server.office import reconcile_facts, reconcile_rules

    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    files = {
        str(Path(module.__file__).resolve())
        for module in (reconcile, reconcile_rules, reconcile_facts)
    }
    out: dict[str, tuple[int, float]] = {}
    for (file, _line, name), (_cc, calls, _tt, cumulative, _callers) in stats.items():
        if file in files and name in PHASES:
            prev = out.get(name, (0, 0.0))
            out[name] = (prev[0] + calls, prev[1] + cumulative)
    return out


def push_items(conn: Any, truck: int = 0) -> tuple[list[Any], dict[str, Any]]:
    """The last 50 entries of a truck's chain (its last evening's push), as
    `server.devices.ingest` hands them to `reconcile_entries`."""
    import sqlalchemy as sa

    from server.office.reconcile_rules import Item
    from server.platform.tables import journal_entries

    rows = conn.execute(
        sa.select(
            journal_entries.c.device_id,
            journal_entries.c.seq,
            journal_entries.c.type,
            journal_entries.c.driver_id,
            journal_entries.c.hash,
            journal_entries.c.body,
        )
        .where(journal_entries.c.device_id == device_of(truck))
        .order_by(journal_entries.c.seq.desc())
        .limit(PUSH_ENTRIES)
    ).all()
    items = []
    for r in reversed(rows):
        body = json.loads(r.body)
        items.append(
            Item(r.device_id, int(r.seq), r.type, body["at"], r.driver_id, body["payload"], r.hash)
        )
    types: dict[str, int] = {}
    for i in items:
        types[i.type] = types.get(i.type, 0) + 1
    cards = sum(1 for i in items if i.type == "collection" and i.payload.get("method") == "card")
    described = {
        "truck": truck,
        "entries": len(items),
        "missions": len({i.payload.get("mission_id") for i in items} - {None}),
        "types": types,
        "cards": cards,
        "day": items[-1].at[:10] if items else "",
    }
    return items, described


def a_push(conn: Any, trucks: int) -> tuple[list[Any], dict[str, Any]]:
    """A push with card payments and a discount or deferral (one evening in two has
    one), so every part of `reconcile_entries` runs."""
    for truck in range(min(trucks, 40)):
        items, described = push_items(conn, truck)
        if described["cards"] and ({"discount", "deferral"} & set(described["types"])):
            return items, described
    return push_items(conn, 0)


def measure_push(spec: dict[str, Any]) -> dict[str, Any]:
    """`reconcile_entries` for one push, in a transaction rolled back after each run:
    as usual (the day's card settlement not imported yet: pushes come in the evening,
    the terminal's file the next day) and late (the day already settled)."""
    import cProfile
    from datetime import UTC, date, datetime, timedelta

    import sqlalchemy as sa

    from server.platform.tables import card_settlements

    reconcile = reconcile_module(spec)
    engine = engine_for(spec)
    prepare(reconcile, engine)
    now = datetime(YEAR + 1, 1, 1, 20, 30, tzinfo=UTC)
    with engine.connect() as conn:
        items, described = a_push(conn, int(spec["trucks"]))
    before = (date.fromisoformat(described["day"]) - timedelta(days=1)).isoformat()
    out: dict[str, Any] = {"push": described, "cases": {}}
    for case in ("evening", "late"):
        timings: list[float] = []
        error = None
        profile = cProfile.Profile()
        for run in range(PUSH_RUNS + 2):  # one warm-up, the runs, one profiled
            with engine.connect() as conn:
                transaction = conn.begin()
                try:
                    if case == "evening":  # untimed: the day's settlement is not imported yet
                        conn.execute(
                            sa.update(card_settlements)
                            .where(
                                card_settlements.c.tenant_id == TENANT,
                                card_settlements.c.period_to > before,
                            )
                            .values(period_to=before)
                        )
                    started = time.perf_counter()
                    if run == PUSH_RUNS + 1:
                        profile.enable()
                    try:
                        reconcile.reconcile_entries(conn, TENANT, items, now=now)
                    finally:
                        profile.disable()
                    elapsed = time.perf_counter() - started
                except Exception as exc:
                    error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    break
                finally:
                    transaction.rollback()
            if 0 < run <= PUSH_RUNS:
                timings.append(elapsed)
        out["cases"][case] = {
            "error": error,
            "median_ms": statistics.median(timings) * 1000 if timings else None,
            "p90_ms": sorted(timings)[int(len(timings) * 0.9) - 1] * 1000 if timings else None,
            "min_ms": min(timings) * 1000 if timings else None,
            "phases": phases(profile, reconcile) if not error else {},
        }
    engine.dispose()
    return out


STEPS = {
    "setup": setup,
    "generate": generate,
    "full": measure_full,
    "push": measure_push,
}


def child_main(raw: str) -> None:
    spec = json.loads(raw)
    result = STEPS[spec["step"]](spec)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


# ================================================================================================
# The orchestra (imports nothing heavy: the children's peak RSS is their own)
# ================================================================================================


def child(spec: dict[str, Any]) -> dict[str, Any]:
    process = subprocess.run(
        [sys.executable, __file__, CHILD, json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        check=False,
    )
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    if process.returncode != 0 or not lines:
        return {"error": f"child {spec['step']} exited with {process.returncode}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@contextmanager
def sqlite_database(keep: bool) -> Iterator[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="towline-bench-reconcile-"))
    try:
        yield {"url": f"sqlite:///{folder / 'towline.db'}", "where": str(folder / "towline.db")}
    finally:
        if keep:
            print(f"  (kept: {folder / 'towline.db'})")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _psql(sql: str, url: str = POSTGRES_URL) -> tuple[bool, str]:
    """One statement outside a transaction, through a short child (psycopg), so this
    process stays small."""
    code = (
        "import sys, psycopg\n"
        "url = sys.argv[1].replace('postgresql+psycopg://', 'postgresql://')\n"
        "with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:\n"
        "    c.execute(sys.argv[2])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url, sql], capture_output=True, text=True, check=False
    )
    return done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]


@contextmanager
def postgres_database(keep: bool) -> Iterator[dict[str, Any]]:
    """A database of its own (CREATE DATABASE), else a schema of its own in the test one."""
    name = f"towline_bench_{uuid.uuid4().hex[:8]}"
    ok, why = _psql(f'CREATE DATABASE "{name}"')
    if ok:
        base, _, _ = POSTGRES_URL.rpartition("/")
        try:
            yield {"url": f"{base}/{name}", "where": f"database {name}"}
        finally:
            if keep:
                print(f"  (kept: database {name} at {base})")
            else:
                _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    print(f"  (CREATE DATABASE refused: {why}; using a schema of its own)")
    ok, why = _psql(f'CREATE SCHEMA "{name}"')
    if not ok:
        raise SystemExit(f"PostgreSQL at {POSTGRES_URL} is not usable: {why}")
    try:
        yield {
            "url": POSTGRES_URL,
            "connect_args": {"options": f"-csearch_path={name}"},
            "where": f"schema {name}",
        }
    finally:
        if keep:
            print(f"  (kept: schema {name})")
        else:
            _psql(f'DROP SCHEMA "{name}" CASCADE')


def fmt_mb(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.1f}"


def print_full(label: str, missions: int, r: dict[str, Any], aim: bool) -> None:
    if r.get("error"):
        print(
            f"  {label:<34} FAILED after {r.get('seconds', 0):.1f} s"
            f" (ru_maxrss Δ {fmt_mb(r.get('maxrss_delta_mb'))} MB,"
            f" VmHWM Δ {fmt_mb(r.get('hwm_delta_mb'))} MB): {r['error']}"
        )
        return
    per_mission = r["seconds"] / missions * 1e6
    line = (
        f"  {label:<34} {r['seconds']:7.1f} s ({per_mission:5.0f} µs/mission,"
        f" {missions / r['seconds']:7,.0f} missions/s)  ru_maxrss Δ {fmt_mb(r['maxrss_delta_mb'])}"
        f" MB, VmHWM Δ {fmt_mb(r['hwm_delta_mb'])} MB"
    )
    if aim:
        line += f"   aim {AIM_FULL_S:.0f} s: {met(r['seconds'] < AIM_FULL_S)}"
    line += ", a batch a transaction" if r.get("stepped") else ", one transaction"
    print(line)


def print_summary(summary: dict[str, Any] | None) -> None:
    if not summary:
        return
    kinds = ", ".join(f"{k} {n:,}" for k, n in summary["by_kind"].items())
    print(
        f"  {'':<34} {summary['missions']:,} missions; {summary['found']:,} anomalies found,"
        f" {summary['opened']:,} opened, {summary['cleared']:,} cleared"
    )
    print(f"  {'':<34} by kind: {kinds}")


def run_backend(label: str, db: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    base = {k: db[k] for k in ("url", "connect_args") if k in db}
    base.update(trucks=args.trucks, per_day=args.missions_per_day_per_truck, days=args.days)
    base["variant"] = args.variant
    print(f"\n== {label} ({db['where']})")
    done = child({**base, "step": "setup"})
    if done.get("error"):
        print(f"  setup failed: {done['error']}")
        return {}
    cuts = sorted({max(1, math.ceil(args.days * p / 100)) for p in args.checkpoints})
    generated, gen_seconds, entries, first = 0, 0.0, 0, 0
    counts: dict[str, int] = {}
    results: dict[str, Any] = {"checkpoints": []}
    for last in cuts:
        print(f"  generating days {first + 1}–{last} …", file=sys.stderr, flush=True)
        g = child({**base, "step": "generate", "first": first, "last": last})
        if g.get("error"):
            print(f"  generation failed: {g['error']}")
            return results
        for k, v in g["counts"].items():
            counts[k] = counts.get(k, 0) + v
        missions_now = counts.get("missions", 0)
        chunk = missions_now - generated
        gen_seconds += g["seconds"]
        entries = sum(v for k, v in counts.items() if k.startswith("entry:"))
        print(
            f"  generated days {first + 1}–{last}: {chunk:,} missions in {g['seconds']:.1f} s"
            f" ({chunk / g['seconds']:,.0f} missions/s; Python {g['python_seconds']:.1f} s"
            + (f", ANALYZE {g['analyse_seconds']:.1f} s" if g["analyse_seconds"] else "")
            + f"); database now {g['size'] / 1e9:.2f} GB"
        )
        generated, first = missions_now, last
        share = 100 * last / args.days
        print(f"  reconciling {share:.0f} % of the year …", file=sys.stderr, flush=True)
        r = child({**base, "step": "full", "fresh": True, "mode": "time"})
        if r.get("prepared"):
            made = r["prepared"]
            print(
                f"  (prototype: indexes {', '.join(made['made'])} created in"
                f" {made['seconds']:.1f} s, before the first run)"
            )
        t = (
            child({**base, "step": "full", "fresh": True, "mode": "trace"})
            if args.trace
            else {"traced_peak_mb": None}
        )
        results["checkpoints"].append((share, missions_now, entries, r, t))
        print_full(
            f"full reconciliation, {share:3.0f} % of year",
            missions_now,
            r,
            aim=last == args.days,
        )
        if t.get("traced_peak_mb") is not None:
            failed = " (which FAILED too, at the same point)" if t.get("error") else ""
            print(
                f"  {'':<34} tracemalloc peak {t['traced_peak_mb']:.1f} MB (a second run{failed})"
            )
        elif t.get("error"):
            print(f"  {'':<34} tracemalloc run FAILED: {t['error']}")
        print_summary(r.get("summary"))
    results["generated"] = (generated, entries, gen_seconds, counts)
    print(
        f"  the year: {generated:,} missions, {entries:,} journal entries"
        f" ({entries / max(generated, 1):.1f} per mission), generated in {gen_seconds:.0f} s"
    )
    print(
        "    entries by type: "
        + ", ".join(
            f"{k[6:]} {v:,}"
            for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
            if k.startswith("entry:")
        )
    )
    print(
        "    missions gone wrong on purpose: "
        + ", ".join(f"{k[8:]} {v:,}" for k, v in sorted(counts.items()) if k.startswith("trouble"))
        + f"; approvals issued {counts.get('approvals issued', 0):,}"
    )
    print("  reconciling again, every anomaly already known …", file=sys.stderr, flush=True)
    again = child({**base, "step": "full", "fresh": False, "mode": "time"})
    results["again"] = again
    print_full("again, all anomalies known", generated, again, aim=True)
    print_summary(again.get("summary"))

    mems = [
        (share, r.get("maxrss_delta_mb"), t.get("traced_peak_mb"))
        for share, _, _, r, t in results["checkpoints"]
        if not r.get("error")
    ]
    if len(mems) >= 2:
        lo, hi = mems[0], mems[-1]
        grow = (hi[1] or 0) - (lo[1] or 0)
        flat = grow < max(10.0, 0.1 * (lo[1] or 0))
        print(
            f"  memory vs the year: ru_maxrss Δ {lo[1]:.0f} MB at {lo[0]:.0f} % →"
            f" {hi[1]:.0f} MB at {hi[0]:.0f} %"
            + (
                f"; tracemalloc peak {lo[2]:.0f} → {hi[2]:.0f} MB"
                if lo[2] is not None and hi[2] is not None
                else ""
            )
            + f"   aim (does not grow with the year): {met(flat)}"
        )
    year_run = results["checkpoints"][-1][3] if results["checkpoints"] else {}
    if generated < A_YEAR and year_run and not year_run.get("error"):
        per_mission = year_run["seconds"] / generated
        guess = per_mission * A_YEAR
        rate = generated / year_run["seconds"]
        print(
            f"  EXTRAPOLATION (not measured): 730,000 missions at {rate:,.0f} missions/s"
            f" → {guess:.0f} s   aim {AIM_FULL_S:.0f} s: {met(guess < AIM_FULL_S)}"
            " (linear; parts that read the whole tenant make it worse)"
        )
        print(
            f"  EXTRAPOLATION (not measured): generating 730,000 missions at"
            f" {generated / gen_seconds:,.0f} missions/s → {A_YEAR * gen_seconds / generated:.0f} s"
        )

    print("  one push …", file=sys.stderr, flush=True)
    p = child({**base, "step": "push"})
    results["push"] = p
    if p.get("error") or "push" not in p:
        print(f"  incremental, one push: FAILED: {p.get('error')}")
    else:
        d = p["push"]
        print(
            f"  incremental, one push of {d['entries']} entries (truck {d['truck']}'s last"
            f" evening, {d['day']}: {d['missions']} missions, {d['cards']} card collections; "
            + ", ".join(f"{k} {v}" for k, v in sorted(d["types"].items()))
            + ")"
        )
        titles = {
            "evening": "day not settled yet (as usual)",
            "late": "day already settled (late sync)",
        }
        for case, c in p["cases"].items():
            if c.get("error") or c.get("median_ms") is None:
                print(f"    {titles[case]:<34} FAILED: {c.get('error')}")
                continue
            print(
                f"    {titles[case]:<34} median {c['median_ms']:8.1f} ms, p90"
                f" {c['p90_ms']:8.1f} ms, min {c['min_ms']:8.1f} ms ({PUSH_RUNS} runs)"
                f"   aim {AIM_PUSH_MS:.0f} ms: {met(c['median_ms'] < AIM_PUSH_MS)}"
            )
            print_phases(c.get("phases") or {}, "      where its time goes (a profiled run):")

    if args.profile:
        print("  profiling the full reconciliation …", file=sys.stderr, flush=True)
        prof = child({**base, "step": "full", "fresh": True, "mode": "profile"})
        results["profile"] = prof
        if prof.get("error"):
            print(f"  profile run FAILED after {prof.get('seconds', 0):.1f} s: {prof['error']}")
        if prof.get("profile"):
            print(
                f"  cProfile of the full reconciliation ({prof['seconds']:.1f} s under the"
                " profiler), top 15 by cumulative time:"
            )
            for line in prof["profile"]["cumulative"].splitlines():
                print("    " + line)
            print("  top 12 by own time:")
            for line in prof["profile"]["tottime"].splitlines():
                print("    " + line)
            print_phases(prof.get("phases") or {}, "  the reconciliation's own functions:")
    return results


def print_phases(found: dict[str, Any], title: str) -> None:
    if not found:
        return
    print(title)
    indent = " " * (len(title) - len(title.lstrip()) + 2)
    for name in PHASES:
        if name in found:
            calls, seconds = found[name]
            print(f"{indent}{name:<22} {seconds * 1000:10.1f} ms cumulative, {calls:>8,} calls")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--trucks", type=int, default=50, help="default 50 (a 200-truck year is extrapolated)"
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--missions-per-day-per-truck", type=int, default=10)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument(
        "--checkpoints",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[25, 50, 100],
        help="percents of the year to reconcile at (default 25,50,100)",
    )
    parser.add_argument(
        "--no-trace", dest="trace", action="store_false", help="skip the tracemalloc runs"
    )
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", help="skip the cProfile run"
    )
    parser.add_argument(
        "--variant",
        default="server",
        help="`server` (server/office/reconcile.py) or the path of a prototype copy to measure",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    if args.days > 365:
        parser.error("--days: at most 365 (the example contracts are valid in 2026)")
    if args.variant != "server":
        args.variant = str(Path(args.variant).resolve())
    missions = args.trucks * args.days * args.missions_per_day_per_truck
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU;"
        " reconciliation:",
        "server/office/reconcile.py" if args.variant == "server" else args.variant,
    )
    print(
        f"A year of {args.trucks} trucks × {args.days} days × {args.missions_per_day_per_truck}"
        f" missions = {missions:,} missions"
        + ("" if missions >= A_YEAR else f" (a year of 200 trucks is {A_YEAR:,})")
    )
    if args.database in ("sqlite", "both"):
        with sqlite_database(args.keep) as db:
            run_backend("SQLite", db, args)
    if args.database in ("postgresql", "both"):
        with postgres_database(args.keep) as db:
            run_backend("PostgreSQL", db, args)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == CHILD:
        child_main(sys.argv[2])
    else:
        main()
