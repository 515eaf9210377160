"""A simulated day for the demo tenant: three drivers on three tablets, clean missions
mixed with every kind of anomaly the office must catch (some entries are written the way
a buggy or tampered tablet would, bypassing its own rules). The server finds every
anomaly and none on the clean missions; each is resolved in one action; after the next
sync the tablets' registers and the server's agree. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fieldclient import store
from fieldclient.tablet import REGISTER_TYPES, Tablet
from server.office import issued_documents
from server.platform.tables import anomalies, journal_entries
from shared.payment_terms import Method
from shared.register import Opened, Register, Reversed, Status, apply
from shared.register import event_from_entry as register_event
from tests.anomaly_refs import anomaly_ref
from tests.conftest import example
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal


def mission_doc(template: str, mission_id: str, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example("missions", template))
    doc.update({"id": mission_id, "file_number": f"F-{mission_id}", **changes})
    return doc


def create_missions(w: World, driver: str, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        made = w.office.post(
            "/api/v1/missions",
            json={"document": doc, "driver_id": driver},
            headers=w.as_user("bureau"),
        )
        assert made.status_code == 201, made.get_json()


def forged(t: Tablet, type_: str, payload: dict[str, Any]) -> None:
    """An entry a buggy or tampered tablet records, bypassing the tablet's own rules."""
    with store.write(t.db):
        t.ledger().append(type_, payload, driver_id=t.signed_in().id, at=t._at())


def value_first(t: Tablet, mission: str) -> Decimal:
    """Record the mission's valuation the normal way; returns what is due."""
    t.step(mission, "en_route")
    return t.view(mission).money.remaining


def open_anomalies(w: World) -> list[Any]:
    with w.engine.connect() as conn:
        return conn.execute(
            sa.select(anomalies).where(anomalies.c.status == "open").order_by(anomalies.c.id)
        ).all()


