"""Dates a tablet writes (issue 16), on SQLite and PostgreSQL: an entry dated after its
receipt beyond the tolerance, before the entry it follows or before the tablet existed
is stored (money in the field is a fact) and flagged; an entry recorded offline days ago
is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.devices.entry_dates import CLOCK_TOLERANCE, DRIFT_PER_DAY, Known, date_findings
from shared.journal import utc_timestamp
from sync.protocol import PushStatus
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import NOW, Tablet, add_tenant, anomalies_of, enrol, send, stored


@pytest.fixture
def tablet(engine):  # noqa: F811
    add_tenant(engine)
    t = Tablet("dev-1")
    enrol(engine, t, label="Camion 3")  # enrolled at NOW
    return t


def at(moment: datetime) -> str:
    return utc_timestamp(moment)


def problems(eng) -> list[tuple[int, str]]:
    return [
        (f["seq"], f["problem"])
        for alert in anomalies_of(eng, "entry_date_implausible")
        for f in alert.detail["findings"]
    ]


def test_an_entry_dated_an_hour_after_its_receipt_is_stored_and_flagged(engine, tablet):  # noqa: F811
    tablet.write(at=at(NOW))
    tablet.write(at=at(NOW + timedelta(hours=1)), mission_id="M-7", amount="10.00")
    result = send(engine, tablet, tablet.wire())
    assert (result.status, result.stored) == (PushStatus.OK, 2)
    [alert] = anomalies_of(engine, "entry_date_implausible")
    assert problems(engine) == [(2, "after_receipt")]
    assert (alert.device_id, alert.driver_id, alert.mission_id) == ("dev-1", "d1", "M-7")
    assert alert.detail["entries"] == [
        {"device_id": "dev-1", "seq": 2, "hash": tablet.entries[1].hash}
    ]
    assert alert.detail["tolerance_seconds"] == 300
    assert (
        "« Camion 3 »" in alert.detail["fr"]
        and "after the server received it" in alert.detail["en"]
    )


def test_an_entry_dated_before_the_one_it_follows_is_flagged_even_across_pushes(engine, tablet):  # noqa: F811
    tablet.write(at=at(NOW + timedelta(hours=2)))
    send(engine, tablet, tablet.wire(), now=NOW + timedelta(hours=3))
    tablet.write(at=at(NOW + timedelta(hours=1)))  # an hour before the stored head
    tablet.write(at=at(NOW + timedelta(hours=1, minutes=3)))
    tablet.write(at=at(NOW + timedelta(hours=1)))  # three minutes back: a clock correction
    send(engine, tablet, tablet.wire(2), now=NOW + timedelta(hours=4))
    assert problems(engine) == [(2, "before_previous")]
    assert len(stored(engine, "dev-1")) == 4


def test_entries_recorded_offline_for_days_then_pushed_are_not_flagged(engine, tablet):  # noqa: F811
    tablet.write(at=at(NOW))
    send(engine, tablet, tablet.wire())
    for hours in (1, 20, 30, 49):
        tablet.write(at=at(NOW + timedelta(hours=hours)))
    assert send(engine, tablet, tablet.wire(2), now=NOW + timedelta(days=5)).stored == 4
    assert anomalies_of(engine) == []


def test_an_entry_dated_before_the_tablet_was_enrolled_is_flagged(engine, tablet):  # noqa: F811
    tablet.write(at=at(NOW - timedelta(days=1)))
    send(engine, tablet, tablet.wire())
    assert problems(engine) == [(1, "before_enrolment")]


def test_the_tolerance_ahead_grows_with_the_time_the_clock_ran_uncorrected(engine, tablet):  # noqa: F811
    tablet.write(at=at(NOW))
    send(engine, tablet, tablet.wire())
    month = NOW + timedelta(days=30)
    tablet.write(at=at(month + timedelta(minutes=20)))  # 20 min ahead after 30 days: drift
    send(engine, tablet, tablet.wire(2), now=month)
    assert anomalies_of(engine) == []
    day = month + timedelta(days=1)
    tablet.write(at=at(day + timedelta(minutes=20)))  # 20 min ahead after one day: not drift
    send(engine, tablet, tablet.wire(3), now=day)
    assert problems(engine) == [(3, "after_receipt")]


# --- the rule alone ---------------------------------------------------------------------------

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
_steps = st.lists(st.integers(0, 3 * 24 * 3600), min_size=1, max_size=30)


@given(steps=_steps, waited=st.integers(0, 30 * 24 * 3600), offline=st.integers(0, 90))
def test_an_honest_tablet_offline_for_any_time_is_never_flagged(steps, waited, offline):
    """Dates that never go back, none after the receipt, none before the enrolment."""
    contact = START + timedelta(days=offline)
    moments, moment = [], contact
    for step in steps:
        moment += timedelta(seconds=step)
        moments.append(moment)
    received = moments[-1] + timedelta(seconds=waited)
    known = Known(previous_at=contact, last_contact=contact, enrolled_at=START)
    dated = [(n + 1, at(m)) for n, m in enumerate(moments)]
    assert date_findings(dated, known, received) == []


@given(
    offline_days=st.integers(0, 365),
    ahead=st.integers(1, 10 * 24 * 3600),
)
def test_an_entry_ahead_of_the_receipt_is_flagged_exactly_beyond_the_tolerance(offline_days, ahead):
    contact = START
    received = START + timedelta(days=offline_days)
    allowed = CLOCK_TOLERANCE + DRIFT_PER_DAY * offline_days
    known = Known(previous_at=None, last_contact=contact, enrolled_at=START)
    found = date_findings([(1, at(received + timedelta(seconds=ahead)))], known, received)
    flagged = [f.problem for f in found] == ["after_receipt"]
    assert flagged == (timedelta(seconds=ahead) > allowed)
