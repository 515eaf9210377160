"""Photos, signatures and reports a tablet took for a mission, received in chunks.

An upload is resumable (docs/sync-protocol.md "Attachments"):

1. the tablet *announces* the attachment (its id, mission, kind, type, size, SHA-256);
   announcing again the same one is harmless and answers how many bytes the server holds;
2. it sends *chunks*, each at the offset the server holds (`received`); a chunk already
   stored, sent again, is acknowledged and changes nothing; a gap, or an overlap with
   other bytes, is refused (409 `offset_mismatch`): ask the status and go on from there;
3. with the last byte, the server assembles the chunks and checks the SHA-256 and the
   magic bytes: a match completes the attachment (`completed_at`); a mismatch keeps
   nothing of the bad assembly (its chunks are dropped, `received` back to 0) and
   refuses (409 `attachment_corrupted`): the tablet sends it again from the start.

`attachments.received` and `attachments.completed_at` are the only values ever changed;
the chunks of a completed attachment are its bytes and stay as they are. The only rows
ever removed are the chunks of an assembly whose SHA-256 did not match: they are not a
record of anything but a failed transfer.

Everything here runs in the caller's transaction; `ChunkResult.refusal` is raised by the
view only after the transaction committed (the reset of a bad assembly must survive it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from server.devices.tablets import DeviceIdentity
from server.platform.errors import ApiError, Conflict, NotFound, Unprocessable
from server.platform.tables import attachment_chunks, attachments, journal_entries, missions

KINDS = ("vehicle_photo", "signature", "handover_report", "receipt", "other")
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # app config ATTACHMENT_MAX_BYTES
MAX_CHUNK_BYTES = 512 * 1024
SNIFF_BYTES = 12  # what `sniff` needs to tell the four types apart


def sniff(data: bytes) -> str | None:
    """The content type the bytes are, by their magic number (None: none of ours)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


# --- refusals ----------------------------------------------------------------------------


class TooLarge(ApiError):
    status = 413
    code = "attachment_too_large"


class UnsupportedType(ApiError):
    status = 415
    code = "unsupported_content_type"


def too_large(size: int, limit: int) -> TooLarge:
    return TooLarge(
        f"Pièce jointe trop volumineuse : {size} octets, au plus {limit}.",
        f"Attachment too large: {size} bytes, at most {limit}.",
    )


def chunk_too_large(size: int) -> TooLarge:
    return TooLarge(
        f"Morceau trop volumineux : {size} octets, au plus {MAX_CHUNK_BYTES}.",
        f"Chunk too large: {size} bytes, at most {MAX_CHUNK_BYTES}.",
        code="chunk_too_large",
    )


def unsupported(content_type: str) -> UnsupportedType:
    allowed = ", ".join(CONTENT_TYPES)
    return UnsupportedType(
        f"Type de fichier refusé : « {content_type} ». Acceptés : {allowed}.",
        f"File type refused: “{content_type}”. Accepted: {allowed}.",
    )


def not_that_type(content_type: str) -> UnsupportedType:
    return UnsupportedType(
        f"Le contenu n'est pas du type annoncé ({content_type}).",
        f"The content is not of the announced type ({content_type}).",
        code="content_type_mismatch",
    )


def unknown_mission(mission_id: str) -> NotFound:
    """The same answer for a mission that does not exist, another tenant's, and one this
    tablet has nothing to do with."""
    return NotFound(
        f"Mission introuvable pour cette tablette : {mission_id}.",
        f"Mission not found for this tablet: {mission_id}.",
        code="mission_unknown",
    )


def unknown_attachment(attachment_id: str) -> NotFound:
    return NotFound(
        f"Pièce jointe introuvable : {attachment_id}.",
        f"Attachment not found: {attachment_id}.",
        code="attachment_unknown",
    )


def offset_mismatch(offset: int, received: int) -> Conflict:
    return Conflict(
        f"Morceau à l'octet {offset}, mais le serveur en détient {received} : reprenez à "
        f"l'octet {received}.",
        f"Chunk at byte {offset}, but the server holds {received}: resume at byte {received}.",
        code="offset_mismatch",
    )


