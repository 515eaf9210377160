"""A revoked tablet cannot fill the database or the desk (issue 16), on SQLite and
PostgreSQL: bounds per push and per tablet apply before anything is kept, the same batch
is kept once, and however often it pushes the office sees one alert per tablet."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.devices import quarantine
from server.platform.tables import anomalies
from sync.protocol import MAX_PUSH_ENTRIES, ErrorCode, PushStatus
from tests.server_support import enrol as enrol_over_api
from tests.server_support import world  # noqa: F401 - the fixture
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import Tablet, add_tenant, anomalies_of, enrol, quarantined, send
from tests.test_server_sync_api import chain, push


@pytest.fixture
def tablet(engine):  # noqa: F811
    add_tenant(engine)
    t = Tablet("dev-1")
    enrol(engine, t, label="Camion 3")
    return t


def test_repeated_pushes_make_one_alert_and_the_same_batch_is_kept_once(engine, tablet):  # noqa: F811
    tablet.write(2)
    for _ in range(3):  # the tablet sends its outbox again at every sync
        result = send(engine, tablet, tablet.wire(), revoked=True)
        assert (result.status, result.http_status) == (PushStatus.QUARANTINED, 202)
    tablet.write(1)
    assert send(engine, tablet, tablet.wire(), revoked=True).status is PushStatus.QUARANTINED
    assert [len(body) for _, _, body in quarantined(engine)] == [2, 3]
    [alert] = anomalies_of(engine, "quarantined_push")
    assert (alert.subject, alert.device_id, alert.driver_id) == ("dev-1", "dev-1", "d1")
    assert alert.detail["tablet"] == {"device_id": "dev-1", "label": "Camion 3"}
    assert "« Camion 3 » (dev-1), retirée du service" in alert.detail["fr"]


def test_once_the_office_dealt_with_the_alert_a_new_push_raises_a_new_one(engine, tablet):  # noqa: F811
    tablet.write(1)
    send(engine, tablet, tablet.wire(), revoked=True)
    with engine.begin() as conn:
        conn.execute(sa.update(anomalies).values(status="resolved"))
    tablet.write(1)
    send(engine, tablet, tablet.wire(), revoked=True)
    assert [a.status for a in anomalies_of(engine, "quarantined_push")] == ["resolved", "open"]


def test_a_batch_over_the_push_limits_is_refused_before_anything_is_kept(
    engine,  # noqa: F811
    tablet,
    monkeypatch,
):
    tablet.write(MAX_PUSH_ENTRIES + 1)
    result = send(engine, tablet, tablet.wire(), revoked=True)
    assert (result.code, result.http_status) == (ErrorCode.BATCH_TOO_LARGE, 413)
    monkeypatch.setattr(quarantine, "BATCH_CHARS", 2000)
    result = send(engine, tablet, tablet.wire(1, 10), revoked=True)
    assert (result.code, result.http_status) == (ErrorCode.BODY_TOO_LARGE, 413)
    assert quarantined(engine) == [] and anomalies_of(engine) == []


def test_past_the_tablets_total_nothing_more_is_kept_and_the_push_is_refused(
    engine,  # noqa: F811
    tablet,
    monkeypatch,
):
    monkeypatch.setattr(quarantine, "DEVICE_BATCHES", 2)
    for _ in range(2):
        tablet.write(1)
        assert send(engine, tablet, tablet.wire(), revoked=True).status is PushStatus.QUARANTINED
    tablet.write(1)
    result = send(engine, tablet, tablet.wire(), revoked=True)
    assert (result.code, result.http_status) == (ErrorCode.DEVICE_REVOKED, 403)
    assert "Les entrées restent sur la tablette" in result.to_wire("fr")["message"]
    assert len(quarantined(engine)) == 2
    # a batch already kept is still answered as kept
    assert send(engine, tablet, tablet.wire(1, 1), revoked=True).status is PushStatus.QUARANTINED


def test_the_tablets_total_counts_characters_too(engine, tablet, monkeypatch):  # noqa: F811
    tablet.write(3)
    one = len(str(tablet.wire(1, 1)))
    monkeypatch.setattr(quarantine, "DEVICE_CHARS", 3 * one)
    assert send(engine, tablet, tablet.wire(1, 1), revoked=True).status is PushStatus.QUARANTINED
    result = send(engine, tablet, tablet.wire(), revoked=True)  # three entries: over the total
    assert result.code is ErrorCode.DEVICE_REVOKED
    assert len(quarantined(engine)) == 1


def test_over_the_api_a_revoked_tablet_is_answered_202_then_403_once_its_share_is_full(
    world,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(quarantine, "DEVICE_BATCHES", 1)
    tablet = enrol_over_api(world)
    revoked = world.client.post(
        f"/api/v1/devices/{tablet['device_id']}/revoke",
        json={"reason": "volée"},
        headers=world.auth("acme.admin"),
    )
    assert revoked.status_code == 200, revoked.json
    first, second = chain(tablet, 1), chain(tablet, 2)
    for _ in range(2):
        kept = push(world, tablet, first)
        assert (kept.status_code, kept.json["status"]) == (202, "quarantined")
    full = push(world, tablet, second)
    assert (full.status_code, full.json["code"]) == (403, "device_revoked")
    assert world.count(anomalies, kind="quarantined_push") == 1
