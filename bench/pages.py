"""Page speed: the office desk and the driver's screen after the demo's simulated day.

Builds what `make run` builds, in a temporary folder (SQLite database, demo tenant, the
simulated day of three tablets played against a real HTTP server), then requests each
main page of the desk (signed in as `bureau`) and of Karim's screen over HTTP, several
times, and prints the server's answer time per page: median, 95th percentile and max,
in milliseconds, with the page's size. No aim is set by the issue beyond "fast on a
tablet"; a page under 100 ms on this machine is the house's own bar.

Figures, printed; never a timed test. Usage:
    python bench/pages.py [--runs N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description="Page speed of the desk and the screen.")
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
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