CHUNK_CORRUPTED = Unprocessable(
    "Morceau altéré en route (son SHA-256 ne correspond pas) : rien n'est gardé, renvoyez-le.",
    "Chunk altered on the way (its SHA-256 does not match): nothing kept, send it again.",
    code="chunk_corrupted",
)
ASSEMBLY_CORRUPTED = Conflict(
    "Le fichier reçu ne correspond pas à son SHA-256 : rien n'est gardé, renvoyez-le depuis "
    "le début.",
    "The file received does not match its SHA-256: nothing kept, send it again from the start.",
    code="attachment_corrupted",
)
EMPTY_CHUNK = Unprocessable("Morceau vide.", "Empty chunk.", code="empty_chunk")
INCOMPLETE = Conflict(
    "Cette pièce jointe n'est pas encore entièrement reçue.",
    "This attachment has not been fully received yet.",
    code="attachment_incomplete",
)


def _beyond(offset: int, length: int, size: int) -> Unprocessable:
    return Unprocessable(
        f"Le morceau (octets {offset} à {offset + length}) dépasse la taille annoncée ({size}).",
        f"The chunk (bytes {offset} to {offset + length}) goes beyond the announced size ({size}).",
        code="chunk_beyond_size",
    )


def _conflict(attachment_id: str) -> Conflict:
    return Conflict(
        f"Une autre pièce jointe porte déjà l'identifiant {attachment_id}.",
        f"Another attachment already has the id {attachment_id}.",
        code="attachment_conflict",
    )


# --- reading -----------------------------------------------------------------------------


def _status(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "mission_id": row.mission_id,
        "kind": row.kind,
        "content_type": row.content_type,
        "size": int(row.size),
        "sha256": row.sha256,
        "received": int(row.received),
        "complete": row.completed_at is not None,
    }


def describe(row: Any) -> dict[str, Any]:
    """What the office sees of an attachment."""
    return {
        **_status(row),
        "device_id": row.device_id,
        "taken_at": row.taken_at,
        "announced_at": row.announced_at,
        "completed_at": row.completed_at,
    }


def _row(
    conn: sa.Connection, tenant_id: str, attachment_id: str, *, lock: bool = False
) -> Any | None:
    query = sa.select(attachments).where(
        attachments.c.tenant_id == tenant_id, attachments.c.id == attachment_id
    )
    return conn.execute(query.with_for_update() if lock else query).first()


def _own_row(
    conn: sa.Connection, tenant_id: str, device_id: str, attachment_id: str, *, lock: bool
) -> Any:
    row = _row(conn, tenant_id, attachment_id, lock=lock)
    if row is None or row.device_id != device_id:
        raise unknown_attachment(attachment_id)
    return row


def status(conn: sa.Connection, device: DeviceIdentity, attachment_id: str) -> dict[str, Any]:
    """How far the upload of one of this device's attachments went."""
    return _status(_own_row(conn, device.tenant_id, device.device_id, attachment_id, lock=False))


def list_for_mission(conn: sa.Connection, tenant_id: str, mission_id: str) -> list[dict[str, Any]]:
    """Every attachment of a mission, complete or not, in the order they were announced.
    404 when the tenant knows neither the mission nor any attachment of it."""
    rows = conn.execute(
        sa.select(attachments)
        .where(attachments.c.tenant_id == tenant_id, attachments.c.mission_id == mission_id)
        .order_by(attachments.c.announced_at, attachments.c.id)
    ).all()
    if not rows:
        known = conn.execute(
            sa.select(missions.c.id).where(
                missions.c.tenant_id == tenant_id, missions.c.id == mission_id
            )
        ).first()
        if known is None:
            raise NotFound(
                f"Mission introuvable : {mission_id}",
                f"Mission not found: {mission_id}",
                code="mission_unknown",
            )
    return [describe(r) for r in rows]


