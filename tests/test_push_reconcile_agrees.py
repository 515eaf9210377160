"""A push reconciles what it touched, incrementally: the entries it has just stored are
taken from memory, and a touched mission's stored entries that repeat an earlier one of
their tablet (`journal_entries.repeats`) are not read back unless money on it may go down
(server.office.reconcile `_entries`, `_repeats_matter`). Whatever the tablets record and
however their journals are split into pushes, the anomalies the pushes left open must be
exactly those a full `reconcile_tenant` finds: the full pass afterwards opens nothing and
clears nothing. On SQLite and PostgreSQL, with real tablets syncing with a real office."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fieldclient.tablet import Tablet
from server import demo
from server.office import reconcile
from server.platform.tables import anomalies, journal_entries
from shared.errors import TowlineError
from shared.steps import TRANSITIONS, Step
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_office_day import create_missions, forged, mission_doc

D = Decimal
# Two of the demo's orders: 96.00 for the beneficiary to pay before departure (ASSIST-A),
# and one the assistance covers in full (nothing due on site).
DUE, COVERED = "a-tuesday-winching-breakdown", "a-tuesday-30km"

# What a tablet does next, on one of the example's missions (see `Play.do`).
ACTS = (
    "advance",  # the next step, through the tablet (its gate may refuse)
    "force",  # the next step written past the gate, money still due (a tampered tablet)
    "repeat",  # the mission's last step written again: the same step sent twice
    "collect",  # part or all of what remains, in cash
    "overpay",  # a collection of more than remains (a tampered tablet)
    "void",  # the office voids a standing collection: the tablet reverses it at its sync
    "discount",  # a discount the manager approved by phone
    "defer",  # bill later, approved by the manager
    "lower",  # a negative discount: money settled goes down (a tampered tablet)
    "dispute",  # the driver disputes the price
    "sync",  # push what is pending, in batches of `size` entries
)
# Weighted towards what makes the other acts matter: steps, collections, pushes.
act = st.tuples(
    st.sampled_from((*ACTS, "advance", "advance", "collect", "collect", "repeat", "void", "sync")),
    st.integers(0, 1),  # which mission
    st.integers(0, 1),  # which tablet (both drive for d1)
    st.integers(0, 3),  # a choice: next step, amount
    st.integers(1, 4),  # batch size, for "sync"
)
plans = st.tuples(
    st.tuples(st.sampled_from((DUE, COVERED)), st.sampled_from((DUE, COVERED))),
    st.integers(0, 2),  # how far the first tablet takes both missions first: on site at most
    st.lists(act, min_size=8, max_size=20),
)

# Always played: on mission 0, tablet one is paid in full and leaves the scene, then lowers
# what was settled and sends the departure again (a repeat that now crosses the gate with
# money due), then a push holding only money; on mission 1, the second tablet collects,
# the office voids it (its reversal pushed), and its step is sent again.
COVERAGE = (
    (DUE, DUE),
    2,
    [
        ("collect", 0, 0, 0, 1),
        ("advance", 0, 0, 1, 1),  # on site -> departed
        ("sync", 0, 0, 0, 2),
        ("lower", 0, 0, 0, 1),
        ("repeat", 0, 0, 0, 1),
        ("sync", 0, 0, 0, 1),
        ("lower", 0, 0, 1, 1),
        ("sync", 0, 0, 0, 3),
        ("advance", 1, 1, 1, 1),  # assigned -> en route, on the second tablet
        ("collect", 1, 1, 0, 1),
        ("void", 1, 1, 0, 1),
        ("repeat", 1, 1, 0, 1),
        ("sync", 1, 1, 0, 4),
    ],
)


@dataclass
class Play:
    """One example's missions, played by the two tablets; `seen` counts what happened."""

    w: World
    tablets: list[Tablet]
    missions: list[str]
    seen: Counter[str]
    voided: set[tuple[str, int]] = field(default_factory=set)
    # (tablet, mission): where money was lowered, where the office voided. Never both: a
    # tablet's core cannot fold money lowered, so it could not apply the office's void.
    lowered: set[tuple[str, str]] = field(default_factory=set)
    voided_on: set[tuple[str, str]] = field(default_factory=set)

    def do(self, kind: str, m: int, t: int, choice: int, size: int) -> None:
        tablet, mission = self.tablets[t], self.missions[m]
        if kind == "sync":
            self.w.sync(tablet, batch_size=size)
            return
        try:
            getattr(self, kind)(tablet, mission, choice)
        except TowlineError:
            self.seen[f"refused:{kind}"] += 1  # the tablet said no: nothing recorded
        except ValueError:
            # A journal with money lowered (`lower`): the tablet's own core cannot fold the
            # mission's money any more, so it can only write what needs no view of it.
            self.seen[f"unreadable:{kind}"] += 1

    def _stored(self, tablet: Tablet) -> set[tuple[str, int]]:
        """The tablet's entries the server holds (the office voids only those)."""
        with self.w.engine.connect() as conn:
            seqs = conn.execute(
                sa.select(journal_entries.c.seq).where(
                    journal_entries.c.device_id == tablet.device_id
                )
            ).scalars()
            return {(tablet.device_id, int(s)) for s in seqs}

    def _remaining(self, tablet: Tablet, mission: str) -> Decimal:
        money = tablet.view(mission).money
        return D("0.00") if money is None else money.remaining

    def advance(self, tablet: Tablet, mission: str, choice: int) -> None:
        options = sorted(TRANSITIONS[tablet.view(mission).step])
        if options:
            tablet.step(mission, options[choice % len(options)])
            self.seen["step"] += 1

    def force(self, tablet: Tablet, mission: str, choice: int) -> None:
        view = tablet.view(mission)
        options = sorted(TRANSITIONS[view.step] - {Step.CANCELLED})
        if not options or view.money is None or view.recorded_digest is None:
            return
        to = options[choice % len(options)]
        payload = {"mission_id": mission, "from": view.step.value, "to": to.value}
        forged(tablet, "mission_step", {**payload, "remaining": f"{view.money.remaining:.2f}"})
        self.seen["forced step"] += 1

    def repeat(self, tablet: Tablet, mission: str, choice: int) -> None:
        steps = [r for r in tablet.ledger().rows(mission_id=mission) if r.type == "mission_step"]
        if steps:
            forged(tablet, "mission_step", dict(steps[-1].payload))
            self.seen["repeated step"] += 1

    def collect(self, tablet: Tablet, mission: str, choice: int) -> None:
        remaining = self._remaining(tablet, mission)
        amount = remaining if choice == 0 else (remaining / (choice + 1)).quantize(D("0.01"))
        tablet.collect(mission, "cash", f"{amount:.2f}", {"tendered": f"{amount:.2f}"})
        self.seen["collection"] += 1

    def overpay(self, tablet: Tablet, mission: str, choice: int) -> None:
        if tablet.view(mission).recorded_digest is None:
            return  # the server would not have valued it: nothing to over-collect against
        amount = self._remaining(tablet, mission) + D(10 * (choice + 1))
        payload = {"mission_id": mission, "method": "cash", "amount": f"{amount:.2f}"}
        forged(tablet, "collection", {**payload, "tendered": payload["amount"], "change": "0.00"})
        self.seen["over-collection"] += 1

    def void(self, tablet: Tablet, mission: str, choice: int) -> None:
        if (tablet.device_id, mission) in self.lowered:
            return
        standing = [
            r
            for r in tablet.ledger().rows(mission_id=mission)
            if r.type == "collection"
            and D(r.payload["amount"]) > 0
            and (tablet.device_id, r.seq) not in self.voided
        ]
        if not standing:
            return
        row = standing[choice % len(standing)]
        if (tablet.device_id, row.seq) not in self._stored(tablet):
            self.w.sync(tablet)  # the office voids only what reached it
        answer = self.w.office.post(
            f"/api/v1/collections/{tablet.device_id}/{row.seq}/void",
            json={"reason": "Encaissement annulé"},
            headers=self.w.as_user("gerant"),
        )
        assert answer.status_code == 201, answer.get_json()
        self.voided.add((tablet.device_id, row.seq))
        self.voided_on.add((tablet.device_id, mission))
        self.seen["void"] += 1

    def _approved(self, tablet: Tablet, mission: str, choice: int, kind: str) -> None:
        remaining = self._remaining(tablet, mission)
        if remaining <= 0:
            return
        amount = remaining if choice == 0 else min(remaining, D(5 * choice))
        code = self.w.approval(tablet, mission, kind, f"{amount:.2f}")
        if kind == "discount":
            tablet.discount(mission, f"{amount:.2f}", code)
        else:
            tablet.defer(mission, code, f"{amount:.2f}")
        self.seen[kind] += 1

    def discount(self, tablet: Tablet, mission: str, choice: int) -> None:
        self._approved(tablet, mission, choice, "discount")

    def defer(self, tablet: Tablet, mission: str, choice: int) -> None:
        self._approved(tablet, mission, choice, "deferral")

    def lower(self, tablet: Tablet, mission: str, choice: int) -> None:
        if (tablet.device_id, mission) in self.voided_on:
            return
        self.lowered.add((tablet.device_id, mission))
        amount = f"-{5 * (choice + 1)}.00"
        forged(
            tablet,
            "discount",
            {"mission_id": mission, "amount": amount, "approval_ref": "1:0000000000"},
        )
        self.seen["money lowered"] += 1

    def dispute(self, tablet: Tablet, mission: str, choice: int) -> None:
        tablet.dispute(mission, f"Prix contesté ({choice})")
        self.seen["dispute"] += 1


