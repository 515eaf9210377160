"""The desk's contracts: every version listed, one version in words, a draft tried on a
mission with the core (the same figures as valuing it directly, beside the published
version, nothing published), its problems shown by path, publishing as the API does
(version N+1, right `edit_contracts`, confirmation), each tenant seeing only its own."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import sqlalchemy as sa

from server.demo import PASSWORD
from server.office import contracts
from server.people import identity
from server.platform.tables import audit_log, changes
from server.platform.tables import contracts as contract_rows
from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.money import format_amount
from shared.valuation import value
from tests.browser import DESKTOP, PHONE, LiveServer, new_page, screenshot
from tests.conftest import example
from tests.desk_support import post, sign_in
from tests.invoicing_support import NOW, set_up
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

DIGEST = re.compile(r'data-digest="(draft|published)">([0-9a-f]{64})<')
ASSIST_A = example("contracts", "assist-a")


def client_for(w: World, login: str = "bureau", **kw: str):
    client = w.app.test_client()
    assert sign_in(client, login, **kw).status_code == 302
    return client


def send(client, path: str, data: dict[str, str]):
    return post(client, path, data, token_from="/desk/contracts")


def trial(client, mission: str, document: Any, **extra: str):
    text = document if isinstance(document, str) else json.dumps(document)
    return send(client, "/desk/contracts/try", {"mission": mission, "document": text, **extra})


def written(w: World) -> tuple[int, int, int]:
    """What publishing writes: contract versions, feed changes, audit lines."""
    with w.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (contract_rows, changes, audit_log)
        )


def money(amount: str, lang: str = "fr") -> str:
    from decimal import Decimal

    return format_amount(Decimal(amount), lang)


def test_the_list_shows_every_contract_with_its_versions(world):  # noqa: F811
    with world.engine.begin() as conn:
        identity.create_user(conn, "demo", "stagiaire", "S", PASSWORD, "driver", actor="t", now=NOW)
    client = client_for(world, "stagiaire")  # reading needs no right
    page = client.get("/desk/contracts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    with world.engine.connect() as conn:
        versions = contracts.list_versions(conn, "demo")
    assert {v["id"] for v in versions} == {"ASSIST-A", "ASSIST-B", "PRIVATE"}
    for version in versions:
        assert f'href="/desk/contracts/{version["id"]}/v1"' in html
        assert version["digest"][:12] in html
    assert "Assistance A — convention 2026" in html and "aucun (particuliers)" in html
    assert "du 01/01/2026 au 31/12/2026" in html  # dates in words, never ISO


def test_a_version_shows_its_rules_in_words_and_its_json(world):  # noqa: F811
    client = client_for(world)
    html = client.get("/desk/contracts/ASSIST-A/v1").get_data(as_text=True)
    assert "<td>TOW.VL</td><td>Remorquage — véhicule léger jusqu&#39;à 1,8 t</td>" in html
    assert '<td class="num">120,00\u00a0€</td>' in html
    assert "Plafond par mission</dt><dd>250,00\u00a0€ TTC" in html
    assert "carte bancaire, espèces, chèque, lien de paiement" in html  # no transfer
    assert "avant de quitter les lieux" in html
    assert "<td>nuit</td><td>lun. mar. mer. jeu. ven. 18:00–08:00</td>" in html
    assert "<td>jour férié</td><td>jours fériés</td>" in html
    assert "<b>WIN</b> Treuillage</td><td>si accident</td><td>donneur d&#39;ordre</td>" in html
    assert "50 km inclus" in html and "1,50\u00a0€ / km" in html
    assert "&#34;TOW.VL&#34;: &#34;120.00&#34;" in html  # the JSON, as published
    english = client.get("/desk/contracts/ASSIST-A/v1?lang=en").get_data(as_text=True)
    assert "Cap per mission</dt><dd>€250.00 incl. VAT" in english
    assert "card, cash, cheque, payment link" in english
    assert client.get("/desk/contracts/ASSIST-A/v9").status_code == 404


def test_trying_the_published_contract_gives_the_cores_figures(world):  # noqa: F811
    client = client_for(world)
    answer = trial(client, "M-A-0003", ASSIST_A)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    core = value(
        load_mission(example("missions", "a-saturday-accident-winching")), load_contract(ASSIST_A)
    )
    assert dict(DIGEST.findall(html)) == {"draft": core.digest, "published": core.digest}
    assert str(core.ordering_party.incl) == "250.00" and str(core.beneficiary.incl) == "164.00"
    assert f"<b>{money('250.00')}</b>" in html and f"<b>{money('164.00')}</b>" in html
    assert 'class="diff"' not in html  # the same contract: nothing differs
    assert "Majoration week-end +50 % sur TOW.VL.P" in html  # shared.explain's words
    assert "Plafond par mission 250,00\u00a0€ TTC" in html


def test_a_changed_price_differs_from_the_published_version_and_nothing_is_published(world):  # noqa: F811
    client = client_for(world)
    before = written(world)
    draft = copy.deepcopy(ASSIST_A)
    draft["price_lists"]["contracted"]["TOW.VL"] = "130.00"
    html = trial(client, "M-A-0002", draft).get_data(as_text=True)
    mission = load_mission(example("missions", "a-tuesday-80km"))
    mine, published = value(mission, load_contract(draft)), value(mission, load_contract(ASSIST_A))
    assert dict(DIGEST.findall(html)) == {"draft": mine.digest, "published": published.digest}
    assert (str(mine.ordering_party.incl), str(published.ordering_party.incl)) == (
        "210.00",
        "198.00",
    )
    changed = re.search(r'<tr class="diff">(.*?)</tr>', html, re.S)
    assert changed is not None
    assert "TOW.VL.P" in changed.group(1) and "modifiée" in changed.group(1)
    assert money("130.00") in changed.group(1) and money("120.00") in changed.group(1)
    assert re.search(r'<tr class="" data-payer="beneficiary">', html)  # unchanged: 0.00
    assert re.search(r'<tr class="diff" data-payer="ordering_party">', html)
    assert f"publiée : {money('198.00')}" in html
    assert written(world) == before
    with world.engine.connect() as conn:
        assert [v["version"] for v in contracts.list_versions(conn, "demo", "ASSIST-A")] == [1]


def test_a_pasted_mission_is_valued_like_a_chosen_one(world):  # noqa: F811
    client = client_for(world)
    mission = example("missions", "a-tuesday-evening")
    mission["id"] = "PHONE-1"  # a mission the office does not hold
    html = trial(client, "", ASSIST_A, mission_json=json.dumps(mission)).get_data(as_text=True)
    core = value(load_mission(mission), load_contract(ASSIST_A))
    assert dict(DIGEST.findall(html))["draft"] == core.digest
    assert "Majoration nuit" in html


def test_a_malformed_draft_shows_its_problems_by_path(world):  # noqa: F811
    client = client_for(world)
    before = written(world)
    draft = copy.deepcopy(ASSIST_A)
    draft["price_lists"]["contracted"]["TOW.VL"] = "cent vingt"
    draft["colour"] = "red"
    draft["caps"]["mission"]["amount"] = 250.0
    answer = trial(client, "M-A-0002", draft)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "À corriger (3)" in html
    assert "caps.mission.amount: nombre à virgule flottante refusé" in html
    assert "colour: champ inconnu" in html
    assert "price_lists.contracted.TOW.VL: montant invalide" in html
    assert DIGEST.findall(html) == []
    broken = trial(client, "M-A-0002", '{"format": "towline.contract/1",')
    assert broken.status_code == 422
    assert "ligne 1, colonne 33: JSON invalide : Expecting property name" in broken.get_data(
        as_text=True
    )
    nothing = trial(client, "", ASSIST_A)
    assert "Choisissez une mission ou collez-en une." in nothing.get_data(as_text=True)
    english = send(
        client,
        "/desk/contracts/try?lang=en",
        {"mission": "M-A-0002", "document": json.dumps(draft)},
    ).get_data(as_text=True)
    assert "colour: unknown field" in english and "To fix (3)" in english
    assert written(world) == before


def test_a_draft_that_cannot_value_the_mission_says_why(world):  # noqa: F811
    client = client_for(world)
    answer = trial(client, "M-B-0001", ASSIST_A)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "La mission est commandée par « ASSIST-B »" in html


def test_publishing_creates_the_next_version_like_the_api(world):  # noqa: F811
    client = client_for(world)
    draft = copy.deepcopy(ASSIST_A)
    draft["price_lists"]["contracted"]["TOW.VL"] = "130.00"
    before = written(world)
    # A refusal redirects back to the workbench (a reload posts nothing), draft as typed.
    unconfirmed = send(client, "/desk/contracts/publish", {"document": json.dumps(draft)})
    assert (
        unconfirmed.status_code == 302 and unconfirmed.headers["Location"] == "/desk/contracts/try"
    )
    for _reload in range(2):
        again = client.get("/desk/contracts/try").get_data(as_text=True)
        assert "Cochez la case de confirmation" in again
        assert "&#34;TOW.VL&#34;: &#34;130.00&#34;" in again
    same = send(
        client, "/desk/contracts/publish", {"document": json.dumps(draft), "confirm": "yes"}
    )
    assert same.status_code == 302
    assert "La convention ASSIST-A v1 existe déjà" in client.get("/desk/contracts/try").get_data(
        as_text=True
    )
    assert written(world) == before

    draft["version"] = 2
    done = send(
        client, "/desk/contracts/publish", {"document": json.dumps(draft), "confirm": "yes"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/desk/contracts/ASSIST-A/v2"
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Convention ASSIST-A version 2 publiée" in page and "130,00\u00a0€" in page
    with world.engine.connect() as conn:
        versions = contracts.list_versions(conn, "demo", "ASSIST-A")
        published = contracts.get_version(conn, "demo", "ASSIST-A", 2)
        bureau = next(u for u in identity.list_users(conn, "demo") if u.login == "bureau")
        actions = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.target, audit_log.c.actor).order_by(
                audit_log.c.id.desc()
            )
        ).first()
    assert [v["version"] for v in versions] == [1, 2]
    assert published["document"] == draft
    assert published["digest"] == load_contract(draft).source_digest
    assert tuple(actions) == ("contract.publish", "ASSIST-A:2", bureau.id)
    assert written(world) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # The published version is now the one the try page compares with.
    html = trial(client, "M-A-0002", ASSIST_A).get_data(as_text=True)
    assert "comparé à la version publiée v2" in html


def test_publishing_needs_edit_contracts(world):  # noqa: F811
    client = client_for(world, "gerant")  # manager: reconcile, missions; no edit_contracts
    page = client.get("/desk/contracts/try").get_data(as_text=True)
    assert "Publier cette version" not in page
    assert trial(client, "M-A-0002", ASSIST_A).status_code == 200  # trying is for everyone
    draft = {**ASSIST_A, "version": 2}
    before = written(world)
    refused = send(
        client, "/desk/contracts/publish", {"document": json.dumps(draft), "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert "modifier les conventions" in refused.get_data(as_text=True)
    assert written(world) == before


def test_the_try_form_starts_from_the_latest_version(world):  # noqa: F811
    client = client_for(world)
    page = client.get("/desk/contracts/try?mission=M-B-0001").get_data(as_text=True)
    assert "&#34;id&#34;: &#34;ASSIST-B&#34;" in page  # the mission's ordering party's
    assert '<option value="M-B-0001" selected>' in page
    chosen = client.get("/desk/contracts/try?contract=PRIVATE&version=1").get_data(as_text=True)
    assert "&#34;id&#34;: &#34;PRIVATE&#34;" in chosen


def test_another_tenants_contracts_and_missions_never_show(world):  # noqa: F811
    with world.engine.begin() as conn:
        set_up(conn, "other")  # PRIVATE-TTC and mission M-P-0002 exist only there
    client = client_for(world)
    assert "PRIVATE-TTC" not in client.get("/desk/contracts").get_data(as_text=True)
    assert client.get("/desk/contracts/PRIVATE-TTC/v1").status_code == 404
    assert client.get("/desk/contracts/try?contract=PRIVATE-TTC&version=1").status_code == 404
    assert trial(client, "M-P-0002", ASSIST_A).status_code == 404
    page = client.get("/desk/contracts/try").get_data(as_text=True)
    assert "M-P-0002" not in page


def test_trying_and_publishing_in_a_browser(world, browser):  # noqa: F811
    server = LiveServer(world.app)
    try:
        page = new_page(browser, PHONE)
        page.goto(server.url + "/desk/login?next=/desk/contracts/try%3Fmission%3DM-A-0002")
        page.fill("input[name=tenant]", "demo")
        page.fill("input[name=login]", "bureau")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/desk/contracts/try?mission=M-A-0002")
        text = page.input_value("textarea[name=document]")
        assert '"TOW.VL": "120.00"' in text
        page.fill(
            "textarea[name=document]",
            text.replace('"TOW.VL": "120.00"', '"TOW.VL": "130.00"').replace(
                '"version": 1\n', '"version": 2\n'
            ),
        )
        page.click("text=Valoriser sans publier")
        assert page.locator("table.compare tr.diff").count() == 1
        assert "130,00" in page.locator("table.compare tr.diff").inner_text()
        screenshot(page, "desk-contract-try-phone")
        page.set_viewport_size(DESKTOP)
        screenshot(page, "desk-contract-try-desktop")
        page.check("input[name=confirm]")
        page.click("text=Publier cette version")
        page.wait_for_url("**/desk/contracts/ASSIST-A/v2")
        assert "Convention ASSIST-A version 2 publiée" in page.inner_text("main")
        screenshot(page, "desk-contract-version-desktop")
        page.goto(server.url + "/desk/contracts")
        screenshot(page, "desk-contracts-desktop")
        page.context.close()
    finally:
        server.close()
    with world.engine.connect() as conn:
        assert [v["version"] for v in contracts.list_versions(conn, "demo", "ASSIST-A")] == [1, 2]
