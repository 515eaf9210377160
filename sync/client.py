"""The sync client: what a tablet calls to enrol, open a session, push, pull and upload
its attachments.

Built on `requests`. Every call is a POST of JSON (gzip-compressed from GZIP_MIN_BYTES),
or of raw bytes for an attachment's chunk, with timeouts, and retried with bounded
exponential backoff when the network drops or the server answers 5xx or 429: push, pull
and chunks are idempotent by design, so a retry after a lost response is harmless. An
enrolment's 429 is not retried: the server holds back a guessed code for minutes, so its
sentence (and `Retry-After`) is raised at once as `Refused("rate_limited")`. What
cannot succeed by retrying raises a clear exception: `ServerUnreachable` (try later),
`UpdateRequired` (update the app), `Refused` (the server said no, with its code and its
words).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from marshmallow import Schema
from urllib3.exceptions import NewConnectionError

from shared import signing
from shared.errors import InvalidDocument
from shared.journal import SignedEntry, to_wire
from sync import schemas
from sync.errors import (
    NO_NETWORK,
    NO_PROGRESS,
    UNREACHABLE,
    UNREADABLE,
    UNSIGNED,
    DeviceRevoked,
    Refused,
    ServerUnreachable,
    SyncError,
    UpdateRequired,
    ahead,
)
from sync.protocol import (
    CHALLENGE_PATH,
    CHALLENGE_RETRY,
    ENROL_PATH,
    GZIP_MIN_BYTES,
    MAX_PUSH_ENTRIES,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    PULL_PATH,
    PUSH_PATH,
    SESSION_PATH,
    UPDATE_REQUIRED,
    ErrorCode,
    PushStatus,
    challenge_message,
)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def no_network(error: Exception) -> bool:
    """Whether the connection could not even be made (refused, name unknown, no route):
    no server is listening there now, so the sync stops at once (exit 5) rather than
    retrying for seconds. A link that drops or times out after connecting is retried."""
    cause: object = error.args[0] if error.args else None
    cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the reason
    # urllib3 raises NewConnectionError for an OSError while connecting (refused,
    # unreachable network, no DNS: NameResolutionError); a connect timeout is its parent
    # ConnectTimeoutError, retried.
    return isinstance(cause, NewConnectionError)


# Attachments (docs/sync-protocol.md "Attachments"): announce, status, chunks.
ATTACHMENTS_PATH = "/api/v1/sync/attachments"
MAX_CHUNK_BYTES = 512 * 1024  # the server refuses a larger chunk (413)
OFFSET_HEADER = "Upload-Offset"
CHECKSUM_HEADER = "Upload-SHA256"
# Refusals of a chunk that asking the status again mends; and a bad assembly, which the
# server dropped: the upload starts again from byte 0 (once per upload).
_RESUME_FROM_STATUS = frozenset({"offset_mismatch", "chunk_corrupted"})
_RESTART = "attachment_corrupted"
UPLOAD_RESTARTS = 1

__all__ = [
    "Acknowledged",
    "DeviceRevoked",
    "Enrolment",
    "Refused",
    "ServerUnreachable",
    "SyncClient",
    "SyncError",
    "UpdateRequired",
    "UploadStatus",
]


@dataclass(frozen=True, slots=True)
class Enrolment:
    device_id: str
    tenant_id: str
    server_public_key: bytes
    approval_key: dict[str, Any]  # {"version", "secret"}: keep it in the tablet's key store
    drivers: list[dict[str, Any]]  # who may sign in on this tablet
    signature: bytes = b""  # the server's, of protocol.enrolment_message(...): keep it


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The device's head as the server holds it."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """How far the server holds an attachment: send the next chunk from `received`."""

    id: str
    size: int
    received: int
    complete: bool


PageHandler = Callable[[list[dict[str, Any]], int], None]
ChunkReader = Callable[[int, int], bytes]  # (offset, length) -> the attachment's bytes


class SyncClient:
    """One server, one device. Thread-unsafe, like the `requests.Session` it holds."""

    def __init__(
        self,
        base_url: str,
        *,
        device_id: str | None = None,
        session: requests.Session | None = None,
        lang: str = "fr",
        timeout: tuple[float, float] = (5.0, 30.0),  # connect, read (seconds)
        retries: int = 5,
        backoff: float = 0.5,  # first delay; doubles each attempt
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        retry_budget: float = 20.0,  # seconds of waiting between tries, per call
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        self.http = session or requests.Session()
        self.lang = lang
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.retry_budget = retry_budget
        self.token: str | None = None
        self._private_key: signing.PrivateKey | None = None
        # The server's clock: from the session answer's `server_time`, else from the Date
        # header of the last answer. A tablet corrects its own clock with it (tablet
        # clocks can be months off).
        self.server_date: datetime | None = None
        self._server_time_known = False
        # What the last session answer said (docs/sync-protocol.md "Session").
        self.revoked = False
        self.server_public_key: str | None = None
        self.enrolment_signature: str | None = None

    # --- enrolment and session --------------------------------------------------------------

    def enrol(self, url: str, code: str, public_key_hex: str, label: str) -> Enrolment:
        """Enrol this tablet with a one-time code; the server answers with the device id.

        `url` is the server's base URL (it may differ from the one given at construction
        when the code carried it). A repeated enrolment with the same code and the same key
        returns the same device (docs/sync-protocol.md), so a lost answer can be retried.
        """
        self.base_url = url.rstrip("/")
        body = {
            "code": code,
            "public_key": public_key_hex,
            "label": label,
        }
        raw = self._post(ENROL_PATH, body, auth=False)
        if isinstance(raw, dict) and "enrolment_signature" not in raw:
            raise Refused("enrolment_unsigned", UNSIGNED(self.lang), status=502)
        answer = self._read(schemas.EnrolResponse, raw)
        self.device_id = answer["device_id"]
        return Enrolment(
            answer["device_id"],
            answer["tenant_id"],
            bytes.fromhex(answer["server_public_key"]),
            answer["approval_key"],
            answer["drivers"],
            bytes.fromhex(answer["enrolment_signature"]),
        )

    def open_session(self, private_key: signing.PrivateKey) -> str:
        """Challenge → signed nonce → bearer token. No device clock is involved.

        A nonce works once: if the answer to the signed nonce was lost and the retry is
        refused, one fresh challenge is asked for.
        """
        device_id = self._device()
        self._private_key = private_key
        for attempt in range(2):
            challenge = self._read(
                schemas.ChallengeResponse,
                self._post(CHALLENGE_PATH, {"device_id": device_id}, auth=False),
            )
            nonce = challenge["nonce"]
            signature = signing.sign(private_key, challenge_message(nonce)).hex()
            body = {"device_id": device_id, "nonce": nonce, "signature": signature}
            try:
                answer = self._post(SESSION_PATH, body, auth=False)
            except Refused as refused:
                if refused.code in CHALLENGE_RETRY and attempt == 0:
                    continue
                raise
            session = self._read(schemas.SessionResponse, answer)
            self.token = session["token"]
            self.revoked = session["revoked"]
            self.server_public_key = session["server_public_key"]
            self.enrolment_signature = session["enrolment_signature"]
            if session["server_time"] is not None:
                self.server_date = session["server_time"]
                self._server_time_known = True
            return self.token
        raise AssertionError("unreachable")  # pragma: no cover

    # --- push -------------------------------------------------------------------------------

    def push(
        self,
        entries: Sequence[SignedEntry | Mapping[str, Any]],
        *,
        batch_size: int = MAX_PUSH_ENTRIES,
        on_acknowledged: Callable[[Acknowledged], None] | None = None,
    ) -> Acknowledged | None:
        """Send unacknowledged journal entries (consecutive, in device order) in batches.

        Each batch starts right after what the server last acknowledged, so a lost answer
        or a gap the server reports is mended by sending again from there. After each
        acknowledgement `on_acknowledged` lets the caller mark its outbox. Returns the
        last acknowledgement (None when there was nothing to send).
        """
        wire = [to_wire(e) if isinstance(e, SignedEntry) else dict(e) for e in entries]
        if not wire:
            return None
        first = wire[0]["seq"]
        if [e["seq"] for e in wire] != list(range(first, first + len(wire))):
            raise ValueError("push() needs consecutive entries in device order")
        batch_size = max(1, min(batch_size, MAX_PUSH_ENTRIES))
        start, last = 0, None
        budget = 2 * (len(wire) // batch_size + 1) + 5  # rounds before we call it a loop
        while start < len(wire):
            budget -= 1
            if budget < 0:
                raise Refused("no_progress", NO_PROGRESS(self.lang))
            body = {
                "protocol": PROTOCOL_VERSION,
                "device_id": self._device(),
                "entries": wire[start : start + batch_size],
            }
            answer = self._read(schemas.PushResponse, self._post(PUSH_PATH, body))
            status = answer["status"]
            ack = Acknowledged(answer["acknowledged"]["seq"], answer["acknowledged"]["hash"])
            message = answer.get("message", "")
            if status == PushStatus.QUARANTINED:
                raise DeviceRevoked(ErrorCode.DEVICE_REVOKED, message)
            if status == PushStatus.FORK:
                raise Refused(PushStatus.FORK.value, message, status=409)
            if status == PushStatus.GAP:
                expected = answer.get("expected_seq", ack.seq + 1)
                if not first <= expected < first + len(wire):
                    raise Refused(PushStatus.GAP.value, message, status=409)
                start = expected - first
                continue
            index = ack.seq - first
            if index >= len(wire):
                raise Refused("server_ahead", ahead(ack.seq)(self.lang))
            if index >= 0 and wire[index]["hash"] != ack.hash:
                raise Refused("ack_mismatch", ahead(ack.seq)(self.lang))
            last = ack
            if on_acknowledged is not None:
                on_acknowledged(ack)
            start = max(start, index + 1)
        return last

    def probe(self, report: Mapping[str, Any] | None = None) -> tuple[Acknowledged, str | None]:
        """A push of no entry (protocol 2): the device's head as the server holds it, and
        the tablet's integrity report delivered with it. Returns the head and the id of
        the report the server says it recorded (None: not recorded, send it again)."""
        body: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "device_id": self._device()}
        body["entries"] = []
        if report is not None:
            body["integrity_report"] = dict(report)
        answer = self._read(schemas.PushResponse, self._post(PUSH_PATH, body))
        if answer["status"] == PushStatus.QUARANTINED:
            raise DeviceRevoked(ErrorCode.DEVICE_REVOKED, answer.get("message", ""))
        recorded = (answer.get("integrity_report") or {}).get("id")
        head = Acknowledged(answer["acknowledged"]["seq"], answer["acknowledged"]["hash"])
        return head, recorded

    # --- pull -------------------------------------------------------------------------------

    def pull(self, cursor: int, on_page: PageHandler, *, limit: int | None = None) -> int:
        """Fetch pages of changes after `cursor` until the server has no more.

        `on_page(changes, next_cursor)` must apply the changes and store `next_cursor` in
        one local transaction: then an interruption anywhere resumes with no loss and no
        duplicate. Returns the final cursor.
        """
        while True:
            body: dict[str, Any] = {"cursor": cursor}
            if limit is not None:
                body["limit"] = limit
            page = self._read_page(self._post(PULL_PATH, body, raw=True))
            next_cursor = page["next_cursor"]
            if next_cursor < cursor or (page["has_more"] and next_cursor == cursor):
                raise Refused("bad_cursor", NO_PROGRESS(self.lang))
            on_page(page["changes"], next_cursor)
            cursor = next_cursor
            if not page["has_more"]:
                return cursor

    # --- attachments ------------------------------------------------------------------------

    def announce_attachment(self, attachment: Mapping[str, Any]) -> UploadStatus:
        """Announce an attachment (`id`, `mission_id`, `kind`, `content_type`, `size`,
        `sha256`, `taken_at`); announcing it again answers how far its upload went."""
        fields = ("id", "mission_id", "kind", "content_type", "size", "sha256", "taken_at")
        body = {name: attachment[name] for name in fields}
        return self._upload_status(self._post(ATTACHMENTS_PATH, body))

    def attachment_status(self, attachment_id: str) -> UploadStatus:
        return self._upload_status(self._post(f"{ATTACHMENTS_PATH}/{attachment_id}/status", {}))

    def send_chunk(self, attachment_id: str, offset: int, data: bytes) -> UploadStatus:
        """One chunk at `offset`, with its own SHA-256 (an altered chunk is refused)."""
        if not 0 < len(data) <= MAX_CHUNK_BYTES:
            raise ValueError(f"a chunk holds 1 to {MAX_CHUNK_BYTES} bytes")
        headers = {
            "Content-Type": "application/octet-stream",
            OFFSET_HEADER: str(offset),
            CHECKSUM_HEADER: hashlib.sha256(data).hexdigest(),
        }
        answer = self._send(f"{ATTACHMENTS_PATH}/{attachment_id}/chunks", data, headers)
        return self._upload_status(answer)

    def upload_attachment(
        self,
        attachment: Mapping[str, Any],
        read: ChunkReader,
        *,
        chunk_size: int = MAX_CHUNK_BYTES,
        on_progress: Callable[[UploadStatus], None] | None = None,
    ) -> UploadStatus:
        """Announce, then send chunks from what the server holds until it has checked the
        whole file. Resumable: an interrupted upload goes on from the server's count; a
        chunk refused because the server holds something else, or altered on the way, is
        followed by asking the status; a file the server could not verify is sent again
        from byte 0 (once). `on_progress` sees every status (to keep the count locally).
        """
        size = int(attachment["size"])
        chunk_size = max(1, min(chunk_size, MAX_CHUNK_BYTES))
        state = self.announce_attachment(attachment)
        rounds = size // chunk_size + 1
        budget, restarts = 2 * rounds + 5, 0
        while True:
            if on_progress is not None:
                on_progress(state)
            if state.complete:
                return state
            budget -= 1
            if budget < 0 or not 0 <= state.received < size:
                raise Refused("no_progress", NO_PROGRESS(self.lang))
            offset = state.received
            try:
                state = self.send_chunk(
                    state.id, offset, read(offset, min(chunk_size, size - offset))
                )
            except Refused as refused:
                if refused.code == _RESTART and restarts < UPLOAD_RESTARTS:
                    restarts += 1
                    budget += 2 * rounds
                elif refused.code not in _RESUME_FROM_STATUS:
                    raise
                state = self.attachment_status(state.id)

    def _upload_status(self, data: Any) -> UploadStatus:
        answer = self._read(schemas.UploadStatus, data)
        return UploadStatus(answer["id"], answer["size"], answer["received"], answer["complete"])

    # --- transport --------------------------------------------------------------------------

    def _device(self) -> str:
        if self.device_id is None:
            raise ValueError("this client has no device id yet: enrol first")
        return self.device_id

    def _post(
        self, path: str, body: Mapping[str, Any], *, auth: bool = True, raw: bool = False
    ) -> Any:
        """POST JSON with retries; returns the decoded JSON of a 2xx or 409 answer (with
        `raw`, the undecoded bytes of a 2xx answer, for `_read_page`)."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if len(data) >= GZIP_MIN_BYTES:
            # Level 1: a push batch is mostly hex hashes and signatures, which no level
            # compresses; level 6 made it ~6 % smaller for ~2.7x the time.
            data = gzip.compress(data, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return self._send(path, data, headers, auth=auth, raw=raw)

    def _send(
        self,
        path: str,
        data: bytes,
        headers: Mapping[str, str],
        *,
        auth: bool = True,
        raw: bool = False,
    ) -> Any:
        """POST `data` as it is (with `headers`), with retries: see `_post`."""
        headers = {
            **headers,
            "Accept": "application/json",
            "Accept-Language": self.lang,
            PROTOCOL_HEADER: str(PROTOCOL_VERSION),
        }
        reopened = False
        attempt = 0
        waited = 0.0  # seconds paused between tries of this call, at most retry_budget
        while True:
            if auth:
                headers["Authorization"] = f"Bearer {self.token}"
            try:
                response = self.http.post(
                    self.base_url + path, data=data, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if no_network(exc):  # refused, no DNS, no route: waiting changes nothing
                    raise ServerUnreachable(NO_NETWORK) from exc
                if attempt >= self.retries or waited >= self.retry_budget:
                    raise ServerUnreachable(UNREACHABLE) from exc
                waited += self._pause(attempt, None, self.retry_budget - waited)
                attempt += 1
                continue
            self._note_date(response.headers.get("Date"))
            if response.status_code == 429 and path == ENROL_PATH:
                raise self._rate_limited(response)  # waiting seconds would not do: minutes
            if response.status_code in _RETRY_STATUS:
                if attempt >= self.retries or waited >= self.retry_budget:
                    raise ServerUnreachable(UNREACHABLE)
                retry_after = response.headers.get("Retry-After")
                waited += self._pause(attempt, retry_after, self.retry_budget - waited)
                attempt += 1
                continue
            if response.status_code == 401 and auth and self._private_key and not reopened:
                reopened = True  # the token expired: one new session, then the same request
                self.open_session(self._private_key)
                continue
            if raw and 200 <= response.status_code < 300:
                return response.content
            return self._answer(response)

    def _note_date(self, header: str | None) -> None:
        if header and not self._server_time_known:  # the session's time is more precise
            # a malformed Date header is no reason to fail a sync
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = parsedate_to_datetime(header)

    def _pause(self, attempt: int, retry_after: str | None, left: float) -> float:
        """Wait before the next try (never beyond what is `left` of the retry budget);
        returns the seconds waited."""
        delay = min(self.max_backoff, self.backoff * 2**attempt)
        delay *= 0.5 + random.random() / 2  # jitter: tablets coming back online don't stampede
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), self.max_backoff))
        waited = float(max(min(delay, left), 0.0))
        self.sleep(waited)
        return waited

    def _rate_limited(self, response: requests.Response) -> Refused:
        """An enrolment the server holds back (too many failed codes): its sentence, which
        says how long to wait, and the `Retry-After` seconds, at once."""
        refused = self._refusal(response)
        wait = response.headers.get("Retry-After", "")
        if wait.isdigit():
            after = (
                f" (Retry-After : {wait} s)" if self.lang == "fr" else f" (Retry-After: {wait} s)"
            )
            refused = Refused(refused.code, refused.message() + after, status=429)
        return refused

    def _refusal(self, response: requests.Response) -> Refused:
        try:
            self._answer(response)
        except Refused as refused:
            return refused
        return Refused(ErrorCode.RATE_LIMITED, response.reason or "429", status=429)

    def _answer(self, response: requests.Response) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        ok = 200 <= response.status_code < 300
        if ok or (response.status_code == 409 and isinstance(data, dict) and "status" in data):
            if data is None:
                raise Refused(ErrorCode.SERVER_ERROR, UNREADABLE(self.lang), status=502)
            return data
        code = data.get("code") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        code = code if isinstance(code, str) else f"http_{response.status_code}"
        message = message if isinstance(message, str) else response.reason or code
        if response.status_code == 426 or code == ErrorCode.UPDATE_REQUIRED:
            raise UpdateRequired(
                ErrorCode.UPDATE_REQUIRED,
                message or UPDATE_REQUIRED(self.lang),
                status=response.status_code,
            )
        if code == ErrorCode.DEVICE_REVOKED:
            raise DeviceRevoked(code, message, status=response.status_code)
        raise Refused(code, message, status=response.status_code)

    def _read(self, schema: type[Schema], data: Any) -> dict[str, Any]:
        try:
            return schemas.load(schema, data, strict=False)
        except InvalidDocument as exc:
            raise Refused(ErrorCode.SERVER_ERROR, exc.message(self.lang), status=502) from None

    def _read_page(self, content: bytes) -> dict[str, Any]:
        """A pull answer's body, validated like `_read(schemas.PullResponse, …)` (quickly
        for a well-formed page: `schemas.load_pull_page`)."""
        try:
            return schemas.load_pull_page(content)
        except InvalidDocument as exc:
            raise Refused(ErrorCode.SERVER_ERROR, exc.message(self.lang), status=502) from None
        except ValueError:  # not JSON
            raise Refused(ErrorCode.SERVER_ERROR, UNREADABLE(self.lang), status=502) from None
