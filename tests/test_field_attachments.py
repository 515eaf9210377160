"""Attachments from the tablet to the office: kept on the tablet when taken (never
deleted), sent after the journal at sync, in chunks, through a link that fails — cut in
the middle of an upload and resumed from what the server holds, a chunk duplicated or
its answer lost, a chunk altered on the way, a file the server could not verify sent
again from byte 0. Then `towline-field attach`, and the driver's screen: a photo with the
camera, a signature drawn on the pad (the one script the screen allows, by its hash)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import random
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from fieldclient import attachments, store
from fieldclient.cli import main as field
from fieldclient.home import Home
from fieldclient.screen import create_app
from fieldclient.screen.signature import SCRIPT
from fieldclient.tablet import Tablet
from server.devices import attachments as server_attachments
from server.platform.tables import attachment_chunks
from server.platform.tables import attachments as server_table
from sync.client import MAX_CHUNK_BYTES, ServerUnreachable
from tests.browser import PHONE, LiveServer, new_page, screenshot
from tests.field_support import Clock, offline_tablet
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.wsgi_faults import WsgiFaults

KIB = 1024
MISSION = "M-A-0004"  # Karim's, in the demo tenant
CHUNKS = "/api/v1/sync/attachments/{}/chunks"


def jpeg(size: int, seed: int = 7) -> bytes:
    head = b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00"
    return head + random.Random(seed).randbytes(size - len(head))


def png(size: int = 3_000) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + random.Random(size).randbytes(size - 8)


class TamperingLink(WsgiFaults):
    """The faulty link, plus two faults of its own for matching paths: "flip" alters a
    byte of the body (the chunk's checksum header then disagrees with it); "forge" alters
    it and forges the checksum header to match (only the whole file's SHA-256 can tell)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tamper: str | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.path_url in self.paths and self.faults and self.faults[0] in ("flip", "forge"):
            self.tamper = self.faults[0]
            self.faults[0] = None
        return super().send(request, **kwargs)

    def _call(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        if self.tamper:
            altered = bytearray(body)
            altered[len(altered) // 2] ^= 0x5A
            body = bytes(altered)
            if self.tamper == "forge":
                headers = {**headers, "Upload-SHA256": hashlib.sha256(body).hexdigest()}
            self.tamper = None
        return super()._call(path, body, headers)


def karim(world: World, tmp_path: Path) -> Tablet:  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)  # his missions
    return tablet


def watch(world: World, attachment_id: str) -> None:  # noqa: F811
    """Faults apply to this attachment's chunks (and to nothing else)."""
    world.link.paths = frozenset({CHUNKS.format(attachment_id)})


def on_server(world: World, attachment_id: str) -> tuple[int, bool, bytes]:  # noqa: F811
    with world.engine.connect() as conn:
        row = conn.execute(
            sa.select(server_table.c.received, server_table.c.completed_at).where(
                server_table.c.id == attachment_id
            )
        ).one()
        data = b"".join(
            bytes(r[0])
            for r in conn.execute(
                sa.select(attachment_chunks.c.data)
                .where(attachment_chunks.c.attachment_id == attachment_id)
                .order_by(attachment_chunks.c.start)
            )
        )
    return int(row.received), row.completed_at is not None, data


def chunk_answers(world: World) -> list[tuple[str | None, int | None]]:  # noqa: F811
    return [(fault, status) for path, fault, status in world.link.log if path in world.link.paths]


# --- through the faulty link -------------------------------------------------------------


def test_a_photo_taken_offline_resumes_where_a_cut_link_stopped_it(world, tmp_path):  # noqa: F811
    tablet = karim(world, tmp_path)
    data = jpeg(1_300_000)  # three chunks
    photo, new = attachments.attach(tablet, MISSION, "vehicle_photo", data)
    assert new and (photo.size, photo.content_type, photo.uploaded) == (len(data), "image/jpeg", 0)
    assert photo.driver_id == "d1" and photo.sha256 == hashlib.sha256(data).hexdigest()

    watch(world, photo.id)
    world.link.inject(None, "cut")  # the first chunk arrives, then the truck leaves the yard
    with pytest.raises(ServerUnreachable):
        world.sync(tablet)
    assert attachments.get(tablet.db, photo.id).uploaded == MAX_CHUNK_BYTES
    assert on_server(world, photo.id)[:2] == (MAX_CHUNK_BYTES, False)

    world.link.heal()
    world.link.log.clear()
    report = world.sync(tablet)
    assert report.attachments == 1 and report.warnings == []
    # Resumed from byte 524288: only the two remaining chunks travelled.
    assert chunk_answers(world) == [(None, 200), (None, 200)]
    assert on_server(world, photo.id) == (len(data), True, data)
    assert attachments.get(tablet.db, photo.id).complete
    assert attachments.pending(tablet.db) == []
    again = world.sync(tablet)  # nothing left to send
    assert again.attachments == 0
    got = world.office.get(f"/api/v1/attachments/{photo.id}", headers=world.as_user("bureau"))
    assert got.status_code == 200 and got.data == data


def test_a_duplicated_chunk_and_a_lost_answer_change_nothing(world, tmp_path):  # noqa: F811
    tablet = karim(world, tmp_path)
    data = jpeg(1_100_000, seed=3)
    photo, _ = attachments.attach(tablet, MISSION, "vehicle_photo", data)
    watch(world, photo.id)
    world.link.inject("dup", "lose")
    report = world.sync(tablet)
    assert report.attachments == 1
    assert [fault for fault, _ in chunk_answers(world)][:2] == ["dup", "lose"]
    assert on_server(world, photo.id) == (len(data), True, data)
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.count())
            .select_from(attachment_chunks)
            .where(attachment_chunks.c.attachment_id == photo.id)
        ).scalar_one()
    assert rows == 3  # each chunk stored once


def test_a_chunk_altered_on_the_way_is_refused_and_sent_again(world, tmp_path):  # noqa: F811
    tablet = karim(world, tmp_path)
    world.link = TamperingLink(world.app)
    data = jpeg(900_000, seed=4)
    photo, _ = attachments.attach(tablet, MISSION, "vehicle_photo", data)
    watch(world, photo.id)
    world.link.inject(None, "flip")
    report = world.sync(tablet)
    assert report.attachments == 1
    assert chunk_answers(world) == [(None, 200), (None, 422), (None, 200)]
    assert on_server(world, photo.id) == (len(data), True, data)


def test_a_file_the_server_could_not_verify_is_sent_again_from_the_start(world, tmp_path):  # noqa: F811
    tablet = karim(world, tmp_path)
    world.link = TamperingLink(world.app)
    data = jpeg(900_000, seed=5)
    photo, _ = attachments.attach(tablet, MISSION, "vehicle_photo", data)
    watch(world, photo.id)
    world.link.inject("forge")  # the first chunk, altered with a matching chunk checksum
    report = world.sync(tablet)
    assert report.attachments == 1
    # The bad assembly was refused with the last byte, then the whole file went again.
    assert [status for _, status in chunk_answers(world)] == [200, 409, 200, 200]
    assert on_server(world, photo.id) == (len(data), True, data)
    assert attachments.get(tablet.db, photo.id).complete


def test_an_attachment_the_server_refuses_is_a_warning_and_stays_on_the_tablet(world, tmp_path):  # noqa: F811
    tablet = karim(world, tmp_path)
    world.app.config["ATTACHMENT_MAX_BYTES"] = 100_000  # the office's limit is lower
    big, _ = attachments.attach(tablet, MISSION, "vehicle_photo", jpeg(200_000))
    small, _ = attachments.attach(tablet, MISSION, "signature", png())
    report = world.sync(tablet)
    assert report.attachments == 1
    [warning] = report.warnings
    assert big.id in warning and "trop volumineuse" in warning
    assert [a.id for a in attachments.pending(tablet.db)] == [big.id]
    assert attachments.get(tablet.db, small.id).complete
    listed = world.office.get(
        f"/api/v1/missions/{MISSION}/attachments", headers=world.as_user("bureau")
    ).get_json()
    assert [(a["kind"], a["complete"]) for a in listed] == [("signature", True)]


# --- on the tablet -----------------------------------------------------------------------


def test_the_tablet_refuses_what_it_cannot_attach_and_keeps_the_same_file_once(tmp_path):
    tablet = offline_tablet(tmp_path / "t", Clock())
    with pytest.raises(attachments.BadAttachment, match="ni une photo"):
        attachments.attach(tablet, MISSION, "vehicle_photo", b"<html>not a picture</html>")
    with pytest.raises(attachments.BadAttachment, match="vide"):
        attachments.attach(tablet, MISSION, "vehicle_photo", b"")
    with pytest.raises(attachments.BadAttachment, match="196 Ko, au plus 98 Ko"):
        attachments.attach(tablet, MISSION, "vehicle_photo", jpeg(200_000), limit=100_000)
    first, new = attachments.attach(tablet, MISSION, "vehicle_photo", jpeg(5_000))
    again, new_again = attachments.attach(tablet, MISSION, "vehicle_photo", jpeg(5_000))
    assert (new, new_again, again.id) == (True, False, first.id)
    assert [a.id for a in attachments.for_mission(tablet.db, MISSION)] == [first.id]
    assert attachments.read(tablet.db, first.id, 4_000, 2_000) == jpeg(5_000)[4_000:]


def test_an_attachment_is_never_deleted_nor_changed_on_the_tablet(tmp_path):
    tablet = offline_tablet(tmp_path / "t", Clock())
    kept, _ = attachments.attach(tablet, MISSION, "signature", png())
    for statement in (
        "DELETE FROM attachments",
        "UPDATE attachments SET data = x'00'",
        "UPDATE attachments SET mission_id = 'M-A-0001'",
    ):
        with pytest.raises(sqlite3.DatabaseError):
            tablet.db.execute(statement)
    attachments.record_uploaded(tablet.db, kept.id, 1_000)  # the one value that moves
    assert attachments.get(tablet.db, kept.id).uploaded == 1_000
    assert attachments.intact(tablet.db, kept)
    assert store.schema_version(tablet.db) == len(store.MIGRATIONS)


@pytest.mark.parametrize(
    "data",
    [jpeg(100), png(100), b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"%PDF-1.4\n", b"GIF89a......", b""],
)
def test_the_tablet_and_the_server_read_a_files_type_alike(data):
    assert attachments.sniff(data) == server_attachments.sniff(data)
    assert attachments.CONTENT_TYPES == server_attachments.CONTENT_TYPES
    assert attachments.KINDS == server_attachments.KINDS
    assert MAX_CHUNK_BYTES == server_attachments.MAX_CHUNK_BYTES


# --- the command line --------------------------------------------------------------------


def test_attach_from_the_command_line(tmp_path, monkeypatch):
    home = tmp_path / "t"
    offline_tablet(home, Clock()).close()
    photo = tmp_path / "avant.jpg"
    photo.write_bytes(jpeg(30_000))
    runner = CliRunner()

    def attach(*args: str) -> Any:
        return runner.invoke(field, ["attach", "--home", str(home), *args])

    done = attach(MISSION, "--kind", "vehicle_photo", str(photo))
    assert done.exit_code == 0, done.output
    assert "Photo du véhicule jointe à M-A-0004 (image/jpeg, 30 Ko)" in done.output
    twice = attach(MISSION, "--kind", "vehicle_photo", str(photo), "--json")
    assert twice.exit_code == 0 and '"new": false' in twice.output

    text = tmp_path / "notes.txt"
    text.write_text("pas une photo")
    assert attach(MISSION, "--kind", "other", str(text)).exit_code == 2
    monkeypatch.setenv("TOWLINE_ATTACHMENT_MAX_BYTES", "20000")
    big = attach(MISSION, "--kind", "vehicle_photo", str(photo), "--lang", "en")
    assert big.exit_code == 2
    assert "File too large: 30 KiB, at most 20 KiB." in big.output
    monkeypatch.delenv("TOWLINE_ATTACHMENT_MAX_BYTES")
    assert attach("M-NOPE", "--kind", "vehicle_photo", str(photo)).exit_code == 3
    assert attach(MISSION, "--kind", "selfie", str(photo)).exit_code == 2
    assert attach(MISSION, "--kind", "other", str(tmp_path / "absent.jpg")).exit_code == 2

    shown = runner.invoke(field, ["show", MISSION, "--home", str(home)])
    assert "Pièces jointes : 1 (0 reçue(s) par le bureau)." in shown.output
    helped = runner.invoke(field, ["attach", "--help"])
    assert "Example" in helped.output and "vehicle_photo" in helped.output


# --- the driver's screen -----------------------------------------------------------------

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
INLINE = re.compile(r"<script>(.*?)</script>", re.S)


@pytest.fixture
def screen(tmp_path: Path) -> Any:
    clock = Clock()
    offline_tablet(tmp_path / "t", clock, signed_in=None).close()
    app = create_app(tmp_path / "t", clock=clock)
    app.testing = True
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    signed = client.post("/login", data={"csrf_token": token, "driver": "d1", "pin": "1111"})
    assert signed.status_code == 302
    client.home = tmp_path / "t"
    client.clock = clock
    return client


def send(client: Any, data: dict[str, Any], mission: str = MISSION) -> Any:
    page = client.get(f"/missions/{mission}").get_data(as_text=True)
    found = TOKEN.search(page)
    token = found.group(1) if found else "none"
    return client.post(
        f"/missions/{mission}/attach",
        data={"csrf_token": token, **data},
        content_type="multipart/form-data",
    )


def kept(client: Any) -> list[attachments.Attachment]:
    tablet = Tablet(Home(client.home), clock=client.clock)
    try:
        return attachments.for_mission(tablet.db, MISSION)
    finally:
        tablet.close()


def words(answer: Any) -> str:
    return re.sub(
        r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)))
    )


