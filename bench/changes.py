"""The cost of "anything new for me?" (GET /api/v1/sync/changes), on SQLite and PostgreSQL.

A tablet with network asks it every 5 seconds (docs/sync-protocol.md "Anything new?").
The feed is filled with 1 tablet's and then 200 tablets' worth of changes (each tablet's
driver with --per-tablet changes of its own, interleaved), then one enrolled tablet asks,
through the app in process (server time, no socket), --runs times each:
- idle: nothing after its cursor (204);
- others moved: the last 199 changes are other tablets' (204, the cursor skips them);
- news: the last change is its own (200).
Prints median and 95th percentile in milliseconds. Figures, printed; never a timed test.

Usage: python bench/changes.py [--runs N] [--per-tablet N] [--backend sqlite|postgresql|both]
PostgreSQL: TOWLINE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ holds a sync.py: the repository's root comes first

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from server import demo  # noqa: E402
from server.app import create_app  # noqa: E402
from server.platform import changes  # noqa: E402
from server.platform.db import make_engine, upgrade  # noqa: E402
from shared import signing  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from tests.wsgi_faults import URL, WsgiFaults, session  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TOWLINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
ME = "d1"  # the enrolled tablet's driver


def fill(engine: object, tablets: int, per_tablet: int) -> int:
    """Each tablet's driver gets `per_tablet` changes, interleaved; returns the last seq."""
    last = 0
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for n in range(per_tablet):
            for t in range(tablets):
                scope = ME if t == 0 else f"bench-{t}"
                data = {"n": n}
                last = changes.record(
                    conn, "demo", "mission", f"B-{t}-{n}", data, scope=scope, now=NOW
                )
    return last


def timed(test: object, token: str, since: int, expect: int, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = test.get(  # type: ignore[attr-defined]
            f"/api/v1/sync/changes?since={since}", headers={"Authorization": f"Bearer {token}"}
        )
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == expect, (answer.status_code, answer.get_data())
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (runs - 1)))]


def run(label: str, url: str, runs: int, per_tablet: int, connect_args: dict) -> None:
    engine = make_engine(url, **({"connect_args": connect_args} if connect_args else {}))
    upgrade(engine)
    with engine.begin() as conn:
        seeded = demo.seed(conn, datetime.now(UTC))
    folder = Path(tempfile.mkdtemp(prefix="towline-bench-"))
    app = create_app({"ENGINE": engine, "VAR_DIR": str(folder), "SECRET_KEY": "bench"})
    try:
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        private = signing.private_key_from_bytes(key.private_bytes_raw())
        client = SyncClient(URL, session=session(WsgiFaults(app)))
        code = next(c["code"] for c in seeded.codes if c["driver_ids"] == [ME])
        client.device_id = client.enrol(URL, code, public, "bench").device_id
        client.open_session(private)
        assert client.token
        test = app.test_client()
        print(f"{label}:")
        done = 0
        for tablets in (1, 200):
            start = time.perf_counter()
            last = fill(engine, tablets, per_tablet)
            done += tablets * per_tablet
            filled = time.perf_counter() - start
            print(f"  {tablets} tablet(s): {done:,} changes in the feed ({filled:.1f} s to fill)")
            cases = [("idle", last, 204)]
            if tablets > 1:  # the last round's changes: its own first, then 199 others'
                cases.append(("others moved", last - (tablets - 1), 204))
            cases.append(("news", last - tablets, 200))
            for name, since, expect in cases:
                median, p95 = timed(test, client.token, since, expect, runs)
                print(f"    {name:<13} {expect}  median {median:6.2f} ms  p95 {p95:6.2f} ms")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--per-tablet", type=int, default=100)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="towline-bench-"))
        run("SQLite", f"sqlite:///{folder / 'towline.db'}", args.runs, args.per_tablet, {})
    if args.backend in ("postgresql", "both"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            run(
                "PostgreSQL",
                POSTGRES_URL,
                args.runs,
                args.per_tablet,
                {"options": f"-csearch_path={schema}"},
            )
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
