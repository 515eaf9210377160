"""Cash collected on site is held to the tenant's limit (issue 16; CMF art. D112-3), on
SQLite and PostgreSQL: the tablet learns the limit from the pull and refuses cash above it
(exit 3 on the command line); the server checks what was stored again and raises
`cash_over_limit`, once, at the push and at reconciliation alike, for a tablet that had
not learnt a stricter limit (or was altered). M-A-0004 of the demo owes 96.00 and its
contract accepts cash."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from fieldclient import cash_limits as field_cash_limits
from fieldclient.cli import main as field
from server.office import cash_limits, reconcile
from server.platform.tables import anomalies
from shared.cash_rule import cash_refusal, on_site_limit
from shared.errors import Refused
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal


def set_limit(w: World, resident: str) -> None:
    with w.engine.begin() as conn:
        cash_limits.set_limits(conn, "demo", {"resident": resident}, actor="gerant", now=START)


def rows_of(w: World, kind: str) -> list[sa.Row]:
    with w.engine.connect() as conn:
        return conn.execute(sa.select(anomalies).where(anomalies.c.kind == kind)).all()


def on_site(w: World, tmp_path: Path):  # type: ignore[no-untyped-def]
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    return karim


def test_the_pure_rule_never_loosens_the_law():
    assert on_site_limit(None) == D("1000.00")
    assert on_site_limit({"resident": "50.00"}) == D("50.00")
    assert on_site_limit({"resident": "5000.00"}) == D("1000.00")  # never above the law
    assert on_site_limit({"resident": 12.5}) == D("1000.00")  # a float is unreadable
    assert cash_refusal(D("50.00"), D("0.00"), D("50.00")) is None
    refused = cash_refusal(D("50.00"), D("20.00"), D("40.00"))
    assert isinstance(refused, Refused)
    assert refused.text.en == (
        "Cash payments are limited by your company to €50.00 for this mission (already"
        " collected in cash: €20.00). Collect at most €30.00 in cash and the rest another way."
    )
    by_law = cash_refusal(D("1000.00"), D("0.00"), D("1000.01"))
    assert by_law is not None and "limited by law to €1,000.00" in by_law.text.en


def test_the_tablet_refuses_cash_above_the_companys_limit(world, tmp_path: Path):  # noqa: F811
    w = world
    set_limit(w, "50.00")
    karim = on_site(w, tmp_path)  # its first sync pulled the limit
    assert field_cash_limits.limit(karim.db) == D("50.00")
    before = karim.db.execute("SELECT count(*) FROM journal").fetchone()[0]
    answer = CliRunner().invoke(
        field,
        [
            *("collect", "M-A-0004", "--method", "cash", "--amount", "96.00"),
            *("--tendered", "100.00", "--home", str(tmp_path / "karim")),
        ],
    )
    assert answer.exit_code == 3, answer.output
    assert "Paiement en espèces limité par votre entreprise à 50,00" in answer.output
    assert karim.db.execute("SELECT count(*) FROM journal").fetchone()[0] == before
    paid = karim.collect("M-A-0004", "cash", "50.00", {"tendered": "50.00"})
    assert paid.payload["amount"] == "50.00"
    w.sync(karim)
    assert rows_of(w, "cash_over_limit") == []


def test_the_server_raises_cash_stored_above_the_limit_once(world, tmp_path: Path):  # noqa: F811
    w = world
    karim = on_site(w, tmp_path)  # pulled no limit: the law's 1 000 €
    paid = karim.collect("M-A-0004", "cash", "96.00", {"tendered": "100.00"})
    set_limit(w, "50.00")  # stricter, while the tablet was offline
    w.sync(karim)

    [alert] = rows_of(w, "cash_over_limit")
    assert (alert.subject, alert.amount_cents, alert.mission_id, alert.driver_id) == (
        "M-A-0004",
        4600,
        "M-A-0004",
        "d1",
    )
    assert alert.detail["collections"] == [
        {"device_id": karim.device_id, "seq": paid.seq, "hash": paid.hash}
    ]
    assert (alert.detail["limit"], alert.detail["cash"]) == ("50.00", "96.00")
    assert (
        alert.detail["fr"]
        .replace("\u202f", " ")
        .replace("\u00a0", " ")
        .startswith(
            "Espèces au-delà du plafond : 96,00 € encaissés en espèces sur la mission pour un"
            " plafond de 50,00 €, soit 46,00 € de trop"
        )
    )
    with w.engine.begin() as conn:
        summary = reconcile.reconcile_tenant(conn, "demo", now=START)
    assert (summary.by_kind.get("cash_over_limit"), summary.opened) == (1, 0)
    assert len(rows_of(w, "cash_over_limit")) == 1

    ref = w.office.get(
        "/api/v1/anomalies?kind=cash_over_limit", headers=w.as_user("gerant")
    ).get_json()[0]["id"]
    done = w.office.post(
        f"/api/v1/anomalies/{ref}/resolve",
        json={"action": "void", "reason": "Espèces au-delà du plafond"},
        headers=w.as_user("gerant"),
    )
    assert done.status_code == 200, done.get_json()
    assert len(done.get_json()["decisions"]) == 1
    with w.engine.begin() as conn:
        reconcile.reconcile_tenant(conn, "demo", now=START)
    assert [r.status for r in rows_of(w, "cash_over_limit")] == ["resolved"]
    # The tablet learnt the limit at that sync: it refuses the same cash now.
    assert field_cash_limits.limit(karim.db) == D("50.00")
