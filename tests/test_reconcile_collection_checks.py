"""What reconciliation must not miss (issue 16), end to end on SQLite and PostgreSQL: a
collection by a method the contract does not allow (a tablet whose copy of the contract
was altered) and money left owed by a mission ended gone on arrival or cancelled are
anomalies of their own, raised at the push and by `reconcile` alike, once, listed on the
desk with their sentence, and resolved with the actions that fit."""

from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

import fieldclient.tablet as field_tablet
from server.office import reconcile
from server.platform.tables import anomalies
from shared.payment_terms import Method
from shared.payments import collection_payload
from tests.desk_support import sign_in
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal


def rows_of(w: World, kind: str) -> list[sa.Row]:
    with w.engine.connect() as conn:
        return conn.execute(
            sa.select(anomalies).where(anomalies.c.kind == kind).order_by(anomalies.c.id)
        ).all()


def api_ref(w: World, kind: str) -> int:
    """The anomaly's id as the API gives it (a ref, not the row id)."""
    [row] = w.office.get(f"/api/v1/anomalies?kind={kind}", headers=w.as_user("gerant")).get_json()
    return int(row["id"])


def reconcile_all(w: World) -> reconcile.Summary:
    with w.engine.begin() as conn:
        return reconcile.reconcile_tenant(conn, "demo", now=START)


def desk_list(w: World) -> str:
    clerk = w.app.test_client()
    sign_in(clerk, "gerant")
    page = clerk.get("/desk/anomalies")
    assert page.status_code == 200
    return html.unescape(page.get_data(as_text=True)).replace("\u00a0", " ")


def altered_contract_copy(monkeypatch) -> None:
    """The tablet's copy of the contract says it takes every method (an altered file)."""

    def any_method(*args, **kwargs):
        return collection_payload(*args, **{**kwargs, "contract_methods": list(Method)})

    monkeypatch.setattr(field_tablet, "collection_payload", any_method)


def test_a_collection_by_a_method_the_contract_refuses_is_its_own_anomaly(
    world,  # noqa: F811
    tmp_path: Path,
    monkeypatch,
):
    w = world
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    altered_contract_copy(monkeypatch)
    # ASSIST-A takes cash, card, cheque and payment links: not transfers.
    paid = karim.collect("M-A-0004", "transfer", "96.00", {"reference": "VIR-77"})
    w.sync(karim)

    [alert] = rows_of(w, "collection_method_invalid")
    assert (alert.subject, alert.amount_cents, alert.mission_id, alert.driver_id) == (
        f"{karim.device_id}:{paid.seq}",
        9600,
        "M-A-0004",
        "d1",
    )
    assert alert.detail["method"] == "transfer"
    assert alert.detail["accepted"] == ["card", "cash", "cheque", "payment_link"]
    assert [p["code"] for p in alert.detail["problems"]] == ["method_not_allowed"]
    assert "la convention n'accepte pas le règlement par virement" in alert.detail["fr"]
    assert "Collection of €96.00 by bank transfer" in alert.detail["en"]
    # Nothing else is wrong with the money: due 96.00, 96.00 collected.
    assert rows_of(w, "over_collection") == rows_of(w, "under_collection") == []

    summary = reconcile_all(w)  # the whole tenant again: the same one, not another
    assert summary.by_kind.get("collection_method_invalid") == 1
    assert summary.opened == 0
    assert len(rows_of(w, "collection_method_invalid")) == 1
    assert "hors de la convention ASSIST-A v1" in desk_list(w)

    # The office voids it; the anomaly is resolved, and stays so.
    done = w.office.post(
        f"/api/v1/anomalies/{api_ref(w, alert.kind)}/resolve",
        json={"action": "void", "reason": "Virement non prévu par la convention"},
        headers=w.as_user("gerant"),
    )
    assert done.status_code == 200, done.get_json()
    assert len(done.get_json()["decisions"]) == 1
    # No invoice bills the customer yet: the void gives them a refund receipt.
    assert done.get_json()["documents"] == [
        {"kind": "refund_receipt", "number": "RR2026-000001", "amount": "96.00"}
    ]
    reconcile_all(w)
    assert [r.status for r in rows_of(w, "collection_method_invalid")] == ["resolved"]


def test_a_collection_the_contract_allows_raises_nothing(world, tmp_path: Path):  # noqa: F811
    w = world
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    karim.collect("M-A-0004", "card", "96.00", {"terminal_ref": "AUT-9"})
    w.sync(karim)
    reconcile_all(w)
    assert rows_of(w, "collection_method_invalid") == []


def test_money_left_owed_when_nobody_was_there_is_an_anomaly(world, tmp_path: Path):  # noqa: F811
    w = world
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    for step in ("en_route", "on_site", "gone_on_arrival"):
        karim.step("M-A-0004", step)
    w.sync(karim)

    [alert] = rows_of(w, "owed_at_end")
    with w.engine.connect() as conn:
        due = reconcile.mission_due_cents(conn, "demo", "M-A-0004")
    assert due == 9600
    assert (alert.subject, alert.amount_cents, alert.status) == ("M-A-0004", 9600, "open")
    assert alert.detail["step"]["device_id"] == karim.device_id
    assert (
        alert.detail["fr"]
        .replace("\u00a0", " ")
        .startswith("Mission terminée « personne sur place à l'arrivée » avec 96,00 € encore dû")
    )
    assert "La tablette notait 96,00\u00a0€ restant à l'étape." in alert.detail["fr"]

    summary = reconcile_all(w)
    assert (summary.by_kind.get("owed_at_end"), summary.opened) == (1, 0)
    assert len(rows_of(w, "owed_at_end")) == 1
    assert "Mission terminée « personne sur place à l'arrivée »" in desk_list(w)

    # The office bills it later: a deferral for the tablet, the anomaly resolved.
    done = w.office.post(
        f"/api/v1/anomalies/{api_ref(w, alert.kind)}/resolve",
        json={"action": "approve", "reason": "Déplacement facturé", "as_kind": "deferral"},
        headers=w.as_user("gerant"),
    )
    assert done.status_code == 200, done.get_json()
    assert len(done.get_json()["decisions"]) == 1
    assert [r.status for r in rows_of(w, "owed_at_end")] == ["resolved"]


def test_a_mission_cancelled_with_nothing_owed_raises_nothing(world, tmp_path: Path):  # noqa: F811
    w = world
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    karim.collect("M-A-0004", "card", "96.00", {"terminal_ref": "AUT-9"})
    karim.step("M-A-0004", "cancelled")
    w.sync(karim)
    reconcile_all(w)
    assert rows_of(w, "owed_at_end") == []


def test_the_rule_names_a_method_the_contract_refuses_and_a_card_without_its_reference():
    from server.office.reconcile_methods import problems

    allowed = {"card", "cash"}
    assert problems({"method": "card", "terminal_ref": "AUT-1"}, allowed) == []
    assert problems({"method": "cheque"}, None) == []  # the contract is not known: no verdict
    [refused] = problems({"method": "cheque"}, allowed)
    assert refused["code"] == "method_not_allowed"
    assert refused["fr"].endswith("(modes acceptés : espèces, carte bancaire)")
    for ref in (None, "", "  ", "---"):
        [missing] = problems({"method": "card", "terminal_ref": ref}, allowed)
        assert (missing["code"], missing["field"]) == ("evidence_missing", "terminal_ref")
    [unknown] = problems({"method": "bitcoin"}, allowed)
    assert unknown["code"] == "method_unknown"
