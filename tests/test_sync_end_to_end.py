"""End to end over real HTTP on 127.0.0.1: the office server with the demo tenant, a
tablet that enrols with a code, opens a session, pulls its contracts and missions,
values a mission offline, collects, pushes its signed journal (twice: a retry doubles
nothing), and, once revoked, has what it pushes kept in quarantine. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from werkzeug.serving import make_server

from server import demo
from server.app import create_app
from server.people import hashing
from server.platform.tables import anomalies, journal_entries, quarantine, valuations
from shared import journal, signing
from shared.balance import fold
from shared.chain_verifier import verify_chain
from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.payment_terms import Method
from shared.payments import collection_payload
from shared.register import opened_payload
from shared.valuation import value
from sync.client import DeviceRevoked, SyncClient
from tests.server_support import Clock
from tests.storage import engine  # noqa: F401

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def server(engine, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(hashing, "N", 2**8)
    clock = Clock(START)
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "e2e", "CLOCK": clock}
    )
    with engine.begin() as conn:
        seeded = demo.seed(conn, START)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", seeded, engine, app
    http.shutdown()
    thread.join(timeout=10)


def test_a_tablet_enrols_pulls_works_offline_pushes_and_is_quarantined_once_revoked(server):
    url, seeded, eng, app = server
    code = next(c["code"] for c in seeded.codes if c["driver_ids"] == ["d1"])
    key = Ed25519PrivateKey.generate()
    raw_public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    private = signing.private_key_from_bytes(key.private_bytes_raw())

    tablet = SyncClient(url, retries=2, backoff=0.01)
    enrolment = tablet.enrol(url, code, raw_public.hex(), "Tablette de Karim")
    assert enrolment.tenant_id == "demo"
    assert [d["id"] for d in enrolment.drivers] == ["d1"]
    tablet.open_session(private)

    # Pull: the tenant's contracts and the missions assigned to d1, page by page.
    received: list[dict] = []
    cursor = tablet.pull(0, lambda page, _cursor: received.extend(page), limit=5)
    kinds = [c["kind"] for c in received]
    assert kinds.count("contract") == 3
    mine = {c["id"]: c["data"] for c in received if c["kind"] == "mission"}
    assert set(mine) == {"M-A-0001", "M-A-0004", "M-A-0006", "M-P-0001"}  # d1's, nobody else's
    later: list[dict] = []
    assert tablet.pull(cursor, lambda page, _c: later.extend(page)) == cursor
    assert later == []  # an incremental pull with nothing new

    # Offline: value the winching-without-accident mission with the pulled contract.
    contract_doc = next(
        c["data"]["document"]
        for c in received
        if c["kind"] == "contract" and c["id"].startswith("ASSIST-A")
    )
    mission_doc = mine["M-A-0004"]["document"]
    valuation = value(load_mission(mission_doc), load_contract(contract_doc))
    assert valuation.beneficiary_due == Decimal("96.00")

    entries: list[journal.SignedEntry] = []
    head = journal.genesis(enrolment.device_id)
    at = START

    def record(type_: str, payload: dict) -> None:
        nonlocal head, at
        at += timedelta(minutes=3)
        signed = journal.append(
            head,
            type=type_,
            at=journal.utc_timestamp(at),
            driver_id="d1",
            payload=payload,
            private_key=private,
        )
        entries.append(signed)
        head = signed.head

    record("register_opened", opened_payload(Decimal("50.00")))
    record(
        "valuation_recorded",
        {"mission_id": "M-A-0004", "valuation": valuation.to_wire(), "mission": mission_doc},
    )
    money = fold("M-A-0004", valuation.beneficiary_due, [])
    record(
        "collection",
        collection_payload(
            money,
            Method.CARD,
            "96.00",
            {"terminal_ref": "AUT-4411"},
            company_methods=list(Method),
            contract_methods=list(Method),
            vat_basis=valuation.beneficiary,
        ),
    )

    app.config["CLOCK"].advance(minutes=10)  # back online after the work, not before it
    ack = tablet.push(entries)
    assert ack is not None and (ack.seq, ack.hash) == (3, entries[-1].hash)
    again = tablet.push(entries)  # a retry after a lost answer: acknowledged, not doubled
    assert again is not None and again.seq == 3

    with eng.connect() as conn:
        stored = conn.execute(
            sa.select(journal_entries.c.body, journal_entries.c.hash, journal_entries.c.sig)
            .where(journal_entries.c.device_id == enrolment.device_id)
            .order_by(journal_entries.c.seq)
        ).all()
        found = conn.execute(
            sa.select(valuations.c.source, valuations.c.digest).where(
                valuations.c.mission_id == "M-A-0004"
            )
        ).all()
        alarms = conn.execute(sa.select(anomalies.c.kind)).scalars().all()
    assert len(stored) == 3
    chain = [
        journal.from_wire({**json.loads(row.body), "hash": row.hash, "sig": row.sig})
        for row in stored
    ]
    public = signing.public_key_from_bytes(raw_public)
    assert verify_chain(chain, device_id=enrolment.device_id, public_key=public) == ()
    assert sorted(found) == [("device", valuation.digest), ("server", valuation.digest)]
    assert alarms == []  # the server's recomputation agrees to the cent

    # The office revokes the tablet: what it pushes afterwards is kept, not lost.
    admin = (
        app.test_client()
        .post(
            "/api/v1/auth/login",
            json={"tenant": "demo", "login": "admin", "password": demo.PASSWORD},
        )
        .get_json()["token"]
    )
    revoked = app.test_client().post(
        f"/api/v1/devices/{enrolment.device_id}/revoke",
        json={"reason": "Tablette volée"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert revoked.status_code == 200, revoked.get_json()
    record("dispute", {"mission_id": "M-A-0001", "reason": "prix contesté", "shown": "0.00"})
    with pytest.raises(DeviceRevoked):
        tablet.push(entries[-1:])
    with eng.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one() == 1
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(journal_entries)).scalar_one() == 3
        )
