"""Orders in, on SQLite and PostgreSQL: an order is kept as received, cleaned with the
party's latest rules (each correction on the file's log with the rule and the version),
and becomes a mission; the same order twice changes nothing; the party's messages move
the file as the lifecycle table says (duplicated, late, out of order); replaying new
rules fixes open files' missions no tablet valued and leaves done files alone; a hand
fix becomes a rule that fixes the next order; imports name each refused line."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.office import missions
from server.parties import bug_report, hand_fix, messages, order_import, orders, replay
from server.parties import cleaning as cleaning_store
from server.parties import files as party_files
from server.people import ordering_parties as parties
from server.platform.errors import Conflict, Forbidden, NotFound
from server.platform.tables import changes, file_events, valuations
from server.platform.tables import missions as missions_table
from server.platform.tables import orders as orders_table
from server.platform.tables import party_files as party_files_table
from shared import file_lifecycle as lifecycle
from shared.canonical import canonical_json
from shared.errors import InvalidDocument, Refused
from shared.file_lifecycle import Event, State
from tests.conftest import EXAMPLES
from tests.server_support import seed
from tests.storage import engine  # noqa: F401

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
ORDERS = EXAMPLES / "orders"
RULES: dict[str, Any] = json.loads((ORDERS / "cleaning-assist-b.json").read_text("utf-8"))
ORDER_TEXT = (ORDERS / "assist-b-order.json").read_text("utf-8")
FILE = "B-2026-0101"
MISSION = "ASSIST-B.B-2026-0101.1"


def order_b(**changes: Any) -> dict[str, Any]:
    """Assistance B's order as its platform sends it: its own service code REMORQ, no
    vehicle class (a 1.45 t car), loaded km sent as "0"."""
    document: dict[str, Any] = json.loads(ORDER_TEXT)
    document.update(changes)
    return document


@pytest.fixture
def shop(engine):  # noqa: F811
    seed(engine)
    with engine.begin() as conn:
        for tenant in ("acme", "other"):
            for party in ("ASSIST-A", "ASSIST-B"):
                parties.create_party(conn, tenant, party, party.title(), actor="t", now=NOW)
    return engine


def publish(eng, document=RULES, party="ASSIST-B", tenant="acme"):
    with eng.begin() as conn:
        return cleaning_store.publish(conn, tenant, party, document, actor="u1", now=NOW)


def send(eng, order, *, party="ASSIST-B", tenant="acme", text=None, driver=None):
    with eng.begin() as conn:
        return orders.receive_order(
            conn,
            tenant,
            party,
            order,
            actor="pk_test",
            now=NOW,
            received_text=text,
            driver_id=driver,
        )


def say(eng, kind, message_id, file_number=FILE, *, name=None, detail=None, party="ASSIST-B"):
    message = {"message_id": message_id, "file_number": file_number, "kind": kind}
    if name is not None:
        message["name"] = name
    if detail is not None:
        message["detail"] = detail
    with eng.begin() as conn:
        return messages.receive_message(conn, "acme", party, message, actor="pk_test", now=NOW)


def office(eng, event, file_number=FILE):
    with eng.begin() as conn:
        return party_files.record(
            conn, "acme", "ASSIST-B", file_number, event, source="office", actor="u1", now=NOW
        )


def valued_on_tablet(eng, mission_id, tenant="acme"):
    """What the push ingest stores when a tablet sends its valuation of the mission."""
    body = {"contract": {"id": "ASSIST-B", "version": 1, "digest": "c" * 64}, "digest": "d" * 64}
    with eng.begin() as conn:
        conn.execute(
            sa.insert(valuations).values(
                tenant_id=tenant,
                mission_id=mission_id,
                source="device",
                device_id="dev-1",
                entry_seq=7,
                digest="d" * 64,
                beneficiary_due_cents=4800,
                body=canonical_json(body).decode(),
                created_at=NOW,
            )
        )


def document_of(eng, mission_id, tenant="acme"):
    with eng.connect() as conn:
        return missions.get(conn, tenant, mission_id)["document"]


def log_of(eng, file_number=FILE, party="ASSIST-B", tenant="acme"):
    with eng.connect() as conn:
        return party_files.history(conn, tenant, party, file_number)


def count(eng, table, **where):
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with eng.connect() as conn:
        return int(conn.execute(query).scalar_one())


# --- intake -------------------------------------------------------------------------------


def test_an_order_with_recurring_mistakes_is_cleaned_and_the_log_names_rule_and_version(shop):
    publish(shop, {**RULES, "rules": RULES["rules"][:1]})  # v1: service codes only
    v2 = publish(shop)  # v2: codes, class from the weight, loaded km sent as 0
    made = send(shop, order_b(), text=ORDER_TEXT)
    assert (made["outcome"], made["mission_id"], made["state"]) == (
        "created",
        MISSION,
        "not_integrated",
    )
    assert made["ruleset"] == {"version": 2, "digest": v2["digest"]}
    document = document_of(shop, MISSION)
    assert document["services"] == [{"code": "TOW"}]
    assert document["vehicle"] == {"plate": "FT-613-QA", "class": "VL", "weight_kg": 1450}
    assert document["distance_km"] == {"en_route": "9"}
    assert (document["ordering_party"], document["file_number"]) == ("ASSIST-B", FILE)
    # Who pays on site travels with the mission, for the driver's receipt (issue 13)
    assert document["beneficiary"] == {"name": "Claire Martin", "phone": "+33 6 12 34 56 78"}
    assert document["coverage"]["deductible"] == "50.00"  # shown to the driver
    corrections = [e["detail"] for e in log_of(shop) if e["event"] == "cleaning_correction"]
    assert [(c["rule"], c["version"], c["path"]) for c in corrections] == [
        ("codes-maison", 2, "services.0.code"),
        ("classe-par-poids", 2, "vehicle.class"),
        ("km-charges-zero", 2, "distance_km.loaded"),
    ]
    assert corrections[0]["before"] == "REMORQ" and corrections[0]["after"] == "TOW"
    assert {c["digest"] for c in corrections} == {v2["digest"]}
    assert corrections[1]["description"]["en"] == "Vehicle class missing: VL up to 1.8 t"
    with shop.connect() as conn:
        row = conn.execute(sa.select(orders_table)).one()
    assert row.received == ORDER_TEXT  # exactly as it arrived, spaces and all
    assert json.loads(row.cleaned)["coverage"]["deductible"] == "50.00"
    assert row.ruleset_version == 2
    assert [e["event"] for e in log_of(shop)] == [
        "order",
        "cleaning_correction",
        "cleaning_correction",
        "cleaning_correction",
        "mission_created",
    ]


def test_the_same_order_sent_twice_creates_one_mission_and_one_event(shop):
    publish(shop)
    first = send(shop, order_b(), text=ORDER_TEXT)
    publish(shop, {**RULES, "rules": []})  # the rules change in between: no matter
    again = send(shop, order_b(), text=ORDER_TEXT)
    assert again["duplicate"] is True and first["duplicate"] is False
    assert {**again, "duplicate": False} == first  # the first outcome, corrections included
    assert count(shop, missions_table) == 1
    assert count(shop, orders_table) == 1
    assert count(shop, file_events, event="order") == 1
    assert len(log_of(shop)) == 5


def test_a_malformed_order_is_refused_with_its_paths_and_nothing_is_stored(shop):
    tables = (orders_table, missions_table, file_events, party_files_table, changes)
    before = [count(shop, table) for table in tables]
    bad = order_b(times={}, services=[{"code": "tow"}])
    bad["coverage"] = {"deductible": 50.5, "km_covered": "-3"}
    with pytest.raises(InvalidDocument) as refused:
        send(shop, bad)
    found = {p.path: p.text for p in refused.value.problems}
    assert set(found) == {"coverage.deductible", "coverage.km_covered", "services.0.code"}
    assert "binary float refused" in found["coverage.deductible"].en
    assert "virgule flottante" in found["coverage.deductible"].fr
    assert found["coverage.km_covered"].en == "must be at least 0"
    with pytest.raises(InvalidDocument) as no_call:
        send(shop, order_b(times={}))
    assert [(p.path, p.text.en) for p in no_call.value.problems] == [
        ("times", "the call time is required")
    ]
    assert no_call.value.text.fr == "Ordre de mission invalide : 1 erreur"
    with pytest.raises(InvalidDocument) as nameless:
        send(shop, {"vehicle": {"class": "VL"}})
    assert [p.path for p in nameless.value.problems] == ["message_id", "file_number"]
    assert [count(shop, table) for table in tables] == before == [0, 0, 0, 0, 3]


def test_an_order_for_another_party_or_reusing_a_message_id_is_refused(shop):
    with pytest.raises(Forbidden) as other:
        send(shop, order_b(ordering_party="ASSIST-A"))
    assert other.value.code == "party_mismatch"
    say(shop, "opening_request", "OPEN-1")
    with pytest.raises(Conflict) as reused:
        send(shop, order_b(message_id="OPEN-1"))
    assert reused.value.code == "message_id_reused"
    assert count(shop, orders_table) == 0 and count(shop, missions_table) == 0


def test_a_mission_goes_to_its_driver_when_the_order_names_one(shop):
    send(shop, order_b(), driver="D1")
    with shop.connect() as conn:
        row = conn.execute(sa.select(missions_table)).one()
        feed = conn.execute(sa.select(changes).where(changes.c.kind == "mission")).all()
    assert (row.driver_id, row.status, row.source) == ("D1", "assigned", "order")
    assert [(c.entity_id, c.scope) for c in feed] == [(MISSION, "D1")]


def test_an_amended_order_updates_a_mission_no_tablet_valued(shop):
    send(shop, order_b(services=[{"code": "TOW"}]), driver="D1")
    amended = send(shop, order_b(message_id="B-MSG-2", services=[{"code": "TOW"}, {"code": "WIN"}]))
    assert amended["outcome"] == "amended" and amended["mission_id"] == MISSION
    assert document_of(shop, MISSION)["services"] == [{"code": "TOW"}, {"code": "WIN"}]
    with shop.connect() as conn:
        feed = conn.execute(sa.select(changes.c.data).where(changes.c.kind == "mission")).all()
    assert json.loads(feed[-1].data)["document"]["services"][1] == {"code": "WIN"}
    valued_on_tablet(shop, MISSION)
    held = send(shop, order_b(message_id="B-MSG-3", services=[{"code": "REP"}]))
    assert (held["outcome"], held["reason"]) == ("held", "valued_by_tablet")
    assert "credit note" in held["note"]["en"]
    assert document_of(shop, MISSION)["services"][1] == {"code": "WIN"}
    assert count(shop, missions_table) == 1


# --- messages -------------------------------------------------------------------------------


def test_messages_move_the_file_as_the_table_says(shop):
    opened = say(shop, "opening_request", "M1")
    assert (opened["state_before"], opened["state"]) == (None, "waiting_for_order")
    assert send(shop, order_b())["state"] == "not_integrated"
    office(shop, Event.USED_IN_DOCUMENT)
    office(shop, Event.DOCUMENT_SENT)
    back = say(shop, "follow_up", "M2", name="SD 54 Suivi de dossier")
    assert (back["state_before"], back["state"], back["changed"]) == ("sent", "integrated", True)
    assert back["warning"]["fr"] == (
        "Des changements sont intervenus sur le dossier : SD 54 Suivi de dossier"
    )
    again = say(shop, "follow_up", "M2", name="SD 54 Suivi de dossier")
    assert again["duplicate"] is True and again["state"] == "integrated"
    assert again["warning"] == back["warning"]  # the first outcome
    office(shop, Event.DOCUMENT_SENT)
    assert say(shop, "invoice_validated", "M3", name="SD 36")["state"] == "awaiting_payment"
    assert say(shop, "payment_advice", "M4", detail={"amount": "198.00"})["state"] == "done"
    late = say(shop, "invoice_rejected", "M5", name="SD 37 Rejet de la facture")
    assert (late["state"], late["changed"]) == ("done", False)
    assert late["warning"]["en"] == (
        "Message received on a done file, no effect: SD 37 Rejet de la facture"
    )
    history = log_of(shop)
    moves = [(e["event"], e["state_after"]) for e in history if e["state_after"]]
    assert moves == [
        ("opening_request", "waiting_for_order"),
        ("order", "not_integrated"),
        ("used_in_document", "integrated"),
        ("document_sent", "sent"),
        ("follow_up", "integrated"),
        ("document_sent", "sent"),
        ("invoice_validated", "awaiting_payment"),
        ("payment_advice", "done"),
        ("invoice_rejected", "done"),
    ]
    advice = next(e for e in history if e["event"] == "payment_advice")
    assert advice["detail"]["amount"] == "198.00" and advice["source"] == "party"


def test_a_cancellation_that_overtakes_its_order_ends_the_file_and_no_mission_is_made(shop):
    cancelled = say(shop, "order_cancelled", "C1", name="SD 25")
    assert cancelled["state"] == "done"
    late = send(shop, order_b())
    assert (late["outcome"], late["mission_id"], late["state"]) == ("not_created", None, "done")
    assert late["warning"]["fr"].startswith("Message reçu sur un dossier terminé")
    assert count(shop, missions_table) == 0
    assert count(shop, orders_table) == 1  # kept as received all the same


def test_a_cancelled_order_cancels_the_missions_no_tablet_valued(shop):
    send(shop, order_b(), driver="D1")
    send(shop, order_b(message_id="B-MSG-2", file_sequence=2), driver="D2")
    valued_on_tablet(shop, "ASSIST-B.B-2026-0101.2")
    done = say(shop, "provider_changed", "P1", name="SD 32 Changement de réparateur")
    assert done["missions_cancelled"] == [MISSION]
    assert done["missions_kept"] == ["ASSIST-B.B-2026-0101.2"]
    with shop.connect() as conn:
        status = dict(conn.execute(sa.select(missions_table.c.id, missions_table.c.status)).all())
        reason = conn.execute(
            sa.select(missions_table.c.cancel_reason).where(missions_table.c.id == MISSION)
        ).scalar_one()
    assert status == {MISSION: "cancelled", "ASSIST-B.B-2026-0101.2": "assigned"}
    assert (
        reason
        == "Changement de prestataire par le donneur d'ordre (SD 32 Changement de réparateur)"
    )
    assert say(shop, "provider_changed", "P1")["duplicate"] is True


MESSAGE_EVENTS = [Event(kind) for kind in messages.MESSAGE_KINDS]
_FILES = itertools.count(1)  # one file per example: the database outlives them


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(MESSAGE_EVENTS), st.integers(min_value=0, max_value=6)),
        min_size=1,
        max_size=8,
    ),
)
def test_any_stream_of_messages_ends_where_the_table_says_duplicates_changing_nothing(shop, stream):
    """Messages in any order, some sent again with the same id: the file ends in the
    state the table gives for the distinct messages in the order they first came."""
    file_number = f"H-{next(_FILES)}"
    first_seen: dict[int, Event] = {}
    for event, number in stream:
        say(shop, event.value, f"{file_number}-{number}", file_number)
        first_seen.setdefault(number, event)
    with shop.connect() as conn:
        state = party_files.state_of(conn, "acme", "ASSIST-B", file_number)
    assert state is lifecycle.replay(first_seen.values())
    assert len(log_of(shop, file_number)) == len(first_seen)


# --- replay, hand fixes, rules from fixes ---------------------------------------------------


def _three_files(eng):
    """Three orders cleaned with no rules yet: one open file, one done (paid), one open
    whose mission a tablet already valued."""
    for n, message in ((1, "R1"), (2, "R2"), (3, "R3")):
        send(eng, order_b(message_id=message, file_number=f"B-2026-030{n}"))
    say(eng, "payment_advice", "PAY-2", "B-2026-0302")
    valued_on_tablet(eng, "ASSIST-B.B-2026-0303.1")


def test_replay_fixes_open_missions_no_tablet_valued_and_leaves_done_files_alone(shop):
    _three_files(shop)
    assert document_of(shop, "ASSIST-B.B-2026-0301.1")["services"] == [{"code": "REMORQ"}]
    publish(shop)
    with shop.begin() as conn:
        preview = replay.replay(conn, "acme", "ASSIST-B", actor="u1", now=NOW, dry_run=True)
    assert [(f["file_number"], f["outcome"]) for f in preview["files"]] == [
        ("B-2026-0301", "would_update"),
        ("B-2026-0303", "held"),
    ]
    assert document_of(shop, "ASSIST-B.B-2026-0301.1")["services"] == [{"code": "REMORQ"}]
    before_done = log_of(shop, "B-2026-0302")
    with shop.begin() as conn:
        done = replay.replay(conn, "acme", "ASSIST-B", actor="u1", now=NOW)
    assert done["counts"] == {"updated": 1, "held": 1}
    fixed = document_of(shop, "ASSIST-B.B-2026-0301.1")
    assert fixed["services"] == [{"code": "TOW"}] and fixed["vehicle"]["class"] == "VL"
    assert document_of(shop, "ASSIST-B.B-2026-0302.1")["services"] == [{"code": "REMORQ"}]
    assert log_of(shop, "B-2026-0302") == before_done
    held = document_of(shop, "ASSIST-B.B-2026-0303.1")
    assert held["services"] == [{"code": "REMORQ"}]
    assert done["files"][1]["reason"] == "valued_by_tablet"
    logged = log_of(shop, "B-2026-0301")
    corrections = [e["detail"] for e in logged if e["event"] == "cleaning_correction"]
    assert {(c["rule"], c["version"], c["cause"]) for c in corrections} == {
        ("codes-maison", 1, "replay"),
        ("classe-par-poids", 1, "replay"),
        ("km-charges-zero", 1, "replay"),
    }
    assert logged[-1]["event"] == "mission_updated"
    with shop.begin() as conn:
        twice = replay.replay(conn, "acme", "ASSIST-B", actor="u1", now=NOW)
    assert twice["files"] == []  # nothing new: the same version is not applied again


def test_replay_never_overwrites_a_mission_the_office_corrected_by_hand(shop):
    send(shop, order_b())
    fixed = copy.deepcopy(document_of(shop, MISSION))
    fixed["vehicle"]["class"] = "VLP"
    with shop.begin() as conn:
        hand_fix.correct_mission(conn, "acme", MISSION, fixed, "Fourgon", actor="u1", now=NOW)
    publish(shop)
    with shop.begin() as conn:
        done = replay.replay(conn, "acme", "ASSIST-B", actor="u1", now=NOW)
    assert [(f["outcome"], f["reason"]) for f in done["files"]] == [("held", "corrected_by_hand")]
    assert document_of(shop, MISSION)["vehicle"]["class"] == "VLP"


def test_a_hand_fix_is_refused_once_a_tablet_valued_the_mission(shop):
    send(shop, order_b())
    valued_on_tablet(shop, MISSION)
    document = document_of(shop, MISSION)
    with pytest.raises(Conflict) as refused, shop.begin() as conn:
        hand_fix.correct_mission(conn, "acme", MISSION, document, "x", actor="u1", now=NOW)
    assert refused.value.code == "mission_already_valued"


def test_a_rule_made_from_a_hand_fix_once_published_fixes_the_next_order(shop):
    publish(shop, {**RULES, "rules": RULES["rules"][1:]})  # v1 knows nothing of REMORQ
    send(shop, order_b())
    assert document_of(shop, MISSION)["services"] == [{"code": "REMORQ"}]
    fixed = copy.deepcopy(document_of(shop, MISSION))
    fixed["services"] = [{"code": "TOW"}]
    with shop.begin() as conn:
        done = hand_fix.correct_mission(
            conn, "acme", MISSION, fixed, "Code maison REMORQ", actor="u1", now=NOW
        )
    assert done["changes"] == [{"path": "services.0.code", "before": "REMORQ", "after": "TOW"}]
    manual = log_of(shop)[-1]
    assert (manual["event"], manual["source"], manual["actor"]) == ("manual_clean", "office", "u1")
    with shop.connect() as conn:
        proposal = hand_fix.rule_from_fix(conn, "acme", MISSION, rule_id="remorq")
    assert proposal["based_on_version"] == 1 and proposal["draft"]["version"] == 2
    assert proposal["rule"]["then"] == [
        {"map": {"path": "services.*.code", "table": {"REMORQ": "TOW"}}}
    ]
    assert [r["id"] for r in proposal["draft"]["rules"]] == [
        "classe-par-poids",
        "km-charges-zero",
        "remorq",
    ]
    assert publish(shop, proposal["draft"])["version"] == 2
    nxt = send(shop, order_b(message_id="B-MSG-9", file_number="B-2026-0999"))
    assert document_of(shop, nxt["mission_id"])["services"] == [{"code": "TOW"}]
    assert ("remorq", 2) in {(c["rule"], c["version"]) for c in nxt["corrections"]}
    with shop.connect() as conn, pytest.raises(Refused):
        hand_fix.rule_from_fix(conn, "acme", nxt["mission_id"])  # nothing fixed by hand there


def test_a_bug_report_holds_the_order_its_cleaning_the_contract_version_and_the_log(shop):
    publish(shop)
    send(shop, order_b(), text=ORDER_TEXT)
    valued_on_tablet(shop, MISSION)
    with shop.connect() as conn:
        report = bug_report.bug_report(conn, "acme", MISSION, now=NOW)
    assert report["order"]["received"] == ORDER_TEXT
    assert report["order"]["cleaned"]["services"] == [{"code": "TOW"}]
    assert report["order"]["ruleset"]["version"] == 1
    assert len(report["order"]["corrections"]) == 3
    assert report["mission"]["document"]["vehicle"]["class"] == "VL"
    assert report["valuations"][0]["source"] == "device"
    assert report["contract"]["id"] == "ASSIST-B" and report["contract"]["version"] == 1
    assert report["homes"]["configuration_error"]["contract"]["version"] == 1
    assert report["homes"]["one_off_order_error"]["endpoint"].endswith("/manual-clean")
    assert report["file_log"][0]["event"] == "order"
    json.dumps(report)  # a plain JSON bundle
    with shop.connect() as conn, pytest.raises(NotFound):
        bug_report.bug_report(conn, "other", MISSION, now=NOW)


# --- imports ---------------------------------------------------------------------------------


def test_a_csv_import_takes_the_valid_lines_and_names_the_refused_ones(shop):
    publish(shop)
    text = (ORDERS / "orders.csv").read_text("utf-8")
    lines = text.splitlines()
    broken = lines[2].replace("2026-03-11T09:05:00+01:00", "")  # line 3: no call time
    csv_text = "\n".join([lines[0], lines[1], broken, lines[3]]) + "\n"
    with shop.begin() as conn:
        report = order_import.import_orders(
            conn, "acme", "ASSIST-B", order_import.orders_from_csv(csv_text), actor="u1", now=NOW
        )
    assert (report["taken"], report["refused"], report["refused_lines"]) == (2, 1, [3])
    refused = report["lines"][1]
    assert refused["line"] == 3 and refused["problems"][0]["path"] == "times"
    assert "ligne(s) 3" in report["message"] and "enregistrées" in report["message"]
    assert count(shop, missions_table) == 2 and count(shop, orders_table) == 2
    first = document_of(shop, "ASSIST-B.B-2026-0201.1")
    assert first["services"] == [{"code": "TOW"}] and first["vehicle"]["class"] == "VL"
    with shop.begin() as conn:
        again = order_import.import_orders(
            conn,
            "acme",
            "ASSIST-B",
            order_import.orders_from_csv(text),
            actor="u1",
            now=NOW,
            lang="en",
        )
    assert (again["taken"], again["duplicates"]) == (1, 2)
    assert again["message"] == "1 order(s) taken, 2 already received (no effect)."


def test_a_csv_file_with_an_unknown_column_is_refused_whole(shop):
    with pytest.raises(InvalidDocument) as refused:
        order_import.orders_from_csv("message_id;file_number;colour\nM1;F1;red\n")
    assert [p.path for p in refused.value.problems] == ["1.colour"]


def test_the_example_orders_are_taken_as_they_are(shop):
    publish(shop)
    a = json.loads((ORDERS / "assist-a-order.json").read_text("utf-8"))
    assert send(shop, a, party="ASSIST-A")["outcome"] == "created"
    with shop.begin() as conn:
        batch = order_import.orders_from_json(
            [order_b(), order_b(message_id="X2", file_number="X2")]
        )
        report = order_import.import_orders(conn, "acme", "ASSIST-B", batch, actor="u1", now=NOW)
    assert (report["taken"], report["refused"]) == (2, 0)
    with shop.connect() as conn:
        assert party_files.state_of(conn, "acme", "ASSIST-A", "A-2026-0101") is State.NOT_INTEGRATED
        assert party_files.state_of(conn, "other", "ASSIST-B", FILE) is None  # tenants apart


# --- the command line ------------------------------------------------------------------------


def test_the_command_line_makes_keys_publishes_imports_and_shows_files(tmp_path):
    """On a SQLite file: the commands open their own engine from a URL."""
    from click.testing import CliRunner

    from server.cli import orders as cli_orders
    from server.platform.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'towline.db'}"
    eng = make_engine(url)
    upgrade(eng)
    seed(eng)
    with eng.begin() as conn:
        parties.create_party(conn, "acme", "ASSIST-B", "Assistance B", actor="t", now=NOW)

    def run(group, *args):
        return CliRunner().invoke(group, [*args, "--database", url, "--lang", "en"])

    made = run(
        cli_orders.keys_group, "create", "acme", "ASSIST-B", "--label", "IMA", "--by", "admin"
    )
    assert made.exit_code == 0, made.output
    key_id = made.output.split()[1]
    assert key_id.startswith("pk_") and f"{key_id}." in made.output
    assert (
        run(
            cli_orders.keys_group, "create", "acme", "ASSIST-B", "--label", "x", "--by", "nobody"
        ).exit_code
        == 3
    )
    listed = run(cli_orders.keys_group, "list", "acme", "--json")
    assert [k["id"] for k in json.loads(listed.output)] == [key_id]
    assert run(cli_orders.keys_group, "revoke", "acme", key_id).exit_code == 0
    assert run(cli_orders.keys_group, "revoke", "acme", key_id).exit_code == 3

    rules = str(ORDERS / "cleaning-assist-b.json")
    published = run(cli_orders.cleaning_group, "publish", "acme", "ASSIST-B", rules)
    assert published.exit_code == 0 and "v1 published (3 rule(s))" in published.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"id": "x"}]}')
    refused = run(cli_orders.cleaning_group, "publish", "acme", "ASSIST-B", str(bad))
    assert refused.exit_code == 2 and "rules.0.then" in refused.output

    lines = (ORDERS / "orders.csv").read_text("utf-8").splitlines()
    broken = tmp_path / "orders.csv"
    broken.write_text(
        "\n".join([lines[0], lines[1], lines[2].replace("EF-456-GH;VL;", "EF-456-GH;;")])
    )
    imported = run(
        cli_orders.orders_group, "import", "acme", "ASSIST-B", str(broken), "--by", "admin"
    )
    assert imported.exit_code == 2  # a line refused: the other one was taken all the same
    assert "1 order(s) taken, 1 refused (line(s) 3)" in imported.output
    assert run(cli_orders.orders_group, "import", "nowhere", "ASSIST-B", str(broken)).exit_code == 3

    replayed = run(cli_orders.cleaning_group, "replay", "acme", "ASSIST-B", "--json")
    assert replayed.exit_code == 0 and json.loads(replayed.output)["files"] == []
    listed_files = run(cli_orders.files_group, "list", "acme", "--json")
    assert [f["file_number"] for f in json.loads(listed_files.output)] == ["B-2026-0201"]
    shown = run(cli_orders.files_group, "show", "acme", "ASSIST-B", "B-2026-0201")
    assert shown.exit_code == 0 and "Not integrated" in shown.output
    assert "cleaning_correction" in shown.output
    assert run(cli_orders.files_group, "show", "acme", "ASSIST-B", "NOPE").exit_code == 3
    eng.dispose()