def open_anomalies(w: World) -> set[tuple[str, str]]:
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(anomalies.c.kind, anomalies.c.subject).where(anomalies.c.status == "open")
        ).all()
    return {(r.kind, r.subject) for r in rows}


def kinds_on(w: World, missions: list[str]) -> list[str]:
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(anomalies.c.kind).where(
                    anomalies.c.status == "open", anomalies.c.mission_id.in_(missions)
                )
            ).scalars()
        )


def stored_on(w: World, missions: list[str]) -> list[tuple[str, str, str, bool]]:
    """The tablets' entries the server holds on `missions`: (mission, device, type,
    stored as a repeat)."""
    j = journal_entries.c
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(j.mission_id, j.device_id, j.type, j.repeats)
            .where(j.mission_id.in_(missions), ~j.device_id.startswith("server:"))
            .order_by(j.device_id, j.seq)
        ).all()
    return [(r.mission_id, r.device_id, r.type, bool(r.repeats)) for r in rows]


def repeats_stored(w: World, missions: list[str]) -> int:
    return sum(
        1 for _, _, type_, repeat in stored_on(w, missions) if repeat and type_ == "mission_step"
    )


def second_tablet(w: World, path: Path) -> Tablet:
    """Another tablet for the same driver: seeding again only makes fresh codes."""
    with w.engine.begin() as conn:
        w.seeded = demo.seed(conn, w.clock.now)
    return w.tablet(path, "d1", "1111")


