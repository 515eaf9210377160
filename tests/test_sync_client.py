"""The sync client against the push and pull functions on SQLite and PostgreSQL, through a
fake transport that drops connections, loses answers after the server committed,
duplicates and replays requests: nothing is lost, nothing is doubled."""

from __future__ import annotations

from types import SimpleNamespace

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from server.platform import changes
from sync import protocol
from sync.client import (
    Acknowledged,
    DeviceRevoked,
    Refused,
    ServerUnreachable,
    SyncClient,
    UpdateRequired,
)
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_fake_server import URL, FakeServer, session_with
from tests.sync_support import (
    NOW,
    TENANT,
    Tablet,
    add_tenant,
    anomalies_of,
    enrol,
    head_of,
    send,
    stored,
)


@pytest.fixture
def world(engine):  # noqa: F811
    add_tenant(engine)
    tablet = Tablet("dev-1")
    enrol(engine, tablet)
    server = FakeServer(engine, tablet)
    sleeps: list[float] = []
    client = SyncClient(URL, device_id="dev-1", session=session_with(server), sleep=sleeps.append)
    client.open_session(tablet.key)
    return SimpleNamespace(
        engine=engine, tablet=tablet, server=server, client=client, sleeps=sleeps
    )


def everything_once(engine, tablet):  # noqa: F811
    return stored(engine, tablet.device_id) == [(e.seq, e.hash) for e in tablet.entries]


def test_push_sends_batches_in_device_order_and_reports_each_acknowledgement(world):
    world.tablet.write(25)
    acks: list[Acknowledged] = []
    last = world.client.push(world.tablet.entries, batch_size=10, on_acknowledged=acks.append)
    assert last == Acknowledged(25, world.tablet.head.hash)
    assert [a.seq for a in acks] == [10, 20, 25]
    sent = [[e["seq"] for e in body["entries"]] for path, _, body in world.server.requests[2:]]
    assert sent == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    assert everything_once(world.engine, world.tablet)


def test_dropped_connections_and_answers_lost_after_commit_lose_nothing_and_double_nothing(
    world,
):
    world.tablet.write(30)
    world.server.faults = ["drop", "lose", "lose", None, "drop", "503", "lose", None, "dup", "429"]
    last = world.client.push(world.tablet.entries, batch_size=7)
    assert last == Acknowledged(30, world.tablet.head.hash)
    assert everything_once(world.engine, world.tablet)
    assert anomalies_of(world.engine) == []
    assert len(world.sleeps) >= 7 and all(0 < s <= world.client.max_backoff for s in world.sleeps)
    assert max(world.sleeps) >= 2  # the 429's Retry-After was honoured


def test_an_old_batch_replayed_late_by_the_network_is_harmless(world):
    world.tablet.write(12)
    replayed = []

    def replay_first_batch(path, body):
        if path == protocol.PUSH_PATH and body["entries"][0]["seq"] == 1:
            replayed.append(body)
        elif path == protocol.PUSH_PATH and replayed:  # the old copy arrives again, late
            result = send(world.engine, world.tablet, replayed[0]["entries"])
            assert result.acknowledged.seq >= 4

    world.server.before = replay_first_batch
    world.client.push(world.tablet.entries, batch_size=4)
    assert everything_once(world.engine, world.tablet)


def test_a_later_batch_delivered_before_the_first_is_refused_as_a_gap_and_mended(world):
    world.tablet.write(9)
    early = send(
        world.engine, world.tablet, world.tablet.wire(4, 6)
    )  # overtook batch 1..3 on the network
    assert (early.status, early.expected_seq) == (protocol.PushStatus.GAP, 1)
    world.client.push(world.tablet.entries, batch_size=3)
    assert everything_once(world.engine, world.tablet)


def test_the_client_resumes_from_the_gap_the_server_names(world):
    world.tablet.write(10)
    send(world.engine, world.tablet, world.tablet.wire(1, 4))
    world.server.requests.clear()
    world.client.push(world.tablet.entries, batch_size=3)
    assert everything_once(world.engine, world.tablet)
    firsts = [body["entries"][0]["seq"] for _, _, body in world.server.requests]
    assert firsts == [1, 5, 8]  # 1..3 acknowledged with head 4, then onwards


def test_entries_the_server_no_longer_expects_are_reported_not_looped_on(world):
    world.tablet.write(6)
    with pytest.raises(Refused) as refused:
        world.client.push(world.tablet.entries[3:])  # the tablet lost 1..3 before sending them
    assert refused.value.code == "gap"
    assert "n° 1" in refused.value.message()
    assert stored(world.engine, "dev-1") == []


