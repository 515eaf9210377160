"""The tablet's own verifier against the real office server (issue 16), on SQLite and
PostgreSQL: the server signs the enrolment it grants, the session answer says which key
the server has, a key file swapped or a server key replaced on the tablet is caught at
the next sync (exit 4, nothing sent), a broken journal is reported to the office with
the push's integrity report, and a wiped outbox or a forged acknowledgement hides no
entry from the office."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import request

from fieldclient import enrolment_record, integrity_report
from fieldclient.cli.common import EXIT_INTEGRITY, exit_code
from fieldclient.home import Home
from fieldclient.integrity import verify
from fieldclient.tablet import IntegrityFailure, Tablet
from server.api.security import current_device
from server.devices import integrity_reports
from server.platform.tables import anomalies
from server.platform.web import engine as app_engine
from server.platform.web import now as app_now
from shared import signing
from shared.i18n import Text
from sync.protocol import PUSH_PATH, enrolment_message
from tests.office_world import World, assert_in_agreement, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.sync_support import NOW, TENANT, add_tenant
from tests.tampering import forge_enrolment, set_meta, sql, swap_key_and_resign

D = Decimal
TENANT_OF_DEMO = "demo"
OTHER_SEED = bytes(range(100, 132))
FAKE_SERVER_SEED = bytes(range(140, 172))


def working_tablet(world: World, path: Path) -> Tablet:  # noqa: F811
    """Karim's tablet, synced once, with a day of work waiting to be sent."""
    tablet = world.tablet(path, "d1", "1111")
    world.sync(tablet)
    tablet.register_open(D("50.00"))
    tablet.step("M-A-0004", "en_route")
    tablet.step("M-A-0004", "on_site")
    tablet.collect("M-A-0004", "cash", "50.00", {"tendered": "50.00"})
    return tablet


def reopen(world: World, path: Path) -> Tablet:  # noqa: F811
    return Tablet(Home(path), clock=world.clock)


def sent_pushes(world: World) -> list[dict[str, Any]]:  # noqa: F811
    bodies = []
    for raw, headers in world.link.sent.get(PUSH_PATH, []):
        if headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        bodies.append(json.loads(raw))
    return bodies


def server_records_reports(world: World) -> None:  # noqa: F811
    """The small change server/api/sync.py is to make (the report's server side): the
    push's `integrity_report` kept with `server.devices.integrity_reports.record`, and
    the answer saying so. Played here by wrapping the push view."""
    original = world.app.view_functions["sync.Push"]

    def push_view(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        body = request.get_json(silent=True) or {}
        report = body.get("integrity_report")
        if report is None or response.status_code >= 400:
            return response
        device = current_device()
        with app_engine().begin() as conn:
            recorded = integrity_reports.record(
                conn,
                tenant_id=device.tenant_id,
                device_id=device.device_id,
                report=report,
                revoked=device.revoked,
                now=app_now(),
            )
        answer = response.get_json()
        answer["integrity_report"] = {"id": recorded}
        response.set_data(json.dumps(answer))
        return response

    world.app.view_functions["sync.Push"] = push_view


def tablet_reports(world: World) -> list[Any]:  # noqa: F811
    with world.engine.connect() as conn:
        return list(
            conn.execute(sa.select(anomalies).where(anomalies.c.kind == "journal_invalid")).all()
        )


# --- what the server says ---------------------------------------------------------------------


def test_the_server_signs_the_enrolment_and_says_it_again_at_each_session(world, tmp_path):  # noqa: F811
    made = world.office.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": ["d1"], "label": "Camion 9"},
        headers=world.as_user("admin"),
    )
    assert made.status_code == 201, made.get_json()
    key = signing.private_key_from_bytes(OTHER_SEED)
    public_hex = signing.public_key_to_bytes(key.public_key()).hex()
    answer = world.office.post(
        "/api/v1/devices/enrol", json={"code": made.get_json()["code"], "public_key": public_hex}
    ).get_json()
    server_key = signing.public_key_from_bytes(bytes.fromhex(answer["server_public_key"]))
    message = enrolment_message(answer["tenant_id"], answer["device_id"], public_hex)
    assert signing.verify(server_key, bytes.fromhex(answer["enrolment_signature"]), message)
    forged = enrolment_message(answer["tenant_id"], answer["device_id"], "ab" * 32)
    assert not signing.verify(server_key, bytes.fromhex(answer["enrolment_signature"]), forged)

    client = world.client()
    client.device_id = answer["device_id"]
    client.open_session(key)
    assert client.server_public_key == answer["server_public_key"]
    assert client.enrolment_signature == answer["enrolment_signature"]


