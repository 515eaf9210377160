"""Attachments on the server (SQLite and PostgreSQL): a tablet announces a photo and
sends it in chunks; a chunk sent again changes nothing, a gap or other bytes are refused,
a file that does not match its SHA-256 is dropped and sent again from byte 0; the bounds
(size, chunk, types checked by their bytes); only missions the tablet works on; the
office reads the bytes with the `reconcile` right, in its own tenant only."""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.devices import attachments as server_attachments
from server.platform.tables import attachment_chunks, attachments
from shared import journal
from tests.conftest import example
from tests.server_support import enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401

CHUNKS = "/api/v1/sync/attachments"
KIB = 1024
MISSION = "M-A-0001"  # assigned to D1, whose tablet uploads


def jpeg(size: int, seed: int = 1) -> bytes:
    """A JPEG's magic number, then `size` bytes in all."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return head + random.Random(seed).randbytes(size - len(head))


PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
PDF = b"%PDF-1.7\n" + b"x" * 300


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Tablet:
    """A tablet enrolled for `drivers`, speaking the attachment endpoints."""

    def __init__(self, w, drivers=("D1",), seed=bytes(range(32))) -> None:
        self.w = w
        made = enrol(w, list(drivers), seed=seed)
        self.device_id, self.token, self.key = made["device_id"], made["token"], made["key"]

    def headers(self, **extra):
        return {"Authorization": f"Bearer {self.token}", **extra}

    def announce(self, data: bytes, *, id="a1", mission=MISSION, **over):
        body = {
            "id": id,
            "mission_id": mission,
            "kind": "vehicle_photo",
            "content_type": "image/jpeg",
            "size": len(data),
            "sha256": sha(data),
            "taken_at": "2026-03-10T09:12:00.000Z",
            **over,
        }
        return self.w.client.post(CHUNKS, json=body, headers=self.headers())

    def chunk(self, id, offset, data, *, checksum: bytes | bool = True):
        extra = {"Content-Type": "application/octet-stream", "Upload-Offset": str(offset)}
        if checksum is True:
            extra["Upload-SHA256"] = sha(data)
        elif checksum:
            extra["Upload-SHA256"] = sha(checksum)
        return self.w.client.post(f"{CHUNKS}/{id}/chunks", data=data, headers=self.headers(**extra))

    def status(self, id):
        return self.w.client.post(f"{CHUNKS}/{id}/status", json={}, headers=self.headers())

    def send_all(self, id, data, size=512 * KIB):
        answer = None
        for start in range(0, len(data), size):
            answer = self.chunk(id, start, data[start : start + size])
            assert answer.status_code == 200, answer.json
        return answer

    def record(self, mission_id: str) -> None:
        """A journal entry about `mission_id` (a mission met on the road)."""
        signed = journal.append(
            journal.genesis(self.device_id),
            type=journal.EntryType.MISSION_STEP,
            at=journal.utc_timestamp(datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
            driver_id="D1",
            payload={"mission_id": mission_id, "from": "assigned", "to": "en_route"},
            private_key=self.key,
        )
        answer = self.w.client.post(
            "/api/v1/sync/push",
            json={"protocol": 1, "device_id": self.device_id, "entries": [journal.to_wire(signed)]},
            headers=self.headers(),
        )
        assert answer.status_code == 200, answer.json


def add_mission(w, driver="D1", tenant="acme", name="a-tuesday-30km"):
    who = f"{tenant}.admin"
    document = example("missions", name)
    party = document["ordering_party"]
    w.client.post(
        "/api/v1/ordering-parties", json={"id": party, "name": party}, headers=w.auth(who)
    )
    made = w.client.post(
        "/api/v1/missions",
        json={"document": document, "driver_id": driver},
        headers=w.auth(who),
    )
    assert made.status_code == 201, made.json


@pytest.fixture
def karim(world):  # noqa: F811
    add_mission(world)
    return Tablet(world)


def held(w, id="a1", tenant="acme"):
    """(received, complete, chunk rows) as stored."""
    with w.engine.connect() as conn:
        row = conn.execute(
            sa.select(attachments.c.received, attachments.c.completed_at).where(
                attachments.c.tenant_id == tenant, attachments.c.id == id
            )
        ).one()
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(attachment_chunks)
            .where(attachment_chunks.c.attachment_id == id)
        ).scalar_one()
    return int(row.received), row.completed_at is not None, int(count)


# --- the upload -------------------------------------------------------------------------


def test_a_photo_sent_in_chunks_completes_and_the_office_reads_the_same_bytes(world, karim):  # noqa: F811
    data = jpeg(1_300_000)
    first = karim.announce(data)
    assert first.status_code == 201, first.json
    assert (first.json["received"], first.json["complete"]) == (0, False)
    last = karim.send_all("a1", data)
    assert (last.json["received"], last.json["complete"]) == (len(data), True)
    assert held(world) == (len(data), True, 3)

    listed = world.client.get(
        f"/api/v1/missions/{MISSION}/attachments", headers=world.auth("acme.admin")
    )
    assert listed.status_code == 200
    [item] = listed.json
    assert (item["kind"], item["size"], item["sha256"], item["complete"]) == (
        "vehicle_photo",
        len(data),
        sha(data),
        True,
    )
    assert item["device_id"] == karim.device_id and item["taken_at"].startswith("2026-03-10")
    got = world.client.get("/api/v1/attachments/a1", headers=world.auth("acme.admin"))
    assert got.status_code == 200
    assert got.data == data
    assert got.mimetype == "image/jpeg"
    assert got.headers["ETag"] == f'"{sha(data)}"'
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    with world.engine.connect() as conn:
        found = server_attachments.complete_attachments(conn, "acme", MISSION, ["vehicle_photo"])
        assert [a["id"] for a in found] == ["a1"]
        assert server_attachments.complete_attachments(conn, "acme", MISSION, ["signature"]) == []


def test_announcing_again_answers_how_far_it_went_and_another_sha256_is_a_conflict(world, karim):  # noqa: F811
    data = jpeg(700_000)
    assert karim.announce(data).status_code == 201
    karim.chunk("a1", 0, data[: 512 * KIB])
    again = karim.announce(data)
    assert again.status_code == 200
    assert (again.json["received"], again.json["complete"]) == (512 * KIB, False)
    other = karim.announce(jpeg(700_000, seed=2))
    assert other.status_code == 409 and other.json["code"] == "attachment_conflict"
    moved = karim.announce(data, kind="signature")
    assert moved.status_code == 409 and moved.json["code"] == "attachment_conflict"
    assert world.count(attachments) == 1
    assert held(world) == (512 * KIB, False, 1)


def test_a_chunk_sent_again_is_acknowledged_and_stores_nothing_more(world, karim):  # noqa: F811
    data = jpeg(300_000)
    karim.announce(data)
    first = karim.chunk("a1", 0, data[:100_000])
    again = karim.chunk("a1", 0, data[:100_000])  # the answer was lost: the same chunk
    assert first.json == again.json and again.json["received"] == 100_000
    assert held(world) == (100_000, False, 1)
    # Held bytes again, then new ones: only the new ones are stored.
    longer = karim.chunk("a1", 50_000, data[50_000:200_000])
    assert longer.status_code == 200 and longer.json["received"] == 200_000
    rest = karim.chunk("a1", 200_000, data[200_000:])
    assert rest.json["complete"] is True
    done_again = karim.chunk("a1", 200_000, data[200_000:])  # after completion
    assert done_again.status_code == 200 and done_again.json["complete"] is True
    got = world.client.get("/api/v1/attachments/a1", headers=world.auth("acme.admin"))
    assert got.data == data


@pytest.mark.parametrize(
    "offset, body",
    [
        (150_000, "gap"),  # beyond what the server holds
        (0, "other"),  # over held bytes, with other bytes
        (50_000, "other"),
    ],
)
def test_a_gap_or_an_overlap_with_other_bytes_is_refused_and_changes_nothing(
    world,  # noqa: F811
    karim,
    offset,
    body,
):
    data = jpeg(300_000)
    karim.announce(data)
    karim.chunk("a1", 0, data[:100_000])
    chunk = data[offset : offset + 80_000]
    if body == "other":
        chunk = bytes(b ^ 0xFF for b in chunk)
    refused = karim.chunk("a1", offset, chunk)
    assert refused.status_code == 409
    assert refused.json["code"] == "offset_mismatch"
    assert "100000" in refused.json["message"]
    assert held(world) == (100_000, False, 1)
    assert karim.status("a1").json["received"] == 100_000


def test_a_file_that_does_not_match_its_sha256_is_dropped_and_sent_again_from_zero(world, karim):  # noqa: F811
    data = jpeg(600_000)
    karim.announce(data)
    karim.chunk("a1", 0, data[: 512 * KIB], checksum=False)
    tail = bytearray(data[512 * KIB :])
    tail[10] ^= 0x01  # altered, and no chunk checksum to notice it
    refused = karim.chunk("a1", 512 * KIB, bytes(tail), checksum=False)
    assert refused.status_code == 409 and refused.json["code"] == "attachment_corrupted"
    assert held(world) == (0, False, 0)  # nothing of the bad assembly is kept
    assert karim.status("a1").json == {
        **karim.status("a1").json,
        "received": 0,
        "complete": False,
    }
    office = world.client.get("/api/v1/attachments/a1", headers=world.auth("acme.admin"))
    assert office.status_code == 409 and office.json["code"] == "attachment_incomplete"
    karim.send_all("a1", data)
    assert held(world) == (len(data), True, 2)
    got = world.client.get("/api/v1/attachments/a1", headers=world.auth("acme.admin"))
    assert got.data == data


def test_a_chunk_altered_on_the_way_is_refused_by_its_own_checksum(world, karim):  # noqa: F811
    data = jpeg(200_000)
    karim.announce(data)
    altered = bytearray(data[:100_000])
    altered[99] ^= 0x40
    refused = karim.chunk("a1", 0, bytes(altered), checksum=data[:100_000])
    assert refused.status_code == 422 and refused.json["code"] == "chunk_corrupted"
    assert held(world) == (0, False, 0)


# --- bounds ------------------------------------------------------------------------------


def test_the_bounds_size_chunk_and_types_checked_by_their_bytes(world, karim):  # noqa: F811
    world.client.application.config["ATTACHMENT_MAX_BYTES"] = 600_000
    big = karim.announce(jpeg(600_001), id="big")
    assert big.status_code == 413 and big.json["code"] == "attachment_too_large"
    assert "600001" in big.json["message"]

    data = jpeg(600_000)
    assert karim.announce(data).status_code == 201
    large = karim.chunk("a1", 0, data[: 512 * KIB + 1])
    assert large.status_code == 413 and large.json["code"] == "chunk_too_large"
    beyond = karim.announce(PNG, id="small", content_type="image/png")
    assert beyond.status_code == 201
    over = karim.chunk("small", 0, PNG + b"more")
    assert over.status_code == 422 and over.json["code"] == "chunk_beyond_size"

    html = b"<html><script>alert(1)</script></html>"
    typed = karim.announce(html, id="page", content_type="text/html")
    assert typed.status_code == 415 and typed.json["code"] == "unsupported_content_type"
    # Declared a PNG, but the bytes are a JPEG: refused at the first chunk.
    liar = jpeg(5_000)
    assert karim.announce(liar, id="liar", content_type="image/png").status_code == 201
    caught = karim.chunk("liar", 0, liar)
    assert caught.status_code == 415 and caught.json["code"] == "content_type_mismatch"
    # A few bytes at a time: the whole file is checked once assembled.
    fake = b"%PDX" + bytes(40)
    karim.announce(fake, id="fake", content_type="application/pdf")
    assert karim.chunk("fake", 0, fake[:4]).status_code == 200
    late = karim.chunk("fake", 4, fake[4:])
    assert late.status_code == 415 and late.json["code"] == "content_type_mismatch"
    assert held(world, "fake") == (0, False, 0)

    kind = karim.announce(PDF, id="k", kind="selfie", content_type="application/pdf")
    assert kind.status_code == 422
    for content_type, body in (("application/pdf", PDF), ("image/png", PNG)):
        answer = karim.announce(body, id=content_type.replace("/", "-"), content_type=content_type)
        assert answer.status_code == 201
        assert karim.chunk(answer.json["id"], 0, body).json["complete"] is True
    assert held(world) == (0, False, 0)  # the chunk too large stored nothing


def test_a_chunk_needs_its_offset_raw_bytes_and_a_current_client(world, karim):  # noqa: F811
    data = jpeg(1_000)
    karim.announce(data)
    bare = world.client.post(
        f"{CHUNKS}/a1/chunks",
        data=data,
        headers=karim.headers(**{"Content-Type": "application/octet-stream"}),
    )
    assert bare.status_code == 422 and bare.json["code"] == "bad_offset"
    as_json = world.client.post(
        f"{CHUNKS}/a1/chunks", json={"data": "x"}, headers=karim.headers(**{"Upload-Offset": "0"})
    )
    assert as_json.status_code == 400 and as_json.json["code"] == "unsupported_media_type"
    empty = karim.chunk("a1", 0, b"")
    assert empty.status_code == 422 and empty.json["code"] == "empty_chunk"
    old = world.client.post(
        f"{CHUNKS}/a1/status", json={}, headers=karim.headers(**{"Towline-Protocol": "0"})
    )
    assert old.status_code == 426 and old.json["code"] == "update_required"
    assert held(world) == (0, False, 0)


# --- who may -----------------------------------------------------------------------------


def test_a_tablet_attaches_only_to_missions_its_drivers_work_on(world, karim):  # noqa: F811
    add_mission(world, driver="D2", name="a-tuesday-80km")  # M-A-0002, Ana's
    add_mission(world, driver="X1", tenant="other", name="b-tuesday-80km")
    data = jpeg(2_000)
    for mission in ("M-A-0002", "M-B-0001", "NOPE"):
        refused = karim.announce(data, id=f"x-{mission}", mission=mission)
        assert refused.status_code == 404, mission
        assert refused.json["code"] == "mission_unknown"
    # A mission met on the road: the tablet recorded entries about it.
    karim.record("ROAD-9")
    assert karim.announce(data, id="road", mission="ROAD-9").status_code == 201
    assert world.count(attachments) == 1


def test_another_tablet_cannot_read_or_feed_an_upload_nor_a_revoked_one(world, karim):  # noqa: F811
    data = jpeg(2_000)
    karim.announce(data)
    ana = Tablet(world, drivers=("D2",), seed=bytes(range(1, 33)))
    assert ana.status("a1").status_code == 404
    fed = ana.chunk("a1", 0, data)
    assert fed.status_code == 404 and fed.json["code"] == "attachment_unknown"
    same_id = ana.announce(data, mission=MISSION)
    assert same_id.status_code == 409  # the id is Karim's: no second row, no hint of his bytes
    world.client.post(
        f"/api/v1/devices/{karim.device_id}/revoke",
        json={"reason": "tablette volée"},
        headers=world.auth("acme.admin"),
    )
    revoked = karim.chunk("a1", 0, data)
    assert revoked.status_code == 403 and revoked.json["code"] == "device_revoked"
    assert held(world) == (0, False, 0)


def test_the_office_needs_reconcile_and_sees_only_its_own_tenant(world, karim):  # noqa: F811
    data = jpeg(2_000)
    karim.announce(data)
    karim.send_all("a1", data)
    for path in (f"/api/v1/missions/{MISSION}/attachments", "/api/v1/attachments/a1"):
        assert world.client.get(path, headers=world.auth("acme.clerk")).status_code == 403
        assert world.client.get(path).status_code == 401
        other = world.client.get(path, headers=world.auth("other.admin"))
        assert other.status_code == 404, path
    unknown = world.client.get(
        "/api/v1/missions/M-NONE/attachments", headers=world.auth("acme.admin")
    )
    assert unknown.status_code == 404
    none_yet = world.client.get(
        "/api/v1/missions/M-A-0001/attachments", headers=world.auth("other.admin")
    )
    assert none_yet.status_code == 404


# --- any chunking, any retries -----------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    size=st.integers(min_value=12, max_value=40_000),
    cuts=st.lists(st.integers(min_value=1, max_value=39_999), max_size=6),
    resend=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_any_chunking_with_any_chunk_sent_twice_ends_with_exactly_the_bytes(
    world,  # noqa: F811
    karim,
    size,
    cuts,
    resend,
):
    data = jpeg(size, seed=size)
    # uuid4, not `random`: Hypothesis seeds `random` alike when it replays an example, and a
    # replayed id would already be announced (200, not 201).
    ident = f"p{size}-{len(cuts)}-{sum(resend)}-{uuid.uuid4().hex[:8]}"
    assert karim.announce(data, id=ident).status_code == 201
    bounds = sorted({0, size, *(c for c in cuts if c < size)})
    for n, (start, end) in enumerate(itertools.pairwise(bounds)):
        answer = karim.chunk(ident, start, data[start:end])
        assert answer.status_code == 200, answer.json
        if resend[n % len(resend)]:
            again = karim.chunk(ident, start, data[start:end])
            assert again.json == answer.json
    received, complete, _ = held(world, ident)
    assert (received, complete) == (size, True)
    got = world.client.get(f"/api/v1/attachments/{ident}", headers=world.auth("acme.admin"))
    assert got.data == data
