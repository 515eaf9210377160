"""Reconciliation speed: a year of a towing company, on SQLite and on PostgreSQL.

Generates the year directly into the database (bulk inserts; COPY on PostgreSQL), not
through the push endpoint: a tenant with the example contracts, one tablet and one driver
per truck, and every day of every truck the register opened, the missions (each with the
tablet's and the server's valuation rows, a `valuation_recorded` entry, three or four
steps, its collections, now and then a discount or a "bill later" approved by a code the
office issued, in the audit log) and the register closed; the card-terminal settlements
imported for each period. A few percent of the missions go wrong the ways the anomaly
catalogue knows (fictitious, over- and under-collection, gate bypassed, discount without
approval, approval reused, file cap, dispute, card unmatched, register variance), so the
rules do real work. Hashes chain and bodies are canonical; signatures are well-formed hex
but not real (reconciliation does not verify them).

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
10 minutes per backend on 2 CPUs (a year of 200 trucks takes about 4 minutes per full
reconciliation on SQLite, and the bench runs several). The time for 730,000 missions is
then printed as an EXTRAPOLATION (linear, from the largest measured size), said to be one;
`--trucks 200` measures it.

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

POSTGRES_URL = os.environ.get(
    "TOWLINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
EXAMPLES = ROOT / "examples"
TENANT = "bench"
YEAR = 2026  # the example contracts are valid from 2026-01-01 to 2026-12-31
SEED = 2026
A_YEAR = 730_000  # missions of 200 trucks × 365 days × 10
AIM_FULL_S = 60.0
AIM_PUSH_MS = 50.0
PUSH_ENTRIES = 50
PUSH_RUNS = 20
CHILD = "--child"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ================================================================================================
# The year (runs in a child process)
# ================================================================================================

# Example missions by what the beneficiary owes under their contract.
A_OWES = ("a-tuesday-winching-breakdown", "a-saturday-accident-winching")
A_COVERED = ("a-tuesday-30km", "a-tuesday-80km", "a-tuesday-evening", "a-bastille-day")
B_OWES = ("b-tuesday-80km", "b-tuesday-30km-file-consumed")
P_OWES = ("private-tow",)
CONTRACT_OF = {"A": "assist-a", "B": "assist-b", "P": "private"}

# Per mission, what goes wrong (the rest is clean); rates of all missions.
TROUBLE = (
    ("fictitious", 0.004),  # cash taken on a mission the assistance covers in full
    ("over", 0.004),  # a card payment of 4.00 beyond what was due
    ("under", 0.006),  # a tampered tablet valued lower and collected that
    ("gate", 0.003),  # departed without collecting
    ("no_approval", 0.003),  # a discount citing a code never issued
    ("reused", 0.001),  # a discount citing the code of another mission
    ("file_cap", 0.003),  # a file's cap consumed twice offline
    ("dispute", 0.003),  # the driver disputes the price
    ("reversal", 0.004),  # a card payment reversed and taken again in cash (clean)
)
DISCOUNT_RATE, DEFERRAL_RATE = 0.04, 0.02  # of missions with money due, approved
CARD_UNMATCHED = 0.01  # card payments missing from the imported settlements
REGISTER_SHORT = 0.05  # registers closed 0.50 short
FOUR_STEPS = 0.85  # the others are not delivered yet (three steps)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def code_for(number: int) -> str:
    """A well-formed approval code (Crockford base32, 10 characters), one per number."""
    out = []
    for _ in range(10):
        number, digit = divmod(number, 32)
        out.append(CROCKFORD[digit])
    return "".join(reversed(out))


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Template:
    """One example mission valued by the core, as canonical text with placeholders for
    the mission's id, file number and call time (the valuation's digest is the example's:
    reconciliation does not check it)."""

    def __init__(
        self, kind: str, name: str, server: dict[str, Any], device: dict[str, Any] | None = None
    ) -> None:
        doc = json.loads((EXAMPLES / "missions" / f"{name}.json").read_text("utf-8"))
        doc["id"] = "@MID@"
        doc["file_number"] = "@FILE@" if doc.get("file_number") else None
        doc["times"]["call"] = "@CALL@"
        self.kind, self.name = kind, name
        self.doc = canonical(doc)
        device = device or server
        self.server, self.device = self._text(server), self._text(device)
        self.server_digest, self.device_digest = server["digest"], device["digest"]
        self.server_due = _due(server)
        self.device_due = _due(device)

    @staticmethod
    def _text(wire: dict[str, Any]) -> str:
        return canonical({**wire, "mission_id": "@MID@"})


def _due(wire: dict[str, Any]) -> int:
    units, cents = str(wire["payers"]["beneficiary"]["incl_vat"]).split(".")
    return int(units) * 100 + int(cents)


def templates() -> dict[str, list[Template]]:
    from decimal import Decimal

    from shared.contract_schema import load_contract
    from shared.mission import load_mission
    from shared.valuation import ValuationContext, value

    contracts = {
        name: load_contract(json.loads((EXAMPLES / "contracts" / f"{name}.json").read_text()))
        for name in CONTRACT_OF.values()
    }

    def valued(kind: str, name: str, consumed: str = "0") -> dict[str, Any]:
        doc = json.loads((EXAMPLES / "missions" / f"{name}.json").read_text("utf-8"))
        context = ValuationContext(Decimal(consumed))
        return value(load_mission(doc), contracts[CONTRACT_OF[kind]], context).to_wire()

    out: dict[str, list[Template]] = {
        "A_owes": [Template("A", n, valued("A", n)) for n in A_OWES],
        "A_covered": [Template("A", n, valued("A", n)) for n in A_COVERED],
        "B": [Template("B", n, valued("B", n)) for n in B_OWES],
        "P": [Template("P", n, valued("P", n)) for n in P_OWES],
    }
    # A tampered tablet that asks half of what is due (under-collection).
    under = []
    for t in out["A_owes"] + out["P"]:
        server = valued(t.kind, t.name)
        device = json.loads(json.dumps(server))
        device["payers"]["beneficiary"]["incl_vat"] = money(t.server_due // 2)
        device["digest"] = "0" * 64
        under.append(Template(t.kind, t.name, server, device))
    out["under"] = under
    # Missions of one file valued offline at once: the server knows the cap was consumed.
    cap_name = B_OWES[0]
    out["file_cap"] = [
        Template("B", cap_name, valued("B", cap_name, "250.00"), valued("B", cap_name))
    ]
    if out["file_cap"][0].server_due <= out["file_cap"][0].device_due:
        raise RuntimeError("the file-cap template does not raise the beneficiary's due")
    return out


class Rows:
    """What one flush inserts, as tuples in each table's column order."""

    JOURNAL = (
        "device_id",
        "seq",
        "tenant_id",
        "type",
        "at",
        "driver_id",
        "mission_id",
        "hash",
        "prev_hash",
        "sig",
        "body",
        "received_at",
    )
    MISSIONS = (
        "tenant_id",
        "id",
        "file_number",
        "ordering_party_id",
        "driver_id",
        "document",
        "status",
        "source",
        "created_at",
        "created_by",
    )
    VALUATIONS = (
        "tenant_id",
        "mission_id",
        "source",
        "device_id",
        "entry_seq",
        "digest",
        "beneficiary_due_cents",
        "body",
        "created_at",
    )
    AUDIT = ("tenant_id", "actor", "action", "target", "reason", "detail", "at")
    LINES = ("settlement_id", "line_no", "tenant_id", "day", "terminal_ref", "amount_cents")

    def __init__(self) -> None:
        self.journal: list[tuple[Any, ...]] = []
        self.missions: list[tuple[Any, ...]] = []
        self.valuations: list[tuple[Any, ...]] = []
        self.audit: list[tuple[Any, ...]] = []
        self.cards: list[tuple[str, str, int]] = []  # (day, terminal ref, cents)