def test_an_enrolled_tablet_keeps_the_signed_enrolment_and_verifies_against_it(world, tmp_path):  # noqa: F811
    tablet = working_tablet(world, tmp_path / "karim")
    assert tablet.meta(enrolment_record.SIGNATURE) is not None
    assert (
        tablet.meta(enrolment_record.DEVICE_PUBLIC_KEY)
        == signing.public_key_to_bytes(world.public_key(tablet.device_id)).hex()
    )
    assert verify(tablet).ok
    world.sync(tablet)
    assert_in_agreement(world, tablet)


# --- a tablet's files changed --------------------------------------------------------------


def test_a_swapped_key_with_a_forged_record_is_refused_at_the_next_sync(world, tmp_path):  # noqa: F811
    tablet = working_tablet(world, tmp_path / "karim")
    device_id, held = tablet.device_id, len(world.server_chain(tablet.device_id))
    tablet.close()
    new = swap_key_and_resign(tmp_path / "karim", OTHER_SEED)
    forge_enrolment(tmp_path / "karim", TENANT_OF_DEMO, device_id, new, FAKE_SERVER_SEED)
    tablet = reopen(world, tmp_path / "karim")
    assert verify(tablet).ok  # offline, out of reach (docs/field-client.md)

    with pytest.raises(IntegrityFailure) as caught:
        world.sync(tablet)
    assert exit_code(caught.value) == EXIT_INTEGRITY
    assert enrolment_record.KEY_NOT_ENROLLED.en in caught.value.message("en")
    assert len(world.server_chain(device_id)) == held  # nothing sent
    tablet.close()


def test_a_swapped_key_alone_is_named_from_the_tablet_and_from_the_server(world, tmp_path):  # noqa: F811
    tablet = working_tablet(world, tmp_path / "karim")
    held = len(world.server_chain(tablet.device_id))
    tablet.close()
    swap_key_and_resign(tmp_path / "karim", OTHER_SEED)
    tablet = reopen(world, tmp_path / "karim")
    with pytest.raises(IntegrityFailure) as caught:
        world.sync(tablet)
    words = caught.value.message("en")
    assert "The key file (device-keys.json) holds another key" in words  # found offline
    assert enrolment_record.KEY_NOT_ENROLLED.en in words  # and the server agrees
    assert words.endswith("The office will be told at the next sync that reaches the server.")
    assert len(world.server_chain(tablet.device_id)) == held
    tablet.close()


def test_a_replaced_server_key_is_caught_at_the_next_sync_and_reported(world, tmp_path):  # noqa: F811
    tablet = working_tablet(world, tmp_path / "karim")
    device_id, held = tablet.device_id, len(world.server_chain(tablet.device_id))
    own = tablet.private_key()
    tablet.close()
    forge_enrolment(tmp_path / "karim", TENANT_OF_DEMO, device_id, own, FAKE_SERVER_SEED)
    tablet = reopen(world, tmp_path / "karim")
    assert verify(tablet).ok  # offline, out of reach

    with pytest.raises(IntegrityFailure) as caught:
        world.sync(tablet)
    words = caught.value.message("en")
    assert "The server's key kept on this tablet (towline-field.db, table meta" in words
    assert "nothing is sent" in words
    assert len(world.server_chain(device_id)) == held
    [probe] = [b for b in sent_pushes(world) if b.get("integrity_report")]
    assert probe["entries"] == []
    assert [f["kind"] for f in probe["integrity_report"]["findings"]] == ["server_key_replaced"]
    tablet.close()


