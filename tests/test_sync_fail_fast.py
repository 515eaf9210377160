"""A sync with no network says so at once (issue 13): a connection refused or a name that
does not resolve stops the call before any wait (exit 5 on the command line, nothing
lost); a server answering 5xx, or a link that times out, is retried, but never longer
than the client's retry budget. No timing assertion: the waits are counted through the
client's `sleep`."""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import BaseAdapter

from fieldclient import store
from fieldclient.cli import main as field
from sync.client import ServerUnreachable, SyncClient
from tests.field_support import Clock, offline_tablet


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def enrol(client: SyncClient, url: str) -> None:
    client.enrol(url, "CODE-CODE-CODE", "00" * 32, "test")


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "http://towline-office.invalid"])
def test_no_network_fails_at_once_without_waiting(url):
    url = url.format(port=closed_port())
    sleeps: list[float] = []
    client = SyncClient(url, retries=5, sleep=sleeps.append)
    with pytest.raises(ServerUnreachable) as unreachable:
        enrol(client, url)
    assert sleeps == []  # not one retry
    assert unreachable.value.message("en").startswith("No network: the server does not answer")
    assert "Pas de réseau" in unreachable.value.message("fr")


class Always(BaseAdapter):
    """A server that always answers `status`, or a link that always raises `error`."""

    def __init__(self, status: int = 503, error: Exception | None = None) -> None:
        super().__init__()
        self.status, self.error, self.calls = status, error, 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.calls += 1
        if self.error is not None:
            raise self.error
        response = requests.Response()
        response.status_code = self.status
        response.headers["Retry-After"] = "25"
        response._content = b'{"code": "unavailable", "message": "busy"}'
        response.request = request
        return response

    def close(self) -> None:
        pass


def client_over(adapter: Always, sleeps: list[float], **options: Any) -> SyncClient:
    http = requests.Session()
    http.mount("http://", adapter)
    return SyncClient("http://office.test", session=http, sleep=sleeps.append, **options)


def test_a_busy_server_is_retried_within_the_retry_budget():
    sleeps: list[float] = []
    adapter = Always(503)
    client = client_over(adapter, sleeps, retries=50, backoff=4.0, retry_budget=20.0)
    with pytest.raises(ServerUnreachable):
        enrol(client, "http://office.test")
    assert 1 <= len(sleeps) < 50 and sum(sleeps) <= 20.0  # bounded by the budget, not 50 tries
    assert adapter.calls == len(sleeps) + 1


def test_a_link_that_times_out_is_retried_as_before():
    sleeps: list[float] = []
    adapter = Always(error=requests.ConnectTimeout("timed out (injected)"))
    client = client_over(adapter, sleeps, retries=3, backoff=0.5)
    with pytest.raises(ServerUnreachable) as unreachable:
        enrol(client, "http://office.test")
    assert len(sleeps) == 3 and adapter.calls == 4
    assert "rien n'est perdu" in unreachable.value.message("fr")


def test_sync_with_no_network_exits_5_at_once_and_keeps_everything(tmp_path: Path):
    tablet = offline_tablet(tmp_path / "t", Clock())
    tablet.register_open(Decimal("0.00"))
    with store.write(tablet.db):
        store.set_meta(tablet.db, "server_url", f"http://127.0.0.1:{closed_port()}")
    waiting = tablet.pending_count()
    tablet.close()
    said = CliRunner().invoke(field, ["sync", "--home", str(tmp_path / "t"), "--lang", "en"])
    assert said.exit_code == 5
    assert said.output.startswith("No network: the server does not answer")
    assert f"{waiting} entr(y/ies) waiting to be sent" in said.output