class Year:
    """Every truck's days, one after the other; chain heads carried between chunks."""

    def __init__(self, trucks: int, per_day: int, heads: dict[str, tuple[int, str]]) -> None:
        from datetime import UTC, date, datetime, timedelta

        self.UTC, self.date, self.datetime, self.timedelta = UTC, date, datetime, timedelta
        self.trucks, self.per_day = trucks, per_day
        self.heads = dict(heads)
        self.templates = templates()
        self.counts: dict[str, int] = {}
        cumulative, self.trouble = 0.0, []
        for name, rate in TROUBLE:
            cumulative += rate
            self.trouble.append((cumulative, name))

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def day(self, day_index: int, rows: Rows) -> None:
        import random

        day = self.date(YEAR, 1, 1) + self.timedelta(days=day_index)
        for truck in range(self.trucks):
            rng = random.Random(SEED * 1_000_003 + day_index * 10_007 + truck)
            _TruckDay(self, truck, day_index, day, rng, rows).run()


def device_of(truck: int) -> str:
    return f"dev_bench_{truck:04d}"


def driver_of(truck: int) -> str:
    return f"drv_{truck:04d}"


class _TruckDay:
    def __init__(self, year: Year, truck: int, index: int, day: Any, rng: Any, rows: Rows) -> None:
        import hashlib

        from shared.journal import genesis_hash

        self.year, self.truck, self.index, self.day, self.rng, self.rows = (
            year,
            truck,
            index,
            day,
            rng,
            rows,
        )
        self.sha256 = hashlib.sha256
        self.device, self.driver = device_of(truck), driver_of(truck)
        seq, head = year.heads.get(self.device, (0, genesis_hash(self.device)))
        self.seq, self.head = seq, head
        dt = year.datetime
        self.start = dt(day.year, day.month, day.day, 6, 0, tzinfo=year.UTC)
        self.received = dt(day.year, day.month, day.day, 20, 30, tzinfo=year.UTC)
        self.cash = 0
        self.by_method: dict[str, int] = {}
        self.codes: list[tuple[str, str, int]] = []  # today's issued codes: (ref, kind, cents)
        self.codes_issued = 0

    def at(self, minutes: float) -> str:
        moment = self.start + self.year.timedelta(minutes=minutes)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def append(self, type_: str, payload: str, at: str, mission_id: str | None) -> tuple[int, str]:
        self.seq += 1
        body = (
            f'{{"at":"{at}","device_id":"{self.device}","driver_id":"{self.driver}",'
            f'"payload":{payload},"prev_hash":"{self.head}","seq":{self.seq},"type":"{type_}"}}'
        )
        digest = self.sha256(body.encode("utf-8")).hexdigest()
        self.rows.journal.append(
            (
                self.device,
                self.seq,
                TENANT,
                type_,
                at,
                self.driver,
                mission_id,
                digest,
                self.head,
                digest + digest,  # well-formed (128 hex), not a real Ed25519 signature
                body,
                self.received,
            )
        )
        self.head = digest
        self.year.count(f"entry:{type_}")
        return self.seq, digest

    def run(self) -> None:
        self.append("register_opened", canonical({"float": "50.00"}), self.at(0), None)
        spacing = min(80.0, 14 * 60 / max(self.year.per_day, 1))
        for n in range(self.year.per_day):
            self.mission(n, 15 + n * spacing)
        expected = 5000 + self.cash
        counted = expected - (50 if self.rng.random() < REGISTER_SHORT else 0)
        payload = {
            "counted": money(counted),
            "expected": money(expected),
            "variance": money(counted - expected),
            "by_method": {m: money(c) for m, c in sorted(self.by_method.items())},
        }
        self.append("register_closed", canonical(payload), self.at(14 * 60 + 10), None)
        self.year.heads[self.device] = (self.seq, self.head)

    # --- one mission ---------------------------------------------------------------------------

    def trouble(self) -> str | None:
        r = self.rng.random()
        for limit, name in self.year.trouble:
            if r < limit:
                return name
        return None

    def mission(self, n: int, minute: float) -> None:
        rng, t = self.rng, self.year.templates
        trouble = self.trouble()
        kind = rng.choices("ABP", weights=(45, 25, 30))[0]
        if trouble == "fictitious":
            template = rng.choice(t["A_covered"])
        elif trouble == "under":
            template = rng.choice(t["under"])
        elif trouble == "file_cap":
            template = t["file_cap"][0]
        elif kind == "A":
            covered = rng.random() < 0.5 and trouble not in ("over", "gate", "reversal")
            template = rng.choice(t["A_covered"] if covered else t["A_owes"])
        else:
            template = rng.choice(t[template_group(kind)])
        kind = template.kind
        if trouble in ("no_approval", "reused") and template.device_due < 2000:
            trouble = None
        if trouble == "reused" and not self.codes:  # no code issued yet today to reuse
            trouble = None
        mid = f"M-{kind}-{YEAR % 100}-{self.index:03d}-{self.truck:04d}-{n:02d}"
        file_number = f"{kind}-{YEAR}-{self.index:03d}{self.truck:04d}{n:02d}"
        call = self.at(minute)
        doc = template.doc.replace("@MID@", mid).replace("@CALL@", call)
        doc = doc.replace("@FILE@", file_number)
        four = rng.random() < FOUR_STEPS or trouble in ("under", "file_cap")
        rows = self.rows
        rows.missions.append(
            (
                TENANT,
                mid,
                file_number if kind != "P" else None,
                {"A": "ASSIST-A", "B": "ASSIST-B"}.get(kind),
                self.driver,
                doc,
                "delivered" if four else "departed",
                "device" if kind == "P" else "office",
                self.start,
                "office" if kind != "P" else self.device,
            )
        )
        self.year.count("missions")
        device_text = template.device.replace("@MID@", mid)
        payload = f'{{"mission":{doc},"mission_id":"{mid}","valuation":{device_text}}}'
        seq, _ = self.append("valuation_recorded", payload, self.at(minute + 5), mid)
        for source, text, digest, due in (
            ("device", device_text, template.device_digest, template.device_due),
            (
                "server",
                template.server.replace("@MID@", mid),
                template.server_digest,
                template.server_due,
            ),
        ):
            rows.valuations.append(
                (TENANT, mid, source, self.device, seq, digest, due, text, self.received)
            )
        due = template.device_due
        self.step(mid, "assigned", "en_route", due, minute + 5)
        self.step(mid, "en_route", "on_site", due, minute + 35)
        remaining = self.settle(mid, n, trouble, due, minute + 40)
        self.step(mid, "on_site", "departed", remaining, minute + 50)
        if four:
            self.step(mid, "departed", "delivered", remaining, minute + 75)
        if trouble:
            self.year.count(f"trouble:{trouble}")

    def step(self, mid: str, frm: str, to: str, remaining: int, minute: float) -> None:
        payload = canonical(
            {"mission_id": mid, "from": frm, "to": to, "remaining": money(remaining)}
        )
        self.append("mission_step", payload, self.at(minute), mid)

    def settle(self, mid: str, n: int, trouble: str | None, due: int, minute: float) -> int:
        """The money of one mission; returns what remains when the truck leaves."""
        rng = self.rng
        if trouble == "fictitious":
            self.collect(mid, "cash", 4000, minute)
            return 0
        if trouble == "gate":
            return due
        if trouble == "dispute":
            reason = "Le treuillage était compris"
            payload = {"mission_id": mid, "reason": reason, "due": money(due)}
            self.append("dispute", canonical(payload), self.at(minute), mid)
        remaining = due
        if remaining <= 0:
            return 0
        if trouble == "no_approval":
            ref = f"1:{code_for(10**12 + self.index * 10**6 + self.truck * 100 + n)}"
            remaining -= self.approved(mid, "discount", 2000, ref, minute, issue=False)
        elif trouble == "reused" and self.codes:
            ref = self.codes[-1][0]
            remaining -= self.approved(mid, "discount", 2000, ref, minute, issue=False)
        elif rng.random() < DEFERRAL_RATE:
            self.approved(mid, "deferral", remaining, "", minute, issue=True)
            return 0
        elif rng.random() < DISCOUNT_RATE:
            amount = min(2000, remaining)
            remaining -= self.approved(mid, "discount", amount, "", minute, issue=True)
        if remaining <= 0:
            return 0
        if trouble == "reversal":
            seq, digest = self.collect(mid, "card", remaining, minute + 1, settle=False)
            payload = {
                "mission_id": mid,
                "reverses": {"device_id": self.device, "seq": seq, "hash": digest},
                "method": "card",
                "amount": money(remaining),
                "reason": "Carte refusée par la banque",
            }
            self.append("reversal", canonical(payload), self.at(minute + 2), mid)
            self.by_method["card"] = self.by_method.get("card", 0) - remaining
            self.collect(mid, "cash", remaining, minute + 3)
            return 0
        if remaining > 6000 and rng.random() < 0.3:
            cash = rng.choice((2000, 3000, 4000, 5000))
            self.collect(mid, "cash", cash, minute + 1)
            self.collect(mid, "card", remaining - cash, minute + 2)
        else:
            method = rng.choices(("card", "cash", "cheque"), weights=(60, 25, 8))[0]
            self.collect(mid, method, remaining, minute + 1)
        if trouble == "over":
            self.collect(mid, "card", 400, minute + 4)
        return 0

    def approved(
        self, mid: str, kind: str, cents: int, ref: str, minute: float, *, issue: bool
    ) -> int:
        """A discount or deferral; with `issue`, the office issued its code (audit log)."""
        if issue:
            self.codes_issued += 1
            number = (self.index * 100_000 + self.truck) * 100 + self.codes_issued
            code = code_for(number)
            ref = f"1:{code}"
            detail = {
                "device_id": self.device,
                "mission_id": mid,
                "kind": kind,
                "amount": money(cents),
                "key_version": 1,
                "code": code,
                "expires_at": (self.start + self.year.timedelta(minutes=minute + 30)).isoformat(),
            }
            when = self.start + self.year.timedelta(minutes=minute)
            self.rows.audit.append(
                (TENANT, "manager", "approval.issue", mid, None, canonical(detail), when)
            )
            self.codes.append((ref, kind, cents))
            self.year.count("approvals issued")
        payload = {"mission_id": mid, "amount": money(cents), "approval_ref": ref}
        self.append(kind, canonical(payload), self.at(minute), mid)
        return cents

    def collect(
        self, mid: str, method: str, cents: int, minute: float, *, settle: bool = True
    ) -> tuple[int, str]:
        excl = round(cents / 1.2)
        payload: dict[str, Any] = {
            "mission_id": mid,
            "method": method,
            "amount": money(cents),
            "vat": [
                {
                    "rate": "20",
                    "excl_vat": money(excl),
                    "vat": money(cents - excl),
                    "incl_vat": money(cents),
                }
            ],
        }
        serial = f"{self.index:03d}{self.truck:04d}{self.seq + 1:05d}"
        if method == "cash":
            tendered = math.ceil(cents / 1000) * 1000
            payload.update(tendered=money(tendered), change=money(tendered - cents))
            self.cash += cents
        elif method == "card":
            payload["terminal_ref"] = f"AUT-{serial}"
            if settle and self.rng.random() >= CARD_UNMATCHED:
                self.rows.cards.append((self.day.isoformat(), payload["terminal_ref"], cents))
        else:
            payload.update(cheque_number=serial, bank="Crédit Agricole")
        self.by_method[method] = self.by_method.get(method, 0) + cents
        return self.append("collection", canonical(payload), self.at(minute), mid)


