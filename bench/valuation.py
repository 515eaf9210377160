"""Valuation speed, and digest identity across processes.

Prints:
- valuations per second on one core for ASSIST-A-like missions (aim: 20,000/s);
- a digest-identity check: 10,000 random missions valued here and in a second Python
  process (as the tablet and the server would), digests compared one by one.

Usage: python bench/valuation.py [--missions N] [--seconds S] [--seed K]
A figure, printed; never a timed test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.contract_schema import load_contract  # noqa: E402
from shared.mission import load_mission  # noqa: E402
from shared.valuation import value  # noqa: E402

CONTRACT = json.loads((ROOT / "examples" / "contracts" / "assist-a.json").read_text("utf-8"))


def random_missions(count: int, seed: int) -> list[dict[str, object]]:
    """ASSIST-A-like missions: any day of 2026, any hour, 0-200 km, accident or not."""
    rng = random.Random(seed)
    missions = []
    for n in range(count):
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        hour, minute = rng.randint(0, 23), rng.choice((0, 15, 30, 45))
        services = [{"code": "TOW"}]
        if rng.random() < 0.3:
            services.append({"code": "WIN"})
        if rng.random() < 0.1:
            services.append({"code": "TOLL", "amount": f"{rng.randint(100, 4000) / 100:.2f}"})
        missions.append(
            {
                "id": f"M-{n:06d}",
                "file_number": f"A-{n // 2:06d}",
                "file_sequence": 1 + n % 2,
                "ordering_party": "ASSIST-A",
                "vehicle": {"plate": "AA-000-AA", "class": rng.choice(("VL", "VLP"))},
                "times": {"call": f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+01:00"},
                "distance_km": {
                    "en_route": str(rng.randint(0, 40)),
                    "loaded": str(rng.randint(0, 200)),
                },
                "facts": {"accident": rng.random() < 0.25},
                "services": services,
            }
        )
    return missions


def digests(count: int, seed: int) -> list[str]:
    contract = load_contract(CONTRACT)
    return [value(load_mission(m), contract).digest for m in random_missions(count, seed)]


def throughput(seconds: float, seed: int) -> tuple[int, float]:
    contract = load_contract(CONTRACT)
    missions = [load_mission(m) for m in random_missions(2_000, seed)]
    for m in missions[:200]:  # warm caches (holidays per year, time zones)
        value(m, contract)
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for m in missions:
            value(m, contract)
        done += len(missions)
    return done, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--missions", type=int, default=10_000, help="missions for the digest check"
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure speed")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--print-digests", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.print_digests:
        sys.stdout.write("\n".join(digests(args.missions, args.seed)))
        return

    done, elapsed = throughput(args.seconds, args.seed)
    print(f"valuations per second (one core): {done / elapsed:,.0f}  (aim: 20,000)")
    print(
        f"  {done:,} ASSIST-A-like valuations in {elapsed:.2f} s, "
        f"{elapsed / done * 1e6:.1f} µs each"
    )

    here = digests(args.missions, args.seed)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--print-digests",
            "--missions",
            str(args.missions),
            "--seed",
            str(args.seed),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    there = child.stdout.split("\n")
    same = sum(a == b for a, b in zip(here, there, strict=True))
    distinct = len(set(here))
    summary = hashlib.sha256("".join(here).encode()).hexdigest()[:16]
    print(
        f"digest identity across two processes: {same:,}/{len(here):,} identical "
        f"({distinct:,} distinct valuations; digest of digests {summary})"
    )
    if same != len(here):
        sys.exit(1)


if __name__ == "__main__":
    main()