def complete_attachments(
    conn: sa.Connection, tenant_id: str, mission_id: str, kinds: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """The mission's attachments fully received and checked, optionally of `kinds` only
    (what a claim counts as documents)."""
    query = sa.select(attachments).where(
        attachments.c.tenant_id == tenant_id,
        attachments.c.mission_id == mission_id,
        attachments.c.completed_at.is_not(None),
    )
    if kinds is not None:
        query = query.where(attachments.c.kind.in_(list(kinds)))
    rows = conn.execute(query.order_by(attachments.c.completed_at, attachments.c.id)).all()
    return [describe(r) for r in rows]


def _chunks(conn: sa.Connection, tenant_id: str, attachment_id: str) -> Iterator[bytes]:
    result = conn.execute(
        sa.select(attachment_chunks.c.data)
        .where(
            attachment_chunks.c.tenant_id == tenant_id,
            attachment_chunks.c.attachment_id == attachment_id,
        )
        .order_by(attachment_chunks.c.start)
    )
    for (data,) in result:
        yield bytes(data)


def content(
    conn: sa.Connection, tenant_id: str, attachment_id: str
) -> tuple[dict[str, Any], bytes]:
    """A complete attachment's description and bytes (the office reads it)."""
    row = _row(conn, tenant_id, attachment_id)
    if row is None:
        raise unknown_attachment(attachment_id)
    if row.completed_at is None:
        raise INCOMPLETE
    return describe(row), b"".join(_chunks(conn, tenant_id, attachment_id))


# --- announcing --------------------------------------------------------------------------


def may_act_on(conn: sa.Connection, device: DeviceIdentity, mission_id: str) -> bool:
    """A mission of the device's tenant assigned to one of its drivers, or one the device
    recorded journal entries about (a mission met on the road), as push and pull see it."""
    if device.driver_ids:
        assigned = conn.execute(
            sa.select(missions.c.id).where(
                missions.c.tenant_id == device.tenant_id,
                missions.c.id == mission_id,
                missions.c.driver_id.in_(sorted(device.driver_ids)),
            )
        ).first()
        if assigned is not None:
            return True
    recorded = conn.execute(
        sa.select(journal_entries.c.seq)
        .where(
            journal_entries.c.tenant_id == device.tenant_id,
            journal_entries.c.mission_id == mission_id,
            journal_entries.c.device_id == device.device_id,
        )
        .limit(1)
    ).first()
    return recorded is not None


_SAME = ("device_id", "mission_id", "kind", "content_type", "size", "sha256")


def announce(
    conn: sa.Connection,
    device: DeviceIdentity,
    wanted: Mapping[str, Any],
    *,
    max_bytes: int,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Record an attachment to come; returns its status and whether it is new. The same
    announcement again answers the same row; the same id with other content is 409."""
    if wanted["content_type"] not in CONTENT_TYPES:
        raise unsupported(wanted["content_type"])
    if wanted["size"] > max_bytes:
        raise too_large(wanted["size"], max_bytes)
    values = {
        "tenant_id": device.tenant_id,
        "id": wanted["id"],
        "mission_id": wanted["mission_id"],
        "device_id": device.device_id,
        "kind": wanted["kind"],
        "content_type": wanted["content_type"],
        "size": wanted["size"],
        "sha256": wanted["sha256"].lower(),
        "received": 0,
        "taken_at": wanted["taken_at"],
        "announced_at": now,
    }
    known = _row(conn, device.tenant_id, values["id"], lock=True)
    if known is None:
        if not may_act_on(conn, device, values["mission_id"]):
            raise unknown_mission(values["mission_id"])
        try:
            with conn.begin_nested():  # two announces racing: the second reads the first
                conn.execute(sa.insert(attachments).values(**values))
        except IntegrityError:
            known = _row(conn, device.tenant_id, values["id"], lock=True)
            if known is None:
                raise
        else:
            return _status(_row(conn, device.tenant_id, values["id"])), True
    if any(getattr(known, name) != values[name] for name in _SAME):
        raise _conflict(values["id"])
    return _status(known), False


# --- receiving chunks --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """The status after a chunk; `refusal` (raise it once committed) when the assembly
    did not match its SHA-256 or type and was dropped."""

    status: dict[str, Any]
    refusal: ApiError | None = None


def _stored(conn: sa.Connection, tenant_id: str, attachment_id: str, start: int, end: int) -> bytes:
    """The bytes held in [start, end) (every chunk is at most MAX_CHUNK_BYTES long)."""
    rows = conn.execute(
        sa.select(attachment_chunks.c.start, attachment_chunks.c.data)
        .where(
            attachment_chunks.c.tenant_id == tenant_id,
            attachment_chunks.c.attachment_id == attachment_id,
            attachment_chunks.c.start > start - MAX_CHUNK_BYTES,
            attachment_chunks.c.start < end,
        )
        .order_by(attachment_chunks.c.start)
    ).all()
    held = bytearray()
    for first, data in rows:
        piece = bytes(data)
        low, high = max(start, first), min(end, first + len(piece))
        if low < high:
            held += piece[low - first : high - first]
    return bytes(held)


def receive_chunk(
    conn: sa.Connection,
    device: DeviceIdentity,
    attachment_id: str,
    offset: int,
    data: bytes,
    *,
    now: datetime,
    checksum: str | None = None,
) -> ChunkResult:
    """Store `data` at `offset` of one of this device's attachments (see the module's
    docstring for the rules)."""
    tenant_id = device.tenant_id
    row = _own_row(conn, tenant_id, device.device_id, attachment_id, lock=True)
    if not data:
        raise EMPTY_CHUNK
    if len(data) > MAX_CHUNK_BYTES:
        raise chunk_too_large(len(data))
    if checksum is not None and hashlib.sha256(data).hexdigest() != checksum.lower():
        raise CHUNK_CORRUPTED
    received, size = int(row.received), int(row.size)
    if offset > received:
        raise offset_mismatch(offset, received)
    if offset < received:
        overlap = min(received, offset + len(data))
        if _stored(conn, tenant_id, attachment_id, offset, overlap) != data[: overlap - offset]:
            raise offset_mismatch(offset, received)
        if offset + len(data) <= received:
            return ChunkResult(_status(row))  # sent again: already held
        data, offset = data[received - offset :], received
    if offset + len(data) > size:
        raise _beyond(offset, len(data), size)
    if offset == 0 and len(data) >= min(SNIFF_BYTES, size) and sniff(data) != row.content_type:
        raise not_that_type(row.content_type)
    conn.execute(
        sa.insert(attachment_chunks).values(
            tenant_id=tenant_id, attachment_id=attachment_id, start=offset, data=data
        )
    )
    received = offset + len(data)
    done: dict[str, Any] = {"received": received}
    refusal: ApiError | None = None
    if received == size:
        refusal = _check_assembly(conn, tenant_id, attachment_id, row)
        done = {"received": 0} if refusal else {"received": received, "completed_at": now}
    conn.execute(
        sa.update(attachments)
        .where(attachments.c.tenant_id == tenant_id, attachments.c.id == attachment_id)
        .values(**done)
    )
    return ChunkResult(_status(_row(conn, tenant_id, attachment_id)), refusal)


def _check_assembly(
    conn: sa.Connection, tenant_id: str, attachment_id: str, row: Any
) -> ApiError | None:
    """Check the whole file; on a mismatch drop its chunks (the caller resets `received`)."""
    digest = hashlib.sha256()
    head = b""
    for piece in _chunks(conn, tenant_id, attachment_id):
        if len(head) < SNIFF_BYTES:
            head += piece[: SNIFF_BYTES - len(head)]
        digest.update(piece)
    refusal: ApiError | None = None
    if digest.hexdigest() != row.sha256:
        refusal = ASSEMBLY_CORRUPTED
    elif sniff(head) != row.content_type:
        refusal = not_that_type(row.content_type)
    if refusal is not None:
        conn.execute(
            sa.delete(attachment_chunks).where(
                attachment_chunks.c.tenant_id == tenant_id,
                attachment_chunks.c.attachment_id == attachment_id,
            )
        )
    return refusal
