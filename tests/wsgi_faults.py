"""A `requests` adapter that hands each request to the real Flask app (in process, no
socket) and injects network faults on the way. No test here.

Faults are consumed one per request whose path matches (`paths`, default push and pull):
- "drop": the request never reaches the server (a connection error);
- "lose": the server handles and commits it, the answer is lost (a connection error);
- "dup": the request is delivered twice (the client sees the second answer);
- "replay": an earlier request to the same path is delivered again first (reordering);
- "cut": like "drop", and every later request too, until `heal()` (the link is down).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from sync.protocol import PULL_PATH, PUSH_PATH

URL = "http://towline.test"


class WsgiFaults(BaseAdapter):
    def __init__(self, app: Flask, paths: Iterable[str] = (PUSH_PATH, PULL_PATH)) -> None:
        super().__init__()
        self.client = app.test_client()
        self.paths = frozenset(paths)
        self.faults: list[str | None] = []
        self.down = False
        self.sent: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
        self.log: list[tuple[str, str | None, int | None]] = []  # path, fault, status

    def inject(self, *faults: str | None) -> None:
        self.faults.extend(faults)

    def heal(self) -> None:
        self.down = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path = request.path_url
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        fault = self.faults.pop(0) if path in self.paths and self.faults else None
        if fault == "cut":
            self.down = True
        if self.down or fault == "drop":
            self.log.append((path, fault or "down", None))
            raise requests.ConnectionError(f"{fault or 'down'} (injected)")
        earlier = self.sent.setdefault(path, [])
        if fault == "replay" and earlier:
            old_body, old_headers = earlier[0]
            self._call(path, old_body, old_headers)
        earlier.append((body, headers))
        answer = self._call(path, body, headers)
        if fault == "dup":
            answer = self._call(path, body, headers)
        self.log.append((path, fault, answer.status_code))
        if fault == "lose":
            raise requests.ConnectionError("answer lost (injected)")
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.get_data()
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.request = request
        response.url = request.url or ""
        response.reason = answer.status
        return response

    def _call(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        return self.client.post(path, data=body, headers=headers)

    def close(self) -> None:
        pass


def session(adapter: WsgiFaults) -> requests.Session:
    http = requests.Session()
    http.mount(URL, adapter)
    return http
