"""A mission's deposit and payment moment set by hand in the office (issue 15, seed 004:
"a deposit set by hand is never overwritten"): set through the API, the desk and the
command line, a signed entry of the server journal with who and why, on the audit log;
the real field client pulls it and its gate asks for it; a push, a recompute
(`towline-server reconcile`) and the next syncs leave it as the office set it. On SQLite
and PostgreSQL."""

from __future__ import annotations

import html
import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main
from server.office import mission_terms, office_journal, reconcile
from server.platform.keys import server_key
from server.platform.tables import audit_log, changes, journal_entries
from shared.chain_verifier import verify_chain
from shared.errors import Refused
from tests.desk_support import post, sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0004"  # d1's; the contract asks 96.00 of the beneficiary before departure


def _set(world: World, body: dict, login: str = "bureau"):  # noqa: F811
    return world.office.post(
        f"/api/v1/missions/{MISSION}/payment-terms", json=body, headers=world.as_user(login)
    )


def _recompute(world: World) -> None:  # noqa: F811
    """What `towline-server reconcile demo` does."""
    with world.engine.begin() as conn:
        reconcile.reconcile_tenant(conn, "demo", now=world.clock.now)


def test_a_deposit_set_by_hand_reaches_the_tablet_gate_and_survives_syncs_and_recompute(
    world,  # noqa: F811
    tmp_path,
):
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)
    tablet.register_open(D("0.00"))
    tablet.step(MISSION, "en_route")  # the contract asks for no deposit
    tablet.step(MISSION, "on_site")
    assert tablet.view(MISSION).money.deposit.source.value == "contract"

    answer = _set(
        world,
        {
            "deposit": {"amount": "40.00", "when": "before_departure"},
            "reason": "Client inconnu, véhicule de valeur",
        },
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["in_force"]["deposit"]["amount"] == "40.00"
    assert body["in_force"]["deposit"]["source"] == "office"
    assert body["contract"] is None  # the server values it once the tablet has pushed
    assert [h["reason"] for h in body["history"]] == ["Client inconnu, véhicule de valeur"]

    # The tablet does not know yet: its own terms still hold until it pulls.
    assert tablet.view(MISSION).money.deposit.source.value == "contract"
    world.sync(tablet)
    money = tablet.view(MISSION).money
    assert (money.deposit.amount, money.deposit.source.value) == (D("40.00"), "office")

    # The office also moves the payment moment to "on invoice": only the deposit is
    # asked on site now, and the gate says so, in the office's words.
    assert _set(world, {"pays": "on_invoice", "reason": "Garage partenaire"}).status_code == 200
    world.sync(tablet)
    view = tablet.view(MISSION)
    assert view.pays.value == "on_invoice"
    with pytest.raises(Refused) as refused:
        tablet.step(MISSION, "departed")
    said = refused.value.message("fr")
    assert "40,00" in said and "fixé par le bureau" in said

    tablet.collect(MISSION, "cash", "40.00", {"tendered": "40.00"})
    tablet.step(MISSION, "departed")  # the deposit paid; the rest on invoice
    tablet.step(MISSION, "delivered")

    # A push, a recompute and more syncs: the office's terms stand, nothing rewrote them.
    world.sync(tablet)
    _recompute(world)
    world.sync(tablet)
    view = tablet.view(MISSION)
    assert (view.money.deposit.amount, view.money.deposit.source.value) == (D("40.00"), "office")
    assert view.pays.value == "on_invoice"
    # Leaving with 56.00 still owed was what the office allowed: no gate bypass.
    assert "gate_bypassed" not in world.anomaly_kinds()
    with world.engine.connect() as conn:
        after = mission_terms.terms_of(conn, "demo", MISSION)
        entries = office_journal.entries(conn, "demo")
        audited = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.reason).where(
                audit_log.c.action == "mission.terms_set"
            )
        ).all()
        feed = conn.execute(
            sa.select(changes.c.scope, changes.c.data).where(
                changes.c.kind == "mission_terms", changes.c.entity_id == MISSION
            )
        ).all()
    assert after["in_force"]["deposit"]["amount"] == "40.00"
    assert after["in_force"]["pays"] == "on_invoice"
    assert after["in_force"]["pays_source"] == "office"
    assert after["contract"] == {
        "deposit": {"when": "exempt", "amount": "0.00"},
        "pays": "before_departure",
    }
    assert [e.entry.type for e in entries if e.entry.type == "deposit_set"] == ["deposit_set"] * 2
    first = next(e for e in entries if e.entry.type == "deposit_set")
    assert first.entry.payload["reason"] == "Client inconnu, véhicule de valeur"
    public = server_key(Path(world.app.config["VAR_DIR"])).public_key()
    assert verify_chain(entries, device_id="server:demo", public_key=public) == ()
    assert [a.reason for a in audited] == [
        "Client inconnu, véhicule de valeur",
        "Garage partenaire",
    ]
    assert [s for s, _ in feed] == [None, None]  # every tablet: a reassigned mission keeps them
    assert json.loads(feed[-1][1])["deposit"] == {"when": "before_departure", "amount": "40.00"}


