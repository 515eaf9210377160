"""While the driver's screen is open and the tablet has network: ask the office every few
seconds whether anything new is there for this tablet, and sync when there is.

The question is `GET /api/v1/sync/changes?since=<cursor>` (docs/sync-protocol.md
"Anything new?"): one indexed read on the server, nothing written, no body when nothing
changed. Only the screen (`towline-field serve`) asks it; no other command of the tablet
goes to the network by itself. Without network the question fails at once and nothing
changes on the tablet; the screen asks again later.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import requests

from fieldclient import syncing
from fieldclient.tablet import Tablet
from sync.client import SyncClient, no_network
from sync.errors import NO_NETWORK, UNREACHABLE, DeviceRevoked, Refused, ServerUnreachable
from sync.protocol import (
    CHANGES_PATH,
    CURSOR_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    ErrorCode,
)

TIMEOUT = (3.0, 10.0)  # connect, read (seconds): a question, not a transfer


@dataclass(slots=True)
class Watch:
    """One screen process's watch: its client (kept, so that its session token serves
    many questions), how far it has looked, and a lock so that two open pages never sync
    at the same time."""

    client: SyncClient | None = None
    since: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class Outcome:
    changed: bool  # something new was there and the tablet synced
    changes: int = 0  # changes the pull applied


def anything_new(tablet: Tablet, client: SyncClient, since: int) -> tuple[bool, int]:
    """Ask the office whether a change this tablet may see was recorded after `since`;
    returns (changed, the last change recorded). Opens a session when the client has
    none or its token expired."""
    if client.token is None:
        client.open_session(tablet.private_key())
    for attempt in range(2):
        try:
            answer = client.http.get(
                client.base_url + CHANGES_PATH,
                params={"since": str(since)},
                headers={
                    "Accept": "application/json",
                    "Accept-Language": client.lang,
                    "Authorization": f"Bearer {client.token}",
                    PROTOCOL_HEADER: str(PROTOCOL_VERSION),
                },
                timeout=TIMEOUT,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ServerUnreachable(NO_NETWORK if no_network(exc) else UNREACHABLE) from exc
        if answer.status_code == 401 and attempt == 0:
            client.open_session(tablet.private_key())
            continue
        break
    if answer.status_code in (200, 204):
        cursor = answer.headers.get(CURSOR_HEADER, "")
        return answer.status_code == 200, int(cursor) if cursor.isdigit() else since
    if answer.status_code in (429, 500, 502, 503, 504):
        raise ServerUnreachable(UNREACHABLE)
    raise _refusal(answer)


def check(tablet: Tablet, client: SyncClient, watch: Watch) -> Outcome:
    """Ask once; when something is new, sync as the Sync button does (push, pull, push
    what the pulled decisions recorded, attachments). Raises what the sync raises."""
    since = max(watch.since, int(tablet.meta("pull_cursor") or 0))
    changed, cursor = anything_new(tablet, client, since)
    if not changed:
        watch.since = max(since, cursor)
        return Outcome(False)
    report = syncing.sync(tablet, client)
    watch.since = max(since, report.cursor)
    return Outcome(True, report.changes)


def _refusal(answer: requests.Response) -> Refused:
    try:
        data = answer.json()
    except ValueError:
        data = None
    said = data if isinstance(data, dict) else {}
    code = said.get("code") if isinstance(said.get("code"), str) else None
    code = code or f"http_{answer.status_code}"
    message = said.get("message") if isinstance(said.get("message"), str) else None
    message = message or answer.reason or code
    if code == ErrorCode.DEVICE_REVOKED:
        return DeviceRevoked(code, message, status=answer.status_code)
    return Refused(code, message, status=answer.status_code)
