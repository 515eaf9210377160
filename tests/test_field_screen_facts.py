"""The facts found on site on the driver's screen (Flask's test client): the form, order
against site, a receipt photographed, the manager's code, refusals that record nothing,
the mission page's warnings and over-collection."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest

from fieldclient import store
from fieldclient.home import Home
from fieldclient.screen import create_app
from shared.approvals import Kind
from tests.field_support import Clock, approval_code, offline_tablet
from tests.site_facts_support import JPEG, load_day

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Screen:
    def __init__(self, home: Path, clock: Clock) -> None:
        self.home = home
        self.app = create_app(home, clock=clock)
        self.app.testing = True

    def journal(self, kind: str | None = None) -> int:
        db = store.connect(Home(self.home).database)
        try:
            sql, args = "SELECT COUNT(*) FROM journal", []
            if kind:
                sql, args = sql + " WHERE type = ?", [kind]
            return int(db.execute(sql, args).fetchone()[0])
        finally:
            db.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, clock: Clock) -> Any:
    tablet = offline_tablet(tmp_path / "tablet", clock, signed_in=None)
    load_day(tablet)
    tablet.close()
    screen = Screen(tmp_path / "tablet", clock)
    c = screen.app.test_client()
    c.screen = screen
    post(c, "/login", {"driver": "d1", "pin": "1111"})
    return c


def text(answer: Any) -> str:
    body = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


def token(c: Any, path: str = "/login") -> str:
    found = TOKEN.search(c.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post(c: Any, path: str, data: dict[str, Any]) -> Any:
    return c.post(path, data={"csrf_token": token(c), **data})


FACTS = "/missions/M-T-07/facts"


def form(c: Any, path: str = FACTS, **changes: Any) -> dict[str, Any]:
    """The form as the page fills it (the mission's figures), with the driver's changes."""
    page = c.get(path).get_data(as_text=True)
    values = dict(re.findall(r'<input type="text" name="([a-z_]+)"[^>]*value="([^"]*)"', page))
    values["accident"] = "yes" if 'value="yes" checked' in page else "no"
    values.update(
        {k: v for k, v in re.findall(r'name="(service_[A-Z]+)" value="(1)" checked', page)}
    )
    values["vehicle_class"] = "VL"
    values.update(changes)
    return values


def test_the_mission_page_leads_to_the_facts_form(client):
    page = client.get("/missions/M-T-07")
    assert 'href="/missions/M-T-07/facts"' in page.get_data(as_text=True)
    facts = client.get(FACTS)
    assert facts.status_code == 200
    assert 'name="km_loaded"' in facts.get_data(as_text=True)
    assert 'capture="environment"' in facts.get_data(as_text=True)


def test_storage_recorded_on_the_screen_revalues_and_shows_order_against_site(client):
    answer = post(client, "/missions/M-T-07/facts", form(client, storage="3"))
    assert answer.status_code == 302
    page = text(client.get(answer.headers["Location"]))
    assert "Constats enregistrés. Reste à encaisser : 43,20" in page
    facts = text(client.get(FACTS))
    assert "Gardiennage 0 jour(s) 3 jour(s) libre" in facts
    assert client.screen.journal("site_facts") == 1


def test_a_toll_with_its_receipt_photographed(client):
    data = form(client, "/missions/M-T-06/facts", at_cost_family="TOLL", at_cost_amount="12,40")
    data["receipt"] = (io.BytesIO(JPEG), "ticket.jpg")
    answer = client.post(
        "/missions/M-T-06/facts",
        data={"csrf_token": token(client, "/missions/M-T-06/facts"), **data},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302, text(answer)
    assert "12,40 €" in text(client.get("/missions/M-T-06/facts"))


def test_a_toll_without_its_receipt_is_refused_and_nothing_written(client):
    before = client.screen.journal()
    answer = post(
        client,
        "/missions/M-T-06/facts",
        form(client, "/missions/M-T-06/facts", at_cost_amount="12,40"),
    )
    assert answer.status_code == 400
    assert "Photographiez le justificatif" in text(answer)
    assert client.screen.journal() == before


def test_beyond_the_tolerance_the_page_asks_for_a_code_then_takes_it(client, clock):
    path = "/missions/M-T-02/facts"
    refused = post(client, path, form(client, path, km_loaded="70"))
    assert refused.status_code == 409
    assert "code d'accord « constats sur place » pour 180,00" in text(refused)
    assert 'value="70"' in refused.get_data(as_text=True)  # what was typed is kept
    assert client.screen.journal() == 0
    code = approval_code("M-T-02", Kind.SITE_FACTS, "180.00", clock.now)
    done = post(client, path, form(client, path, km_loaded="70", code=code))
    assert done.status_code == 302
    assert "accord du gérant" in text(client.get(path))


def test_kept_for_the_office_without_a_code(client):
    path = "/missions/M-T-03/facts"
    done = post(client, path, form(client, path, km_loaded="70", for_office="1"))
    assert done.status_code == 302
    assert "gardés pour le bureau" in text(client.get(done.headers["Location"]))
    assert "non appliqué, le bureau décide" in text(client.get(path))


def test_an_unreadable_figure_is_refused_in_words(client):
    answer = post(client, FACTS, form(client, storage="trois"))
    assert answer.status_code == 400
    assert "Le gardiennage est illisible : « trois »" in text(answer)


def test_the_english_page(client):
    page = text(client.get(FACTS + "?lang=en"))
    assert "Facts found on site" in page and "Storage (days)" in page


def test_the_mission_page_warns_of_a_class_contradicting_the_weight(client, clock):
    path = "/missions/M-T-10/facts"
    code = approval_code("M-T-10", Kind.SITE_FACTS, "144.00", clock.now)
    assert post(client, path, form(client, path, weight="2600", code=code)).status_code == 302
    page = text(client.get("/missions/M-T-10"))
    assert "Classe VL indiquée, mais un véhicule de 2600 kg est de classe VLP" in page
