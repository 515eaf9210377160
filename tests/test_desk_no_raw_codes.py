"""No raw code shown to a person (issue 14): after the demo's simulated day, with some
anomalies resolved, every desk page an admin can reach, in French and in English, shows
words, never the raw value of an enum of `shared/` or `server/`, nor an ISO date.

The pages are found by following the desk's own links from its menu (so route values come
from the data); every HTML GET route of the desk blueprint must be reached. The visible text
is what a person reads: tags, data-attributes, URLs, form values, hidden inputs and text
areas (a contract's JSON editor) are left out; titles, placeholders and labels are in."""

from __future__ import annotations

import enum
import importlib
import pkgutil
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urldefrag, urlsplit

import pytest
from click.testing import CliRunner

from simulation.cli import main as simulate
from tests.browser import LiveServer
from tests.desk_support import sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

# Routes that are not pages (files, downloads) or that a GET link does not reach.
NOT_PAGES = {
    "desk.static",
    "desk.attachment",
    "desk.login",  # signed in: it sends to the glance
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
    "desk.resolve_anomaly_form",  # where a refused resolution lands; else the anomaly page
}
# Routes no link reaches from this day's data, each with its reason; the test still
# fetches the ones without parameters.
UNLINKED = {
    "desk.lookup_customer": "the simulated day records no customer's name or phone to find"
    " (tests/test_lookup.py covers that page)",
}
FILES = (".pdf", ".csv", ".json", ".xml")
PER_ENDPOINT = 25  # distinct URLs fetched per route: enough to meet every kind of row

CODE = re.compile(r"^[a-z][a-z0-9]*(?:[_.-][a-z0-9]+)*$")
# One-word codes that are also ordinary words of French prose (they are scanned on the
# English pages only when they contain a separator, like every code, so not there).
FRENCH_WORDS = {
    "admin": "a French word too (« admin »): the desk names the role « administrateur »",
    "collection": "a French word too (une collection); the desk's word is « encaissement »",
    "sent": "a French verb (il sent); a file sent reads « envoyé »",
}
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def enum_codes() -> dict[str, str]:
    """Every code-looking value of every Enum defined in shared/ and server/: {value: enum}."""
    for package in ("shared", "server"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)
    found: dict[str, str] = {}
    todo: list[type[enum.Enum]] = list(enum.Enum.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__module__.startswith(("shared.", "server.")):
            continue
        for member in cls:
            value = member.value
            if isinstance(value, str) and CODE.match(value) and len(value) > 2:
                found.setdefault(value, f"{cls.__module__}.{cls.__qualname__}")
    # Codes kept as plain strings rather than an Enum: anomaly kinds and statuses, roles,
    # legs, mission statuses.
    from server.desk import labels
    from server.office import anomalies, reconcile
    from server.people.rights import DEFAULT_ROLES
    from shared.mission import LEGS

    plain = {
        "anomaly kind": {*reconcile.KINDS, *anomalies.CAUSE_KINDS, *labels.ANOMALY_KINDS},
        "anomaly status": {reconcile.OPEN, reconcile.RESOLVED, reconcile.CLEARED},
        "role": set(DEFAULT_ROLES),
        "leg": set(LEGS),
        "mission status": set(labels.MISSION_STATUSES),
    }
    for origin, values in plain.items():
        for value in values:
            if CODE.match(value) and len(value) > 2:
                found.setdefault(value, origin)
    return found


def evidence_keys(w: World) -> dict[str, str]:
    """The keys of every anomaly's evidence this day raised."""
    import sqlalchemy as sa

    from server.platform.tables import anomalies

    with w.engine.connect() as conn:
        details = conn.execute(sa.select(anomalies.c.detail)).scalars().all()
    return {
        key: "evidence key"
        for detail in details
        if isinstance(detail, dict)
        for key in detail
        if CODE.match(key) and len(key) > 2 and key not in ("fr", "en")
    }


class Visible(HTMLParser):
    """The text a person sees on a page, and the desk links it holds."""

    SKIP = frozenset({"script", "style", "textarea", "template"})
    SHOWN_ATTRS = ("title", "placeholder", "alt", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.skipping: list[str] = []  # the tags whose content is not read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = str(values.get("class") or "").split()
        if (
            tag in self.SKIP
            or (tag == "pre" and "json" in classes)
            or (tag == "code" and "rule" in classes)
        ):
            # Not read as words: scripts, styles, what a field holds (a text area's
            # placeholder is a file format's sample), a document's JSON shown as published,
            # and a cleaning rule's condition as the office wrote it (a known leftover:
            # docs/operations.md, "Words, not codes").
            self.skipping.append(tag)
            return
        if self.skipping:
            return
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "input" and values.get("type") == "hidden":
            return
        self.parts.extend(str(values[a]) for a in self.SHOWN_ATTRS if values.get(a))

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def visible(html: str) -> Visible:
    parser = Visible()
    parser.feed(html)
    return parser


def raw_codes(text: str, lang: str, codes: dict[str, str]) -> list[str]:
    """The codes (and ISO dates) this text shows as they are."""
    without_urls = re.sub(r"\b(?:https?://|/desk/|/api/)\S*", " ", text)
    words = set(re.findall(r"[\w.\-]+", without_urls))  # \w: "collectée" is one word
    hits = []
    for word in sorted(words):
        word = word.strip(".-")
        if word not in codes:
            continue
        one_word = not re.search(r"[_.-]", word)
        if one_word and (lang == "en" or word in FRENCH_WORDS):
            continue  # an English word on an English page; a French word on a French page
        at = re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w-])", without_urls)
        around = without_urls[max(0, at.start() - 40) : at.end() + 20] if at else ""
        hits.append(f"{word} ({codes[word]}) in «{around}»")
    hits.extend(f"ISO date {d}" for d in sorted(set(ISO_DATE.findall(without_urls))))
    return hits


