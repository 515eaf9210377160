"""No desk page shows a person an instant as the machine writes it (issue 14): after the
simulated day of the demo, in a tenant of Nouméa, every desk page reachable from the menu,
in French and in English, shows times on the tenant's clock, never an ISO instant
("2026-03-10T08:40", "2026-03-10 08:40"), a UTC offset ("+00:00") or "UTC"; and each page
of a signed-in user states the tenant's zone. Data-attributes, URLs, form values and hidden
inputs are the machine's and are left out; titles, placeholders and labels are read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urldefrag, urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.platform.tables import tenants
from simulation.cli import main as simulate
from tests.browser import LiveServer
from tests.desk_support import sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

# Routes that answer a file rather than a page.
FILES = {
    "desk.static",
    "desk.attachment",
    "desk.login",
    "desk.accounting_fec",
    "desk.accounting_sales",
    "desk.bug_report",
    "desk.debt_letter",
    "desk.document_pdf",
    "desk.document_facturx_pdf",
    "desk.document_facturx",
    "desk.receipt_pdf",
    "desk.refund_receipt_pdf",
    "desk.commission_statement",
}
PER_ENDPOINT = 12  # distinct URLs per route: enough to meet every kind of row

MACHINE_TIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"  # an ISO instant, or the old English `when`
    r"|\d[+-]\d{2}:\d{2}\b"  # a UTC offset after a time
    r"|\bUTC\b"
)
SIGN_OUT = {"fr": "Se déconnecter", "en": "Sign out"}
STATED = {"fr": "heure de Noumea (Pacific/Noumea)", "en": "Noumea time (Pacific/Noumea)"}


class Visible(HTMLParser):
    """The text a person reads on a page, and the links it holds."""

    SKIP: ClassVar[set[str]] = {"script", "style", "textarea", "template"}
    READ_ATTRS = ("title", "placeholder", "alt", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.SKIP:
            self.skipping += 1
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "input" and values.get("type") == "hidden":
            return
        self.parts.extend(str(values[a]) for a in self.READ_ATTRS if values.get(a))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def read(html: str) -> Visible:
    parser = Visible()
    parser.feed(html)
    return parser


def machine_times(text: str) -> list[str]:
    without_urls = re.sub(r"\b(?:https?://|/desk/|/api/)\S*", " ", text)
    return sorted({m.group(0) for m in MACHINE_TIME.finditer(without_urls)})


def pages(client: Any, app: Any) -> Iterator[str]:
    """Every desk page reachable by its links from the pages without parameters."""
    adapter = app.url_map.bind("localhost")
    per: dict[str, int] = {}
    seen: set[str] = set()
    queue = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("desk.")
        and "GET" in (rule.methods or ())
        and not rule.arguments
        and rule.endpoint not in FILES
    ]
    while queue:
        url = urldefrag(queue.pop(0))[0]
        split = urlsplit(url)
        if split.netloc or not split.path.startswith("/desk/") or url in seen:
            continue
        if "lang=" in split.query or "export" in split.query:
            continue
        try:
            endpoint, _ = adapter.match(split.path, method="GET")
        except Exception:
            continue
        if endpoint in FILES or per.get(endpoint, 0) >= PER_ENDPOINT:
            continue
        seen.add(url)
        per[endpoint] = per.get(endpoint, 0) + 1
        answer = client.get(url)
        if answer.status_code != 200 or "html" not in answer.content_type:
            continue
        queue.extend(read(answer.get_data(as_text=True)).links)
        yield url


def test_the_scan_sees_a_machine_time():
    """The scan can fail: it finds what pages used to show, and leaves the machine's out."""
    page = read(
        '<td>2026-03-10T23:30:00+00:00</td><td title="10/03/2026 23:30 UTC">x</td>'
        '<td data-at="2026-03-10T23:30">y</td><input type="hidden" value="2026-03-10T23:30">'
        '<a href="/desk/x?at=2026-03-10T23:30">z</a><td>2026-03-10 23:30</td>'
        "<li>Deciding time (call): Tuesday 2026-03-09 10:00</li>"  # explain.py's old English
    )
    assert machine_times(page.text()) == [
        "0+00:00",
        "2026-03-09 10:00",
        "2026-03-10 23:30",
        "2026-03-10T23:30",
        "UTC",
    ]
    assert machine_times("Deciding time (call): Tuesday 10 Mar 2026 10:00") == []


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_no_desk_page_shows_a_machine_time_and_each_states_the_zone(
    world: World,  # noqa: F811
    tmp_path: Path,
):
    with world.engine.begin() as conn:
        settings = conn.execute(
            sa.select(tenants.c.settings).where(tenants.c.id == "demo")
        ).scalar_one()
        conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == "demo")
            .values(settings={**(settings or {}), "timezone": "Pacific/Noumea"})
        )
    live = LiveServer(world.app)
    try:
        ran = CliRunner().invoke(simulate, ["--url", live.url, "--dir", str(tmp_path / "sim")])
        assert ran.exit_code == 0, ran.output
    finally:
        live.close()

    client = world.app.test_client()
    assert sign_in(client, "admin").status_code == 302
    found: dict[str, list[str]] = {}
    unstated: list[str] = []
    fetched = 0
    for url in pages(client, world.app):
        for lang in ("fr", "en"):
            joiner = "&" if "?" in url else "?"
            answer = client.get(f"{url}{joiner}lang={lang}")
            assert answer.status_code == 200, (url, lang, answer.status_code)
            text = read(answer.get_data(as_text=True)).text()
            fetched += 1
            if hits := machine_times(text):
                found[f"{url} [{lang}]"] = hits
            signed_in = SIGN_OUT[lang] in text  # /desk/password is before signing in
            if signed_in and STATED[lang] not in text:
                unstated.append(f"{url} [{lang}]")
    client.get("/desk/?lang=fr")
    assert fetched > 60  # the day's pages were reached, not just the menu
    assert found == {}
    assert unstated == []
