"""An enrolment held back by the server (429 `rate_limited`) is said at once, with the
server's sentence and its Retry-After, not retried for seconds then called unreachable."""

from __future__ import annotations

import json

import pytest
import requests

from sync.client import SyncClient
from sync.errors import Refused, ServerUnreachable


class HeldBack(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def post(self, url, **kwargs):  # type: ignore[no-untyped-def, override]
        self.calls += 1
        answer = requests.Response()
        answer.status_code = 429
        answer.headers["Retry-After"] = "840"
        answer.headers["Content-Type"] = "application/problem+json"
        body = {"code": "rate_limited", "message": "Trop d'essais : réessayez dans 14 min."}
        answer._content = json.dumps(body).encode()
        return answer


def test_an_enrolment_429_is_refused_at_once_with_the_servers_sentence():
    http = HeldBack()
    sleeps: list[float] = []
    client = SyncClient("http://office", session=http, sleep=sleeps.append)
    with pytest.raises(Refused) as refused:
        client.enrol("http://office", "AAAA-BBBB-CCCC", "ab" * 32, "Camion 3")
    assert not isinstance(refused.value, ServerUnreachable)
    assert (refused.value.code, refused.value.status) == ("rate_limited", 429)
    assert refused.value.message("fr") == (
        "Trop d'essais : réessayez dans 14 min. (Retry-After : 840 s)"
    )
    assert (http.calls, sleeps) == (1, [])
