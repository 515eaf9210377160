"""Signing in to the office desk with Flask's test client (CSRF token included)."""

from __future__ import annotations

import re
from typing import Any

from server import demo

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: Any, path: str = "/desk/login") -> str:
    """The CSRF token of the form on `path` (the session's token: any desk form has it)."""
    page = client.get(path)
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}: {page.status_code}"
    return found.group(1)


def sign_in(client: Any, login: str, *, tenant: str = "demo", password: str = demo.PASSWORD) -> Any:
    """Sign `login` in on this client; returns the answer (a redirect when it worked)."""
    token = csrf(client)
    return client.post(
        "/desk/login",
        data={"csrf_token": token, "tenant": tenant, "login": login, "password": password},
    )


def post(client: Any, path: str, data: dict[str, str], *, token_from: str = "/desk/") -> Any:
    """POST a desk form the way the browser does, with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf(client, token_from), **data})
