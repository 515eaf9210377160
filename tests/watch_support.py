"""The tablet's "anything new?" question in tests: a link to the in-process office that
also carries GET requests (tests.wsgi_faults posts everything), and a sync client over
it. No test here."""

from __future__ import annotations

from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from fieldclient.tablet import Tablet
from sync.client import SyncClient
from tests.office_world import World
from tests.wsgi_faults import URL, WsgiFaults, session


class GetThrough(WsgiFaults):
    """`WsgiFaults`, with GET requests handed to the app as GET (and counted)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gets: list[tuple[str, int]] = []  # path with query, status

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.method != "GET":
            return super().send(request, **kwargs)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        if self.down:
            raise requests.ConnectionError("down (injected)")
        answer = self.client.get(request.path_url, headers=headers)
        self.gets.append((request.path_url, answer.status_code))
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.get_data()
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.request = request
        response.url = request.url or ""
        response.reason = answer.status
        return response


def watching_client(world: World, link: GetThrough, tablet: Tablet | None = None) -> SyncClient:
    return SyncClient(
        URL,
        device_id=tablet.device_id if tablet and tablet.enrolled else None,
        session=session(link),
        retries=2,
        backoff=0.0,
        sleep=lambda _s: None,
    )
