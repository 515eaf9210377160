"""The office's payments in the tenant's closings (format 2), on SQLite and PostgreSQL: a
day with the tablets' collections and two payments received in the office shows both;
a refund is money out; months roll them up; the verifier recomputes them; a closing made
before they were counted (format 1) still verifies as it was made; a doctored payment
entry is named."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import archive, closing, integrity, office_payments
from server.platform.tables import journal_entries
from shared.closings import Level, Period
from tests.closing_support import FIRST_CLOSE, KEY, SERVER_HEX, TENANT, build, utc
from tests.storage import engine  # noqa: F401 - the fixture

D = Decimal


def pay(world, when, **kw):
    with world.engine.begin() as conn:
        return office_payments.record(
            conn, TENANT, customer="GARAGE-DUPONT", key=KEY, actor="bureau", now=when, **kw
        )


@pytest.fixture
def world(engine):  # noqa: F811
    """closing_support's end of March (cash 120.00 and card 60.00 on the 30th…), plus a
    transfer of 150.00 and a cheque of 45.00 received in the office on the 30th, and 50.00
    of the transfer refunded on 2 April."""
    made = build(engine)
    transfer = pay(
        made,
        utc("2026-03-30T12:00:00"),
        amount="150.00",
        method="transfer",
        received_on=date(2026, 3, 30),
        reference="VIR 0330",
    )
    pay(
        made,
        utc("2026-03-30T13:00:00"),
        amount="45.00",
        method="cheque",
        received_on=date(2026, 3, 30),
        reference="CHQ 1234567",
    )
    with engine.begin() as conn:
        office_payments.refund(
            conn,
            TENANT,
            transfer["number"],
            reference="VIR REMB 0402",
            amount="50.00",
            key=KEY,
            actor="bureau",
            now=utc("2026-04-02T09:00:00"),
        )
    return made


def by_key(made):
    return {(c.period.level.value, c.period.key): c for c in made}


def test_a_day_shows_the_office_payments_beside_the_tablets_collections(world):
    made = by_key(world.close(FIRST_CLOSE))
    day = made["day", "2026-03-30"]
    assert dict(day.closing.by_method) == {"card": D("60.00"), "cash": D("120.00")}
    assert day.closing.total == D("180.00")  # the tablets' collections, unchanged
    office = day.office
    assert office is not None
    assert dict(office.by_method) == {"cheque": D("45.00"), "transfer": D("150.00")}
    assert (office.count, office.received, office.refunded) == (2, D("195.00"), D("0.00"))
    assert (office.total, office.grand_total) == (D("195.00"), D("195.00"))
    stored = day.payload()
    assert stored["format"] == 2
    assert stored["office_payments"] == {
        "count": 2,
        "by_method": {"cheque": "45.00", "transfer": "150.00"},
        "received": "195.00",
        "refunded": "0.00",
        "total": "195.00",
        "grand_total": "195.00",
    }
    assert made["day", "2026-03-31"].office.total == 0
    assert made["day", "2026-03-31"].office.grand_total == D("195.00")  # carried
    month = made["month", "2026-03"].office
    assert (month.count, month.received, month.grand_total) == (2, D("195.00"), D("195.00"))
    refund_day = made["day", "2026-04-02"].office
    assert (refund_day.count, refund_day.refunded, refund_day.total) == (0, D("50.00"), D("-50.00"))
    assert refund_day.grand_total == D("145.00")
    # Read back from the server journal: the same values.
    assert by_key(world.closings())["day", "2026-03-30"] == day


def test_the_live_and_archive_verifiers_recompute_them_clean(world, tmp_path):
    world.close(FIRST_CLOSE)
    with world.engine.connect() as conn:
        assert integrity.verify_live(conn, TENANT, SERVER_HEX) == []
        out = tmp_path / "march.zip"
        archive.export(conn, TENANT, "2026-03", key=KEY, out_path=out, now=FIRST_CLOSE)
    assert integrity.verify_archive(out, trusted_server_key_hex=SERVER_HEX) == []


def test_a_closing_made_before_the_office_payments_were_counted_still_verifies(world, monkeypatch):
    monkeypatch.setattr(closing, "FORMAT", 1)  # the code path before this change
    old = world.close(utc("2026-04-01T08:00:00"))  # 30 and 31 March, and March
    assert [c.version for c in old] == [1, 1, 1]
    assert "format" not in old[0].payload() and "office_payments" not in old[0].payload()
    monkeypatch.setattr(closing, "FORMAT", 2)
    new = by_key(world.close(FIRST_CLOSE))
    assert sorted(new) == [("day", "2026-04-01"), ("day", "2026-04-02")]
    # The perpetual total of the office's payments starts with format 2.
    assert new["day", "2026-04-01"].office.grand_total == 0
    assert new["day", "2026-04-02"].office.grand_total == D("-50.00")
    stored = world.closings()
    assert [c.version for c in stored] == [1, 1, 1, 2, 2]
    assert stored[0].payload() == old[0].payload()  # read back identically
    with world.engine.connect() as conn:
        assert integrity.verify_live(conn, TENANT, SERVER_HEX) == []


def test_a_payment_entry_doctored_in_the_database_is_named_by_the_closing(world):
    world.close(FIRST_CLOSE)
    with world.engine.begin() as conn:
        row = conn.execute(
            sa.select(journal_entries.c.seq, journal_entries.c.body).where(
                journal_entries.c.device_id == f"server:{TENANT}",
                journal_entries.c.type == "office_payment",
            )
        ).first()
        assert '"150.00"' in row.body
        conn.execute(
            sa.update(journal_entries)
            .where(
                journal_entries.c.device_id == f"server:{TENANT}",
                journal_entries.c.seq == row.seq,
            )
            .values(body=row.body.replace('"150.00"', '"15.00"'))
        )
    with world.engine.connect() as conn:
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    differs = [f for f in findings if f.kind is integrity.Kind.CLOSING_DIFFERS]
    assert {(f.where.level, f.where.period) for f in differs} >= {("day", "2026-03-30")}
    [day] = [f for f in differs if f.where.period == "2026-03-30"]
    assert '"transfer":"150.00"' in day.message("en") and '"transfer":"15.00"' in day.message("en")
    assert "office_payments" in day.message("fr")


def test_a_closing_cannot_go_back_to_the_format_before():
    period = Period(Level.DAY, date(2026, 3, 30))
    first = closing.close_period([], tenant_id=TENANT, period=period, timezone="UTC", previous=None)
    assert first.version == 2
    with pytest.raises(ValueError, match="format 1 after one of format 2"):
        closing.close_period(
            [], tenant_id=TENANT, period=period.next(), timezone="UTC", previous=first, version=1
        )
    with pytest.raises(ValueError, match="unknown closing format"):
        closing.TenantClosing.from_payload({**first.payload(), "format": 3})
    with pytest.raises(ValueError, match="format 1"):
        without = {k: v for k, v in first.payload().items() if k != "format"}
        closing.TenantClosing.from_payload(without)


def test_verify_command_stays_clean(world, tmp_path):
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the command line is the same on both databases")
    from server.cli.main import main

    world.close(FIRST_CLOSE)
    var = tmp_path / "var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    url = world.engine.url.render_as_string(hide_password=False)
    done = CliRunner().invoke(
        main, ["verify", TENANT, "--database", url, "--var-dir", str(var), "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["clean"] is True
