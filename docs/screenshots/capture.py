"""Take the README's pictures of the office desk from a running `make run`.

    make run            # in another terminal: the server and its simulated day
    .venv/bin/python docs/screenshots/capture.py [--url http://127.0.0.1:5000]

Uses Debian's Chromium (/usr/bin/chromium) through Playwright, like the browser tests.
The driver's screen pictures come from the browser tests (test-artifacts/screenshots/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    url = parser.parse_args().url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="fr-FR")
        page.goto(f"{url}/desk/")
        page.screenshot(path=str(HERE / "desk-sign-in.png"))
        page.fill("input[name=tenant]", "demo")
        page.fill("input[name=login]", "bureau")
        page.fill("input[name=password]", "demo-towline")
        page.click("button[type=submit]")
        page.screenshot(path=str(HERE / "desk-today.png"), full_page=True)
        page.goto(f"{url}/desk/anomalies")
        page.screenshot(path=str(HERE / "desk-anomalies.png"), full_page=True)
        page.click("tbody tr:has-text('Encaissement fictif') >> text=Traiter")
        page.screenshot(path=str(HERE / "desk-anomaly.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