def test_the_scan_sees_the_explanations_old_codes_and_iso_dates():
    """The valuation's explanation (shared/explain.py) is scanned like any text: a leg's code
    or an ISO day coming back in it is found (the mission page has no exception left)."""
    codes = {"loaded": "leg", "en_route": "leg", "return": "leg"}
    assert raw_codes("Distance comptée (en_route, loaded) : 80 km", "fr", codes) == [
        "en_route (leg) in «Distance comptée (en_route, loaded) : 80 km»",
        "loaded (leg) in «Distance comptée (en_route, loaded) : 80 km»",
    ]
    assert raw_codes("Counted distance (en_route): 80 km", "en", codes)[0].startswith("en_route")
    assert raw_codes("Deciding time (call): Tuesday 2026-03-10 10:00", "en", codes) == [
        "ISO date 2026-03-10"
    ]
    assert raw_codes("Contract A version 1, valid on 2026-03-10.", "en", codes) == [
        "ISO date 2026-03-10"
    ]
    words = "Distance comptée (aller, en charge, retour) : 80 km. Valable le 10/03/2026."
    assert raw_codes(words, "fr", codes) == []


def pages(client: Any, app: Any, start: list[str]) -> Iterator[tuple[str, str]]:
    """(url, endpoint) of every desk page reachable by its links from the menu."""
    adapter = app.url_map.bind("localhost")
    seen_per: dict[str, int] = {}
    seen: set[str] = set()
    queue = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("desk.")
        and "GET" in (rule.methods or ())
        and not rule.arguments
        and rule.endpoint not in NOT_PAGES
    ] + start
    while queue:
        url = urldefrag(queue.pop(0))[0]
        split = urlsplit(url)
        if split.netloc or not split.path.startswith("/desk/") or url in seen:
            continue
        if "lang=" in split.query or "export" in split.query:
            continue
        try:
            with app.app_context():  # refs (anomaly numbers) decode with the app's key
                endpoint, _ = adapter.match(split.path, method="GET")
        except Exception:
            continue
        if split.path.endswith(FILES) or endpoint in NOT_PAGES:
            continue
        if seen_per.get(endpoint, 0) >= PER_ENDPOINT:
            continue
        seen.add(url)
        seen_per[endpoint] = seen_per.get(endpoint, 0) + 1
        answer = client.get(url, headers={"Accept-Language": "fr"})
        if answer.status_code in (302, 303) and answer.location:
            queue.append(answer.location)  # a search with one hit opens it
            continue
        if answer.status_code != 200 or "html" not in answer.content_type:
            continue
        queue.extend(visible(answer.get_data(as_text=True)).links)
        yield url, endpoint


