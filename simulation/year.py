"""A synthetic year of missions, for the reconciliation benchmark (bench/reconcile.py) and
its tests (tests/test_synthetic_year.py).

A tenant with the example contracts, one tablet and one driver per truck, and every day
of every truck the register opened, the missions (each with the tablet's and the server's
valuation rows, a `valuation_recorded` entry, three or four steps, its collections, now
and then a discount or a "bill later" approved by a code the office issued, in the audit
log) and the register closed; the card-terminal settlement lines of each day. A few
percent of the missions go wrong the ways the anomaly catalogue knows (fictitious, over-
and under-collection, gate bypassed, discount without approval, approval reused, file
cap, dispute, card unmatched, register variance), so the rules do real work; every
anomaly so planted is recorded (`Year.planted`), as reconciliation should find it. Hashes
chain and bodies are canonical; signatures are well-formed hex but not real
(reconciliation does not verify them).

Deterministic: each truck's day draws from its own seeded generator. `Rates` says how
often things go wrong (the bench's figures by default; a test raises them).

This module only makes rows, as tuples in each table's column order (`Rows`); it never
imports `server`, like the rest of this package (tests/test_simulation.py checks it).
Writing them into a database (the tenant, its trucks, bulk inserts) is
tests/year_support.py's job. `shared` is imported where used: the bench's orchestrating
process imports this module for its names and stays small.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TENANT = "bench"
YEAR = 2026  # the example contracts are valid from 2026-01-01 to 2026-12-31
SEED = 2026

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


@dataclass(frozen=True)
class Rates:
    """How often each thing happens; the defaults are the bench's year."""

    trouble: tuple[tuple[str, float], ...] = TROUBLE
    discount: float = DISCOUNT_RATE
    deferral: float = DEFERRAL_RATE
    card_unmatched: float = CARD_UNMATCHED
    register_short: float = REGISTER_SHORT
    four_steps: float = FOUR_STEPS


BENCH = Rates()


class Planted(NamedTuple):
    """An anomaly the year holds on purpose, as reconciliation should store it."""

    kind: str
    subject: str  # a mission id, an entry ("device:seq") or an approval reference
    amount_cents: int | None
    mission_id: str | None


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
        # What the server keeps with its valuation (server.office.valuation.valued_facts):
        # no site facts here, so the order's legs and class.
        legs = doc.get("distance_km") or {}
        self.valued_km = format(sum((Decimal(str(v)) for v in legs.values()), Decimal(0)), "f")
        self.valued_class = (doc.get("vehicle") or {}).get("class")
        self.server_figures, self.device_figures = _figures(server), _figures(device)

    @staticmethod
    def _text(wire: dict[str, Any]) -> str:
        return canonical({**wire, "mission_id": "@MID@"})


def _due(wire: dict[str, Any]) -> int:
    return _cents(wire["payers"]["beneficiary"]["incl_vat"])


def _cents(amount: object) -> int:
    units, cents = str(amount).split(".")
    return int(units) * 100 + int(cents)


def _figures(wire: dict[str, Any]) -> tuple[str, int, int | None]:
    """The contract id and version and the file cap consumed before, as the server writes
    them beside a valuation (server.office.valuation_figures; the test of this year checks
    every row against it)."""
    cap = wire.get("file_cap")
    before = _cents(cap["consumed_before"]) if cap else None
    return wire["contract"]["id"], wire["contract"]["version"], before


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
        wire: dict[str, Any] = value(
            load_mission(doc), contracts[CONTRACT_OF[kind]], context
        ).to_wire()
        return wire

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


