"""A reconnect storm against gunicorn on 127.0.0.1: N tablets, each with 50 signed entries
(8 missions valued and closed, so the server issues their invoices, and one under way),
open a session and push at once, `--concurrency` at a time.

Prints, per database: throughput (entries/s, tablets/s), the p50/p95/max latencies of
opening a session and of a push, errors, then — once the job queue has drained — entries
lost or doubled, invoices doubled, gaps in the invoice numbers, and whether every
invoice's PDF exists. Figures, printed; never a timed test (tests/test_storm.py runs the
smallest form and asserts only what must hold).

Usage: python bench/storm.py [--tablets 50|500] [--workers 4] [--concurrency 32]
       [--backend sqlite|postgresql|both] [--jobs thread|worker|redis] [--worker-nice 10]
Loopback only, a free port; bounded in count (--tablets ≤ 2000) and time (--deadline).
PostgreSQL: TOWLINE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
in a schema of its own, dropped afterwards. Redis (--jobs redis): TOWLINE_BENCH_REDIS_URL
(default redis://127.0.0.1:6379/0), a queue of its own, emptied afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from server import demo  # noqa: E402
from server.devices import tablets  # noqa: E402
from server.platform import jobs  # noqa: E402
from server.platform.db import make_engine, upgrade  # noqa: E402
from server.platform.tables import (  # noqa: E402
    document_files,
    documents,
    journal_entries,
    number_series,
)
from shared import journal, signing  # noqa: E402
from shared.contract_schema import load_contract  # noqa: E402
from shared.mission import load_mission  # noqa: E402
from shared.valuation import value  # noqa: E402
from sync.client import SyncClient  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TOWLINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TOWLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ENTRIES = 50
CLOSED = 8  # missions closed per tablet (6 entries each), then 2 steps of a ninth
STEPS = ("assigned", "en_route", "on_site", "departed", "delivered", "closed")
KINDS = (("assist-a", "a-tuesday-30km"), ("private", "private-tow"))
MAX_TABLETS = 2000


def example(kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "examples" / kind / f"{name}.json").read_text("utf-8")))


@dataclass
class Tablet:
    device_id: str
    key: signing.PrivateKey
    driver_id: str
    entries: list[journal.SignedEntry] = field(default_factory=list)
    invoices: int = 0  # payer shares above zero among its closed missions


@dataclass
class Outcome:
    session: float | None = None
    push: float | None = None
    error: str | None = None


@dataclass
class Report:
    label: str
    tablets: int
    wall: float
    outcomes: list[Outcome]
    drained: float | None
    checks: dict[str, Any]

    @property
    def errors(self) -> list[str]:
        return [o.error for o in self.outcomes if o.error]


# --- the data ---------------------------------------------------------------------------------


_VALUED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def _valued(kind: int, mission_id: str, call: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    contract_name, mission_name = KINDS[kind]
    document = {**example("missions", mission_name), "id": mission_id}
    document["file_number"] = f"STORM-{mission_id}"
    document["times"] = {"call": call.isoformat()}
    wire = value(load_mission(document), load_contract(example("contracts", contract_name)))
    return document, wire.to_wire()


def entries_for(tablet: Tablet, index: int, start: datetime) -> None:
    """50 entries a millisecond apart from `start` (after its enrolment: honest dates)."""
    head = journal.genesis(tablet.device_id)
    at = start
    call = start - timedelta(hours=2)

    def add(type_: str, payload: dict[str, Any]) -> None:
        nonlocal head, at
        at += timedelta(milliseconds=1)
        signed = journal.append(
            head,
            type=type_,
            at=journal.utc_timestamp(at),
            driver_id=tablet.driver_id,
            payload=payload,
            private_key=tablet.key,
        )
        tablet.entries.append(signed)
        head = signed.head

    for m in range(CLOSED + 1):
        mission_id = f"S{index:04d}-{m}"
        if m == CLOSED:  # one under way
            for before, after in itertools.pairwise(STEPS[:3]):
                add("mission_step", {"mission_id": mission_id, "from": before, "to": after})
            break
        document, wire = _valued(m % 2, mission_id, call)
        add(
            "valuation_recorded", {"mission_id": mission_id, "valuation": wire, "mission": document}
        )
        tablet.invoices += sum(
            Decimal(wire["payers"][p]["incl_vat"]) > 0 for p in ("ordering_party", "beneficiary")
        )
        for before, after in itertools.pairwise(STEPS):
            add("mission_step", {"mission_id": mission_id, "from": before, "to": after})
    assert len(tablet.entries) == ENTRIES


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'towline.db'}"
        return
    schema = f"storm_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def servers(
    url: str,
    folder: Path,
    *,
    workers: int,
    jobs_mode: str,
    queue: str,
    threads: int = 1,
    worker_nice: int = 0,
) -> Iterator[str]:
    """gunicorn with `workers` processes and, unless the jobs run in its threads, one
    `towline-server worker` beside it (its CPU priority lowered by `worker_nice`, as
    docs/operations.md's unit does); stopped (SIGTERM) on the way out."""
    port = free_port()
    env = {
        **os.environ,
        "TOWLINE_DATABASE_URL": url,
        "TOWLINE_VAR_DIR": str(folder / "var"),
        "TOWLINE_SECRET_KEY": "storm-secret",
        "TOWLINE_JOBS": jobs_mode,
        "TOWLINE_JOBS_REDIS_URL": REDIS_URL,
        "TOWLINE_JOBS_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    bin_dir = Path(sys.executable).parent
    processes = [
        subprocess.Popen(
            [str(bin_dir / "gunicorn"), "-w", str(workers), "--threads", str(threads),
             "-b", f"127.0.0.1:{port}", "--timeout", "300", "--graceful-timeout", "30",
             "server.app:create_app()"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    ]  # fmt: skip
    if jobs_mode in ("worker", "redis"):
        command = [str(bin_dir / "towline-server"), "worker", "--database", url]
        if worker_nice:
            command = ["nice", "-n", str(worker_nice), *command]
        command += ["--var-dir", str(folder / "var")]
        if jobs_mode == "redis":
            command += ["--redis", REDIS_URL, "--queue", queue]
        processes.append(
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # up to a minute or two to start, on a busy machine
            try:
                if requests.get(f"{base}/api/v1/openapi.json", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start: see {folder / 'server.log'}")
        yield base
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


# --- the storm --------------------------------------------------------------------------------


def enrol_all(base: str, engine: sa.Engine, count: int, concurrency: int) -> list[Tablet]:
    now = datetime.now(UTC)
    drivers = [d[0] for d in demo.DRIVERS]
    with engine.begin() as conn:
        codes = [
            tablets.create_enrolment_code(
                conn, demo.TENANT, [drivers[i % len(drivers)]], f"storm {i}", created_by="storm",
                now=now,
            )["code"]
            for i in range(count)
        ]  # fmt: skip

    def enrol(index: int) -> Tablet:
        key = signing.private_key_from_bytes(uuid.uuid4().bytes + uuid.uuid4().bytes)
        public = signing.public_key_to_bytes(key.public_key()).hex()
        client = SyncClient(base, timeout=(5, 120))
        device = client.enrol(base, codes[index], public, f"storm {index}").device_id
        return Tablet(device, key, drivers[index % len(drivers)])

    with ThreadPoolExecutor(concurrency) as pool:
        made = list(pool.map(enrol, range(count)))
    start = datetime.now(UTC)
    for index, tablet in enumerate(made):
        entries_for(tablet, index, start)
    return made


def reconnect(base: str, tablet: Tablet) -> Outcome:
    """What a tablet does when the network comes back: a session, then its push."""
    outcome = Outcome()
    client = SyncClient(base, device_id=tablet.device_id, timeout=(10, 300), retries=2)
    try:
        started = time.perf_counter()
        client.open_session(tablet.key)
        outcome.session = time.perf_counter() - started
        started = time.perf_counter()
        ack = client.push(tablet.entries)
        outcome.push = time.perf_counter() - started
        if ack is None or ack.seq != ENTRIES:
            outcome.error = f"acknowledged {ack}"
    except Exception as exc:  # counted, printed: the storm goes on
        outcome.error = f"{type(exc).__name__}: {exc}"[:200]
    return outcome


def wait_drained(engine: sa.Engine, deadline: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        with engine.connect() as conn:
            counts = jobs.counts(conn)
        if counts["pending"] == 0 and counts["running"] == 0:
            return time.perf_counter() - started
        time.sleep(0.5)
    return None


def check(engine: sa.Engine, made: list[Tablet]) -> dict[str, Any]:
    tenant = demo.TENANT
    storm = documents.c.mission_id.like("S%")
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).where(
                journal_entries.c.tenant_id == tenant,
                journal_entries.c.device_id.in_([t.device_id for t in made]),
            )
        ).scalar_one()
        doubled = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(documents.c.mission_id, documents.c.recipient_kind)
                .where(documents.c.tenant_id == tenant, documents.c.kind == "invoice", storm)
                .group_by(documents.c.mission_id, documents.c.recipient_kind)
                .having(sa.func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        invoices = conn.execute(
            sa.select(sa.func.count()).where(
                documents.c.tenant_id == tenant, documents.c.kind == "invoice", storm
            )
        ).scalar_one()
        gaps = 0
        for series, last in conn.execute(
            sa.select(number_series.c.series, number_series.c.last_seq).where(
                number_series.c.tenant_id == tenant
            )
        ):
            seqs = set(
                conn.execute(
                    sa.select(documents.c.seq).where(
                        documents.c.tenant_id == tenant, documents.c.series == series
                    )
                ).scalars()
            )
            gaps += len(set(range(1, int(last) + 1)) - seqs) + len(seqs - set(range(1, last + 1)))
        without_pdf = conn.execute(
            sa.select(sa.func.count()).where(
                documents.c.tenant_id == tenant,
                sa.func.length(documents.c.pdf) == 0,
                ~sa.exists().where(
                    document_files.c.tenant_id == documents.c.tenant_id,
                    document_files.c.number == documents.c.number,
                ),
            )
        ).scalar_one()
        failed_jobs = jobs.counts(conn)["failed"]
    sent = len(made) * ENTRIES
    return {
        "entries_sent": sent,
        "entries_stored": int(stored),
        "lost": max(sent - int(stored), 0),
        "invoices_expected": sum(t.invoices for t in made),
        "invoices": int(invoices),
        "invoices_doubled": int(doubled),
        "number_gaps": gaps,
        "documents_without_pdf": int(without_pdf),
        "jobs_failed": int(failed_jobs),
    }


def storm(
    backend: str,
    *,
    tablets_count: int,
    workers: int,
    concurrency: int,
    jobs_mode: str,
    deadline_s: float,
    threads: int = 1,
    worker_nice: int = 0,
) -> Report:
    folder = Path(tempfile.mkdtemp(prefix="towline-storm-"))
    queue = f"towline-storm-{uuid.uuid4().hex[:8]}"
    try:
        with database(backend, folder) as url:
            engine = make_engine(url)
            upgrade(engine)
            with engine.begin() as conn:
                demo.seed(conn, datetime.now(UTC))
            with servers(
                url,
                folder,
                workers=workers,
                jobs_mode=jobs_mode,
                queue=queue,
                threads=threads,
                worker_nice=worker_nice,
            ) as base:
                made = enrol_all(base, engine, tablets_count, min(concurrency, 16))
                deadline = time.perf_counter() + deadline_s
                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    futures = [pool.submit(reconnect, base, t) for t in made]
                    outcomes = [f.result() for f in as_completed(futures)]
                wall = time.perf_counter() - started
                drained = wait_drained(engine, deadline)
                checks = check(engine, made)
            engine.dispose()
            return Report(backend, tablets_count, wall, outcomes, drained, checks)
    finally:
        if jobs_mode == "redis":
            _empty_queue(queue)
        shutil.rmtree(folder, ignore_errors=True)


def _empty_queue(name: str) -> None:
    from server.platform import job_redis

    target = job_redis.queue(REDIS_URL, name)
    target.empty()
    target.delete(delete_jobs=True)
    leftovers = target.connection.keys(f"rq:*:{name}*")
    target.connection.delete(f"rq:job:{job_redis.SWEEP_ID}-{name}", *leftovers)


# --- printing ---------------------------------------------------------------------------------


def _quantiles(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s"


def show(report: Report) -> None:
    entries = report.tablets * ENTRIES
    sessions = [o.session for o in report.outcomes if o.session is not None]
    pushes = [o.push for o in report.outcomes if o.push is not None]
    c = report.checks
    print(f"{report.label}: {report.tablets} tablets × {ENTRIES} entries")
    print(
        f"  storm      {report.wall:.1f} s: {entries / report.wall:,.0f} entries/s, "
        f"{report.tablets / report.wall:.1f} tablets/s"
    )
    print(f"  session    {_quantiles(sessions)}")
    print(f"  push       {_quantiles(pushes)}")
    print(
        f"  errors     {len(report.errors)}" + (f" ({report.errors[0]})" if report.errors else "")
    )
    drained = "not within the deadline" if report.drained is None else f"{report.drained:.1f} s"
    print(f"  queue      drained {drained} after the storm")
    print(
        f"  lost {c['lost']}, entries stored {c['entries_stored']}/{c['entries_sent']}; "
        f"invoices {c['invoices']}/{c['invoices_expected']}, doubled {c['invoices_doubled']}, "
        f"number gaps {c['number_gaps']}"
    )
    missing = c["documents_without_pdf"]
    pdfs = "every invoice has its PDF" if missing == 0 else f"{missing} documents without a PDF"
    print(f"  PDFs       {pdfs}; jobs failed {c['jobs_failed']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tablets", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (>1: gthread)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="tablets at a time")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--jobs", choices=["thread", "worker", "redis"], default="thread")
    parser.add_argument("--deadline", type=float, default=900, help="seconds, storm and drain")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        choices=range(20),
        metavar="0-19",
        help="with --jobs worker or redis, the worker's nice value (default 10, as "
        "docs/operations.md's unit: PDFs are rendered with the CPU the pushes leave; 0: the "
        "same priority, as the runs before this option)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.tablets <= MAX_TABLETS:
        parser.error(f"--tablets between 1 and {MAX_TABLETS}")
    print(
        f"gunicorn -w {args.workers} --threads {args.threads}, jobs: {args.jobs}"
        + (f" (worker at nice {args.worker_nice}), " if args.jobs != "thread" else ", ")
        + f"{args.concurrency} tablets at a time "
        f"(a 2-core machine shared with other runs: figures are noisy)"
    )
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        show(
            storm(
                backend,
                tablets_count=args.tablets,
                workers=args.workers,
                concurrency=args.concurrency,
                jobs_mode=args.jobs,
                deadline_s=args.deadline,
                threads=args.threads,
                worker_nice=args.worker_nice,
            )
        )


if __name__ == "__main__":
    main()