def test_a_full_reconciliation_after_the_pushes_opens_and_clears_nothing(
    world,  # noqa: F811
    tmp_path: Path,
):
    w = world
    tablets = [w.tablet(tmp_path / "one", "d1", "1111"), second_tablet(w, tmp_path / "two")]
    for tablet in tablets:
        w.sync(tablet)
        tablet.register_open(D("0.00"))
    numbers, seen = count(1), Counter[str]()

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(plan=plans)
    @example(plan=COVERAGE)
    def agrees(plan: tuple[tuple[str, str], int, list[tuple[str, int, int, int, int]]]) -> None:
        templates, ahead, acts = plan
        n = next(numbers)
        missions = [f"P{n}-{i}" for i in range(len(templates))]
        create_missions(
            w, "d1", [mission_doc(t, m) for t, m in zip(templates, missions, strict=True)]
        )
        for tablet in tablets:
            w.sync(tablet)  # the new orders reach both tablets
        play = Play(w, tablets, missions, seen)
        for mission in missions:
            for step in ("en_route", "on_site")[:ahead]:
                tablets[0].step(mission, step)
        for a in acts:
            play.do(*a)
        for tablet in tablets:  # what is left, and the reversals of the office's voids
            w.sync(tablet)
        assert all(t.pending_count() == 0 for t in tablets)
        stored = stored_on(w, missions)
        repeated = {(m, d) for m, d, type_, repeat in stored if repeat and type_ == "mission_step"}
        seen["repeats stored"] += len([r for r in stored if r[3] and r[2] == "mission_step"])
        seen["reversals stored"] += len([r for r in stored if r[2] == "reversal"])
        seen["repeats where money went down"] += len(repeated & {(m, d) for d, m in play.lowered})
        seen["missions both tablets wrote"] += len(
            {m for m, d, _, _ in stored if d == tablets[1].device_id}
            & {m for m, d, _, _ in stored if d == tablets[0].device_id}
        )
        left = open_anomalies(w)
        seen.update(f"anomaly:{kind}" for kind in kinds_on(w, missions))
        with w.engine.begin() as conn:
            full = reconcile.reconcile_tenant(conn, "demo", now=w.clock.now)
        assert (full.opened, full.cleared) == (0, 0), (plan, full, left, open_anomalies(w))
        assert open_anomalies(w) == left

    agrees()
    # The examples did exercise what the incremental reading skips or reads again (the
    # explicit example alone guarantees each of these).
    for what in (
        "repeats stored",
        "reversals stored",
        "repeats where money went down",
        "missions both tablets wrote",
    ):
        assert seen[what] > 0, (what, seen)


