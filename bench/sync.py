"""Sync speed over real HTTP on 127.0.0.1, on SQLite and on PostgreSQL.

Prints, per backend:
- push: 10,000 signed journal entries from one device, in batches of 500 (aim: 20,000
  entries/s into SQLite, 10,000 into PostgreSQL): hashes, links and each batch's last
  signature verified by the push, every entry's own by the back-check after it
  (docs/sync-protocol.md "Signatures"); the jobs wait while the push is timed;
- signatures: the same 10,000 signatures verified alone, in process, and what they would
  add to the push's time if it verified them inline;
- back-check: the `check_signatures` jobs the push asked for, done one after the other
  in process (reading the entries back, verifying, marking each job done): their rate;
- replay: the same push again, every entry acknowledged as already stored;
- pull: 10,000 changes, pages of 1,000 (aim: under 0.1 s);
- empty pull: an incremental pull with nothing new, server time measured in process
  (aim: under 5 ms).

Usage: python bench/sync.py [--entries N] [--changes N] [--backend sqlite|postgresql|both]
PostgreSQL: TOWLINE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
in a schema of its own, dropped afterwards. Figures, printed; never a timed test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from server import demo  # noqa: E402
from server.app import create_app  # noqa: E402
from server.devices import signature_checks  # noqa: E402
from server.platform import changes, jobs  # noqa: E402
from server.platform.db import make_engine, upgrade  # noqa: E402
from shared import journal, signing  # noqa: E402
from sync.client import SyncClient  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TOWLINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def entries_for(
    device_id: str, key: signing.PrivateKey, count: int, start: datetime
) -> list[journal.SignedEntry]:
    """Entries a millisecond apart from `start`: dated as an honest tablet would, so the
    server's date checks find nothing (they would cost an anomaly per batch)."""
    head, out = journal.genesis(device_id), []
    for n in range(count):
        at = journal.utc_timestamp(start + timedelta(milliseconds=n))
        payload = {"mission_id": f"M-{n % 50:04d}", "from": "on_site", "to": "departed"}
        signed = journal.append(
            head, type="mission_step", at=at, driver_id="d1", payload=payload, private_key=key
        )
        out.append(signed)
        head = signed.head
    return out


def run(label: str, url: str, entries: int, change_count: int, connect_args: dict) -> None:
    engine = make_engine(url, **({"connect_args": connect_args} if connect_args else {}))
    upgrade(engine)
    with engine.begin() as conn:  # at the real time: the server checks codes with its clock
        seeded = demo.seed(conn, datetime.now(UTC))
    folder = Path(tempfile.mkdtemp(prefix="towline-bench-"))
    # No job thread: the back-check is timed on its own, after the push.
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(folder), "SECRET_KEY": "bench", "JOBS": "worker"}
    )
    http = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_port}"
    try:
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        private = signing.private_key_from_bytes(key.private_bytes_raw())
        client = SyncClient(base)
        code = next(c["code"] for c in seeded.codes if c["driver_ids"] == ["d1"])
        device = client.enrol(base, code, public, "bench").device_id
        client.open_session(private)
        batch = entries_for(device, private, entries, datetime.now(UTC))

        start = time.perf_counter()
        client.push(batch)
        pushed = time.perf_counter() - start
        start = time.perf_counter()
        client.push(batch)
        replayed = time.perf_counter() - start

        context = jobs.Context(engine, lambda: None, lambda: datetime.now(UTC))
        start = time.perf_counter()
        checks = 0
        while jobs.run_one(context) is not None:
            checks += 1
        back_checked = time.perf_counter() - start
        with engine.connect() as conn:
            assert signature_checks.pending(conn, "demo") == [], "back-check not drained"

        device_key = signing.public_key_of(private)
        start = time.perf_counter()
        for signed in batch:
            signing.verify(device_key, bytes.fromhex(signed.sig), bytes.fromhex(signed.hash))
        verifying = time.perf_counter() - start

        with engine.begin() as conn:  # the feed: contracts and missions already, then more
            cursor = conn.execute(
                changes.changes.select().with_only_columns(
                    changes.sa.func.max(changes.changes.c.seq)
                )
            ).scalar_one()
            for n in range(change_count):
                changes.record(conn, "demo", "mission", f"B-{n}", {"n": n}, scope=None, now=NOW)
        got: list[int] = []
        start = time.perf_counter()
        final = client.pull(cursor, lambda page, _c: got.append(len(page)), limit=1000)
        pulled = time.perf_counter() - start

        token = client.token
        test = app.test_client()
        timings = []
        for _ in range(200):
            start = time.perf_counter()
            answer = test.post(
                "/api/v1/sync/pull",
                json={"cursor": final},
                headers={"Authorization": f"Bearer {token}"},
            )
            timings.append(time.perf_counter() - start)
            assert answer.status_code == 200 and answer.get_json()["changes"] == []

        print(f"{label}:")
        print(f"  push   {entries:,} entries in {pushed:.2f} s: {entries / pushed:,.0f} entries/s")
        print(
            f"  signatures {entries:,} verified alone in {verifying:.2f} s "
            f"({verifying / entries * 1e6:.0f} µs each, {entries / verifying:,.0f}/s): "
            f"inline, they would add {verifying / pushed:.0%} to the push's time"
        )
        print(
            f"  back-check {checks} job(s), {entries:,} signatures in {back_checked:.2f} s: "
            f"{entries / back_checked:,.0f} entries/s"
        )
        print(
            f"  replay {entries:,} entries in {replayed:.2f} s: {entries / replayed:,.0f} entries/s"
        )
        print(f"  pull   {sum(got):,} changes in {pulled * 1000:.0f} ms ({len(got)} pages)")
        print(
            f"  empty pull, server time: median {statistics.median(timings) * 1000:.2f} ms, "
            f"p95 {sorted(timings)[int(len(timings) * 0.95)] * 1000:.2f} ms"
        )
    finally:
        http.shutdown()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="towline-bench-"))
        run("SQLite", f"sqlite:///{folder / 'towline.db'}", args.entries, args.changes, {})
    if args.backend in ("postgresql", "both"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            run(
                "PostgreSQL",
                POSTGRES_URL,
                args.entries,
                args.changes,
                {"options": f"-csearch_path={schema}"},
            )
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