def test_bad_terms_are_refused_with_a_sentence_and_change_nothing(world):  # noqa: F811
    cases = [
        ({"deposit": {"amount": "40.00", "when": "at_order"}}, 422),  # no reason
        ({"reason": "rien"}, 422),  # nothing to set
        ({"deposit": {"amount": "30.00", "when": "exempt"}, "reason": "x"}, 422),
        ({"deposit": {"amount": "-3", "when": "at_order"}, "reason": "x"}, 422),
        ({"pays": "whenever", "reason": "x"}, 422),
    ]
    for body, status in cases:
        answer = _set(world, body)
        assert answer.status_code == status, (body, answer.get_json())
        assert answer.get_json()["message"]
    exempt = _set(world, {"deposit": {"amount": "30.00", "when": "exempt"}, "reason": "x"})
    assert exempt.get_json()["code"] == "deposit_exempt_with_amount"
    assert "exempt" in exempt.get_json()["message"]
    unknown = world.office.post(
        "/api/v1/missions/NOPE/payment-terms",
        json={"pays": "on_invoice", "reason": "x"},
        headers=world.as_user("bureau"),
    )
    assert unknown.status_code == 404
    with world.engine.connect() as conn:
        held = conn.execute(
            sa.select(sa.func.count()).where(journal_entries.c.type == "deposit_set")
        ).scalar_one()
    assert held == 0


def test_a_cancelled_mission_keeps_its_terms(world):  # noqa: F811
    cancelled = world.office.post(
        f"/api/v1/missions/{MISSION}/cancel",
        json={"reason": "Client reparti"},
        headers=world.as_user("bureau"),
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    answer = _set(world, {"pays": "on_invoice", "reason": "x"})
    assert answer.status_code == 409
    assert answer.get_json()["code"] == "mission_cancelled"


def test_the_command_line_sets_and_shows_terms(world, tmp_path):  # noqa: F811
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the command line opens the database by its URL: the SQLite file")
    url = str(world.engine.url)
    runner = CliRunner()
    made = runner.invoke(
        main,
        [
            "mission-terms",
            "set",
            "demo",
            MISSION,
            "--deposit",
            "25.00",
            "--deposit-when",
            "at_order",
            "--reason",
            "Client connu pour impayés",
            "--by",
            "bureau",
            "--database",
            url,
            "--var-dir",
            str(tmp_path / "var"),
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["in_force"]["deposit"]["amount"] == "25.00"
    shown = runner.invoke(
        main, ["mission-terms", "show", "demo", MISSION, "--database", url, "--lang", "en"]
    )
    assert shown.exit_code == 0, shown.output
    assert "Deposit set by hand in the office: €25.00 at order" in shown.output
    assert "Client connu pour impayés" in shown.output
    bad = runner.invoke(
        main,
        [
            "mission-terms",
            "set",
            "demo",
            MISSION,
            "--deposit",
            "abc",
            "--deposit-when",
            "at_order",
            "--reason",
            "x",
            "--database",
            url,
            "--var-dir",
            str(tmp_path / "var"),
        ],
    )
    assert bad.exit_code == 2 and "Montant d'acompte invalide" in bad.output
    missing = runner.invoke(
        main,
        [
            "mission-terms",
            "set",
            "demo",
            "NOPE",
            "--pays",
            "on_invoice",
            "--reason",
            "x",
            "--database",
            url,
            "--var-dir",
            str(tmp_path / "var"),
        ],
    )
    assert missing.exit_code == 3


def test_the_desk_mission_page_shows_and_sets_the_terms(world):  # noqa: F811
    desk = world.app.test_client()
    assert sign_in(desk, "bureau").status_code == 302
    page = desk.get(f"/desk/missions/{MISSION}?lang=en").get_data(as_text=True)
    assert 'id="payment-terms"' in page and "No deposit under the contract." in page
    refused = post(
        desk,
        f"/desk/missions/{MISSION}/payment-terms",
        {"amount": "35,00", "when": "at_order", "pays": "", "reason": ""},
    )
    assert refused.status_code == 422
    assert "Say why the office sets these terms" in refused.get_data(as_text=True)
    done = post(
        desk,
        f"/desk/missions/{MISSION}/payment-terms",
        {"amount": "35,00", "when": "at_order", "pays": "at_delivery", "reason": "Client inconnu"},
    )
    assert done.status_code == 302
    page = desk.get(f"/desk/missions/{MISSION}").get_data(as_text=True)
    shown = html.unescape(page)
    assert "Deposit set by hand in the office: €35.00 at order" in shown
    assert "at delivery (set by the office)" in shown and "Client inconnu" in shown
    # A clerk who may only read (reconcile) sees the terms, not the form.
    with world.engine.connect() as conn:
        seq = conn.execute(
            sa.select(sa.func.max(journal_entries.c.seq)).where(
                journal_entries.c.type == "deposit_set"
            )
        ).scalar_one()
    assert seq is not None
