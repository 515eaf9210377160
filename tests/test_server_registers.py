"""The server's view of the drivers' registers: the tablet's fold, from the synced journal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from fieldclient import store
from fieldclient.tablet import Tablet
from server.office import registers
from server.office.registers import Entry, Movement, fold, net_by
from server.people import identity
from shared.payment_terms import Method
from shared.register import Register, Status
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
KARIM = ("tab-1", "d1")
DAY = date(2026, 3, 10)


def entry(seq: int, type_: str, at: str = "2026-03-10T08:00:00.000Z", **payload: str) -> Entry:
    return Entry(seq, at, type_, payload)


# --- the fold, on plain entries ---------------------------------------------------------------


def test_a_day_folds_into_one_session_with_the_cores_figures():
    found = fold(
        KARIM,
        [
            entry(1, "register_opened", float="50.00"),
            entry(2, "collection", mission_id="M1", method="cash", amount="40.00"),
            entry(3, "valuation_recorded"),  # not a register entry: ignored
            entry(4, "collection", mission_id="M2", method="card", amount="96.00"),
            entry(5, "bank_deposit", amount="30.00", reference="B-1"),
            entry(6, "register_closed", at="2026-03-10T18:00:00.000Z", counted="55.00"),
        ],
    )
    assert len(found) == 1
    day = found[0]
    assert (day.seq, day.closed_seq, day.day, day.status) == (1, 6, DAY, Status.CLOSED)
    assert day.register.expected_cash == D("60.00")  # 50 + 40 − 30
    assert day.register.variance == D("-5.00")
    assert day.register.net_by_method == {Method.CARD: D("96.00"), Method.CASH: D("40.00")}
    assert day.variance_subject == "tab-1:6"
    assert [(line.seq, line.amount) for line in day.lines] == [
        (1, D("50.00")),
        (2, D("40.00")),
        (4, D("96.00")),
        (5, D("30.00")),
        (6, D("55.00")),
    ]


def test_a_reversal_received_while_closed_counts_in_the_next_session():
    first, second = fold(
        KARIM,
        [
            entry(1, "register_opened", float="0.00"),
            entry(2, "collection", mission_id="M1", method="cash", amount="25.00"),
            entry(3, "register_closed", counted="25.00"),
            entry(4, "reversal", mission_id="M1", method="cash", amount="25.00"),
            entry(5, "register_opened", at="2026-03-11T07:00:00.000Z", float="10.00"),
        ],
    )
    assert first.register.expected_cash == D("25.00") and first.register.variance == 0
    assert second.seq == 5 and second.day == date(2026, 3, 11)
    assert second.register.expected_cash == D("-15.00")  # 10 float − 25 given back
    assert [line.seq for line in second.lines] == [4, 5]


def test_entries_the_register_refuses_are_shown_and_not_counted():
    (day,) = fold(
        KARIM,
        [
            entry(1, "register_opened", float="50.00"),
            entry(2, "register_opened", float="80.00"),  # already open
            entry(3, "bank_deposit", amount="70.00", reference="B"),  # more than the drawer
            entry(4, "collection", method="cash", amount="not money"),
            entry(5, "register_closed", counted="50.00"),
            entry(6, "collection", mission_id="M9", method="cash", amount="40.00"),  # closed
        ],
    )
    assert day.register.expected_cash == D("50.00") and day.register.variance == 0
    refused = {line.seq: line.refused for line in day.lines if line.refused}
    assert sorted(refused) == [2, 3, 4, 6]
    assert "déjà ouverte" in refused[2].fr
    assert "ne contient que" in refused[3].fr
    assert "closed" in refused[6].en


def test_a_reversal_waiting_for_an_opening_is_shown_on_the_last_session():
    (day,) = fold(
        KARIM,
        [
            entry(1, "register_opened", float="0.00"),
            entry(2, "collection", method="cash", amount="25.00"),
            entry(3, "register_closed", counted="25.00"),
            entry(4, "reversal", method="cash", amount="25.00"),
        ],
    )
    assert day.register.expected_cash == D("25.00")  # not counted yet
    assert day.lines[-1].seq == 4 and day.lines[-1].refused is not None
    assert "prochaine ouverture" in day.lines[-1].refused.fr


def test_a_fold_after_a_closing_starts_from_a_closed_register():
    (day,) = fold(
        KARIM,
        [entry(9, "register_opened", float="5.00")],
        start=Register(Status.CLOSED, 3),
    )
    assert day.register.session == 4 and day.register.expected_cash == D("5.00")


def test_net_collections_per_day_method_and_driver():
    moves = [
        Movement(DAY, "d1", "cash", 4000),
        Movement(DAY, "d1", "card", 9600),
        Movement(DAY, "d2", "cash", 2500),
        Movement(DAY, "d2", "cash", -2500),
        Movement(date(2026, 3, 11), "d2", "cash", -1000),
    ]
    assert net_by(moves, "day") == {DAY: 13600, date(2026, 3, 11): -1000}
    assert net_by(moves, "method") == {"cash": 3000, "card": 9600}
    assert net_by(moves, "driver_id") == {"d1": 13600, "d2": -1000}


# --- from the database, with real tablets (SQLite and PostgreSQL) ------------------------------


def forged(t: Tablet, type_: str, payload: dict[str, str]) -> None:
    """An entry a tampered tablet records, bypassing its own rules."""
    with store.write(t.db):
        t.ledger().append(type_, payload, driver_id=t.signed_in().id, at=t._at())


def test_the_servers_registers_agree_with_the_tablets(world, tmp_path: Path):  # noqa: F811
    w: World = world
    julie = w.tablet(tmp_path / "julie", "d2", "2222")
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(julie)
    w.sync(karim)
    karim.register_open(D("50.00"))
    karim.step("M-P-0001", "en_route")
    karim.collect("M-P-0001", "cash", "40.00", {"tendered": "40.00"})
    julie.register_open(D("20.00"))
    julie.step("M-B-0002", "en_route")
    paid = julie.collect("M-B-0002", "cash", "25.00", {"tendered": "25.00"})
    julie.register_close(D("45.00"))
    w.sync(julie)
    w.sync(karim)
    voided = w.office.post(
        f"/api/v1/collections/{julie.device_id}/{paid.seq}/void",
        json={"reason": "Client remboursé"},
        headers=w.as_user("bureau"),
    )
    assert voided.status_code == 201, voided.get_json()
    w.sync(julie)  # the reversal is recorded while Julie's register is closed
    w.clock.advance(days=1)
    julie.register_open(D("30.00"))  # … and counts in the next day's session
    on_the_tablet = julie.register("d2")
    forged(julie, "register_opened", {"float": "99.00"})  # the tablet would refuse it
    w.sync(julie)

    with w.engine.connect() as conn:
        first, second = sorted(
            registers.sessions(conn, "demo", since=DAY, until=date(2026, 3, 11), driver_id="d2"),
            key=lambda s: s.seq,
        )
        assert (first.day, first.status, first.register.variance) == (DAY, "closed", 0)
        assert second.register == on_the_tablet  # the tablet's own fold, field for field
        assert second.register.expected_cash == D("5.00")  # 30 − 25 given back
        assert [line.type for line in second.lines if line.refused] == ["register_opened"]

        still_open = registers.open_sessions(conn, "demo")
        assert [(s.driver_id, s.day) for s in still_open] == [("d1", DAY), ("d2", second.day)]
        assert still_open[0].register == karim.register("d1")
        assert still_open[0].register.expected_cash == D("90.00")

        # One day: its sessions only; the list's window also keeps older open ones.
        only = registers.sessions(conn, "demo", since=date(2026, 3, 11), until=date(2026, 3, 11))
        assert [(s.driver_id, s.seq) for s in only] == [("d2", second.seq)]
        assert only[0].register == second.register  # the held reversal reached it too
        window = registers.sessions(
            conn, "demo", since=date(2026, 3, 11), until=date(2026, 3, 11), open_before=True
        )
        assert sorted(s.driver_id for s in window) == ["d1", "d2"]
        assert (
            registers.sessions(conn, "demo", since=date(2026, 3, 9), until=date(2026, 3, 9)) == []
        )

        again = registers.session(conn, "demo", julie.device_id, first.seq)
        assert again == first
        assert registers.session(conn, "demo", julie.device_id, paid.seq) is None  # not an opening

        moves = registers.movements(conn, "demo", since=DAY, until=date(2026, 3, 11))
        # 40 + 25 − 25: the reversal is of the day the tablet recorded it, the first.
        assert net_by(moves, "day") == {DAY: 4000}

        identity.create_tenant(conn, "autre", "Autre", payments_enabled=True, now=w.clock.now)
        assert registers.open_sessions(conn, "autre") == []
        assert registers.session(conn, "autre", julie.device_id, first.seq) is None
        assert registers.movements(conn, "autre", since=DAY, until=date(2026, 3, 11)) == []
