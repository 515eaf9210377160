"""Browser tests' parts: Debian's Chromium driven by Playwright, a real HTTP server for a
Flask app, and screenshots kept as artefacts.

Chromium is `/usr/bin/chromium` (or `TOWLINE_CHROMIUM`); `.ci/run` installs it when it
is missing and Playwright never downloads a browser. Without it the browser tests fail
under CI and are skipped elsewhere, saying how to install it.

Screenshots go to `test-artifacts/screenshots/` (or `TOWLINE_ARTIFACTS`/screenshots),
one PNG per page the tests name; the README's pictures are copied from there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("TOWLINE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("TOWLINE_ARTIFACTS", ROOT / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}  # a phone held upright
DESKTOP = {"width": 1366, "height": 900}


class LiveServer:
    """A Flask app on a real socket (127.0.0.1, a free port), served from a thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def new_page(browser: Any, viewport: dict[str, int] = DESKTOP, locale: str = "fr-FR") -> Any:
    """A fresh browser context (its own cookies) and page."""
    context = browser.new_context(viewport=viewport, locale=locale)
    context.set_default_timeout(15_000)
    return context.new_page()


def screenshot(page: Any, name: str) -> Path:
    """Keep a picture of the page as an artefact: test-artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
