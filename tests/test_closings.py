"""Daily, monthly and yearly closings: period totals, perpetual grand total, chaining."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.canonical import canonical_json
from shared.closings import (
    Closing,
    Head,
    Level,
    Period,
    Record,
    VatTotal,
    close,
    closing_from_payload,
    ensure_period_open,
    roll_up,
)
from shared.errors import Refused
from shared.payment_terms import Method

D = Decimal
PARIS = "Europe/Paris"
SCOPE = "register:DEV-1"


def day(key: str) -> Period:
    return Period.parse(key)


def vat_split(amount: Decimal, rate: str) -> list[dict[str, str]]:
    excl = (amount / (1 + D(rate) / 100)).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    return [
        {"rate": rate, "excl_vat": str(excl), "vat": str(amount - excl), "incl_vat": str(amount)}
    ]


def entry(
    seq: int, at: str, type_: str = "collection", device: str = "DEV-1", **payload: Any
) -> Record:
    return Record(device, seq, f"h{device}-{seq}", datetime.fromisoformat(at), type_, payload)


def paid(seq: int, at: str, method: str, amount: str, rate: str | None = None) -> Record:
    extra: dict[str, Any] = {"vat": vat_split(D(amount), rate)} if rate else {}
    return entry(seq, at, method=method, amount=amount, **extra)


def close_day(
    entries: Sequence[Record], key: str, previous: Closing | None = None, tz: str = PARIS
) -> Closing:
    return close(entries, scope=SCOPE, period=day(key), timezone=tz, previous=previous)


def test_a_daily_closing_totals_each_payment_method_net_of_reversals() -> None:
    entries = [
        paid(1, "2026-03-10T09:00:00+01:00", "cash", "120.00"),
        paid(2, "2026-03-10T11:00:00+01:00", "card", "89.90"),
        entry(3, "2026-03-10T12:00:00+01:00", "reversal", method="cash", amount="20.00"),
        entry(4, "2026-03-10T13:00:00+01:00", "mission_step", step="delivered"),
    ]
    closing = close_day(entries, "2026-03-10")
    assert dict(closing.by_method) == {Method.CASH: D("100.00"), Method.CARD: D("89.90")}
    assert closing.total == D("189.90")
    assert closing.absolute_total == D("229.90")
    assert closing.entry_count == 4
    assert closing.heads == (Head("DEV-1", 4, "hDEV-1-4"),)
    assert closing.last_hash == "hDEV-1-4"


def test_a_daily_closing_totals_each_vat_rate_and_keeps_unsplit_amounts_apart() -> None:
    entries = [
        paid(1, "2026-03-10T09:00:00+01:00", "cash", "120.00", rate="20"),
        paid(2, "2026-03-10T10:00:00+01:00", "card", "60.00", rate="20"),
        paid(3, "2026-03-10T11:00:00+01:00", "card", "110.00", rate="10"),
        paid(4, "2026-03-10T12:00:00+01:00", "cheque", "15.00"),
    ]
    closing = close_day(entries, "2026-03-10")
    assert closing.by_vat_rate == (
        VatTotal(D("10"), D("100.00"), D("10.00"), D("110.00")),
        VatTotal(D("20"), D("150.00"), D("30.00"), D("180.00")),
    )
    assert closing.unallocated == D("15.00")
    assert sum(v.incl_vat for v in closing.by_vat_rate) + closing.unallocated == closing.total


def test_a_vat_split_that_does_not_add_up_to_the_amount_is_refused() -> None:
    bad = entry(1, "2026-03-10T09:00:00+01:00", method="cash", amount="10.00")
    bad = Record(
        bad.device_id,
        1,
        "h",
        bad.at,
        "collection",
        {**bad.payload, "vat": vat_split(D("9.00"), "20")},
    )
    with pytest.raises(ValueError, match="VAT split"):
        close_day([bad], "2026-03-10")


def test_the_day_runs_from_local_midnight_to_local_midnight() -> None:
    entries = [
        paid(1, "2026-03-09T23:59:59+01:00", "cash", "1.00"),  # the day before
        paid(2, "2026-03-10T00:00:00+01:00", "cash", "2.00"),  # 23:00 UTC on the 9th
        paid(3, "2026-03-10T23:59:59+01:00", "cash", "4.00"),
        paid(4, "2026-03-11T00:00:00+01:00", "cash", "8.00"),  # the day after
    ]
    before = close_day(entries[:1], "2026-03-09")
    closing = close_day(entries, "2026-03-10", previous=before)
    assert before.total == D("1.00")
    assert closing.total == D("6.00")
    assert closing.starts_at == datetime(2026, 3, 9, 23, 0, tzinfo=UTC)
    assert closing.ends_at == datetime(2026, 3, 10, 23, 0, tzinfo=UTC)


def test_the_spring_forward_day_lasts_23_hours_and_the_fall_back_day_25() -> None:
    spring, autumn = day("2026-03-29"), day("2026-10-25")
    assert spring.ends_at(PARIS) - spring.starts_at(PARIS) == timedelta(hours=23)
    assert autumn.ends_at(PARIS) - autumn.starts_at(PARIS) == timedelta(hours=25)
    # 02:30 happens twice on 25 October: both belong to that day.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    entries = [
        Record("DEV-1", 1, "a", first, "collection", {"method": "cash", "amount": "1.00"}),
        Record("DEV-1", 2, "b", second, "collection", {"method": "cash", "amount": "2.00"}),
    ]
    assert close_day(entries, "2026-10-25").total == D("3.00")


def test_where_a_clock_change_skips_midnight_the_day_starts_at_the_change() -> None:
    santiago = day("2026-09-06")  # Chile: 00:00 jumps to 01:00
    assert santiago.starts_at("America/Santiago") == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert santiago.ends_at("America/Santiago") - santiago.starts_at("America/Santiago") == (
        timedelta(hours=23)
    )


def test_the_grand_total_is_carried_from_the_previous_closing_of_the_scope() -> None:
    entries = [
        paid(1, "2026-03-10T09:00:00+01:00", "cash", "100.00"),
        paid(2, "2026-03-11T09:00:00+01:00", "card", "50.00"),
        entry(3, "2026-03-11T10:00:00+01:00", "reversal", method="cash", amount="30.00"),
    ]
    first = close_day(entries, "2026-03-10")
    second = close_day(entries, "2026-03-11", previous=first)
    assert (first.grand_total, second.grand_total) == (D("100.00"), D("120.00"))
    assert second.absolute_grand_total == D("180.00")
    assert second.previous == first.digest
    assert first.previous is None


def test_an_idle_day_closes_at_zero_and_carries_the_last_entry_covered() -> None:
    entries = [paid(1, "2026-03-10T09:00:00+01:00", "cash", "100.00")]
    first = close_day(entries, "2026-03-10")
    idle = close_day(entries, "2026-03-11", previous=first)
    assert idle.entry_count == 0
    assert idle.total == D("0.00")
    assert idle.grand_total == D("100.00")
    assert idle.last_hash == first.last_hash == "hDEV-1-1"


def test_a_closing_must_chain_to_the_period_just_before() -> None:
    first = close_day([], "2026-03-10")
    with pytest.raises(ValueError, match="just before"):
        close_day([], "2026-03-12", previous=first)
    with pytest.raises(ValueError, match="another scope"):
        close([], scope="register:DEV-2", period=day("2026-03-11"), timezone=PARIS, previous=first)


def test_an_entry_dated_in_a_closed_period_is_caught_at_the_next_closing() -> None:
    first = close_day([paid(1, "2026-03-10T09:00:00+01:00", "cash", "1.00")], "2026-03-10")
    late = paid(2, "2026-03-10T18:00:00+01:00", "cash", "5.00")
    with pytest.raises(Refused, match="déjà clôturée"):
        close_day([late], "2026-03-11", previous=first)


def test_nothing_can_be_recorded_into_a_closed_period() -> None:
    closings = [close_day([], "2026-03-09"), close_day([], "2026-03-10")]
    with pytest.raises(Refused) as caught:
        ensure_period_open(closings, datetime.fromisoformat("2026-03-10T23:59:59+01:00"))
    assert "2026-03-10" in caught.value.message("fr")
    assert "Period closed" in caught.value.message("en")
    with pytest.raises(Refused):
        ensure_period_open(closings, datetime.fromisoformat("2026-02-01T12:00:00+01:00"))
    ensure_period_open(closings, datetime.fromisoformat("2026-03-11T00:00:00+01:00"))
    ensure_period_open([], datetime.fromisoformat("2020-01-01T00:00:00+01:00"))


def test_a_tenant_closing_covers_every_device_and_names_each_ones_last_entry() -> None:
    entries = [
        entry(7, "2026-03-10T09:00:00+01:00", device="DEV-1", method="cash", amount="10.00"),
        entry(3, "2026-03-10T10:00:00+01:00", device="DEV-2", method="card", amount="20.00"),
        entry(8, "2026-03-10T11:00:00+01:00", device="DEV-1", method="cash", amount="5.00"),
    ]
    closing = close(
        entries, scope="tenant:T1", period=day("2026-03-10"), timezone=PARIS, previous=None
    )
    assert closing.heads == (Head("DEV-1", 8, "hDEV-1-8"), Head("DEV-2", 3, "hDEV-2-3"))
    assert closing.last_hash is None
    assert closing.total == D("35.00")


def test_a_closing_reads_back_from_its_journal_payload() -> None:
    entries = [
        paid(1, "2026-03-10T09:00:00+01:00", "cash", "120.00", rate="20"),
        paid(2, "2026-03-10T10:00:00+01:00", "card", "5.50", rate="5.5"),
        paid(3, "2026-03-10T11:00:00+01:00", "card", "7.00"),
    ]
    closing = close_day(entries, "2026-03-10")
    payload = closing.payload()
    canonical_json(payload)  # no float anywhere
    assert payload["by_method"] == {"card": "12.50", "cash": "120.00"}
    assert payload["starts_at"] == "2026-03-09T23:00:00Z"
    assert payload["period"] == "2026-03-10" and payload["level"] == "day"
    assert closing_from_payload(payload) == closing


def test_a_month_is_rolled_up_from_every_one_of_its_days() -> None:
    entries = [
        paid(1, "2026-02-28T23:30:00+01:00", "cash", "10.00"),
        paid(2, "2026-03-01T00:30:00+01:00", "card", "20.00"),
        paid(3, "2026-03-31T23:59:00+02:00", "cash", "40.00"),
        paid(4, "2026-04-01T00:00:00+02:00", "cash", "80.00"),
    ]
    feb = close_day(entries, "2026-02-28")
    days = [feb]
    for part in Period.parse("2026-03").parts():
        days.append(close(entries, scope=SCOPE, period=part, timezone=PARIS, previous=days[-1]))
    march_days = days[1:]
    february = roll_up([feb], period=Period.parse("2026-02"), previous=None)
    march = roll_up(march_days, period=Period.parse("2026-03"), previous=february)
    assert len(march_days) == 31
    assert march.total == D("60.00")
    assert march.grand_total == march_days[-1].grand_total == D("70.00")
    assert march.entry_count == 2
    assert march.last_hash == "hDEV-1-3"
    from_entries = close(
        entries, scope=SCOPE, period=Period.parse("2026-03"), timezone=PARIS, previous=february
    )
    assert march == from_entries
    with pytest.raises(ValueError, match="day by day"):
        roll_up(march_days[:-1], period=Period.parse("2026-03"), previous=february)
    with pytest.raises(ValueError, match="day by day"):
        roll_up(march_days[1:], period=Period.parse("2026-03"), previous=february)


def test_a_roll_up_refuses_days_that_do_not_chain() -> None:
    first = close_day([], "2026-03-01")
    stranger = close_day([paid(1, "2026-03-02T09:00:00+01:00", "cash", "1.00")], "2026-03-02")
    with pytest.raises(ValueError):
        roll_up([first, stranger], period=Period.parse("2026-03"), previous=None)


def test_periods_are_named_and_parsed_the_way_accountants_write_them() -> None:
    assert Period.parse("2026") == Period(Level.YEAR, date(2026, 1, 1))
    assert Period.parse("2026-02").last == date(2026, 2, 28)
    assert Period.parse("2028-02").last == date(2028, 2, 29)
    assert len(Period.parse("2026").parts()) == 12
    assert Period.containing(Level.MONTH, date(2026, 3, 17)).key == "2026-03"
    with pytest.raises(ValueError):
        Period.parse("10/03/2026")
    with pytest.raises(ValueError):
        Period(Level.MONTH, date(2026, 3, 2))


# Property: yearly = sum of monthly = sum of daily = sum of entries, and the chains agree.

START = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=1)  # local midnight, Paris
YEAR_SECONDS = 365 * 24 * 3600

money_entries = st.tuples(
    st.integers(min_value=0, max_value=YEAR_SECONDS - 1),
    st.sampled_from(["collection", "collection", "reversal", "mission_step"]),
    st.sampled_from(Method),
    st.integers(min_value=1, max_value=100_000).map(lambda c: Decimal(c) / 100),
    st.sampled_from([None, "20", "10", "5.5"]),
)


def build(raw: list[tuple[int, str, Method, Decimal, str | None]]) -> list[Record]:
    out = []
    for seq, (offset, type_, method, amount, rate) in enumerate(
        sorted(raw, key=lambda r: r[0]), start=1
    ):
        payload: dict[str, Any] = {"method": method.value, "amount": str(amount)}
        if rate:
            payload["vat"] = vat_split(amount, rate)
        at = START + timedelta(seconds=offset)
        out.append(Record("DEV-1", seq, f"h{seq}", at, type_, payload))
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(money_entries, max_size=40))
def test_grand_totals_chain_yearly_is_monthly_is_daily_is_entries(
    raw: list[tuple[int, str, Method, Decimal, str | None]],
) -> None:
    entries = build(raw)
    year = Period.parse("2026")
    dailies: list[Closing] = []
    monthlies: list[Closing] = []
    for month in year.parts():
        in_month = [e for e in entries if e.at.astimezone(UTC) >= month.starts_at(PARIS)]
        month_days = []
        for part in month.parts():
            previous = dailies[-1] if dailies else None
            daily = close(in_month, scope=SCOPE, period=part, timezone=PARIS, previous=previous)
            dailies.append(daily)
            month_days.append(daily)
        previous_month = monthlies[-1] if monthlies else None
        monthly = roll_up(month_days, period=month, previous=previous_month)
        direct = close(entries, scope=SCOPE, period=month, timezone=PARIS, previous=previous_month)
        assert monthly == direct
        monthlies.append(monthly)
    yearly = roll_up(monthlies, period=year, previous=None)
    assert yearly == close(entries, scope=SCOPE, period=year, timezone=PARIS, previous=None)

    signed = [
        D(e.payload["amount"]) * (1 if e.type == "collection" else -1)
        for e in entries
        if e.type in ("collection", "reversal")
    ]
    total = sum(signed, D("0.00"))
    assert yearly.total == sum(m.total for m in monthlies) == sum(d.total for d in dailies) == total
    assert yearly.grand_total == monthlies[-1].grand_total == dailies[-1].grand_total == total
    assert yearly.absolute_grand_total == sum((abs(a) for a in signed), D("0.00"))
    assert yearly.entry_count == sum(d.entry_count for d in dailies) == len(entries)
    for before, after in pairwise(dailies):
        assert after.grand_total == before.grand_total + after.total
        assert after.previous == before.digest
    moving = [e for e in entries if e.type != "mission_step"]
    for method in Method:
        by_entries = sum(
            (a for a, e in zip(signed, moving, strict=True) if e.payload["method"] == method),
            D("0.00"),
        )
        assert dict(yearly.by_method).get(method, D("0.00")) == by_entries
    vat_incl = sum((v.incl_vat for v in yearly.by_vat_rate), D("0.00"))
    assert vat_incl + yearly.unallocated == total
    if entries:
        assert yearly.last_hash == entries[-1].hash


def test_one_vat_rate_written_two_ways_is_totalled_once() -> None:
    a = paid(1, "2026-03-10T09:00:00+01:00", "card", "10.55", rate="5.5")
    b = paid(2, "2026-03-10T10:00:00+01:00", "card", "10.55", rate="5.50")
    closing = close_day([a, b], "2026-03-10")
    assert [str(v.rate) for v in closing.by_vat_rate] == ["5.5"]
    assert closing.by_vat_rate[0].incl_vat == D("21.10")


def test_the_first_closing_of_a_scope_must_start_with_its_first_activity() -> None:
    earlier = paid(1, "2026-03-09T09:00:00+01:00", "cash", "1.00")
    with pytest.raises(ValueError, match="first day of activity"):
        close_day([earlier], "2026-03-10")
