""" "Bill later" for a customer who owes money (issue 14, seed 003: warn or block): the
tenant's choice set from the command line, the desk and the API; the real field client
pulls, per mission, what the customer owes and the choice, and warns or refuses; the
server raises `deferral_to_debtor` for a deferral a tablet recorded without knowing; the
phone call refuses or warns. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from fieldclient.cli import main as field
from server.office import debtor_deferral, mission_terms, reconcile
from server.platform.tables import anomalies, audit_log, changes, phone_orders
from shared.debtor_rule import BLOCK, WARN, DebtorFlag, check_deferral
from shared.errors import Refused
from tests.desk_support import post, sign_in
from tests.dispatch_support import (
    CALL,
    preview_call,
    save_previewed,
    take_call,
    text,
    unpaid_invoice,
)
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
DEBT = "M-A-0004"  # d1's; the contract asks 96.00 of the beneficiary before departure
LATER = "M-A-0003"  # d3's at first, same vehicle (GH-482-KL): given to d1 once it owes


def _choose(world: World, choice: str) -> None:  # noqa: F811
    with world.engine.begin() as conn:
        debtor_deferral.set_choice(conn, "demo", choice, actor="gerant", now=world.clock.now)


def _owe_96(world: World, tablet) -> None:  # noqa: F811
    """The customer leaves M-A-0004 with 96.00 billed later: an open invoice."""
    tablet.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        tablet.step(DEBT, step)
    tablet.defer(DEBT, world.approval(tablet, DEBT, "deferral", "96.00"))
    for step in ("departed", "delivered", "closed"):
        tablet.step(DEBT, step)
    world.sync(tablet)
    world.clock.advance(minutes=20)


def _give_to_d1(world: World, mission: str) -> None:  # noqa: F811
    answer = world.office.post(
        f"/api/v1/missions/{mission}/assign",
        json={"driver_id": "d1"},
        headers=world.as_user("bureau"),
    )
    assert answer.status_code == 200, answer.get_json()


def _to_the_gate(tablet, mission: str) -> None:
    for step in ("en_route", "on_site"):
        tablet.step(mission, step)


def test_the_rule_warns_or_blocks_only_a_customer_who_owes():
    owes = DebtorFlag("GH-482-KL", D("96.00"), 1)
    assert check_deferral(None, BLOCK).allowed and check_deferral(None, BLOCK).text is None
    clear = DebtorFlag("GH-482-KL", D("0.00"), 0)
    assert check_deferral(clear, BLOCK) == check_deferral(None, WARN)
    warned = check_deferral(owes, WARN)
    assert warned.allowed and "96,00" in warned.text.fr and "€96.00" in warned.text.en
    blocked = check_deferral(owes, BLOCK)
    assert not blocked.allowed
    assert "GH-482-KL doit déjà 96,00" in blocked.text.fr
    assert "1 facture impayée" in blocked.text.fr
    assert "refuses to bill a customer who owes money later" in blocked.text.en


def test_the_tablet_blocks_then_warns_a_deferral_for_a_customer_who_owes(
    world,  # noqa: F811
    tmp_path,
):
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    _owe_96(world, tablet)
    with world.engine.connect() as conn:
        owed = debtor_deferral.flag_of(conn, "demo", "plate:GH-482-KL", besides=LATER)
        own = debtor_deferral.flag_of(conn, "demo", "plate:GH-482-KL", besides=DEBT)
    assert (owed.owed, owed.invoices) == (D("96.00"), 1)
    assert own.owed == D("0.00")  # a mission's own invoice is no debt against itself

    _choose(world, BLOCK)
    _give_to_d1(world, LATER)
    world.sync(tablet)
    _to_the_gate(tablet, LATER)
    with pytest.raises(Refused) as refused:
        tablet.defer(LATER, "NOT-A-CODE")  # checked before the code: no attempt spent
    assert "GH-482-KL doit déjà 96,00" in refused.value.message("fr")
    assert tablet.view(LATER).money.deferred == D("0.00")

    # The command line says the same and exits 3.
    said = CliRunner().invoke(
        field, ["defer", LATER, "--code", "X", "--home", str(tablet.home.path), "--lang", "en"]
    )
    assert said.exit_code == 3, said.output
    assert "Customer GH-482-KL already owes €96.00" in said.output

    # The office changes its mind: the tablet learns the new choice for the mission it
    # already holds, and the deferral goes through with a warning.
    _choose(world, WARN)
    world.sync(tablet)
    due = tablet.view(LATER).money.remaining
    code = world.approval(tablet, LATER, "deferral", str(due))
    done = tablet.defer(LATER, code)  # (the command line's clock is not the world's)
    assert done.warning is not None
    assert done.warning.fr.startswith("Attention : Le client GH-482-KL doit déjà 96,00")
    assert tablet.view(LATER).money.deferred == due
    world.sync(tablet)
    assert "deferral_to_debtor" not in world.anomaly_kinds()  # warn: allowed


def test_a_deferral_the_tablet_did_not_know_to_refuse_is_an_anomaly_once(
    world,  # noqa: F811
    tmp_path,
):
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    _owe_96(world, tablet)
    _give_to_d1(world, LATER)
    world.sync(tablet)  # knows the debt, and "warn"
    _to_the_gate(tablet, LATER)
    _choose(world, BLOCK)  # the tablet is offline: it does not know
    world.clock.advance(minutes=5)
    due = tablet.view(LATER).money.remaining
    code = world.approval(tablet, LATER, "deferral", str(due))
    recorded = tablet.defer(LATER, code)
    assert recorded.warning is not None  # warned, as far as it knew
    world.sync(tablet)
    assert world.anomaly_kinds().count("deferral_to_debtor") == 1  # raised at the push
    for _ in range(2):
        with world.engine.begin() as conn:
            reconcile.reconcile_tenant(conn, "demo", now=world.clock.now)
    with world.engine.connect() as conn:
        raised = conn.execute(
            sa.select(anomalies).where(anomalies.c.kind == "deferral_to_debtor")
        ).all()
    assert len(raised) == 1  # reconciled twice more: still one
    assert raised[0].mission_id == LATER
    assert raised[0].amount_cents == int(due * 100)
    assert raised[0].detail["owed"] == "96.00"
    assert "GH-482-KL doit déjà 96,00" in raised[0].detail["fr"]
    listed = world.office.get("/api/v1/anomalies", headers=world.as_user("gerant")).get_json()
    items = listed["anomalies"] if isinstance(listed, dict) else listed
    ref = next(a["id"] for a in items if a["kind"] == "deferral_to_debtor")
    assert next(a for a in items if a["id"] == ref)["status"] == "open"
    answer = world.office.post(
        f"/api/v1/anomalies/{ref}/resolve",
        json={"action": "approve", "reason": "Client connu, il paiera"},
        headers=world.as_user("gerant"),
    )
    assert answer.status_code == 200, answer.get_json()
    with world.engine.begin() as conn:
        reconcile.reconcile_tenant(conn, "demo", now=world.clock.now)
        statuses = conn.execute(
            sa.select(anomalies.c.status).where(anomalies.c.kind == "deferral_to_debtor")
        ).scalars()
        assert list(statuses) == ["resolved"]


def test_the_pull_carries_the_debtor_flag_and_the_choice_with_each_mission(
    world,  # noqa: F811
    tmp_path,
):
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    _owe_96(world, tablet)
    _choose(world, BLOCK)
    _give_to_d1(world, LATER)
    with world.engine.connect() as conn:
        from server.devices import pull

        page = pull.pull(conn, tenant_id="demo", driver_ids=["d1"], cursor=0, limit=1000)
        as_json = pull.pull_json(conn, tenant_id="demo", driver_ids=["d1"], cursor=0, limit=1000)
        fed = conn.execute(sa.select(changes.c.kind).where(changes.c.kind == "debtor")).all()
    assert json.loads(as_json) == json.loads(json.dumps(page.to_wire()))
    later = [c for c in page.changes if c.entity_id == LATER]
    assert [c.kind for c in later][-2:] == ["mission", "debtor"]
    assert later[-1].seq == later[-2].seq
    assert later[-1].data == {
        "mission_id": LATER,
        "customer": "GH-482-KL",
        "owed": "96.00",
        "invoices": 1,
        "deferral": "block",
    }
    assert fed == []  # computed as served, never stored


def test_the_choice_is_refused_when_not_warn_or_block_and_changes_nothing(world):  # noqa: F811
    from server.platform.errors import Unprocessable

    with world.engine.begin() as conn, pytest.raises(Unprocessable) as bad:
        debtor_deferral.set_choice(conn, "demo", "maybe", actor="x", now=world.clock.now)
    assert "warn" in bad.value.text.fr and "block" in bad.value.text.en
    with world.engine.connect() as conn:
        assert debtor_deferral.to_wire(conn, "demo") == {"debtor_deferral": "warn", "version": None}
        again = conn.execute(
            sa.select(audit_log).where(audit_log.c.action == "settings.debtor_deferral")
        ).all()
    assert again == []


def test_the_command_line_shows_and_sets_the_choice(world):  # noqa: F811
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the command line opens the database by its URL: the SQLite file")
    from server.cli.main import main

    url = str(world.engine.url)
    runner = CliRunner()
    shown = runner.invoke(main, ["debtor-deferral", "demo", "--database", url, "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert "warn (bill later stays allowed) — version default" in shown.output
    made = runner.invoke(
        main, ["debtor-deferral", "demo", "--set", "block", "--database", url, "--json"]
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output) == {"debtor_deferral": "block", "version": 1}
    bad = runner.invoke(main, ["debtor-deferral", "demo", "--set", "never", "--database", url])
    assert bad.exit_code == 2 and "warn" in bad.output
    with world.engine.connect() as conn:
        assert debtor_deferral.current(conn, "demo") == BLOCK


def _desk(w: World) -> object:
    client = w.app.test_client()
    assert sign_in(client, "bureau").status_code == 302
    return client


def test_bill_later_at_the_call_is_refused_for_a_caller_who_owes_under_block(world):  # noqa: F811
    unpaid_invoice(world, "M-OLD-1", "AB-123-CD")
    _choose(world, BLOCK)
    client = _desk(world)
    asked = {**CALL, "bill_later": "1"}
    refused = preview_call(client, asked)
    assert refused.status_code == 303  # back to the form, as typed (Post/Redirect/Get)
    priced = client.get(refused.headers["Location"])
    page = text(priced)
    assert "Le client AB-123-CD doit déjà 180,00 €" in page
    assert "refuse de facturer plus tard un client débiteur" in page
    assert 'name="bill_later" value="1" checked' in priced.get_data(as_text=True)  # kept
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(phone_orders)).scalar_one() == 0
    # Without "bill later" the same call is taken: only the deferral is refused.
    assert take_call(client).startswith("TEL-")


def test_bill_later_at_the_call_is_taken_with_a_warning_under_warn(world):  # noqa: F811
    unpaid_invoice(world, "M-OLD-1", "AB-123-CD")
    client = _desk(world)
    asked = {**CALL, "bill_later": "1"}
    priced = preview_call(client, asked)
    assert priced.status_code == 200
    assert "Attention : Le client AB-123-CD doit déjà 180,00 €" in text(priced)
    saved = save_previewed(client, priced, asked)
    assert saved.status_code == 302
    board = text(client.get("/desk/dispatch"))
    assert "Attention : Le client AB-123-CD doit déjà 180,00 €" in board
    with world.engine.connect() as conn:
        mission = conn.execute(sa.select(phone_orders.c.mission_id)).scalar_one()
        detail = conn.execute(
            sa.select(audit_log.c.detail).where(audit_log.c.action == "phone_order.take")
        ).scalar_one()
        terms = mission_terms.terms_of(conn, "demo", mission)
    assert detail["bill_later"] is True
    assert detail["debtor_warning"]["en"].startswith("Warning: Customer AB-123-CD already owes")
    assert terms["in_force"]["pays"] == "on_invoice"
    assert "demandé à l'appel" in terms["history"][0]["reason"]


def test_bill_later_at_the_call_for_a_caller_who_owes_nothing_says_nothing(world):  # noqa: F811
    _choose(world, BLOCK)
    client = _desk(world)
    asked = {**CALL, "bill_later": "1"}
    priced = preview_call(client, asked)
    assert priced.status_code == 200
    assert "doit déjà" not in text(priced)
    assert save_previewed(client, priced, asked).status_code == 302


def test_the_desk_and_the_api_show_and_set_the_choice(world):  # noqa: F811
    client = _desk(world)  # "bureau" holds the right to edit contracts
    shown = client.get("/desk/debts/deferral")
    assert shown.status_code == 200
    assert "Facturer plus tard un client débiteur" in text(shown)
    manager = world.app.test_client()  # the manager does not: sees, cannot change
    assert sign_in(manager, "gerant").status_code == 302
    assert "Le droit « modifier les conventions »" in text(manager.get("/desk/debts/deferral"))
    assert post(manager, "/desk/debts/deferral", {"debtor_deferral": "block"}).status_code == 403
    refused = post(client, "/desk/debts/deferral", {"debtor_deferral": "sometimes"})
    assert refused.status_code == 422
    assert "Choix invalide : « sometimes »" in text(refused)
    saved = post(client, "/desk/debts/deferral", {"debtor_deferral": "block"})
    assert saved.status_code == 302
    api = world.office.get("/api/v1/debtor-deferral", headers=world.as_user("gerant"))
    assert api.get_json() == {"debtor_deferral": "block", "version": 1}
    bad = world.office.put(
        "/api/v1/debtor-deferral",
        json={"debtor_deferral": "never"},
        headers=world.as_user("bureau"),
    )
    assert bad.status_code == 422 and "warn" in json.dumps(bad.get_json())
    back = world.office.put(
        "/api/v1/debtor-deferral", json={"debtor_deferral": "warn"}, headers=world.as_user("bureau")
    )
    assert back.get_json() == {"debtor_deferral": "warn", "version": 2}
    with world.engine.connect() as conn:
        fed = conn.execute(
            sa.select(changes.c.data).where(changes.c.kind == "debtor_deferral")
        ).scalars()
        assert [json.loads(d)["debtor_deferral"] for d in fed] == ["block", "warn"]