def test_a_fork_is_raised_as_a_refusal_with_the_servers_words(world):
    world.tablet.write(2)
    world.client.push(world.tablet.entries)
    copy = Tablet("dev-1", key=world.tablet.key, entries=world.tablet.entries[:1])
    copy.write(1, amount="10.00")
    with pytest.raises(Refused) as refused:
        world.client.push(copy.entries)
    assert (refused.value.code, refused.value.status) == ("fork", 409)
    assert "Alerte de sécurité" in refused.value.message()
    assert len(anomalies_of(world.engine, "journal_fork")) == 1


def test_a_revoked_tablet_is_told_so_and_its_batch_is_quarantined(world):
    world.server.revoked = True
    world.tablet.write(2)
    with pytest.raises(DeviceRevoked) as revoked:
        world.client.push(world.tablet.entries)
    assert "retirée du service" in revoked.value.message()
    assert len(anomalies_of(world.engine, "quarantined_push")) == 1


def test_a_refusal_is_not_retried(world):
    world.tablet.write(2)
    world.tablet.entries[1] = type(world.tablet.entries[1])(
        world.tablet.entries[1].entry, "0" * 64, "0" * 128
    )
    before = len(world.server.requests)
    with pytest.raises(Refused) as refused:
        world.client.push(world.tablet.entries)
    assert (refused.value.code, refused.value.status) == ("journal_invalid", 422)
    assert len(world.server.requests) == before + 1 and world.sleeps == []


def test_retries_are_bounded_then_the_server_is_reported_unreachable(world):
    world.tablet.write(1)
    world.server.faults = ["drop"] * 20
    with pytest.raises(ServerUnreachable) as unreachable:
        world.client.push(world.tablet.entries)
    assert "rien n'est perdu" in unreachable.value.message("fr")
    assert len(world.sleeps) == world.client.retries
    for attempt, pause in enumerate(world.sleeps):  # exponential, jittered, capped
        ceiling = min(world.client.max_backoff, world.client.backoff * 2**attempt)
        assert ceiling / 2 <= pause <= ceiling


def test_large_bodies_are_sent_gzip_compressed(world):
    world.tablet.write(20)
    world.client.push(world.tablet.entries)
    _, headers, body = world.server.requests[-1]
    assert headers["Content-Encoding"] == "gzip"
    assert headers[protocol.PROTOCOL_HEADER] == str(protocol.PROTOCOL_VERSION)
    assert len(body["entries"]) == 20
    world.client.pull(0, lambda changes, cursor: None)
    assert "Content-Encoding" not in world.server.requests[-1][1]


def test_an_expired_token_opens_one_new_session_and_the_request_goes_through(world):
    world.server.tokens.clear()
    world.tablet.write(1)
    assert world.client.push(world.tablet.entries) == Acknowledged(1, world.tablet.head.hash)
    paths = [path for path, _, _ in world.server.requests[-4:]]
    assert paths == [
        protocol.PUSH_PATH,
        protocol.CHALLENGE_PATH,
        protocol.SESSION_PATH,
        protocol.PUSH_PATH,
    ]


def test_open_session_asks_a_fresh_challenge_when_the_signed_nonce_answer_was_lost(world):
    world.server.faults = [None, "lose"]  # challenge answered; session granted but the answer lost
    token = world.client.open_session(world.tablet.key)
    assert token in world.server.tokens
    paths = [path for path, _, _ in world.server.requests[2:]]  # after the fixture's session
    assert paths == [
        protocol.CHALLENGE_PATH,
        protocol.SESSION_PATH,  # granted, the answer lost
        protocol.SESSION_PATH,  # the retry: that nonce is spent, refused
        protocol.CHALLENGE_PATH,
        protocol.SESSION_PATH,
    ]


def test_a_client_too_old_for_the_server_is_told_to_update_in_words(world):
    world.server.protocol_min = protocol.PROTOCOL_VERSION + 1
    with pytest.raises(UpdateRequired) as update:
        world.client.pull(0, lambda changes, cursor: None)
    assert update.value.code == "update_required"
    assert "Mettez-la à jour" in update.value.message()