def template_group(kind: str) -> str:
    return {"B": "B", "P": "P"}[kind]


# --- writing ----------------------------------------------------------------------------------


def engine_for(spec: dict[str, Any]) -> Any:
    from server.platform.db import make_engine

    options = spec.get("connect_args") or {}
    return make_engine(spec["url"], **({"connect_args": options} if options else {}))


def bulk(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Many rows at once: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


class Stamps:
    """Aware instants as the column type stores them (SQLite: text), cached by value."""

    def __init__(self, dialect: Any) -> None:
        from server.platform.tables import UTCDateTime

        self.process = UTCDateTime().bind_processor(dialect)
        self.cache: dict[Any, Any] = {}

    def __call__(self, moment: Any) -> Any:
        if self.process is None:
            return moment
        if moment not in self.cache:
            self.cache[moment] = self.process(moment)
        return self.cache[moment]


def stamped(rows: list[tuple[Any, ...]], positions: tuple[int, ...], stamp: Stamps) -> list[Any]:
    if stamp.process is None:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for p in positions:
            values[p] = stamp(values[p])
        out.append(tuple(values))
    return out


def flush(conn: Any, rows: Rows, stamp: Stamps, chunk: str) -> None:
    import hashlib
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from server.platform.tables import card_settlements, devices

    bulk(conn, "missions", Rows.MISSIONS, stamped(rows.missions, (8,), stamp))
    bulk(conn, "valuations", Rows.VALUATIONS, stamped(rows.valuations, (8,), stamp))
    bulk(conn, "journal_entries", Rows.JOURNAL, stamped(rows.journal, (11,), stamp))
    bulk(conn, "audit_log", Rows.AUDIT, stamped(rows.audit, (6,), stamp))
    by_month: dict[str, list[tuple[str, str, int]]] = {}
    for line in rows.cards:
        by_month.setdefault(line[0][:7], []).append(line)
    for month, lines in sorted(by_month.items()):
        first, last = min(x[0] for x in lines), max(x[0] for x in lines)
        name = f"remises-{first}-{last}.csv"
        settlement_id = conn.execute(
            sa.insert(card_settlements)
            .values(
                tenant_id=TENANT,
                file_name=name,
                file_sha256=hashlib.sha256(f"{chunk}:{month}:{name}".encode()).hexdigest(),
                period_from=first,
                period_to=last,
                imported_by="office",
                imported_at=datetime.now(UTC),
            )
            .returning(card_settlements.c.id)
        ).scalar_one()
        bulk(
            conn,
            "card_settlement_lines",
            Rows.LINES,
            [(settlement_id, n + 1, TENANT, *line) for n, line in enumerate(lines)],
        )
    heads: dict[str, tuple[int, str]] = {}
    for row in rows.journal:
        heads[row[0]] = (row[1], row[7])
    for device, (seq, digest) in heads.items():
        conn.execute(
            sa.update(devices).where(devices.c.id == device).values(head_seq=seq, head_hash=digest)
        )


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema, the tenant, its ordering parties and contracts, trucks and drivers."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from server.office import contracts
    from server.people import identity
    from server.people import ordering_parties as parties
    from server.platform.db import upgrade
    from server.platform.tables import devices, drivers

    engine = engine_for(spec)
    started = time.perf_counter()
    upgrade(engine)
    now = datetime(YEAR - 1, 12, 15, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        identity.create_tenant(conn, TENANT, "Dépannage Bench", payments_enabled=True, now=now)
        parties.create_party(conn, TENANT, "ASSIST-A", "Assistance A", actor="bench", now=now)
        parties.create_party(conn, TENANT, "ASSIST-B", "Assistance B", actor="bench", now=now)
        for name in sorted(set(CONTRACT_OF.values())):
            document = json.loads((EXAMPLES / "contracts" / f"{name}.json").read_text("utf-8"))
            contracts.publish(conn, TENANT, document, actor="bench", now=now)
        trucks = int(spec["trucks"])
        conn.execute(
            sa.insert(drivers),
            [
                {
                    "tenant_id": TENANT,
                    "id": driver_of(t),
                    "name": f"Chauffeur {t + 1}",
                    "pin_hash": "bench$not-a-real-hash",
                    "role": "driver",
                    "active": True,
                    "created_at": now,
                }
                for t in range(trucks)
            ],
        )
        conn.execute(
            sa.insert(devices),
            [
                {
                    "id": device_of(t),
                    "tenant_id": TENANT,
                    "label": f"Camion {t + 1}",
                    "public_key": f"{t:064x}",
                    "approval_secret": f"{t + 1:064x}",
                    "approval_key_id": 1,
                    "enrolled_at": now,
                    "head_seq": 0,
                }
                for t in range(trucks)
            ],
        )
    engine.dispose()
    return {"seconds": time.perf_counter() - started}


def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """Days [first, last) of every truck, flushed every few days, one transaction each."""
    import sqlalchemy as sa

    from server.platform.tables import devices

    engine = engine_for(spec)
    with engine.connect() as conn:
        heads = {
            r.id: (int(r.head_seq), str(r.head_hash))
            for r in conn.execute(
                sa.select(devices.c.id, devices.c.head_seq, devices.c.head_hash).where(
                    devices.c.tenant_id == TENANT, devices.c.head_seq > 0
                )
            )
        }
    year = Year(int(spec["trucks"]), int(spec["per_day"]), heads)
    stamp = Stamps(engine.dialect)
    first, last = int(spec["first"]), int(spec["last"])
    started = time.perf_counter()
    build = 0.0
    rows = Rows()
    per_flush = max(1, 10_000 // max(1, year.trucks * year.per_day))  # ~10,000 missions
    for index in range(first, last):
        t0 = time.perf_counter()
        year.day(index, rows)
        build += time.perf_counter() - t0
        if (index - first + 1) % per_flush == 0 or index == last - 1:
            with engine.begin() as conn:
                flush(conn, rows, stamp, f"{index}")
            rows = Rows()
            done = index - first + 1
            elapsed = time.perf_counter() - started
            print(
                f"    … day {index + 1}/{spec['days']}, {done * year.trucks * year.per_day:,}"
                f" missions in {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    written = time.perf_counter() - started
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
        "seconds": written,
        "python_seconds": build,
        "analyse_seconds": analysed,
        "counts": year.counts,
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
    """One `reconcile_tenant`, as `towline-server reconcile` runs it (one transaction)."""
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
    try:
        with engine.begin() as conn:
            if profile is not None:
                profile.enable()
            try:
                summary = reconcile.reconcile_tenant(
                    conn, TENANT, now=datetime(YEAR + 1, 1, 2, 6, 0, tzinfo=UTC)
                )
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
    "_typed",
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

    from server.office import reconcile_rules

    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    files = {str(Path(reconcile.__file__).resolve()), str(Path(reconcile_rules.__file__).resolve())}
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