def test_the_mission_page_takes_a_photo_with_the_camera_and_allows_only_its_own_script(screen):
    answer = screen.get(f"/missions/{MISSION}")
    page = answer.get_data(as_text=True)
    assert re.search(r'<form[^>]*enctype="multipart/form-data"[^>]*class="[^"]*attach-form', page)
    assert '<input type="file" name="file" accept="image/*" capture="environment" required>' in page
    [script] = INLINE.findall(page)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = answer.headers["Content-Security-Policy"]
    assert f"script-src 'sha256-{digest}';" in policy and "unsafe" not in policy
    assert script == SCRIPT
    listing = screen.get("/missions")  # every other page: no inline script, own files only
    assert "script-src 'self';" in listing.headers["Content-Security-Policy"]
    assert "<script>" not in listing.get_data(as_text=True)


def test_a_photo_and_a_drawn_signature_are_kept_on_the_tablet(screen):
    photo = jpeg(40_000)
    sent = send(screen, {"kind": "vehicle_photo", "file": (io.BytesIO(photo), "p.jpg")})
    assert sent.status_code == 302, words(sent)
    drawn = png(2_000)
    url = "data:image/png;base64," + base64.b64encode(drawn).decode()
    signed = send(screen, {"kind": "signature", "signature": url})
    assert signed.status_code == 302, words(signed)
    items = kept(screen)
    assert [(a.kind, a.content_type, a.size) for a in items] == [
        ("vehicle_photo", "image/jpeg", len(photo)),
        ("signature", "image/png", len(drawn)),
    ]
    page = words(screen.get(f"/missions/{MISSION}"))
    assert "Signature enregistrée" in page
    assert page.count("en attente d'envoi") == 2


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "vehicle_photo"}, "Prenez d'abord la photo du véhicule."),
        ({"kind": "signature", "signature": ""}, "Faites signer le client"),
        ({"kind": "signature", "signature": "data:text/plain,hello"}, "Signature illisible"),
        ({"kind": "vehicle_photo", "file": (b"<svg onload=alert(1)>", "x.jpg")}, "ni une photo"),
        ({"kind": "selfie"}, "Que joignez-vous ?"),
    ],
)
def test_a_bad_attachment_says_why_and_keeps_nothing(screen, data, message):

    if "file" in data:
        data = {**data, "file": (io.BytesIO(data["file"][0]), data["file"][1])}
    refused = send(screen, data)
    assert refused.status_code == 400
    assert message in words(refused)
    assert kept(screen) == []


