"""A real office server (the Flask app in process, on the `engine` fixture: SQLite and
PostgreSQL) with the demo tenant, tablets that enrol and sync with it through a link
that can fail (tests.wsgi_faults), and the office's side (a manager, a clerk). Shared by
the field client's sync tests and the office's simulated day."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fieldclient import syncing
from fieldclient.home import Home
from fieldclient.integrity import verify
from fieldclient.tablet import Tablet
from server import demo
from server.app import create_app
from server.people import hashing
from server.platform.tables import anomalies, devices, journal_entries
from shared import journal, signing
from shared.chain_verifier import verify_chain
from sync.client import SyncClient
from tests.server_support import Clock
from tests.storage import engine  # noqa: F401
from tests.wsgi_faults import URL, WsgiFaults, session

START = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)


class World:
    def __init__(self, engine: sa.Engine, tmp: Path) -> None:  # noqa: F811
        self.engine = engine
        self.clock = Clock(START)
        self.app = create_app(
            {"ENGINE": engine, "VAR_DIR": str(tmp / "var"), "SECRET_KEY": "t", "CLOCK": self.clock}
        )
        with engine.begin() as conn:
            self.seeded = demo.seed(conn, START)
        self.link = WsgiFaults(self.app)
        self.office = self.app.test_client()
        self.tokens: dict[str, str] = {}

    def code(self, driver: str) -> str:
        return next(c["code"] for c in self.seeded.codes if c["driver_ids"] == [driver])

    def client(self, tablet: Tablet | None = None) -> SyncClient:
        return SyncClient(
            URL,
            device_id=tablet.device_id if tablet and tablet.enrolled else None,
            session=session(self.link),
            retries=2,
            backoff=0.0,
            sleep=lambda _s: None,
        )

    def tablet(self, path: Path, driver: str, pin: str) -> Tablet:
        # The tablet's clock follows the server's: the offset is learnt at sync anyway.
        tablet = Tablet(Home(path), clock=self.clock)
        syncing.enroll(
            tablet, URL, self.code(driver), label=f"Tablette {driver}", client=self.client()
        )
        tablet.login(driver, pin)
        return tablet

    def sync(self, tablet: Tablet, **options: Any) -> syncing.SyncReport:
        return syncing.sync(tablet, self.client(tablet), **options)

    def as_user(self, login: str) -> dict[str, str]:
        if login not in self.tokens:
            answer = self.office.post(
                "/api/v1/auth/login",
                json={"tenant": "demo", "login": login, "password": demo.PASSWORD},
            )
            self.tokens[login] = answer.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[login]}"}

    def approval(self, tablet: Tablet, mission: str, kind: str, amount: str) -> str:
        """The manager, on the phone, makes the code in the office."""
        answer = self.office.post(
            "/api/v1/approvals",
            json={
                "device_id": tablet.device_id,
                "mission_id": mission,
                "kind": kind,
                "amount": amount,
            },
            headers=self.as_user("gerant"),
        )
        assert answer.status_code in (200, 201), answer.get_json()
        return str(answer.get_json()["code"])

    def server_chain(self, device_id: str) -> list[journal.SignedEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(journal_entries.c.body, journal_entries.c.hash, journal_entries.c.sig)
                .where(journal_entries.c.device_id == device_id)
                .order_by(journal_entries.c.seq)
            ).all()
        return [
            journal.from_wire({**json.loads(r.body), "hash": r.hash, "sig": r.sig}) for r in rows
        ]

    def public_key(self, device_id: str) -> signing.PublicKey:
        with self.engine.connect() as conn:
            raw = conn.execute(
                sa.select(devices.c.public_key).where(devices.c.id == device_id)
            ).scalar_one()
        return signing.public_key_from_bytes(bytes.fromhex(raw) if isinstance(raw, str) else raw)

    def anomaly_kinds(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(sa.select(anomalies.c.kind)).scalars())


@pytest.fixture
def world(engine, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(hashing, "N", 2**8)
    return World(engine, tmp_path)


def assert_in_agreement(world: World, tablet: Tablet) -> list[journal.SignedEntry]:
    """The server holds every tablet entry exactly once, byte for byte, and the chain
    verifies end to end on both sides."""
    held = world.server_chain(tablet.device_id)
    mine = [r.wire(tablet.device_id) for r in tablet.ledger().rows()]
    assert [e.seq for e in held] == list(range(1, len(mine) + 1))
    assert [journal.to_wire(e) for e in held] == mine
    public = world.public_key(tablet.device_id)
    assert verify_chain(held, device_id=tablet.device_id, public_key=public) == ()
    assert tablet.pending_count() == 0
    assert verify(tablet).ok
    return held