def template_group(kind: str) -> str:
    return {"B": "B", "P": "P"}[kind]


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
        "valued_km",
        "valued_class",
        "contract_id",
        "contract_version",
        "file_cap_before_cents",
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

    def __init__(
        self,
        trucks: int,
        per_day: int,
        heads: dict[str, tuple[int, str]],
        rates: Rates = BENCH,
    ) -> None:
        self.trucks, self.per_day, self.rates = trucks, per_day, rates
        self.heads = dict(heads)
        self.templates = templates()
        self.counts: dict[str, int] = {}
        self.planted: dict[tuple[str, str], Planted] = {}  # by (kind, subject), as stored
        self.trouble: list[tuple[float, str]] = []  # (cumulative rate, what goes wrong)
        cumulative = 0.0
        for name, rate in rates.trouble:
            cumulative += rate
            self.trouble.append((cumulative, name))

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def plant(self, kind: str, subject: str, amount: int | None, mission_id: str | None) -> None:
        """One anomaly more; a reference cited again adds its amount (one per code)."""
        known = self.planted.get((kind, subject))
        if known is not None and known.amount_cents is not None and amount is not None:
            amount += known.amount_cents
            mission_id = known.mission_id
        self.planted[(kind, subject)] = Planted(kind, subject, amount, mission_id)

    def day(self, day_index: int, rows: Rows) -> None:
        day = date(YEAR, 1, 1) + timedelta(days=day_index)
        for truck in range(self.trucks):
            rng = random.Random(SEED * 1_000_003 + day_index * 10_007 + truck)
            _TruckDay(self, truck, day_index, day, rng, rows).run()


def device_of(truck: int) -> str:
    return f"dev_bench_{truck:04d}"


def driver_of(truck: int) -> str:
    return f"drv_{truck:04d}"


