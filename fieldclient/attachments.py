"""Photos, signatures and reports the driver takes for a mission, kept on the tablet.

An attachment is stored whole in the tablet's database (table `attachments`, migration
2) the moment it is taken, and never changed nor deleted: only `uploaded`, the bytes the
server confirmed holding, moves, until it equals the size once the server has checked the
whole file (`fieldclient.syncing.upload`). Its type is read from its bytes (magic
number), never from a file name; a file too large, empty or of another type is refused
before anything is stored. Attaching the very same bytes to the same mission and kind
again keeps the first one.

The size limit is `TOWLINE_ATTACHMENT_MAX_BYTES` (the server's ATTACHMENT_MAX_BYTES),
8 MiB by default.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import sqlite3
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldclient import store
from shared.errors import TowlineError
from shared.journal import utc_timestamp

if TYPE_CHECKING:
    from fieldclient.tablet import Tablet

KINDS = ("vehicle_photo", "signature", "handover_report", "receipt", "other")
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
MAX_BYTES_ENV = "TOWLINE_ATTACHMENT_MAX_BYTES"

KIND_LABELS = {
    "vehicle_photo": ("photo du véhicule", "vehicle photo"),
    "signature": ("signature du client", "customer's signature"),
    "handover_report": ("procès-verbal de remise", "handover report"),
    "receipt": ("justificatif de frais", "receipt"),
    "other": ("autre document", "other document"),
}


class BadAttachment(TowlineError):
    """The file cannot be attached (type, size, empty): nothing was stored (exit 2)."""

    code = "bad_attachment"


def sniff(data: bytes) -> str | None:
    """The content type the bytes are, by their magic number (None: none we accept).
    The server reads them the same way (`server.devices.attachments.sniff`)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def max_bytes() -> int:
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES


def sizes(size: int) -> tuple[str, str]:
    """A file's size for people, in French and in English: 29 Ko / 29 KiB, 1,2 Mo / 1.2 MiB."""
    if size < 1024 * 1024:
        kib = f"{(size + 1023) // 1024}"
        return f"{kib} Ko", f"{kib} KiB"
    mib = f"{size / (1024 * 1024):.1f}"
    return f"{mib.replace('.', ',')} Mo", f"{mib} MiB"


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    mission_id: str
    driver_id: str | None
    kind: str
    content_type: str
    size: int
    sha256: str
    taken_at: str
    uploaded: int

    @property
    def complete(self) -> bool:
        """The server holds every byte and checked the SHA-256."""
        return self.uploaded >= self.size

    def wire(self) -> dict[str, Any]:
        """What the server is told when the upload is announced."""
        return {
            "id": self.id,
            "mission_id": self.mission_id,
            "kind": self.kind,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "taken_at": self.taken_at,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.wire(), "driver_id": self.driver_id, "uploaded": self.uploaded}


_COLUMNS = "id, mission_id, driver_id, kind, content_type, size, sha256, taken_at, uploaded"


def _from(row: Any) -> Attachment:
    return Attachment(
        str(row[0]), str(row[1]), row[2], str(row[3]), str(row[4]), int(row[5]), str(row[6]),
        str(row[7]), int(row[8]),
    )  # fmt: skip


def check_size(size: int, limit: int | None = None) -> None:
    """Refuse a file over the limit (before reading it, when its size is known)."""
    limit = limit or max_bytes()
    if size > limit:
        (size_fr, size_en), (limit_fr, limit_en) = sizes(size), sizes(limit)
        raise BadAttachment(
            f"Fichier trop volumineux : {size_fr}, au plus {limit_fr}. "
            "Réduisez la photo (résolution plus basse) ou scannez moins de pages.",
            f"File too large: {size_en}, at most {limit_en}. "
            "Make the photo smaller (lower resolution) or scan fewer pages.",
        )