def test_a_missing_entry_stops_the_sync_and_the_office_is_told_once(world, tmp_path):  # noqa: F811
    server_records_reports(world)
    tablet = working_tablet(world, tmp_path / "karim")
    device_id, held = tablet.device_id, len(world.server_chain(tablet.device_id))
    tablet.close()
    gone = held + 2
    sql(
        tmp_path / "karim",
        "DROP TRIGGER journal_no_delete",
        f"DELETE FROM outbox WHERE seq = {gone}",
        f"DELETE FROM journal WHERE seq = {gone}",
    )
    tablet = reopen(world, tmp_path / "karim")
    sentences = verify(tablet).problems("en")

    with pytest.raises(IntegrityFailure) as caught:
        world.sync(tablet)
    words = caught.value.message("en")
    assert any(s in words for s in sentences if f"no. {gone}" in s)
    assert words.endswith("The office has been told.")
    assert len(world.server_chain(device_id)) == held  # nothing of a broken journal is sent
    [alert] = tablet_reports(world)
    assert (alert.device_id, alert.detail["source"]) == (device_id, "tablet_report")
    assert any(f["seq"] == gone for f in alert.detail["findings"])
    assert integrity_report.pending(tablet.db) == []

    with pytest.raises(IntegrityFailure):  # still broken: still exit 4, told once
        world.sync(tablet)
    assert len(tablet_reports(world)) == 1
    tablet.close()


def test_a_wiped_outbox_and_a_forged_acknowledgement_hide_nothing(world, tmp_path):  # noqa: F811
    tablet = working_tablet(world, tmp_path / "karim")
    last = list(tablet.ledger().rows())[-1]
    tablet.close()
    # "The server has it all": nothing would be sent, and `journal verify` agrees.
    set_meta(tmp_path / "karim", "acknowledged_seq", str(last.seq))
    set_meta(tmp_path / "karim", "acknowledged_hash", last.hash)
    sql(tmp_path / "karim", "DELETE FROM outbox")
    tablet = reopen(world, tmp_path / "karim")
    assert verify(tablet).ok

    report = world.sync(tablet)
    assert_in_agreement(world, tablet)  # the server holds every entry all the same
    assert any("they are sent again" in w or "envoyées de nouveau" in w for w in report.warnings)
    tablet.close()


def test_a_tablet_enrolled_before_signed_enrolments_gets_it_at_next_sync(world, tmp_path):  # noqa: F811
    tablet = working_tablet(world, tmp_path / "karim")
    tablet.close()
    sql(
        tmp_path / "karim",
        "DELETE FROM meta WHERE key IN ('device_public_key', 'enrolment_signature')",
    )
    tablet = reopen(world, tmp_path / "karim")
    assert [item.kind for item in verify(tablet).items] == [enrolment_record.MISSING]
    world.sync(tablet)
    assert verify(tablet).ok
    assert_in_agreement(world, tablet)
    tablet.close()


# --- the server's side of a report -------------------------------------------------------------


def _report(n: int = 1) -> dict[str, Any]:
    gone = Text(f"Entrée n° {n} manquante.", f"Entry {n} gone.")
    return integrity_report.report_body(
        [integrity_report.Finding("gap", gone, n)], "2026-03-10T09:00:00.000Z"
    )


def test_a_report_is_kept_once_capped_per_tablet_and_ignored_from_a_revoked_one(engine):  # noqa: F811
    add_tenant(engine)
    with engine.begin() as conn:
        first = _report(1)
        kept = [
            integrity_reports.record(
                conn, tenant_id=TENANT, device_id="dev-1", report=r, revoked=False, now=NOW
            )
            for r in (first, first, *(_report(n) for n in range(2, 9)))
        ]
        revoked = integrity_reports.record(
            conn, tenant_id=TENANT, device_id="dev-2", report=first, revoked=True, now=NOW
        )
        for _ in range(3):
            integrity_reports.key_refused(
                conn, tenant_id=TENANT, device_id="dev-3", now=NOW + timedelta(minutes=1)
            )
        rows = conn.execute(sa.select(anomalies).order_by(anomalies.c.id)).all()
    assert kept[0] == kept[1] == first["id"] and revoked is None
    by_device = [(r.device_id, r.detail["source"]) for r in rows]
    assert by_device.count(("dev-1", "tablet_report")) == integrity_reports.MAX_OPEN_PER_DEVICE
    assert by_device.count(("dev-3", "session")) == 1
    assert "dev-2" not in {r.device_id for r in rows}
    assert rows[0].detail["findings"] == [
        {"kind": "gap", "seq": 1, "fr": "Entrée n° 1 manquante.", "en": "Entry 1 gone."}
    ]