class _TruckDay:
    def __init__(
        self, year: Year, truck: int, index: int, day: date, rng: random.Random, rows: Rows
    ) -> None:
        from shared.journal import genesis_hash

        self.year, self.truck, self.index, self.day, self.rng, self.rows = (
            year,
            truck,
            index,
            day,
            rng,
            rows,
        )
        self.rates = year.rates
        self.sha256 = hashlib.sha256
        self.device, self.driver = device_of(truck), driver_of(truck)
        seq, head = year.heads.get(self.device, (0, genesis_hash(self.device)))
        self.seq, self.head = seq, head
        self.start = datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)
        self.received = datetime(day.year, day.month, day.day, 20, 30, tzinfo=UTC)
        self.cash = 0
        self.by_method: dict[str, int] = {}
        self.codes: list[tuple[str, str, int]] = []  # today's issued codes: (ref, kind, cents)
        self.codes_issued = 0

    def at(self, minutes: float) -> str:
        moment = self.start + timedelta(minutes=minutes)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def entry(self, seq: int) -> str:
        """An entry as anomalies name it."""
        return f"{self.device}:{seq}"

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
        counted = expected - (50 if self.rng.random() < self.rates.register_short else 0)
        payload = {
            "counted": money(counted),
            "expected": money(expected),
            "variance": money(counted - expected),
            "by_method": {m: money(c) for m, c in sorted(self.by_method.items())},
        }
        seq, _ = self.append("register_closed", canonical(payload), self.at(14 * 60 + 10), None)
        if counted != expected:
            self.year.plant("register_variance", self.entry(seq), counted - expected, None)
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
        four = rng.random() < self.rates.four_steps or trouble in ("under", "file_cap")
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
        for source, text, digest, due, km, vclass, figures in (
            (
                "device",
                device_text,
                template.device_digest,
                template.device_due,
                None,
                None,
                template.device_figures,
            ),
            (
                "server",
                template.server.replace("@MID@", mid),
                template.server_digest,
                template.server_due,
                template.valued_km,
                template.valued_class,
                template.server_figures,
            ),
        ):
            rows.valuations.append(
                (
                    TENANT,
                    mid,
                    source,
                    self.device,
                    seq,
                    digest,
                    due,
                    text,
                    self.received,
                    km,
                    vclass,
                    *figures,
                )
            )
        due = template.device_due
        self.step(mid, "assigned", "en_route", due, minute + 5)
        self.step(mid, "en_route", "on_site", due, minute + 35)
        remaining = self.settle(mid, n, trouble, due, minute + 40)
        self.step(mid, "on_site", "departed", remaining, minute + 50)
        if four:
            self.step(mid, "departed", "delivered", remaining, minute + 75)
        if trouble in ("under", "file_cap"):  # the tablet collected what it valued, not more
            kind_found = "under_collection" if trouble == "under" else "file_cap_exceeded"
            self.year.plant(kind_found, mid, template.server_due - template.device_due, mid)
        if trouble:
            self.year.count(f"trouble:{trouble}")

    def step(self, mid: str, frm: str, to: str, remaining: int, minute: float) -> None:
        payload = canonical(
            {"mission_id": mid, "from": frm, "to": to, "remaining": money(remaining)}
        )
        self.append("mission_step", payload, self.at(minute), mid)

    def settle(self, mid: str, n: int, trouble: str | None, due: int, minute: float) -> int:
        """The money of one mission; returns what remains when the truck leaves."""
        rng, rates, plant = self.rng, self.rates, self.year.plant
        if trouble == "fictitious":
            self.collect(mid, "cash", 4000, minute)
            plant("fictitious_collection", mid, 4000, mid)
            return 0
        if trouble == "gate":
            if due > 0:
                plant("gate_bypassed", mid, due, mid)
            return due
        if trouble == "dispute":
            reason = "Le treuillage était compris"
            disputed = {"mission_id": mid, "reason": reason, "due": money(due)}
            seq, _ = self.append("dispute", canonical(disputed), self.at(minute), mid)
            plant("dispute_raised", self.entry(seq), None, mid)
        remaining = due
        if remaining <= 0:
            return 0
        if trouble == "no_approval":
            ref = f"1:{code_for(10**12 + self.index * 10**6 + self.truck * 100 + n)}"
            remaining -= self.approved(mid, "discount", 2000, ref, minute, issue=False)
        elif trouble == "reused" and self.codes:
            ref = self.codes[-1][0]
            remaining -= self.approved(mid, "discount", 2000, ref, minute, issue=False)
            plant("approval_reused", ref, 2000, mid)
        elif rng.random() < rates.deferral:
            self.approved(mid, "deferral", remaining, "", minute, issue=True)
            return 0
        elif rng.random() < rates.discount:
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
            plant("over_collection", mid, 400, mid)
        return 0

    def approved(
        self, mid: str, kind: str, cents: int, ref: str, minute: float, *, issue: bool
    ) -> int:
        """A discount or deferral; with `issue`, the office issued its code (audit log);
        without, the code it cites was never issued for it (an anomaly)."""
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
                "expires_at": (self.start + timedelta(minutes=minute + 30)).isoformat(),
            }
            when = self.start + timedelta(minutes=minute)
            self.rows.audit.append(
                (TENANT, "manager", "approval.issue", mid, None, canonical(detail), when)
            )
            self.codes.append((ref, kind, cents))
            self.year.count("approvals issued")
        payload = {"mission_id": mid, "amount": money(cents), "approval_ref": ref}
        seq, _ = self.append(kind, canonical(payload), self.at(minute), mid)
        if not issue:
            self.year.plant("discount_without_approval", self.entry(seq), cents, mid)
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
        unmatched = False
        if method == "cash":
            tendered = math.ceil(cents / 1000) * 1000
            payload.update(tendered=money(tendered), change=money(tendered - cents))
            self.cash += cents
        elif method == "card":
            payload["terminal_ref"] = f"AUT-{serial}"
            if settle:
                if self.rng.random() >= self.rates.card_unmatched:
                    self.rows.cards.append((self.day.isoformat(), payload["terminal_ref"], cents))
                else:
                    unmatched = True
        else:
            payload.update(cheque_number=serial, bank="Crédit Agricole")
        self.by_method[method] = self.by_method.get(method, 0) + cents
        seq, digest = self.append("collection", canonical(payload), self.at(minute), mid)
        if unmatched:
            self.year.plant("card_unmatched", self.entry(seq), cents, mid)
        return seq, digest