def orders_and_lookups(w: World) -> list[str]:
    """What the simulated day lacks: an ordering party's order that its cleaning rules
    correct (a file, and a mission the desk may fix by hand); and the lookup's searches, for
    the day's plates and customers. Returns the searches' URLs to start from."""
    import json

    import sqlalchemy as sa

    from server.parties import cleaning, orders
    from server.platform.tables import missions
    from tests.conftest import example

    now = w.clock()
    with w.engine.begin() as conn:
        cleaning.publish(
            conn, "demo", "ASSIST-B", example("orders", "cleaning-assist-b"), actor="t", now=now
        )
        orders.receive_order(
            conn, "demo", "ASSIST-B", example("orders", "assist-b-order"), actor="ASSIST-B", now=now
        )
        documents = conn.execute(sa.select(missions.c.document)).scalars().all()
    searches = set()
    for raw in documents:
        doc = json.loads(raw) if isinstance(raw, str) else raw
        plate = (doc.get("vehicle") or {}).get("plate")
        name = (doc.get("customer") or {}).get("name")
        searches.update(q for q in (plate, name) if isinstance(q, str) and q)
    return [f"/desk/lookup?q={quote(q)}" for q in sorted(searches)]


def resolve_some(w: World) -> None:
    """Resolve one anomaly of each kind the desk resolves, so resolved pages are seen too."""
    done: set[str] = set()
    for row in w.office.get("/api/v1/anomalies?status=open", headers=w.as_user("admin")).get_json():
        if row["kind"] in done:
            continue
        action = {"register_variance": "acknowledge", "valuation_mismatch": "acknowledge"}.get(
            row["kind"], "refuse" if row["kind"] == "dispute_raised" else "void"
        )
        answer = w.office.post(
            f"/api/v1/anomalies/{row['id']}/resolve",
            json={"action": action, "reason": "Vu au bureau"},
            headers=w.as_user("admin"),
        )
        if answer.status_code == 200:
            done.add(row["kind"])


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_desk_page_shows_words_not_codes_in_french_and_english(
    world: World,  # noqa: F811
    tmp_path: Path,
):
    live = LiveServer(world.app)
    try:
        ran = CliRunner().invoke(simulate, ["--url", live.url, "--dir", str(tmp_path / "sim")])
        assert ran.exit_code == 0, ran.output
    finally:
        live.close()
    searches = orders_and_lookups(world)
    resolve_some(world)
    codes = {**evidence_keys(world), **enum_codes()}
    # The scan can fail: the codes it looks for include the ones pages used to show.
    assert {"valuation_mismatch", "fictitious_collection", "en_route"} <= set(codes)

    client = world.app.test_client()
    assert sign_in(client, "admin").status_code == 302
    reached: set[str] = set()
    found: dict[str, list[str]] = {}
    for url, endpoint in pages(client, world.app, searches):
        reached.add(endpoint)
        for lang in ("fr", "en"):
            joiner = "&" if "?" in url else "?"
            answer = client.get(f"{url}{joiner}lang={lang}")
            assert answer.status_code == 200, (url, lang, answer.status_code)
            text = visible(answer.get_data(as_text=True)).text()
            hits = raw_codes(text, lang, codes)
            if hits:
                found[f"{url} [{lang}]"] = hits
    client.get("/desk/?lang=fr")  # leave the cookie as the other tests expect it

    wanted = {
        rule.endpoint
        for rule in world.app.url_map.iter_rules()
        if rule.endpoint.startswith("desk.")
        and "GET" in (rule.methods or ())
        and not rule.rule.endswith(FILES)
        and rule.endpoint not in NOT_PAGES
        and rule.endpoint not in UNLINKED
    }
    report = "\n".join(f"{page}: {', '.join(hits)}" for page, hits in found.items())
    assert found == {}, "raw codes shown:\n" + report
    assert wanted - reached == set(), "desk pages no link reached"
