"""Resolutions that change money after the fact, end to end: a driver disputes a price,
the office publishes the corrected contract and accepts the dispute in one action (the
mission is valued again, its invoices credited and issued anew), then refunds what the
customer paid beyond the new price by voiding the collection, which reaches the tablet."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

from server.office import issued_documents
from tests.conftest import example
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal


def open_of(w: World, kind: str) -> list[dict]:
    rows = w.office.get(
        f"/api/v1/anomalies?status=open&kind={kind}", headers=w.as_user("bureau")
    ).get_json()
    assert isinstance(rows, list), rows
    return rows


def test_an_accepted_dispute_revalues_credits_and_reinvoices(world, tmp_path: Path):  # noqa: F811
    w = world
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    karim.collect("M-A-0004", "card", "96.00", {"terminal_ref": "AUT-9"})
    for step in ("departed", "delivered", "closed"):
        karim.step("M-A-0004", step)
    karim.dispute("M-A-0004", "L'assistance couvre le treuillage selon le client")
    w.sync(karim)
    with w.engine.connect() as conn:
        first = issued_documents.list_documents(conn, "demo", mission_id="M-A-0004")
    assert [(d["kind"], d["recipient_kind"], d["total"]["incl_vat"]) for d in first] == [
        ("invoice", "ordering_party", "144.00"),
        ("invoice", "beneficiary", "96.00"),
    ]

    # The office agrees: version 2 of ASSIST-A covers winching; then it accepts the dispute.
    corrected = copy.deepcopy(example("contracts", "assist-a"))
    corrected["version"] = 2
    corrected["coverage"] = [c for c in corrected["coverage"] if c["code"] != "WIN"]
    published = w.office.post(
        "/api/v1/contracts", json={"document": corrected}, headers=w.as_user("admin")
    )
    assert published.status_code == 201, published.get_json()
    dispute = open_of(w, "dispute_raised")[0]
    done = w.office.post(
        f"/api/v1/anomalies/{dispute['id']}/resolve",
        json={"action": "accept_dispute", "reason": "Treuillage couvert (convention v2)"},
        headers=w.as_user("admin"),
    )
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["revalued"]["contract"]["version"] == 2
    assert body["revalued"]["beneficiary_due"] == "0.00"

    with w.engine.connect() as conn:
        after = issued_documents.list_documents(conn, "demo", mission_id="M-A-0004")
    kinds = [(d["kind"], d["recipient_kind"], d["total"]["incl_vat"], d["corrects"]) for d in after]
    invoices = sorted(k for k in kinds if k[0] == "invoice")
    assert invoices == [
        ("invoice", "beneficiary", "96.00", None),
        ("invoice", "ordering_party", "144.00", None),
        ("invoice", "ordering_party", "240.00", None),  # the new valuation: all covered
    ]
    credits = [k for k in kinds if k[0] == "credit_note"]
    assert sorted((c[3], c[2]) for c in credits) == sorted(
        (d["number"], d["total"]["incl_vat"]) for d in first
    )

    # The customer paid 96.00 that is no longer due: over-collection, refunded by a void.
    over = open_of(w, "fictitious_collection") + open_of(w, "over_collection")
    assert [(a["mission_id"], a["amount"]) for a in over] == [("M-A-0004", "96.00")]
    voided = w.office.post(
        f"/api/v1/anomalies/{over[0]['id']}/resolve",
        json={"action": "void", "reason": "Remboursé au client"},
        headers=w.as_user("admin"),
    )
    assert voided.status_code == 200, voided.get_json()
    report = w.sync(karim)
    assert report.decisions == 1
    assert [r.type for r in karim.ledger().rows()][-1] == "reversal"