def gate_rows(w: World, mission: str) -> list[tuple[str, int | None]]:
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(anomalies.c.status, anomalies.c.amount_cents)
            .where(anomalies.c.kind == "gate_bypassed", anomalies.c.mission_id == mission)
            .order_by(anomalies.c.id)
        ).all()
    return [(r.status, r.amount_cents) for r in rows]


def test_a_step_repeated_after_money_went_down_is_read_again_by_later_pushes(
    world,  # noqa: F811
    tmp_path: Path,
):
    """Paid in full, then left the scene (the gate honoured); a tampered tablet then lowers
    what was settled and sends the departure again: that repeat crosses the gate with money
    due. It is stored as a repeat, yet a later push on the mission that holds neither the
    step nor its first occurrence must still find the gate bypassed, as a full pass does."""
    w = world
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    create_missions(w, "d1", [mission_doc(DUE, "REP-1")])
    w.sync(karim)
    for step in ("en_route", "on_site"):
        karim.step("REP-1", step)
    karim.collect("REP-1", "cash", "96.00", {"tendered": "96.00"})
    karim.step("REP-1", "departed")
    w.sync(karim)
    assert gate_rows(w, "REP-1") == []

    forged(karim, "discount", {"mission_id": "REP-1", "amount": "-5.00", "approval_ref": "X"})
    [departed] = [
        r for r in karim.ledger().rows(mission_id="REP-1") if r.payload.get("to") == "departed"
    ]
    forged(karim, "mission_step", dict(departed.payload))
    w.sync(karim)
    assert repeats_stored(w, ["REP-1"]) == 1
    assert gate_rows(w, "REP-1") == [("open", 500)]

    # A push holding only money for the mission: the repeat is read back from the database.
    forged(karim, "collection", {"mission_id": "REP-1", "method": "cash", "amount": "1.00"})
    w.sync(karim, batch_size=1)
    assert gate_rows(w, "REP-1") == [("open", 500)]  # still open, the one opened first

    with w.engine.begin() as conn:
        full = reconcile.reconcile_tenant(conn, "demo", now=w.clock.now)
    assert (full.opened, full.cleared) == (0, 0)
    assert full.by_kind["gate_bypassed"] == 1
