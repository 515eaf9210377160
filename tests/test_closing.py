"""The tenant's closings, on SQLite and PostgreSQL: every day from the first activity (idle
days at zero, carrying the heads), months rolled up from their days, years from their
months, perpetual grand totals, invoices and credit notes totalled, entries dated by
reception, signed entries of the server journal, never closed twice."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import closing, office_journal
from server.platform.tables import tenants
from shared import signing
from shared.chain_verifier import verify_chain
from shared.closings import Level, Period
from shared.errors import Refused
from shared.journal import EntryType
from tests.closing_support import (
    FIRST_CLOSE,
    KEY,
    TENANT,
    build,
    count_closing_entries,
    server_entries,
    utc,
)
from tests.storage import engine  # noqa: F401 - the fixture

D = Decimal


def keys(made):
    return [(c.period.level.value, c.period.key) for c in made]


def by_key(made):
    return {(c.period.level.value, c.period.key): c for c in made}


def test_every_day_is_closed_from_the_first_activity_then_the_month_then_nothing_twice(engine):  # noqa: F811
    world = build(engine)
    made = world.close(FIRST_CLOSE)
    assert keys(made) == [
        ("day", "2026-03-30"),
        ("day", "2026-03-31"),
        ("month", "2026-03"),
        ("day", "2026-04-01"),
        ("day", "2026-04-02"),
    ]
    assert world.close(FIRST_CLOSE) == []
    assert world.close(FIRST_CLOSE + timedelta(hours=10)) == []  # 3 April is not over
    assert count_closing_entries(engine) == 5
    assert keys(world.closings()) == keys(made)  # read back from the server journal


def test_day_totals_per_method_and_rate_dated_by_reception_in_the_tenant_time_zone(engine):  # noqa: F811
    world = build(engine)
    days = by_key(world.close(FIRST_CLOSE))
    first = days["day", "2026-03-30"].closing
    assert first.entry_count == 2 and first.previous is None
    assert dict(first.by_method) == {"card": D("60.00"), "cash": D("120.00")}
    assert [(v.rate, v.excl_vat, v.vat, v.incl_vat) for v in first.by_vat_rate] == [
        (D("10"), D("54.55"), D("5.45"), D("60.00")),
        (D("20"), D("100.00"), D("20.00"), D("120.00")),
    ]
    assert (first.total, first.grand_total, first.unallocated) == (D("180.00"), D("180.00"), 0)
    assert [(h.device_id, h.seq) for h in first.heads] == [("dev_a", 2)]
    # Received at 22:30 UTC on the 30th: 00:30 on the 31st in Paris (the tablet said the 10th).
    second = days["day", "2026-03-31"]
    assert dict(second.closing.by_method) == {"cheque": D("80.00")}
    assert second.closing.unallocated == D("80.00")  # no VAT split on that entry
    assert second.closing.entry_count == 2  # the cheque and the invoice
    assert (second.closing.grand_total, second.closing.absolute_grand_total) == (
        D("260.00"),
        D("260.00"),
    )
    assert [(h.device_id, h.seq) for h in second.closing.heads] == [
        ("dev_a", 2),
        ("dev_b", 1),
        ("server:acme", 1),
    ]
    assert second.closing.previous == first.digest
    assert second.invoiced.count == 1
    assert second.invoiced.total == closing.Amounts(D("100.00"), D("20.00"), D("120.00"))
    assert second.credited.count == 0 and second.credited.grand_total.incl_vat == 0
    assert second.closing.starts_at == utc("2026-03-30T22:00:00")  # midnight in Paris (CEST)


def test_an_idle_day_gets_a_zero_closing_that_carries_the_heads_and_totals_forward(engine):  # noqa: F811
    world = build(engine)
    days = by_key(world.close(FIRST_CLOSE))
    before, idle = days["day", "2026-03-31"], days["day", "2026-04-01"]
    assert (idle.closing.entry_count, idle.closing.total, idle.closing.by_method) == (0, 0, ())
    assert idle.closing.heads == before.closing.heads
    assert idle.closing.grand_total == D("260.00")
    assert idle.invoiced.grand_total.incl_vat == D("120.00") and idle.invoiced.count == 0
    assert idle.closing.previous == before.closing.digest


def test_a_reversal_and_a_credit_note_are_taken_back_and_the_grand_total_goes_on(engine):  # noqa: F811
    world = build(engine)
    day = by_key(world.close(FIRST_CLOSE))["day", "2026-04-02"]
    assert dict(day.closing.by_method) == {"card": D("-60.00")}
    assert [(v.rate, v.incl_vat) for v in day.closing.by_vat_rate] == [(D("10"), D("-60.00"))]
    assert day.closing.entry_count == 3  # reversal, mission step, credit note
    assert (day.closing.total, day.closing.absolute_total) == (D("-60.00"), D("60.00"))
    assert (day.closing.grand_total, day.closing.absolute_grand_total) == (
        D("200.00"),
        D("320.00"),
    )
    assert day.credited.count == 1
    assert day.credited.total == closing.Amounts(D("54.55"), D("5.45"), D("60.00"))
    assert day.invoiced.grand_total.incl_vat == D("120.00")


def test_the_month_is_the_sum_of_its_days_and_the_next_month_carries_the_grand_total(engine):  # noqa: F811
    world = build(engine)
    world.close(FIRST_CLOSE)
    world.collect("dev_b", "transfer", "40.00", "20")
    world.push("dev_b", utc("2026-04-10T12:00:00"))
    later = world.close(datetime(2026, 5, 2, 8, 0, tzinfo=UTC))
    assert keys(later)[0] == ("day", "2026-04-03")
    assert keys(later)[-3:] == [("day", "2026-04-30"), ("month", "2026-04"), ("day", "2026-05-01")]
    every = world.closings()
    days = [c for c in every if c.period.level is Level.DAY]
    assert [c.period.first for c in days] == [
        date(2026, 3, 30) + timedelta(days=n) for n in range(33)
    ]  # every day, idle ones included
    # The first run's five closing entries were received on 3 April: they count there.
    third = by_key(every)["day", "2026-04-03"].closing
    assert third.entry_count == 5
    assert {h.device_id: h.seq for h in third.heads}["server:acme"] == 7
    for month_key, first_day in (("2026-03", date(2026, 3, 30)), ("2026-04", date(2026, 4, 1))):
        month = by_key(every)["month", month_key]
        parts = [c for c in days if c.period in Period.parse(month_key).parts()]
        assert parts[0].period.first == first_day
        assert month.closing.total == sum((c.closing.total for c in parts), D(0))
        assert month.closing.entry_count == sum(c.closing.entry_count for c in parts)
        assert month.closing.grand_total == parts[-1].closing.grand_total
        assert month.closing.heads == parts[-1].closing.heads
        assert month.invoiced.total.incl_vat == sum(
            (c.invoiced.total.incl_vat for c in parts), D(0)
        )
    march, april = by_key(every)["month", "2026-03"], by_key(every)["month", "2026-04"]
    assert (march.closing.total, march.closing.grand_total) == (D("260.00"), D("260.00"))
    assert dict(april.closing.by_method) == {"card": D("-60.00"), "transfer": D("40.00")}
    assert (april.closing.total, april.closing.grand_total) == (D("-20.00"), D("240.00"))
    assert april.closing.absolute_grand_total == D("360.00")
    assert april.closing.previous == march.closing.digest
    assert (april.credited.grand_total.incl_vat, april.invoiced.grand_total.incl_vat) == (
        D("60.00"),
        D("120.00"),
    )


def test_closings_are_signed_entries_of_the_server_journal_made_by_the_system(engine):  # noqa: F811
    world = build(engine)
    made = world.close(FIRST_CLOSE)
    chain = server_entries(engine)
    public = signing.public_key_of(KEY)
    assert verify_chain(chain, device_id="server:acme", public_key=public) == ()
    stored = [e for e in chain if e.entry.type is EntryType.CLOSING]
    assert [e.seq for e in stored] == [3, 4, 5, 6, 7]
    assert {e.entry.driver_id for e in stored} == {"system"}
    assert stored[0].entry.at == "2026-04-03T08:00:00.000Z"
    assert [dict(e.entry.payload) == c.payload() for e, c in zip(stored, made, strict=True)] == [
        True
    ] * 5
    assert stored[2].entry.payload["scope"] == "tenant:acme"
    assert stored[2].entry.payload["invoiced"]["grand_total"]["incl_vat"] == "120.00"


def test_the_year_is_rolled_up_from_its_months_when_december_is_closed(engine):  # noqa: F811
    world = build(engine)
    made = world.close(datetime(2027, 1, 1, 8, 0, tzinfo=UTC))
    assert keys(made)[-2:] == [("month", "2026-12"), ("year", "2026")]
    year = made[-1]
    months = [c for c in made if c.period.level is Level.MONTH]
    assert months[0].period.key == "2026-03" and len(months) == 10
    assert year.closing.total == sum((m.closing.total for m in months), D(0)) == D("200.00")
    assert year.closing.grand_total == D("200.00")
    assert year.credited.total.incl_vat == D("60.00")
    assert world.close(datetime(2027, 1, 1, 8, 0, tzinfo=UTC)) == []


def test_until_stops_early_and_a_later_run_continues_the_chain(engine):  # noqa: F811
    world = build(engine)
    first = world.close(FIRST_CLOSE, until=date(2026, 3, 30))
    assert keys(first) == [("day", "2026-03-30")]
    rest = world.close(FIRST_CLOSE)
    assert keys(rest)[0] == ("day", "2026-03-31")
    assert rest[0].closing.previous == first[0].closing.digest


def test_a_day_is_closed_only_once_it_ended_a_few_minutes_ago(engine):  # noqa: F811
    world = build(engine)
    midnight = utc("2026-03-30T22:00:00")  # 31 March 00:00 in Paris
    assert world.close(midnight + timedelta(minutes=1)) == []
    assert keys(world.close(midnight + closing.GRACE)) == [("day", "2026-03-30")]


def test_an_entry_received_into_a_closed_day_is_refused_with_the_entry_named(engine):  # noqa: F811
    world = build(engine)
    world.close(FIRST_CLOSE)
    world.collect("dev_b", "cash", "10.00")
    world.push("dev_b", utc("2026-04-01T12:00:00"))  # the server's clock went back
    with pytest.raises(Refused) as refused:
        world.close(datetime(2026, 4, 5, 8, 0, tzinfo=UTC))
    assert "dev_b #2" in refused.value.message("en")
    assert count_closing_entries(engine) == 5  # nothing appended


def test_the_tenant_time_zone_is_read_from_its_settings_and_cannot_change_later(engine):  # noqa: F811
    world = build(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == TENANT)
            .values(settings={"timezone": "America/Martinique"})
        )
    made = world.close(FIRST_CLOSE)
    # 22:30 UTC on the 30th is 18:30 on the 30th in Martinique (UTC−4): the same day.
    first = made[0].closing
    assert (first.timezone, first.period.key, first.total) == (
        "America/Martinique",
        "2026-03-30",
        D("260.00"),
    )
    with engine.begin() as conn:
        conn.execute(sa.update(tenants).where(tenants.c.id == TENANT).values(settings={}))
    with pytest.raises(Refused) as refused:
        world.close(FIRST_CLOSE + timedelta(days=3))
    assert "America/Martinique" in refused.value.message("en")


def test_a_tenant_without_activity_has_nothing_to_close(engine):  # noqa: F811
    from tests.sync_support import add_tenant

    add_tenant(engine, "quiet")
    with engine.begin() as conn:
        assert closing.close_tenant(conn, "quiet", key=KEY, now=FIRST_CLOSE) == []


def test_two_closers_at_once_close_each_period_once(engine):  # noqa: F811
    build(engine)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with engine.begin() as conn:
                closing.close_tenant(conn, TENANT, key=KEY, now=FIRST_CLOSE)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count_closing_entries(engine) == 5
    chain = server_entries(engine)
    assert [e.seq for e in chain] == list(range(1, 8))


def test_the_nightly_job_closes_every_tenant_and_reports_a_refusal_without_stopping(engine):  # noqa: F811
    world = build(engine)
    world.close(FIRST_CLOSE)
    world.collect("dev_b", "cash", "10.00")
    world.push("dev_b", utc("2026-04-01T12:00:00"))  # acme's closing will be refused
    from tests.sync_support import add_tenant

    add_tenant(engine, "beta")
    with engine.begin() as conn:
        office_journal.append(
            conn, "beta", "office_decision", {"n": 1}, key=KEY, actor="x", now=FIRST_CLOSE
        )
    runs = closing.close_every_tenant(engine, key=KEY, now=datetime(2026, 4, 5, 8, 0, tzinfo=UTC))
    assert [(r.tenant_id, r.refused is not None) for r in runs] == [("acme", True), ("beta", False)]
    assert [c.period.key for c in runs[1].closings] == ["2026-04-03", "2026-04-04"]


def test_the_close_command_prints_what_it_closed(engine, tmp_path, monkeypatch):  # noqa: F811
    if engine.dialect.name != "sqlite":
        pytest.skip("the command line is the same on both databases")
    from server.cli.main import main  # first: it loads its command modules

    build(engine)
    var = tmp_path / "var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    monkeypatch.setattr("server.cli.common.now", lambda: FIRST_CLOSE)
    url = engine.url.render_as_string(hide_password=False)
    common = ["--database", url, "--var-dir", str(var)]
    runner = CliRunner()
    answer = runner.invoke(main, ["close", "acme", *common])
    assert answer.exit_code == 0, answer.output
    lines = answer.output.strip().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("acme — La journée du 2026-03-30 : 2 entrées, encaissé net 180,00")
    assert "Le mois 2026-03" in lines[2] and "perpétuel 260,00" in lines[2]
    again = runner.invoke(main, ["close", "acme", *common, "--json", "--lang", "en"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == {"tenant": "acme", "closings": [], "refused": None}
    assert runner.invoke(main, ["close", *common]).exit_code == 2
    assert runner.invoke(main, ["close", "nobody", *common]).exit_code == 3