def test_enrol_returns_the_device_its_tenant_and_the_servers_key(world):
    answer = {
        "device_id": "dev-9",
        "tenant_id": TENANT,
        "server_public_key": "ab" * 32,
        "enrolment_signature": "12" * 64,
        "approval_key": {"version": 1, "secret": "cd" * 32},
        "drivers": [{"id": "d1", "name": "Ana", "pin_hash": "x", "role": "driver"}],
        "a_field_from_a_newer_server": True,
    }
    world.server.handle = lambda path, headers, body: (200, answer)  # type: ignore[method-assign]
    enrolment = world.client.enrol(URL, "7KQ2-M9XD-4TBH", "ef" * 32, "Tablette camion 3")
    assert (enrolment.device_id, enrolment.tenant_id) == ("dev-9", TENANT)
    assert enrolment.server_public_key == bytes.fromhex("ab" * 32)
    assert enrolment.signature == bytes.fromhex("12" * 64)  # checked by the tablet, not here
    assert world.client.device_id == "dev-9"
    _, headers, body = world.server.requests[-1]
    assert headers[protocol.PROTOCOL_HEADER] == str(protocol.PROTOCOL_VERSION)
    assert body == {
        "code": "7KQ2-M9XD-4TBH",
        "public_key": "ef" * 32,
        "label": "Tablette camion 3",
    }
    assert "Authorization" not in headers


# --- pull -----------------------------------------------------------------------------------


class LocalStore:
    """The tablet's side: applies a page and stores its cursor in one transaction, and
    can be made to crash before committing."""

    def __init__(self) -> None:
        self.applied: dict[tuple[str, str], object] = {}
        self.applications = 0
        self.cursor = 0
        self.crash_after_pages: int | None = None

    def on_page(self, changes, next_cursor):
        if self.crash_after_pages is not None:
            if self.crash_after_pages == 0:
                raise KeyboardInterrupt("power cut (injected)")
            self.crash_after_pages -= 1
        pending = dict(self.applied)
        for change in changes:
            pending[(change["kind"], change["id"])] = change["data"]
        self.applications += len(changes)
        self.applied, self.cursor = pending, next_cursor  # the commit


def feed(engine, count, *, scope_every=0):  # noqa: F811
    with engine.begin() as conn:
        for n in range(1, count + 1):
            scope = "d2" if scope_every and n % scope_every == 0 else None
            changes.record(conn, TENANT, "mission", f"M-{n}", {"n": n}, scope=scope, now=NOW)


def test_an_interrupted_pull_resumes_from_the_stored_cursor_with_no_loss_and_no_duplicate(world):
    feed(world.engine, 47, scope_every=5)
    store = LocalStore()
    store.crash_after_pages = 2
    world.server.faults = [None, "lose", None, "drop"]
    with pytest.raises(KeyboardInterrupt):
        world.client.pull(store.cursor, store.on_page, limit=10)
    assert store.cursor == 20
    store.crash_after_pages = None
    assert world.client.pull(store.cursor, store.on_page, limit=10) == 47
    visible = {("mission", f"M-{n}"): {"n": n} for n in range(1, 48) if n % 5}
    assert store.applied == visible
    assert store.applications == len(visible)  # nothing applied twice
    assert world.client.pull(store.cursor, store.on_page) == 47  # an empty incremental pull
    assert store.applications == len(visible)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    faults=st.lists(st.sampled_from(["drop", "lose", "dup", "503", None]), max_size=15),
    batch=st.integers(1, 9),
    count=st.integers(1, 30),
)
def test_any_mix_of_transport_faults_ends_with_every_entry_stored_once(
    engine,  # noqa: F811
    faults,
    batch,
    count,
):
    add_tenant_once(engine)
    tablet = Tablet(f"dev-h{next(_NUMBERS)}")
    enrol(engine, tablet)
    server = FakeServer(engine, tablet)
    client = SyncClient(URL, device_id=tablet.device_id, session=session_with(server))
    client.sleep = lambda seconds: None
    client.open_session(tablet.key)
    tablet.write(count)
    server.faults = list(faults)
    try:
        client.push(tablet.entries, batch_size=batch)
    except ServerUnreachable:
        client.push(tablet.entries, batch_size=batch)  # the next sync
    assert everything_once(engine, tablet)
    assert head_of(engine, tablet.device_id) == (count, tablet.head.hash)


def add_tenant_once(eng):
    import sqlalchemy as sa

    from server.platform.tables import tenants

    with eng.connect() as conn:
        exists = conn.execute(sa.select(tenants.c.id)).first() is not None
    if not exists:
        add_tenant(eng)


_NUMBERS = iter(range(1, 10**9))
