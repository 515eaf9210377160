"""Session challenges signed by the server and stored nowhere (docs/sync-protocol.md
"Sessions"): asking for one writes nothing, even while a push holds SQLite's write lock;
a challenge made for one device, altered, or spelled another way is unknown; single use
holds across server processes, because the session's one write spends the nonce."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from server.app import create_app
from server.devices import session_challenges
from server.platform.tables import challenges, devices
from shared.signing import sign
from sync.protocol import challenge_message
from tests.server_support import enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401

SECRET = b"test"


def ask(w, device_id):
    return w.client.post("/api/v1/devices/challenge", json={"device_id": device_id})


def answer(client, tablet, nonce, key=None):
    return client.post(
        "/api/v1/devices/session",
        json={
            "device_id": tablet["device_id"],
            "nonce": nonce,
            "signature": sign(key or tablet["key"], challenge_message(nonce)).hex(),
        },
    )


def test_asking_for_a_challenge_writes_nothing(world):  # noqa: F811
    tablet = enrol(world)
    before = world.count(challenges)
    made = [ask(world, tablet["device_id"]).json for _ in range(20)]
    assert world.count(challenges) == before  # nothing stored, however many are asked
    assert len({m["nonce"] for m in made}) == 20
    expires = datetime.fromisoformat(made[0]["expires_at"])
    assert expires == (world.clock() + timedelta(minutes=2)).replace(microsecond=0)
    # and a session spends exactly one
    assert answer(world.client, tablet, made[5]["nonce"]).status_code == 200
    assert world.count(challenges) == before + 1


def test_a_challenge_is_answered_while_a_writer_holds_sqlites_lock(world):  # noqa: F811
    """A push holding SQLite's write lock (BEGIN IMMEDIATE) does not hold up a challenge;
    on PostgreSQL there is no such lock to wait for."""
    if world.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    tablet = enrol(world)
    writer = sqlite3.connect(world.engine.url.database, timeout=0.1, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        got = ask(world, tablet["device_id"])
        assert got.status_code == 200 and len(got.json["nonce"]) == 54
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert answer(world.client, tablet, got.json["nonce"]).status_code == 200


def test_a_challenge_made_for_another_device_or_altered_is_unknown(world):  # noqa: F811
    first = enrol(world)
    second = enrol(world, seed=b"\x05" * 32)
    nonce = ask(world, first["device_id"]).json["nonce"]
    stolen = answer(world.client, second, nonce)  # the other tablet signs it itself
    assert (stolen.status_code, stolen.json["code"]) == (401, "challenge_unknown")
    flipped = ("A" if nonce[10] != "A" else "B").join((nonce[:10], nonce[11:]))
    altered = answer(world.client, first, flipped)
    assert (altered.status_code, altered.json["code"]) == (401, "challenge_unknown")
    # the same bytes spelled another way (base64 padding) would be another record: refused
    padded = answer(world.client, first, nonce + "==")
    assert padded.status_code in (401, 422)
    assert answer(world.client, first, nonce).status_code == 200  # the real one still works


def test_a_legacy_stored_nonce_is_unknown(world):  # noqa: F811
    tablet = enrol(world)
    answer_ = answer(world.client, tablet, "a-random-nonce-of-the-old-kind-43-characters")
    assert (answer_.status_code, answer_.json["code"]) == (401, "challenge_unknown")


def test_single_use_holds_across_two_server_processes(world, tmp_path):  # noqa: F811
    """Two apps (two gunicorn workers) with the same secret key and database: the nonce
    one of them accepted is refused by the other."""
    tablet = enrol(world)
    other = create_app(
        {"ENGINE": world.engine, "VAR_DIR": str(tmp_path / "var2"), "SECRET_KEY": "test",
         "CLOCK": world.clock}
    ).test_client()  # fmt: skip
    nonce = ask(world, tablet["device_id"]).json["nonce"]
    assert answer(world.client, tablet, nonce).status_code == 200
    replay = answer(other, tablet, nonce)
    assert (replay.status_code, replay.json["code"]) == (401, "challenge_used")


def test_a_session_moves_last_seen_only_when_it_is_a_minute_old(world):  # noqa: F811
    tablet = enrol(world)

    def last_seen():
        with world.engine.connect() as conn:
            return conn.execute(
                sa.select(devices.c.last_seen_at).where(devices.c.id == tablet["device_id"])
            ).scalar_one()

    first = last_seen()
    world.clock.advance(seconds=30)
    assert (
        answer(world.client, tablet, ask(world, tablet["device_id"]).json["nonce"]).status_code
        == 200
    )
    assert last_seen() == first
    world.clock.advance(seconds=40)
    assert (
        answer(world.client, tablet, ask(world, tablet["device_id"]).json["nonce"]).status_code
        == 200
    )
    assert last_seen() == world.clock()


@pytest.mark.parametrize("seconds", [0, 119])
def test_the_expiry_is_signed_into_the_nonce(seconds):
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    made = session_challenges.make(SECRET, "dev_1", moment + timedelta(seconds=seconds))
    assert session_challenges.read(SECRET, "dev_1", made.nonce) == made.expires_at
    assert session_challenges.read(b"another key", "dev_1", made.nonce) is None
    assert session_challenges.read(SECRET, "dev_2", made.nonce) is None