def by_kind(rows: list[Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r.kind, set()).add(r.mission_id or r.subject or "")
    return found


def server_register(w: World, driver: str) -> Register:
    """The driver's register as the server folds it from the entries it received (a
    reversal that arrives while the register is closed goes to the next session, as on
    the tablet)."""
    with w.engine.connect() as conn:
        bodies = conn.execute(
            sa.select(journal_entries.c.body)
            .where(
                journal_entries.c.driver_id == driver,
                journal_entries.c.type.in_(REGISTER_TYPES),
                ~journal_entries.c.device_id.startswith("server:"),
            )
            .order_by(journal_entries.c.device_id, journal_entries.c.seq)
        ).scalars()
        entries = [json.loads(b) for b in bodies]
    current, waiting = Register(), []
    for entry in entries:
        event = register_event(entry["type"], entry["payload"])
        if isinstance(event, Reversed) and current.status is not Status.OPEN:
            waiting.append(event)
            continue
        current = apply(current, event)
        if isinstance(event, Opened):
            for reversal in waiting:
                current = apply(current, reversal)
            waiting = []
    return current


def resolve(
    w: World, anomaly_id: int, action: str, reason: str, who: str = "admin", **extra: Any
) -> dict:
    answer = w.office.post(
        f"/api/v1/anomalies/{anomaly_ref(w.office.application, anomaly_id)}/resolve",
        json={"action": action, "reason": reason, **extra},
        headers=w.as_user(who),
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_day_of_three_drivers_every_anomaly_found_and_resolved(world, tmp_path: Path):  # noqa: F811
    w = world
    create_missions(
        w,
        "d1",
        [
            mission_doc("a-tuesday-winching-breakdown", "CLEAN-1"),
            mission_doc("a-tuesday-30km", "FICT-1"),
            mission_doc("a-tuesday-winching-breakdown", "OVER-1"),
        ],
    )
    create_missions(
        w,
        "d2",
        [
            mission_doc("a-tuesday-winching-breakdown", "GATE-1"),
            mission_doc("a-tuesday-winching-breakdown", "DISC-1"),
            mission_doc("a-tuesday-winching-breakdown", "REUSE-1"),
            mission_doc("a-tuesday-winching-breakdown", "REUSE-2"),
            mission_doc("b-tuesday-80km", "CAP-1", file_number="F-CAP"),
            mission_doc("b-tuesday-80km", "CAP-2", file_number="F-CAP"),
        ],
    )
    create_missions(
        w,
        "d3",
        [
            mission_doc("b-tuesday-80km", "CAP-3", file_number="F-CAP"),
            mission_doc("b-tuesday-80km", "CAP-4", file_number="F-CAP"),
            mission_doc("a-tuesday-winching-breakdown", "CARD-1"),
            mission_doc("a-tuesday-winching-breakdown", "CARD-OK"),
            mission_doc("a-tuesday-30km", "DISP-1"),
            mission_doc("a-tuesday-winching-breakdown", "UNDER-1"),
        ],
    )
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    julie = w.tablet(tmp_path / "julie", "d2", "2222")
    marc = w.tablet(tmp_path / "marc", "d3", "3333")
    for t in (karim, julie, marc):
        w.sync(t)
        t.register_open(D("50.00"))

    def finish(t: Tablet, mission: str) -> None:
        for step in ("on_site", "departed", "delivered", "closed"):
            t.step(mission, step)

    # --- Karim (d1) ---------------------------------------------------------------------------
    value_first(karim, "CLEAN-1")
    karim.collect("CLEAN-1", "cash", "96.00", {"tendered": "100.00"})
    finish(karim, "CLEAN-1")
    value_first(karim, "FICT-1")  # nothing due: the tablet refuses to collect; a bad one doesn't
    forged(
        karim,
        "collection",
        {
            "mission_id": "FICT-1",
            "method": "cash",
            "amount": "40.00",
            "tendered": "40.00",
            "change": "0.00",
        },
    )
    value_first(karim, "OVER-1")
    karim.collect("OVER-1", "cash", "96.00", {"tendered": "96.00"})
    forged(
        karim,
        "collection",
        {"mission_id": "OVER-1", "method": "card", "amount": "4.00", "terminal_ref": "AUT-OVER"},
    )
    finish(karim, "OVER-1")
    karim.register_close(D("225.00"))  # expected 50 + 96 + 40 + 96 = 282: 57.00 missing

    # --- Julie (d2) ---------------------------------------------------------------------------
    value_first(julie, "GATE-1")
    julie.step("GATE-1", "on_site")
    forged(
        julie,
        "mission_step",
        {"mission_id": "GATE-1", "from": "on_site", "to": "departed", "remaining": "96.00"},
    )
    value_first(julie, "DISC-1")
    julie.collect("DISC-1", "card", "76.00", {"terminal_ref": "AUT-D1"})
    forged(
        julie,
        "discount",
        {"mission_id": "DISC-1", "amount": "20.00", "approval_ref": "1:0000000000"},
    )
    finish(julie, "DISC-1")
    value_first(julie, "REUSE-1")
    code = w.approval(julie, "REUSE-1", "discount", "20.00")
    julie.discount("REUSE-1", "20.00", code)
    julie.collect("REUSE-1", "card", "76.00", {"terminal_ref": "AUT-R1"})
    finish(julie, "REUSE-1")
    used = next(
        r
        for r in julie.ledger().rows()
        if r.type == "discount" and r.payload["mission_id"] == "REUSE-1"
    ).payload["approval_ref"]
    value_first(julie, "REUSE-2")
    forged(julie, "discount", {"mission_id": "REUSE-2", "amount": "20.00", "approval_ref": used})
    julie.collect("REUSE-2", "card", "76.00", {"terminal_ref": "AUT-R2"})
    finish(julie, "REUSE-2")
    for mission in ("CAP-1", "CAP-2"):  # one file, valued on this tablet in turn
        due = value_first(julie, mission)
        julie.collect(mission, "card", str(due), {"terminal_ref": f"AUT-{mission}"})
        finish(julie, mission)
    julie.register_close(D("50.00"))

    # --- Marc (d3), offline all day: the file's cap looks untouched from his tablet ---------
    for mission in ("CAP-3", "CAP-4"):
        due = value_first(marc, mission)
        marc.collect(mission, "card", str(due), {"terminal_ref": f"AUT-{mission}"})
        finish(marc, mission)
    value_first(marc, "CARD-1")
    marc.collect("CARD-1", "card", "96.00", {"terminal_ref": "AUT-NOWHERE"})
    finish(marc, "CARD-1")
    value_first(marc, "CARD-OK")
    marc.collect("CARD-OK", "card", "96.00", {"terminal_ref": "AUT-777"})
    finish(marc, "CARD-OK")
    value_first(marc, "DISP-1")
    marc.dispute("DISP-1", "Le client dit que le treuillage était compris")
    # A tablet whose valuation was tampered with: it asks 50.00 instead of 96.00.
    view = marc.view("UNDER-1")
    wire = view.valuation.to_wire()
    wire["payers"]["beneficiary"]["incl_vat"] = "50.00"
    wire["digest"] = "0" * 64
    forged(
        marc,
        "valuation_recorded",
        {"mission_id": "UNDER-1", "valuation": wire, "mission": marc.mission_document("UNDER-1")},
    )
    forged(
        marc,
        "collection",
        {
            "mission_id": "UNDER-1",
            "method": "cash",
            "amount": "50.00",
            "tendered": "50.00",
            "change": "0.00",
        },
    )
    for frm, to in (
        ("assigned", "en_route"),
        ("en_route", "on_site"),
        ("on_site", "departed"),
        ("departed", "delivered"),
    ):
        forged(
            marc,
            "mission_step",
            {"mission_id": "UNDER-1", "from": frm, "to": to, "remaining": "0.00"},
        )
    marc.register_close(D("100.00"))  # 50 + 50 cash: even

    # Everyone syncs (Julie before Marc: the server values the file's missions in that order).
    for t in (karim, julie, marc):
        w.sync(t)
    imported = w.office.post(
        "/api/v1/settlements",
        json={
            "file_name": "remises.csv",
            "content": "date;reference;amount\n"
            "2026-03-10;AUT-777;96.00\n2026-03-10;AUT-D1;76.00\n2026-03-10;AUT-R1;76.00\n"
            "2026-03-10;AUT-R2;76.00\n2026-03-10;AUT-OVER;4.00\n"
            + "".join(f"2026-03-10;AUT-CAP-{n};104.00\n" for n in (1, 2, 3, 4)),
        },
        headers=w.as_user("bureau"),
    )
    assert imported.status_code == 201, imported.get_json()

    found = by_kind(open_anomalies(w))
    assert found.get("fictitious_collection") == {"FICT-1"}
    assert found.get("over_collection") == {"OVER-1"}
    assert found.get("gate_bypassed") == {"GATE-1"}
    # REUSE-2 cites a code issued for REUSE-1: reused, and no approval for this mission.
    assert found.get("discount_without_approval") == {"DISC-1", "REUSE-2"}
    assert found.get("approval_reused") == {"REUSE-2"}
    assert found.get("file_cap_exceeded") == {"CAP-4"}
    assert found.get("card_unmatched") == {"CARD-1"}
    assert found.get("dispute_raised") == {"DISP-1"}
    assert found.get("under_collection") == {"UNDER-1"}
    assert "UNDER-1" in found.get("valuation_mismatch", set())
    assert len([r for r in open_anomalies(w) if r.kind == "register_variance"]) == 1
    clean = {"CLEAN-1", "CARD-OK", "REUSE-1", "CAP-1", "CAP-2"}
    assert not [r for r in open_anomalies(w) if r.mission_id in clean]
    variance = next(r for r in open_anomalies(w) if r.kind == "register_variance")
    assert variance.amount_cents == -5700 and variance.driver_id == "d1"

    # --- The office resolves each in one action ------------------------------------------------
    plan = {
        "fictitious_collection": ("void", {}),
        "over_collection": ("void", {}),
        "card_unmatched": ("void", {}),
        "gate_bypassed": ("approve", {"as_kind": "deferral"}),
        "under_collection": ("approve", {"as_kind": "deferral"}),
        "discount_without_approval": ("approve", {}),
        "approval_reused": ("refuse", {}),
        "file_cap_exceeded": ("invoice_overrun", {}),
        "dispute_raised": ("accept_dispute", {}),
        "register_variance": ("acknowledge", {}),
        "valuation_mismatch": ("acknowledge", {}),
    }
    # A resolution may reveal the next question (a voided card payment leaves the amount
    # owed: under-collection, billed later); two rounds settle everything.
    for _ in range(2):
        for row in open_anomalies(w):
            action, extra = plan[row.kind]
            done = resolve(w, row.id, action, f"Traité : {row.kind}", **extra)
            assert done["journal_seq"] >= 1
            if action == "invoice_overrun":  # invoiced at closing already: nothing new
                assert done["documents"] == []
    w.clock.advance(hours=12)  # the next morning: new register sessions, then sync
    w.tokens.clear()  # the office signs in again
    for t in (karim, julie, marc):
        t.register_open(D("50.00"))
        w.sync(t)

    # Nothing left open, and reconciling again finds nothing new.
    assert open_anomalies(w) == []
    asked = w.office.post("/api/v1/reconcile", headers=w.as_user("bureau"), json={})
    assert (asked.status_code, asked.get_json()["state"]) == (202, "pending")
    done = w.office.get("/api/v1/reconcile", headers=w.as_user("bureau")).get_json()
    assert (done["job"], done["state"]) == (asked.get_json()["job"], "done")  # a job, after
    assert open_anomalies(w) == []
    # The voids reached the tablets: the registers on the tablets and the server agree.
    for t, driver in ((karim, "d1"), (julie, "d2"), (marc, "d3")):
        mine = t.register(driver)
        theirs = server_register(w, driver)
        assert (mine.expected_cash, mine.net_by_method) == (
            theirs.expected_cash,
            theirs.net_by_method,
        ), driver
    # The fictitious cash (40.00) was taken back on Karim's tablet, in the new session.
    assert karim.register("d1").reversed_by(Method.CASH) == D("40.00")

    # The books balance: on every beneficiary invoice, total − credit notes − paid in the
    # field − discounts is exactly what was billed later; money taken on a mission with no
    # beneficiary invoice (nothing was due) was all taken back.
    with w.engine.connect() as conn:
        invoiced = set()
        for doc in issued_documents.list_documents(conn, "demo", kind="invoice", limit=1000):
            if doc["recipient_kind"] != "beneficiary":
                continue
            invoiced.add(doc["mission_id"])
            balance = issued_documents.beneficiary_balance(conn, "demo", doc["number"])
            assert D(balance["open"]) == D(balance["deferred"]), balance
            assert D(balance["overpaid"]) == 0, balance
        assert {"CLEAN-1", "CARD-OK", "CAP-4", "CARD-1", "OVER-1"} <= invoiced
        for mission in ("FICT-1",):
            assert issued_documents.field_money(conn, "demo", mission, D(0)).net_collected == 0