def check(data: bytes, kind: str, *, limit: int | None = None) -> str:
    """The content type of `data` if it may be attached as `kind`; else `BadAttachment`."""
    if kind not in KINDS:
        raise BadAttachment(
            f"Type de pièce inconnu : « {kind} ». Choisissez parmi : {', '.join(KINDS)}.",
            f"Unknown kind of attachment: “{kind}”. Choose among: {', '.join(KINDS)}.",
        )
    if not data:
        raise BadAttachment("Le fichier est vide.", "The file is empty.")
    check_size(len(data), limit)
    found = sniff(data)
    if found is None:
        raise BadAttachment(
            "Ce fichier n'est ni une photo JPEG, PNG ou WebP, ni un PDF : il ne peut pas "
            "être joint.",
            "This file is neither a JPEG, PNG or WebP picture nor a PDF: it cannot be attached.",
        )
    return found


def attach(
    tablet: Tablet, mission_id: str, kind: str, data: bytes, *, limit: int | None = None
) -> tuple[Attachment, bool]:
    """Keep `data` as an attachment of the mission, taken by the signed-in driver.
    Returns it and whether it is new (the same bytes, mission and kind: the first one)."""
    driver = tablet.signed_in()
    tablet.mission(mission_id)  # UnknownMission, in words
    content_type = check(data, kind, limit=limit)
    digest = hashlib.sha256(data).hexdigest()
    with store.write(tablet.db):
        known = tablet.db.execute(
            f"SELECT {_COLUMNS} FROM attachments WHERE mission_id = ? AND kind = ? AND sha256 = ?",
            [mission_id, kind, digest],
        ).fetchone()
        if known is not None:
            return _from(known), False
        attachment_id = uuid.uuid4().hex
        tablet.db.execute(
            "INSERT INTO attachments (id, mission_id, driver_id, kind, content_type, size,"
            " sha256, data, taken_at, uploaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            [
                attachment_id,
                mission_id,
                driver.id,
                kind,
                content_type,
                len(data),
                digest,
                data,
                utc_timestamp(tablet.now()),
            ],
        )
    found = get(tablet.db, attachment_id)
    assert found is not None
    return found, True


def from_data_url(text: str) -> bytes:
    """The bytes of a `data:image/png;base64,…` URL (what the signature pad sends)."""
    head, comma, body = text.strip().partition(",")
    if not comma or not head.startswith("data:") or not head.endswith(";base64"):
        raise BadAttachment(
            "Signature illisible : signez de nouveau.", "Unreadable signature: sign again."
        )
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BadAttachment(
            "Signature illisible : signez de nouveau.", "Unreadable signature: sign again."
        ) from None


def get(db: sqlite3.Connection, attachment_id: str) -> Attachment | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM attachments WHERE id = ?", [attachment_id]).fetchone()
    return None if row is None else _from(row)


def for_mission(db: sqlite3.Connection, mission_id: str) -> list[Attachment]:
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM attachments WHERE mission_id = ? ORDER BY taken_at, rowid",
        [mission_id],
    ).fetchall()
    return [_from(r) for r in rows]


def pending(db: sqlite3.Connection) -> list[Attachment]:
    """Attachments the server has not checked yet, oldest first."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM attachments WHERE uploaded < size ORDER BY taken_at, rowid"
    ).fetchall()
    return [_from(r) for r in rows]


def read(db: sqlite3.Connection, attachment_id: str, offset: int, length: int) -> bytes:
    """`length` bytes from `offset` (SQLite reads only them, not the whole file)."""
    row = db.execute(
        "SELECT substr(data, ?, ?) FROM attachments WHERE id = ?",
        [offset + 1, length, attachment_id],
    ).fetchone()
    return b"" if row is None else bytes(row[0])


def intact(db: sqlite3.Connection, attachment: Attachment) -> bool:
    """Whether the stored bytes still match the SHA-256 taken with them."""
    row = db.execute("SELECT data FROM attachments WHERE id = ?", [attachment.id]).fetchone()
    return row is not None and hashlib.sha256(bytes(row[0])).hexdigest() == attachment.sha256


def record_uploaded(db: sqlite3.Connection, attachment_id: str, uploaded: int) -> None:
    """What the server said it holds (it may go back to 0: it dropped a bad assembly)."""
    with store.write(db):
        db.execute("UPDATE attachments SET uploaded = ? WHERE id = ?", [uploaded, attachment_id])


def data_of(db: sqlite3.Connection, attachment_id: str) -> bytes | None:
    row = db.execute("SELECT data FROM attachments WHERE id = ?", [attachment_id]).fetchone()
    return None if row is None else bytes(row[0])
