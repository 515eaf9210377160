"""A small server for the client tests (no tests here): a `requests` adapter that calls
`server.devices.push.receive` and `server.devices.pull.pull` on a real database, with faults
injected on the way (dropped connections, lost answers, duplicated and replayed requests, 5xx).
No Flask: the HTTP endpoints are the lead's; this is only what the client sees.
"""

from __future__ import annotations

import gzip
import json
import secrets
from collections.abc import Callable
from typing import Any

import requests
import sqlalchemy as sa
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from server.devices import pull, push
from server.platform.db import reading
from shared import signing
from shared.errors import InvalidDocument
from sync import protocol, schemas
from sync.protocol import challenge_message
from tests.sync_support import NOW, TENANT, Tablet

URL = "http://towline.test"


class FakeServer(BaseAdapter):
    """Answers like the API would. `faults` is consumed one per request:
    "drop" (never reaches the server), "lose" (handled and committed, answer lost),
    "dup" (delivered twice), "503", "429", or None (normal)."""

    def __init__(self, engine: sa.Engine, tablet: Tablet, *, revoked: bool = False) -> None:
        super().__init__()
        self.engine = engine
        self.tablet = tablet
        self.revoked = revoked
        self.faults: list[str | None] = []
        self.requests: list[tuple[str, dict[str, str], Any]] = []  # path, headers, body
        self.tokens: set[str] = set()
        self.nonces: set[str] = set()
        self.driver_ids = {"d1"}
        self.protocol_min = protocol.MIN_PROTOCOL
        self.before: Callable[[str, Any], None] | None = None  # called before each request

    def close(self) -> None:
        pass

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "drop":
            raise requests.ConnectionError("connection reset (injected)")
        raw = request.body if isinstance(request.body, bytes) else b""
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        path = request.path_url
        self.requests.append((path, dict(request.headers), body))
        if self.before is not None:
            self.before(path, body)
        if fault in ("503", "429"):
            return _response(request, int(fault), {"code": "server_error", "message": "busy"})
        status, answer = self.handle(path, dict(request.headers), body)
        if fault == "dup":
            status, answer = self.handle(path, dict(request.headers), body)
        if fault == "lose":
            raise requests.ConnectionError("answer lost (injected)")
        return _response(request, status, answer)

    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        version = int(headers.get(protocol.PROTOCOL_HEADER, "1"))
        if version < self.protocol_min:
            return 426, error("update_required", protocol.UPDATE_REQUIRED("fr"))
        if path == protocol.CHALLENGE_PATH:
            nonce = secrets.token_urlsafe(32)
            self.nonces.add(nonce)
            return 200, {"nonce": nonce, "expires_at": "2026-03-10T09:02:00+00:00"}
        if path == protocol.SESSION_PATH:
            request = schemas.load(schemas.SessionRequest, body)
            key = signing.public_key_from_bytes(self.tablet.public_key)
            signature = bytes.fromhex(request["signature"])
            if request["nonce"] not in self.nonces or not signing.verify(
                key, signature, challenge_message(request["nonce"])
            ):
                return 401, error("challenge_used", "défi déjà utilisé")
            self.nonces.discard(request["nonce"])
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            return 200, {"token": token, "expires_in": 900, "revoked": self.revoked}
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, error("token_expired", "session expirée")
        try:
            if path == protocol.PUSH_PATH:
                request = schemas.load(schemas.PushRequest, body)
                with self.engine.begin() as conn:
                    result = push.receive(
                        conn,
                        tenant_id=TENANT,
                        device_id=self.tablet.device_id,
                        public_key=self.tablet.public_key,
                        entries=request["entries"],
                        revoked=self.revoked,
                        now=NOW,
                    )
                return result.http_status, result.to_wire(headers.get("Accept-Language", "fr"))
            if path == protocol.PULL_PATH:
                request = schemas.load(schemas.PullRequest, body)
                with reading(self.engine).connect() as conn:
                    page = pull.pull(
                        conn,
                        tenant_id=TENANT,
                        driver_ids=self.driver_ids,
                        cursor=request["cursor"],
                        limit=request["limit"],
                    )
                return 200, page.to_wire()
        except InvalidDocument as exc:
            return 422, error("invalid_request", exc.message("fr"))
        return 404, error("not_found", path)


def error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode("utf-8")
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    if status == 429:
        response.headers["Retry-After"] = "2"
    response.request = request
    response.url = request.url or ""
    response.reason = "fake"
    return response


def session_with(server: FakeServer) -> requests.Session:
    http = requests.Session()
    http.mount(URL, server)
    return http
