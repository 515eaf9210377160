"""Helpers for the server's API tests: an app on the `engine` fixture with a clock the
test moves, two tenants (acme, other) each with an admin, a clerk without rights and two
drivers, and tokens for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server.app import create_app
from server.people import hashing, identity
from server.people.drivers import create_driver
from shared.signing import private_key_from_bytes, public_key_to_bytes, sign
from sync.protocol import challenge_message

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    client: Any
    clock: Clock
    engine: sa.Engine
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def login(self, tenant: str, login: str, password: str = PASSWORD) -> Any:
        return self.client.post(
            "/api/v1/auth/login", json={"tenant": tenant, "login": login, "password": password}
        )

    def count(self, table: sa.Table, **where: Any) -> int:
        query = sa.select(sa.func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def seed(engine: sa.Engine, *, payments: bool = True) -> None:
    with engine.begin() as conn:
        for tenant in ("acme", "other"):
            identity.create_tenant(
                conn, tenant, tenant.title(), payments_enabled=payments, now=START
            )
            for login, role in (("admin", "admin"), ("clerk", "driver")):
                identity.create_user(
                    conn, tenant, login, login.title(), PASSWORD, role, actor="test", now=START
                )
        create_driver(conn, "acme", "D1", "Luc", "1234", "driver", actor="t", now=START)
        create_driver(conn, "acme", "D2", "Ana", "5678", "driver", actor="t", now=START)
        create_driver(conn, "other", "X1", "Zoe", "4321", "driver", actor="t", now=START)


@pytest.fixture
def world(engine, tmp_path, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hashing, "N", 2**8)  # fast hashes: the cost is not what is tested
    clock = Clock()
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "test", "CLOCK": clock}
    )
    app.config["TESTING"] = True
    seed(engine)
    w = World(app.test_client(), clock, engine)
    for tenant in ("acme", "other"):
        for login in ("admin", "clerk"):
            answer = w.login(tenant, login)
            assert answer.status_code == 200, answer.json
            w.tokens[f"{tenant}.{login}"] = answer.json["token"]
    return w


DEVICE_SEED = bytes(range(32))


def device_key(seed: bytes = DEVICE_SEED) -> tuple[Any, str]:
    key = private_key_from_bytes(seed)
    return key, public_key_to_bytes(key.public_key()).hex()


def enrol(w: World, drivers: list[str] | None = None, seed: bytes = DEVICE_SEED) -> dict[str, Any]:
    """Enrol a tablet of acme and open a session; returns the enrolment plus `token`."""
    made = w.client.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": drivers or ["D1"], "label": "Truck 3"},
        headers=w.auth("acme.admin"),
    )
    assert made.status_code == 201, made.json
    key, public_hex = device_key(seed)
    enrolled = w.client.post(
        "/api/v1/devices/enrol", json={"code": made.json["code"], "public_key": public_hex}
    )
    assert enrolled.status_code == 201, enrolled.json
    data = dict(enrolled.json)
    data["token"] = session(w, data["device_id"], key).json["token"]
    data["key"] = key
    return data


def session(w: World, device_id: str, key: Any) -> Any:
    nonce = w.client.post("/api/v1/devices/challenge", json={"device_id": device_id}).json["nonce"]
    return w.client.post(
        "/api/v1/devices/session",
        json={
            "device_id": device_id,
            "nonce": nonce,
            "signature": sign(key, challenge_message(nonce)).hex(),
        },
    )