def test_too_large_a_photo_is_refused_before_it_is_read(screen, monkeypatch):

    monkeypatch.setenv("TOWLINE_ATTACHMENT_MAX_BYTES", "10000")
    over_limit = send(
        screen, {"kind": "vehicle_photo", "file": (io.BytesIO(jpeg(20_000)), "p.jpg")}
    )
    assert over_limit.status_code == 400 and "trop volumineux" in words(over_limit)
    huge = send(screen, {"kind": "vehicle_photo", "file": (io.BytesIO(jpeg(200_000)), "p.jpg")})
    assert huge.status_code == 413 and "trop volumineux" in words(huge)
    assert kept(screen) == []


def test_another_drivers_mission_takes_no_photo(screen):

    tablet = Tablet(Home(screen.home), clock=screen.clock)
    tablet.db.execute("UPDATE missions SET driver_id = 'd2' WHERE id = ?", [MISSION])
    tablet.close()
    answer = screen.post(
        f"/missions/{MISSION}/attach",
        data={
            "csrf_token": TOKEN.search(screen.get("/missions").get_data(as_text=True)).group(1),
            "kind": "vehicle_photo",
            "file": (io.BytesIO(jpeg(2_000)), "p.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 404
    assert kept(screen) == []


def test_a_signature_drawn_with_a_finger_in_a_real_browser_under_the_policy(browser, tmp_path):
    clock = Clock()
    offline_tablet(tmp_path / "t", clock, signed_in=None).close()
    live = LiveServer(create_app(tmp_path / "t", clock=clock))
    page = new_page(browser, PHONE)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda e: blocked.append(str(e)))
    try:
        page.goto(live.url + "/login")
        page.check("input[name=driver][value=d1]")
        page.fill("input[name=pin]", "1111")
        page.click("form button[type=submit].primary")
        page.wait_for_url(live.url + "/missions")
        page.goto(f"{live.url}/missions/{MISSION}#pieces")
        pad = page.locator("canvas.signature-pad")
        assert pad.is_visible()  # the script ran: the pad replaces the paper fallback
        assert not page.locator(".signature-paper").is_visible()
        page.click(".signature-form button[type=submit]")  # nothing drawn yet
        assert page.locator(".signature-empty").is_visible()
        box = pad.bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 40)
        page.mouse.down()
        for step in range(1, 12):
            page.mouse.move(box["x"] + 20 + step * 25, box["y"] + 40 + (step % 3) * 20)
        page.mouse.up()
        screenshot(page, "driver-signature")
        with page.expect_navigation():
            page.click(".signature-form button[type=submit]")
        assert "Signature enregistrée" in page.inner_text("main")
    finally:
        page.context.close()
        live.close()
    assert blocked == []
    tablet = Tablet(Home(tmp_path / "t"), clock=clock)
    try:
        [signature] = attachments.for_mission(tablet.db, MISSION)
        assert (signature.kind, signature.content_type, signature.driver_id) == (
            "signature",
            "image/png",
            "d1",
        )
        assert signature.size > 1_000
    finally:
        tablet.close()
