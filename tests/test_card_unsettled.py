"""A card payment is never beyond checking (issue 16), on SQLite and PostgreSQL: one whose
local day no terminal settlement file covers becomes `card_unsettled` once
CARD_SETTLEMENT_DELAY has passed since its day or its receipt (the earlier), whatever date
the tablet gave it; a file covering its day turns it back into line-by-line matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.office import reconcile, settlements
from server.office.reconcile_rules import CARD_SETTLEMENT_DELAY
from shared.journal import EntryType, utc_timestamp
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import NOW, TENANT, Tablet, add_tenant, anomalies_of, enrol, send


@pytest.fixture
def tablet(engine):  # noqa: F811
    add_tenant(engine)  # no time zone set: Europe/Paris
    t = Tablet("dev-1")
    enrol(engine, t)
    return t


def card(tablet: Tablet, moment: datetime, ref: str = "AUT-1", amount: str = "50.00") -> None:
    tablet.write(
        type=EntryType.COLLECTION,
        at=utc_timestamp(moment),
        mission_id="M-1",
        method="card",
        amount=amount,
        terminal_ref=ref,
    )


def reconcile_at(eng, moment: datetime) -> None:
    with eng.begin() as conn:
        reconcile.reconcile_tenant(conn, TENANT, now=moment)


def import_file(eng, rows: str, name: str = "remise.csv") -> None:
    with eng.begin() as conn:
        settlements.import_file(
            conn,
            TENANT,
            name,
            ("date;reference;amount\n" + rows).encode(),
            actor="clerk",
            now=NOW,
        )


def open_kinds(eng) -> list[tuple[str, str | None]]:
    """The open card anomalies (the collections name a mission the office does not know,
    which is not what is tested here)."""
    return [
        (a.kind, a.subject)
        for a in anomalies_of(eng)
        if a.status == "open" and a.kind.startswith("card_")
    ]


def test_a_card_payment_of_today_waits_for_its_file_then_becomes_its_own_anomaly(engine, tablet):  # noqa: F811
    card(tablet, NOW)
    send(engine, tablet, tablet.wire())
    reconcile_at(engine, NOW + CARD_SETTLEMENT_DELAY - timedelta(minutes=1))
    assert open_kinds(engine) == []
    reconcile_at(engine, NOW + CARD_SETTLEMENT_DELAY)
    [alert] = anomalies_of(engine, "card_unsettled")
    assert (alert.subject, alert.amount_cents, alert.driver_id) == ("dev-1:1", 5000, "d1")
    assert alert.detail["day"] == "2026-03-10"
    assert "aucune remise du terminal importée ne couvre ce jour" in alert.detail["fr"]
    reconcile_at(engine, NOW + timedelta(days=5))  # again: nothing added
    assert len(anomalies_of(engine, "card_unsettled")) == 1


def test_a_card_payment_dated_far_back_is_unsettled_at_its_push(engine, tablet):  # noqa: F811
    card(tablet, datetime(2025, 1, 6, 10, 0, tzinfo=UTC))
    send(engine, tablet, tablet.wire())
    assert ("card_unsettled", "dev-1:1") in open_kinds(engine)


def test_a_card_payment_dated_ahead_is_unsettled_three_days_after_its_receipt(engine, tablet):  # noqa: F811
    card(tablet, datetime(2027, 6, 1, 10, 0, tzinfo=UTC))
    send(engine, tablet, tablet.wire())
    assert ("card_unsettled", "dev-1:1") not in open_kinds(engine)
    reconcile_at(engine, NOW + CARD_SETTLEMENT_DELAY)
    assert ("card_unsettled", "dev-1:1") in open_kinds(engine)


def test_a_file_covering_its_day_clears_it_and_matching_takes_over(engine, tablet):  # noqa: F811
    card(tablet, NOW, ref="AUT-1")
    card(tablet, NOW + timedelta(hours=1), ref="AUT-2")
    send(engine, tablet, tablet.wire())
    reconcile_at(engine, NOW + timedelta(days=4))
    assert sorted(open_kinds(engine)) == [
        ("card_unsettled", "dev-1:1"),
        ("card_unsettled", "dev-1:2"),
    ]
    import_file(engine, "2026-03-10;AUT-1;50.00\n")
    reconcile_at(engine, NOW + timedelta(days=4))
    assert open_kinds(engine) == [("card_unmatched", "dev-1:2")]
    assert [a.status for a in anomalies_of(engine, "card_unsettled")] == ["cleared", "cleared"]


def test_the_day_of_a_card_payment_is_its_local_day(engine, tablet):  # noqa: F811
    card(tablet, datetime(2026, 3, 10, 23, 26, tzinfo=UTC))  # 00:26 on 11 March in Paris
    send(engine, tablet, tablet.wire())
    import_file(engine, "2026-03-10;OTHER;1.00\n")
    reconcile_at(engine, NOW + timedelta(days=5))
    [alert] = anomalies_of(engine, "card_unsettled")
    assert alert.detail["day"] == "2026-03-11"
    import_file(engine, "2026-03-11;AUT-1;50.00\n", name="remise-11.csv")
    reconcile_at(engine, NOW + timedelta(days=5))
    assert [k for k, _ in open_kinds(engine)] == []


def test_a_card_payment_taken_back_is_not_unsettled(engine, tablet):  # noqa: F811
    card(tablet, NOW)
    [paid] = tablet.entries
    tablet.write(
        type=EntryType.REVERSAL,
        mission_id="M-1",
        reverses={"device_id": "dev-1", "seq": 1, "hash": paid.hash},
        method="card",
        amount="50.00",
        reason="doublon",
    )
    send(engine, tablet, tablet.wire())
    reconcile_at(engine, NOW + timedelta(days=10))
    assert anomalies_of(engine, "card_unsettled") == []
