"""The contract's common parts edited as a form (server/desk/contract_form.py): the form
starts from the latest version, builds the same JSON a clerk would paste, validates it
with `load_contract`, values the draft on a mission beside the published version, and
publishes version N+1 with `edit_contracts`. A refusal (a negative price, an unknown
service) redirects back to the form with what was typed and each problem under its
field; reloading it shows the same and posts nothing."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from server.office import contracts
from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.valuation import value
from tests.conftest import example
from tests.desk_support import csrf, sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_desk_contracts import DIGEST, money, written

SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
BOTH = pytest.mark.parametrize("engine", ["sqlite", "postgresql"], indirect=True)

ASSIST_A = example("contracts", "assist-a")
EDIT = "/desk/contracts/ASSIST-A/edit"


class _Form(HTMLParser):
    """The fields of the page's editing form as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._first: str | None = None
        self._chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "contract-form" in a.get("class", ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name") and a["name"] not in ("csrf_token", "confirm"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._first, self._chosen = a["name"], None, False
        elif tag == "option" and self._select:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self.fields.append((self._select, a.get("value", "")))
                self._chosen = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if not self._chosen and self._first is not None:  # a browser posts the first
                self.fields.append((self._select, self._first))
            self._select = None
        elif tag == "form":
            self._in_form = False


def form_of(html: str) -> list[tuple[str, str]]:
    parser = _Form()
    parser.feed(html)
    return parser.fields


def changed(fields: list[tuple[str, str]], **new: str) -> list[tuple[str, str]]:
    """The fields with some values replaced; keys use __ for dots (price__0__amount)."""
    wanted = {k.replace("__", "."): v for k, v in new.items()}
    out = [(k, wanted.pop(k, v)) for k, v in fields]
    return out + list(wanted.items())


def client_for(w: World, login: str = "bureau") -> Any:
    client = w.app.test_client()
    assert sign_in(client, login).status_code == 302
    return client


def post(client: Any, path: str, fields: list[tuple[str, str]], **extra: str) -> Any:
    from werkzeug.datastructures import MultiDict

    data = MultiDict([("csrf_token", csrf(client, EDIT)), *fields, *extra.items()])
    return client.post(path, data=data)


def row_of(html: str, code: str) -> int:
    found = re.search(r'name="price\.(\d+)\.code" value="' + re.escape(code) + '"', html)
    assert found, code
    return int(found.group(1))


@SQLITE
def test_the_form_starts_from_the_latest_version_and_builds_the_same_document(world):  # noqa: F811
    client = client_for(world)
    html = client.get(EDIT).get_data(as_text=True)
    assert 'name="version" value="2"' in html
    fields = form_of(html)
    i = row_of(html, "TOW.VL")
    assert (f"price.{i}.code", "TOW.VL") in fields and (f"price.{i}.amount", "120.00") in fields
    assert ("cap.mission.amount", "250.00") in fields and ("cap.mission.vat", "yes") in fields
    assert ("band.1.days", "sat") in fields and ("band.2.holidays", "yes") in fields
    assert ("cover.0.when", '{"accident": true}') in fields
    # Untouched, the form's draft is the published document as version 2: same figures.
    answer = post(client, EDIT, changed(fields, mission="M-A-0003"))
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    mission = load_mission(example("missions", "a-saturday-accident-winching"))
    same = value(mission, load_contract({**ASSIST_A, "version": 2}))
    published = value(mission, load_contract(ASSIST_A))
    assert dict(DIGEST.findall(page)) == {"draft": same.digest, "published": published.digest}
    assert 'class="diff"' not in page


@SQLITE
def test_a_price_and_a_cap_edited_show_beside_the_published_ones(world):  # noqa: F811
    client = client_for(world)
    before = written(world)
    html = client.get(EDIT).get_data(as_text=True)
    i = row_of(html, "TOW.VL")
    edit = {f"price__{i}__amount": "130.00", "cap__mission__amount": "300.00"}
    answer = post(client, EDIT, changed(form_of(html), mission="M-A-0003", **edit))
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    draft = copy.deepcopy(ASSIST_A)
    draft["version"] = 2
    draft["price_lists"]["contracted"]["TOW.VL"] = "130.00"
    draft["caps"]["mission"]["amount"] = "300.00"
    mission = load_mission(example("missions", "a-saturday-accident-winching"))
    mine, theirs = value(mission, load_contract(draft)), value(mission, load_contract(ASSIST_A))
    assert dict(DIGEST.findall(page))["draft"] == mine.digest
    # The cap no longer bites at 250: the ordering party pays more with the draft.
    assert str(theirs.ordering_party.incl) == "250.00"
    assert mine.ordering_party.incl > theirs.ordering_party.incl
    assert f"<b>{money(str(mine.ordering_party.incl))}</b>" in page
    assert f"publiée : {money('250.00')}" in page
    row = re.search(r'<tr class="diff">(.*?)</tr>', page, re.S)
    assert row is not None and "TOW.VL.P" in row.group(1)
    assert money("130.00") in row.group(1) and money("120.00") in row.group(1)
    assert f'name="price.{i}.amount" value="130.00"' in page  # the form keeps the edit
    assert written(world) == before


@BOTH
def test_publishing_the_form_creates_the_next_version(world):  # noqa: F811
    client = client_for(world)
    html = client.get(EDIT).get_data(as_text=True)
    fields = changed(form_of(html), **{f"price__{row_of(html, 'TOW.VL')}__amount": "130.00"})
    before = written(world)
    unconfirmed = post(client, EDIT + "/publish", fields)
    assert unconfirmed.status_code == 302 and unconfirmed.headers["Location"] == EDIT
    assert "Cochez la case de confirmation" in client.get(EDIT).get_data(as_text=True)
    assert written(world) == before
    done = post(client, EDIT + "/publish", fields, confirm="yes")
    assert done.status_code == 302
    assert done.headers["Location"] == "/desk/contracts/ASSIST-A/v2"
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Convention ASSIST-A version 2 publiée" in shown
    with world.engine.connect() as conn:
        assert [v["version"] for v in contracts.list_versions(conn, "demo", "ASSIST-A")] == [1, 2]
        document = contracts.get_version(conn, "demo", "ASSIST-A", 2)["document"]
    expected = copy.deepcopy(ASSIST_A)
    expected["version"] = 2
    expected["price_lists"]["contracted"]["TOW.VL"] = "130.00"
    assert load_contract(document).source_digest == load_contract(expected).source_digest
    assert written(world) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # The form now starts from version 2 and proposes version 3.
    assert 'name="version" value="3"' in client.get(EDIT).get_data(as_text=True)
    # The same form again: version 2 exists, refused, nothing more written.
    again = post(client, EDIT + "/publish", fields, confirm="yes")
    assert again.status_code == 302 and again.headers["Location"] == EDIT
    assert "ASSIST-A v2 existe déjà" in client.get(EDIT).get_data(as_text=True)
    assert written(world)[0] == before[0] + 1


@BOTH
def test_bad_input_is_refused_with_the_typed_values_kept_and_nothing_published(world):  # noqa: F811
    client = client_for(world)
    before = written(world)
    html = client.get(EDIT).get_data(as_text=True)
    i = row_of(html, "TOW.VL")
    fields = changed(
        form_of(html),
        mission="M-A-0003",
        **{f"price__{i}__amount": "-5.00", "price__7__code": "XYZ", "price__7__amount": "10.00"},
    )
    for path in (EDIT, EDIT + "/publish"):
        refused = post(client, path, fields, confirm="yes")
        assert refused.status_code == 302 and refused.headers["Location"] == EDIT
        for _reload in range(2):  # a reload shows the same refusal and posts nothing
            page = client.get(EDIT).get_data(as_text=True)
            assert f'name="price.{i}.amount" value="-5.00"' in page
            assert 'name="price.7.code" value="XYZ"' in page
            assert (
                f'data-field="price.{i}.amount">price.{i}.amount: un montant ne peut pas être '
                "négatif</p>" in page
            )
            assert (
                'data-field="price.7.amount">price_lists.contracted.XYZ: code inconnu du '
                "catalogue : XYZ</p>" in page
            )
            assert DIGEST.findall(page) == []
            # the rows typed, then the usual blank rows: none pile up on each return
            assert len(re.findall(r'name="price\.\d+\.code" value=""', page)) == 3
            assert len(re.findall(r'name="cover\.\d+\.code" value=""', page)) == 2
    assert written(world) == before
    with world.engine.connect() as conn:
        assert [v["version"] for v in contracts.list_versions(conn, "demo", "ASSIST-A")] == [1]
    fresh = client.get(EDIT + "?fresh=1").get_data(as_text=True)
    assert f'name="price.{i}.amount" value="120.00"' in fresh and "field-error" not in fresh


@SQLITE
def test_other_problems_name_their_path_under_their_field(world):  # noqa: F811
    client = client_for(world)
    fields = changed(
        form_of(client.get(EDIT).get_data(as_text=True)),
        mission="M-A-0003",
        band__0__percent="-1",
        cover__0__when="accident",
        deductible__amount="abc",
        vat_rate="vingt",
    )
    fields = [(k, v) for k, v in fields if k != "pay.methods"]  # no method ticked
    assert post(client, EDIT, fields).status_code == 302
    page = client.get(EDIT).get_data(as_text=True)
    assert 'data-field="band.0.percent">time_bands.bands.0.percent: doit être au moins 0' in page
    assert 'data-field="cover.0.when">cover.0.when: condition attendue en JSON' in page
    assert 'data-field="deductible.amount">deductible.amount: montant invalide' in page
    assert 'data-field="vat_rate">vat_rate: nombre invalide' in page
    assert 'data-field="pay.methods">payment.methods:' in page
    assert 'name="cover.0.when" value="accident"' in page


@SQLITE
def test_publishing_the_form_needs_edit_contracts(world):  # noqa: F811
    client = client_for(world, "gerant")
    html = client.get(EDIT).get_data(as_text=True)
    assert "Publier cette version" not in html
    before = written(world)
    refused = post(client, EDIT + "/publish", form_of(html), confirm="yes")
    assert refused.status_code == 403
    assert written(world) == before
    assert client.get("/desk/contracts/NOPE/edit").status_code == 404


@SQLITE
def test_the_contract_pages_link_to_the_form(world):  # noqa: F811
    client = client_for(world)
    assert f'href="{EDIT}"' in client.get("/desk/contracts").get_data(as_text=True)
    assert f'href="{EDIT}"' in client.get("/desk/contracts/ASSIST-A/v1").get_data(as_text=True)
