"""Agents who bring business (seed 003), on SQLite and PostgreSQL: Paolo, in the tenant's
register of agents (not a user), brings M-A-0009 — a tow and winching, 150.00 + 95.00
excl. VAT — under his own rules (12 % on tows, 4 % on the rest, 7,00 € per mission); its
invoice earns him a commission every line of which is recomputed from the invoice, a
partial credit note takes back its share, and its driver Karim is still commissioned by
his own rules. Then the register's refusals, and the agent named at the phone call, in an
ordering party's API order, shown on the mission page, added through the API, the desk
and the command line."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import agents, commissions, invoicing, missions
from server.people.drivers import create_driver
from server.platform.errors import Conflict, Unprocessable
from server.platform.tables import agents as agent_rows
from server.platform.tables import documents, mission_agents
from tests.debts_support import PRIVATE, at, private
from tests.invoicing_support import KEY, set_up, store_valuation
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

TENANT = "acme"
MISSION = "M-A-0009"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
D = Decimal
PAOLO = {"percent": {"TOW": "12", "*": "4"}, "per_mission": "7.00"}
KARIM = {"percent": {"*": "5"}}


@pytest.fixture
def brought(engine):  # noqa: F811
    with engine.begin() as conn:
        set_up(conn, TENANT, valued=False)
        create_driver(conn, TENANT, "d1", "Karim", "1111", "driver", actor="t", now=at(1, 1))
        agents.add(conn, TENANT, "paolo", "Paolo  Rossi", actor="gerant", now=at(1, 1))
        commissions.set_rules(conn, TENANT, "paolo", PAOLO, actor="gerant", now=at(3, 1))
        commissions.set_rules(conn, TENANT, "d1", KARIM, actor="gerant", now=at(3, 1))
        job = private(
            MISSION,
            "AA-009-AA",
            "2026-03-03T09:00:00+01:00",
            services=[{"code": "TOW"}, {"code": "WIN"}],
        )
        missions.create(conn, TENANT, job, "d1", actor="t", now=at(3, 1))
        named = agents.name_for_mission(
            conn, TENANT, MISSION, "paolo", via="phone", actor="bureau", now=at(3, 1)
        )
        assert named == {"id": "paolo", "name": "Paolo Rossi", "via": "phone"}
        store_valuation(conn, TENANT, job, PRIVATE)
    with engine.begin() as conn:
        [invoice] = invoicing.issue_for_mission(
            conn, TENANT, MISSION, key=KEY, actor="u1", now=at(3, 4)
        )
    with engine.begin() as conn:
        invoicing.credit_note(
            conn, TENANT, invoice["number"], amount="49.00", reason="Geste",
            key=KEY, actor="bureau", now=at(3, 20),
        )  # fmt: skip
    return invoice["number"]


def _cents(value: D) -> D:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def test_the_agents_commission_is_recomputed_from_the_invoice(engine, brought):  # noqa: F811
    with engine.connect() as conn:
        found = commissions.report(conn, TENANT, *MARCH, person="paolo")
        invoice = conn.execute(sa.select(documents).where(documents.c.number == brought)).one()
        note = conn.execute(sa.select(documents).where(documents.c.corrects == brought)).one()
    lines = found["lines"]
    percent = [x for x in lines if x["kind"] == "percent"]
    # Every invoice line: its base excl. VAT, Paolo's rate for its family, half up.
    expected = []
    for item in invoice.lines:
        rate = D(PAOLO["percent"].get(str(item["code"]).split(".")[0], PAOLO["percent"]["*"]))
        base = D(item["excl_vat"])
        expected.append((item["code"], str(base), f"{rate:f}", str(_cents(base * rate / 100))))
    assert [(x["code"], x["base"], x["rate"], x["commission"]) for x in percent] == expected
    assert {x["mission_id"] for x in lines} == {MISSION}
    assert {x["person"] for x in lines} == {"paolo"}
    earned = sum(D(x["commission"]) for x in percent)
    assert [x["commission"] for x in lines if x["kind"] == "per_mission"] == ["7.00"]
    [back] = [x for x in lines if x["kind"] == "reversal"]
    base = D(invoice.total_excl_cents) / 100
    credited = D(note.total_excl_cents) / 100
    assert back["document"] == note.number and back["code"] == brought
    assert D(back["commission"]) == -_cents(earned * credited / base)
    [me] = found["people"]
    assert (me["person"], me["name"]) == ("paolo", "Paolo Rossi")
    assert D(me["commission"]) == earned + D("7.00") + D(back["commission"])
    # The driver keeps his own commission on the same mission.
    with engine.connect() as conn:
        karim = commissions.report(conn, TENANT, *MARCH, person="d1")
    assert {x["kind"] for x in karim["lines"]} == {"percent", "reversal"}
    assert all(x["rate"] == "5" for x in karim["lines"] if x["kind"] == "percent")
    with engine.connect() as conn:
        listed = {p["person"]: p["kind"] for p in commissions.people(conn, TENANT)}
    assert listed["paolo"] == "agent" and listed["d1"] == "driver"


def test_the_register_refuses_what_it_cannot_keep_and_rows_never_change(engine, brought):  # noqa: F811
    cases = (
        ("paolo", "Autre", Conflict, "agent_exists"),
        ("d1", "Karim bis", Conflict, "agent_exists"),  # a driver's id: the rules' key
        ("pa olo", "X", Unprocessable, "agent_id_invalid"),
        ("luigi", "  ", Unprocessable, "agent_name_invalid"),
    )
    for ident, name, error, code in cases:
        with engine.begin() as conn, pytest.raises(error) as refused:
            agents.add(conn, TENANT, ident, name, actor="g", now=at(3, 2))
        assert refused.value.code == code
        assert refused.value.text("fr") != refused.value.text("en")
    with engine.begin() as conn, pytest.raises(Unprocessable) as unknown:
        agents.name_for_mission(conn, TENANT, MISSION, "luigi", via="api", actor="g", now=at(3, 2))
    assert unknown.value.code == "agent_unknown"
    with engine.connect() as conn:
        assert len(conn.execute(sa.select(mission_agents)).all()) == 1
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.update(mission_agents).values(agent_id="paolo"))
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.delete(agent_rows))


# --- the phone call, an API order, the mission page, the API, the desk, the CLI -------------


def test_an_agent_named_at_the_call_and_in_an_api_order(world, tmp_path):  # noqa: F811
    from server.cli.main import main
    from tests.desk_support import post, sign_in
    from tests.dispatch_support import (
        CALL,
        party_key,
        preview_call,
        take_call,
        text,
    )

    if world.engine.dialect.name != "sqlite":
        pytest.skip("the pages and commands are the same on both databases")
    admin = world.as_user("admin")
    made = world.office.post(
        "/api/v1/agents", json={"id": "paolo", "name": "Paolo Rossi"}, headers=admin
    )
    assert made.status_code == 201, made.get_json()
    again = world.office.post("/api/v1/agents", json={"id": "paolo", "name": "X"}, headers=admin)
    assert again.status_code == 409 and again.get_json()["code"] == "agent_exists"
    client = world.app.test_client()
    assert sign_in(client, "bureau").status_code == 302
    mission = take_call(client, agent="paolo")
    page = client.get(f"/desk/missions/{mission}").get_data(as_text=True)
    assert 'data-agent="paolo"' in page and "Paolo Rossi (paolo)" in text(page)
    # An unknown agent refuses the whole call: a sentence, nothing written.
    fields = {"caller_name": "Léa Petit", "plate": "cd 456 ef", "agent": "luigi"}
    with world.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(mission_agents)).scalar()
    refused = preview_call(client, {**CALL, **fields})  # refused already when priced
    assert refused.status_code == 303  # back to the form, as typed (Post/Redirect/Get)
    priced = client.get(refused.headers["Location"])
    assert "Apporteur inconnu : luigi" in text(priced)
    with world.engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(mission_agents)).scalar()
    assert after == before == 1
    # An ordering party's API order names its agent.
    key = party_key(world, "ASSIST-A")
    order = {
        "message_id": "m-agent-1",
        "file_number": "A-2026-0900",
        "vehicle": {"plate": "GH-482-KL", "class": "VL"},
        "times": {"call": "2026-03-10T08:50:00+01:00"},
        "distance_km": {"en_route": "10", "loaded": "20"},
        "facts": {"accident": False},
        "services": [{"code": "TOW"}],
        "beneficiary": {"name": "Paul Durand", "phone": "+33 7 11 22 33 44"},
        "agent": "paolo",
    }
    sent = world.office.post("/api/v1/party/orders", json=order, headers=key)
    assert sent.status_code == 201, sent.get_json()
    with world.engine.connect() as conn:
        assert agents.of_mission(conn, "demo", sent.get_json()["mission_id"])["via"] == "api"
    wrong = world.office.post(
        "/api/v1/party/orders",
        json={**order, "message_id": "m-agent-2", "file_number": "A-2026-0901", "agent": "x"},
        headers=key,
    )
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "agent_unknown"
    # The desk adds one; the command line lists the register and adds one.
    manager = world.app.test_client()
    assert sign_in(manager, "admin").status_code == 302
    added = post(
        manager,
        "/desk/reports/commissions/agents",
        {"id": "giulia", "name": "Giulia Verdi"},
        token_from="/desk/reports/commissions",
    )
    assert added.status_code == 302
    shown = text(manager.get(added.headers["Location"]))
    assert "Apporteur giulia ajouté : Giulia Verdi." in shown
    common = ["--database", world.engine.url.render_as_string(hide_password=False)]
    runner = CliRunner()
    ran = runner.invoke(
        main, ["commissions", "agents", "demo", "--add", "marco", "--name", "Marco", *common]
    )
    assert ran.exit_code == 0, ran.output
    listed = runner.invoke(main, ["commissions", "agents", "demo", "--json", *common])
    assert [a["id"] for a in json.loads(listed.output)] == ["giulia", "marco", "paolo"]
    bad = runner.invoke(
        main, ["commissions", "agents", "demo", "--add", "a b", "--name", "X", *common]
    )
    assert bad.exit_code == 2
    helped = runner.invoke(main, ["commissions", "agents", "--help"])
    assert re.search(r"towline-server commissions agents demo --add paolo", helped.output)
