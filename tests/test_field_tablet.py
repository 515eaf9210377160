"""The field client offline: the gate, collections with evidence, approval codes, disputes,
two drivers on one tablet, the register, office decisions applied, and the journal's
integrity. Everything here runs with no server (tests.field_support)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldclient.cli import main as field
from fieldclient.integrity import verify
from fieldclient.tablet import Tablet
from shared.approvals import ApprovalRefused, Kind
from shared.errors import Refused
from tests.field_support import Clock, approval_code, feed, offline_tablet

D = Decimal
WINCHING = "M-A-0004"  # ASSIST-A, Tuesday: the beneficiary pays the winching, 96.00 incl. VAT
NOTHING_DUE = "M-A-0001"  # ASSIST-A, Tuesday, 30 km: covered in full


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tablet(tmp_path: Path, clock: Clock):
    t = offline_tablet(tmp_path / "tablet", clock)
    yield t
    t.close()


def on_site(t: Tablet, mission: str = WINCHING) -> None:
    t.step(mission, "en_route")
    t.step(mission, "on_site")


def types(t: Tablet) -> list[str]:
    return [r.type for r in t.ledger().rows()]


def count(t: Tablet, table: str) -> int:
    return int(t.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# --- the gate---------------------------------------------------------------------------------


def test_the_gate_holds_leaving_the_scene_until_the_amount_is_collected(tablet):
    tablet.register_open(D("50.00"))
    on_site(tablet)
    before = types(tablet)
    with pytest.raises(Refused) as held:
        tablet.step(WINCHING, "departed")
    assert "96,00" in held.value.message("fr")
    assert "Collect it, or ask the manager" in held.value.message("en")
    assert types(tablet) == before  # nothing recorded

    first = tablet.collect(WINCHING, "cash", "50.00", {"tendered": "50.00"})
    assert first.money is not None and first.money.remaining == D("46.00")
    with pytest.raises(Refused, match="46,00"):
        tablet.step(WINCHING, "departed")
    tablet.collect(WINCHING, "card", "46.00", {"terminal_ref": "AUT-7731"})
    moved = tablet.step(WINCHING, "departed")
    assert moved.payload == {
        "mission_id": WINCHING,
        "from": "on_site",
        "to": "departed",
        "remaining": "0.00",
    }
    assert tablet.view(WINCHING).step.value == "departed"


def test_the_valuation_is_recorded_once_with_its_digest_and_the_mission(tablet):
    tablet.register_open(D("0.00"))
    on_site(tablet)
    tablet.collect(WINCHING, "card", "10.00", {"terminal_ref": "A1"})
    recorded = [r for r in tablet.ledger().rows() if r.type == "valuation_recorded"]
    assert len(recorded) == 1  # steps and collection reuse it: the digest did not change
    payload = recorded[0].payload
    assert payload["valuation"]["digest"] == tablet.view(WINCHING).valuation.digest
    assert payload["valuation"]["payers"]["beneficiary"]["incl_vat"] == "96.00"
    assert payload["mission"]["id"] == WINCHING


def test_cancelling_or_gone_on_arrival_is_never_held(tablet):
    on_site(tablet)
    tablet.step(WINCHING, "gone_on_arrival")
    assert tablet.view(WINCHING).step.value == "gone_on_arrival"
    with pytest.raises(Refused):  # a finished mission goes nowhere
        tablet.step(WINCHING, "departed")


# --- collections------------------------------------------------------------------------------


def test_collection_needs_an_open_register_and_is_refused_beyond_what_remains(tablet):
    on_site(tablet)
    with pytest.raises(Refused, match="register open"):
        tablet.collect(WINCHING, "card", "10.00", {"terminal_ref": "A1"})
    tablet.register_open(D("20.00"))
    with pytest.raises(Refused, match="96,00"):
        tablet.collect(WINCHING, "card", "96.01", {"terminal_ref": "A1"})
    receipt = tablet.collect(WINCHING, "cash", "96.00", {"tendered": "100.00"})
    assert receipt.payload["change"] == "4.00"
    assert receipt.payload["vat"] == [
        {"rate": "20", "excl_vat": "80.00", "vat": "16.00", "incl_vat": "96.00"}
    ]
    assert tablet.register("d1").expected_cash == D("116.00")


def test_nothing_due_means_no_collection_but_a_dispute(tablet):
    tablet.register_open(D("0.00"))
    before = count(tablet, "journal")
    with pytest.raises(Refused, match="litige"):
        tablet.collect(NOTHING_DUE, "cash", "10.00", {"tendered": "10.00"})
    # The refused collection wrote nothing but the (harmless) valuation it needed.
    assert types(tablet)[before:] in ([], ["valuation_recorded"])
    assert count(tablet, "money") == 0
    disputed = tablet.dispute(NOTHING_DUE, "Le client dit que le péage était inclus")
    assert disputed.payload["due"] == "0.00"
    assert types(tablet)[-1] == "dispute"


# --- approval codes---------------------------------------------------------------------------


def test_a_discount_by_the_managers_code_opens_the_gate(tablet, clock):
    tablet.register_open(D("0.00"))
    on_site(tablet)
    tablet.collect(WINCHING, "card", "76.00", {"terminal_ref": "A1"})
    code = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    clock.advance(minutes=3)  # the driver types it a few minutes later
    done = tablet.discount(WINCHING, "20.00", code)
    assert done.payload["approval_ref"].startswith("1:")
    assert done.money is not None and done.money.remaining == D("0.00")
    tablet.step(WINCHING, "departed")


def test_a_code_for_another_amount_or_used_twice_is_refused_and_counted(tablet, clock):
    tablet.register_open(D("0.00"))
    on_site(tablet)
    code = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    with pytest.raises(ApprovalRefused):
        tablet.discount(WINCHING, "25.00", code)
    assert types(tablet).count("approval_refused") == 1  # kept although the action was refused
    tablet.discount(WINCHING, "20.00", code)
    with pytest.raises(ApprovalRefused) as reused:
        tablet.discount(WINCHING, "20.00", code)
    assert reused.value.reason.value == "reused"
    assert [r.type for r in tablet.ledger().rows()].count("discount") == 1


def test_an_expired_code_is_refused(tablet, clock):
    on_site(tablet)
    code = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    clock.advance(minutes=45)
    with pytest.raises(ApprovalRefused) as expired:
        tablet.discount(WINCHING, "20.00", code)
    assert expired.value.reason.value == "expired"


def test_guessing_codes_locks_the_mission_until_the_office_unlocks_it(tablet, clock):
    on_site(tablet)
    for guess in ["0000000000", "1111111111", "2222222222", "3333333333", "4444444444"]:
        with pytest.raises(ApprovalRefused):
            tablet.discount(WINCHING, "20.00", guess)
    good = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    with pytest.raises(ApprovalRefused) as locked:
        tablet.discount(WINCHING, "20.00", good)
    assert locked.value.reason.value == "locked"
    decision = {
        "id": "dec_unlock1",
        "type": "unlock_approvals",
        "device_id": tablet.device_id,
        "mission_id": WINCHING,
    }
    feed(tablet, [{"kind": "decision", "id": "dec_unlock1", "data": decision}])
    assert types(tablet)[-1] == "office_decision_applied"
    tablet.discount(WINCHING, "20.00", good)


def test_bill_later_covers_the_whole_remaining_amount(tablet, clock):
    on_site(tablet)
    partial = approval_code(WINCHING, Kind.DEFERRAL, "50.00", clock.now)
    with pytest.raises(Refused, match="96,00"):
        tablet.defer(WINCHING, partial, "50.00")
    assert "approval_refused" not in types(tablet)  # refused before any code was tried
    code = approval_code(WINCHING, Kind.DEFERRAL, "96.00", clock.now)
    deferred = tablet.defer(WINCHING, code)
    assert deferred.payload["amount"] == "96.00"
    tablet.step(WINCHING, "departed")


# --- drivers----------------------------------------------------------------------------------


def test_two_drivers_share_a_tablet_and_each_entry_names_who_was_signed_in(tablet):
    tablet.register_open(D("0.00"))
    on_site(tablet)
    tablet.login("d2", "2222")
    with pytest.raises(Refused, match="pas le droit d'encaisser"):
        tablet.collect(WINCHING, "card", "96.00", {"terminal_ref": "A1"})
    tablet.dispute(WINCHING, "Pas d'accord sur le treuillage")
    tablet.login("d1", "1111")
    tablet.collect(WINCHING, "card", "96.00", {"terminal_ref": "A1"})
    who = [(r.type, r.driver_id) for r in tablet.ledger().rows()]
    assert ("dispute", "d2") in who and ("collection", "d1") in who
    assert ("collection", "d2") not in who


def test_wrong_pins_are_counted_and_lock_the_driver_out(tablet, clock):
    for _ in range(5):
        with pytest.raises(Refused, match="PIN"):
            tablet.login("d2", "0000")
    with pytest.raises(Refused, match="15"):
        tablet.login("d2", "2222")  # even the right PIN waits
    clock.advance(minutes=16)
    assert tablet.login("d2", "2222").id == "d2"


# --- the register-----------------------------------------------------------------------------


def test_the_register_opens_takes_cash_deposits_and_closes_with_its_variance(tablet):
    tablet.register_open(D("50.00"))
    on_site(tablet)
    tablet.collect(WINCHING, "cash", "96.00", {"tendered": "100.00"})
    tablet.register_deposit(D("100.00"), "BORD-1")
    register, payload = tablet.register_close(D("45.00"))
    assert payload["expected"] == "46.00" and payload["variance"] == "-1.00"
    assert register.status.value == "closed"
    # Once closed, the session's figures stay what `register status` shows.
    assert (register.expected_cash, register.variance) == (D("46.00"), D("-1.00"))
    with pytest.raises(Refused, match="register open"):
        tablet.collect("M-A-0003", "card", "1.00", {"terminal_ref": "A"})
    reopened = tablet.register_open(D("45.00"))
    assert reopened.session == 2 and reopened.expected_cash == D("45.00")


# --- office decisions-------------------------------------------------------------------------


def _void(t: Tablet, seq: int, decision: str = "dec_void1") -> dict:
    row = next(r for r in t.ledger().rows() if r.seq == seq)
    return {
        "kind": "decision",
        "id": decision,
        "data": {
            "id": decision,
            "type": "void_collection",
            "mission_id": row.payload["mission_id"],
            "driver_id": row.driver_id,
            "collection": {"device_id": t.device_id, "seq": seq, "hash": row.hash},
            "method": row.payload["method"],
            "amount": row.payload["amount"],
            "reason": "Encaissement fictif",
            "decided_by": "bureau",
            "decided_at": "2026-03-10T18:00:00Z",
        },
    }


def test_a_voided_collection_reaches_the_tablet_once_and_the_gate_closes_again(tablet):
    tablet.register_open(D("0.00"))
    on_site(tablet)
    cash = tablet.collect(WINCHING, "cash", "96.00", {"tendered": "96.00"})
    assert tablet.register("d1").expected_cash == D("96.00")
    change = _void(tablet, cash.seq)
    feed(tablet, [change])
    feed(tablet, [change])  # pulled twice: applied once
    reversals = [r for r in tablet.ledger().rows() if r.type == "reversal"]
    assert len(reversals) == 1
    assert reversals[0].payload["decision"] == "dec_void1"
    assert reversals[0].payload["reverses"]["hash"] == cash.hash
    assert tablet.register("d1").expected_cash == D("0.00")
    assert tablet.view(WINCHING).money.remaining == D("96.00")
    with pytest.raises(Refused):
        tablet.step(WINCHING, "departed")


def test_a_mission_cancelled_by_the_office_can_only_be_cancelled(tablet):
    doc = json.loads(
        tablet.db.execute("SELECT document FROM missions WHERE id = ?", [WINCHING]).fetchone()[0]
    )
    feed(
        tablet,
        [
            {
                "kind": "mission",
                "id": WINCHING,
                "data": {
                    "id": WINCHING,
                    "driver_id": "d1",
                    "status": "cancelled",
                    "cancel_reason": "Client dépanné par un autre",
                    "document": doc,
                },
            }
        ],
    )
    with pytest.raises(Refused, match="autre"):
        tablet.step(WINCHING, "en_route")
    assert tablet.step(WINCHING, "cancelled").payload["to"] == "cancelled"


# --- integrity--------------------------------------------------------------------------------


def test_the_journal_verifies_and_an_altered_entry_is_named(tablet):
    tablet.register_open(D("10.00"))
    on_site(tablet)
    tablet.collect(WINCHING, "card", "96.00", {"terminal_ref": "A1"})
    report = verify(tablet)
    assert report.ok and report.entries == len(types(tablet))
    path = tablet.home.database
    tablet.close()
    with sqlite3.connect(path) as raw:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE journal SET at = at WHERE seq = 1")
        raw.execute("DROP TRIGGER journal_no_update")  # what a tamperer would do first
        raw.execute("UPDATE journal SET payload = replace(payload, '10.00', '90.00') WHERE seq = 1")
    again = Tablet(tablet.home, clock=Clock())
    problems = verify(again).problems("en")
    again.close()
    assert any("Entry no. 1 was changed" in p for p in problems), problems


def test_the_key_file_and_home_are_owner_only(tablet):
    mode = stat.S_IMODE(os.stat(tablet.home.keys).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(tablet.home.path).st_mode) == 0o700


# --- the command line-------------------------------------------------------------------------


def cli(home: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(field, [*args, "--home", str(home)], input=input)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    t = offline_tablet(tmp_path / "cli", Clock())
    t.register_open(D("0.00"))
    on_site(t)
    t.close()
    return tmp_path / "cli"


def _snapshot(home: Path) -> tuple[int, int, int]:
    with sqlite3.connect(home / "towline-field.db") as raw:
        return tuple(  # type: ignore[return-value]
            raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("journal", "outbox", "money")
        )


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (
            ["collect", WINCHING, "--method", "card", "--amount", "-5", "--terminal-ref", "A"],
            2,
            "positif",
        ),
        (
            ["collect", WINCHING, "--method", "card", "--amount", "12.5.0", "--terminal-ref", "A"],
            2,
            "montant",
        ),
        (["collect", WINCHING, "--method", "bitcoin", "--amount", "5"], 2, "bitcoin"),
        (
            ["collect", WINCHING, "--method", "cheque", "--amount", "5", "--bank", "LCL"],
            2,
            "--cheque-number",
        ),
        (
            [
                "collect",
                WINCHING,
                "--method",
                "card",
                "--amount",
                "5",
                "--tendered",
                "5",
                "--terminal-ref",
                "A",
            ],
            2,
            "--tendered",
        ),
        (
            ["collect", "M-NOPE", "--method", "card", "--amount", "5", "--terminal-ref", "A"],
            3,
            "Mission inconnue",
        ),
        (
            ["collect", WINCHING, "--method", "card", "--amount", "500", "--terminal-ref", "A"],
            3,
            "96,00",
        ),
        (["step", WINCHING, "departed"], 3, "Impossible de quitter les lieux"),
        (["step", WINCHING, "flying"], 2, "flying"),
        (["discount", WINCHING, "--amount", "5", "--code", "ZZZ"], 3, "code"),
        (["show", "M-NOPE"], 3, "M-NOPE"),
    ],
)
def test_bad_input_gets_a_clear_message_an_exit_code_and_writes_nothing(home, args, code, words):
    before = _snapshot(home)
    result = cli(home, *args)
    assert result.exit_code == code, result.output
    assert words in result.output
    after = _snapshot(home)
    if args[0] == "discount":  # a malformed code is a typo: not even counted
        assert after == before
    else:
        assert after[1:] == before[1:] and after[0] - before[0] <= 1  # at most a valuation


def test_a_new_mission_file_that_does_not_validate_exits_2(home, tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"id": "X", "vehicle": {}}', "utf-8")
    result = cli(home, "new-mission", "--document", str(bad), "--lang", "en")
    assert result.exit_code == 2
    assert "times: required field missing" in result.output


def test_the_cli_day_show_collect_step_and_json(home):
    shown = cli(home, "show", WINCHING)
    assert shown.exit_code == 0 and "RESTE À ENCAISSER : 96,00\xa0€" in shown.output
    assert "BLOQUÉE" in shown.output
    paid = cli(
        home,
        "collect",
        WINCHING,
        "--method",
        "cheque",
        "--amount",
        "96,00",
        "--cheque-number",
        "1234 567",
        "--bank",
        "LCL",
        "--json",
    )
    assert paid.exit_code == 0, paid.output
    body = json.loads(paid.output)
    assert body["cheque_number"] == "1234567" and body["amount"] == "96.00"
    moved = cli(home, "step", WINCHING, "departed", "--lang", "en")
    assert moved.exit_code == 0 and "left the scene" in moved.output
    listed = json.loads(cli(home, "missions", "--day", "2026-03-10", "--json").output)
    row = next(r for r in listed if r["id"] == WINCHING)
    assert (row["step"], row["due"], row["remaining"]) == ("departed", "96.00", "0.00")
    verified = cli(home, "journal", "verify")
    assert verified.exit_code == 0 and "Journal vérifié" in verified.output


def test_new_mission_for_a_private_customer_on_the_road(home):
    made = cli(
        home,
        "new-mission",
        "--plate",
        "AB-123-CD",
        "--class",
        "VL",
        "--service",
        "TOW",
        "--km-loaded",
        "12",
        "--json",
    )
    assert made.exit_code == 0, made.output
    body = json.loads(made.output)
    assert body["mission"] == "R-0001.dev_test_tablet"  # unique in the tenant
    assert body["short"] == "R-0001"  # what the driver types
    assert body["valuation"]["contract"]["id"] == "PRIVATE"
    assert body["money"]["due"] == body["valuation"]["payers"]["beneficiary"]["incl_vat"]
    assert Decimal(body["money"]["due"]) > 0


def test_login_prompts_for_the_pin_and_logout_signs_out(home):
    assert cli(home, "login", "d2", input="9999\n").exit_code == 3
    ok = cli(home, "login", "d2", input="2222\n")
    assert ok.exit_code == 0 and "Julie" in ok.output
    assert cli(home, "logout").exit_code == 0
    out = cli(home, "collect", WINCHING, "--method", "card", "--amount", "1", "--terminal-ref", "A")
    assert out.exit_code == 3 and "login" in out.output


def test_commands_before_enrolment_say_how_to_enrol(tmp_path):
    result = cli(tmp_path / "fresh", "missions", "--lang", "en")
    assert result.exit_code == 3 and "towline-field enroll" in result.output


def test_sync_without_a_server_exits_5_and_keeps_the_work(home):
    before = _snapshot(home)
    result = CliRunner().invoke(
        field, ["sync", "--home", str(home)], env={"TOWLINE_SYNC_RETRIES": "0"}
    )
    assert result.exit_code == 5, result.output
    assert "entrée(s) en attente" in result.output
    assert _snapshot(home) == before
