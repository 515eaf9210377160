"""What a push does beyond storing entries, on SQLite and PostgreSQL: the server keeps the
tablet's valuation and its own, and questions, without refusing, money taken in the field."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest
import sqlalchemy as sa

from server.platform.tables import contracts, missions, valuations
from shared.canonical import digest
from shared.contract_schema import load_contract
from shared.journal import EntryType
from shared.mission import load_mission
from shared.valuation import value
from sync.protocol import PushStatus
from tests.conftest import example
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import NOW, TENANT, Tablet, add_tenant, anomalies_of, enrol, send

PRIVATE = example("contracts", "private")
ROADSIDE = example("missions", "private-tow")  # M-P-0001: a private tow, 150.00 + VAT


def publish(eng, document):
    with eng.begin() as conn:
        conn.execute(
            sa.insert(contracts).values(
                tenant_id=TENANT,
                id=document["id"],
                version=document["version"],
                document=json.dumps(document),
                digest=digest(document),
                valid_from=date.fromisoformat(document["valid_from"]),
                valid_until=None,
                published_at=NOW,
                published_by="manager",
            )
        )


def office_mission(eng, document, status="assigned"):
    with eng.begin() as conn:
        conn.execute(
            sa.insert(missions).values(
                tenant_id=TENANT,
                id=document["id"],
                file_number=document.get("file_number"),
                ordering_party_id=document.get("ordering_party"),
                driver_id="d1",
                document=json.dumps(document),
                status=status,
                source="office",
                created_at=NOW,
                created_by="clerk",
            )
        )


def valuation_payload(contract_doc, mission_doc, *, carry_mission=True):
    """What the tablet records: its own valuation, and the mission as done on the road."""
    valued = value(load_mission(mission_doc), load_contract(contract_doc)).to_wire()
    payload = {"mission_id": mission_doc["id"], "valuation": valued}
    if carry_mission:
        payload["mission"] = mission_doc
    return payload


def rows(eng, table, **where):
    query = sa.select(table)
    for name, wanted in where.items():
        query = query.where(table.c[name] == wanted)
    with eng.connect() as conn:
        return list(conn.execute(query).all())


@pytest.fixture
def tablet(engine):  # noqa: F811
    add_tenant(engine)
    publish(engine, PRIVATE)
    t = Tablet("dev-1")
    enrol(engine, t)
    return t


def test_a_private_customer_met_on_the_road_becomes_a_device_mission_valued_twice_alike(
    engine,  # noqa: F811
    tablet,
):
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(PRIVATE, ROADSIDE))
    assert send(engine, tablet, tablet.wire()).status is PushStatus.OK
    [mission] = rows(engine, missions, id="M-P-0001")
    assert (mission.source, mission.created_by, mission.driver_id) == ("device", "dev-1", "d1")
    assert (mission.file_number, mission.status) == ("P-2026-0001", "assigned")
    kept = {r.source: r for r in rows(engine, valuations, mission_id="M-P-0001")}
    assert set(kept) == {"device", "server"}
    assert kept["device"].digest == kept["server"].digest
    assert kept["device"].beneficiary_due_cents == kept["server"].beneficiary_due_cents == 18000
    assert (kept["server"].device_id, kept["server"].entry_seq) == ("dev-1", 1)
    assert anomalies_of(engine) == []


def test_a_valuation_made_with_an_outdated_contract_is_a_mismatch_naming_the_lines(
    engine,  # noqa: F811
    tablet,
):
    newer = copy.deepcopy(PRIVATE)
    newer.update(version=2, valid_from="2026-03-01")
    newer["price_lists"]["public"]["TOW.VL"] = "160.00"
    publish(engine, newer)
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(PRIVATE, ROADSIDE))
    assert send(engine, tablet, tablet.wire()).status is PushStatus.OK  # a fact: stored
    [mismatch] = anomalies_of(engine, "valuation_mismatch")
    assert mismatch.mission_id == "M-P-0001"
    assert mismatch.amount_cents == 18000 - 19200  # the tablet asked 12.00 less
    assert mismatch.detail["contract"]["device"]["version"] == 1
    assert mismatch.detail["contract"]["server"]["version"] == 2
    [line] = mismatch.detail["lines"]
    assert (line["device"]["amount"], line["server"]["amount"]) == ("150.00", "160.00")
    assert mismatch.detail["entry"] == {"device_id": "dev-1", "seq": 1, "hash": tablet.head.hash}


def test_the_office_decides_who_pays_whatever_the_tablet_recorded(engine, tablet):  # noqa: F811
    office_mission(engine, ROADSIDE)
    claimed = {**ROADSIDE, "customer": "GARAGE-DUPONT"}  # contracted prices, 10 % off the tow
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(PRIVATE, claimed))
    send(engine, tablet, tablet.wire())
    [mismatch] = anomalies_of(engine, "valuation_mismatch")
    [line] = mismatch.detail["lines"]
    assert (line["device"]["amount"], line["server"]["amount"]) == ("117.00", "150.00")


def test_a_valuation_of_an_unknown_mission_without_its_document_is_kept_and_flagged(
    engine,  # noqa: F811
    tablet,
):
    payload = valuation_payload(PRIVATE, ROADSIDE, carry_mission=False)
    tablet.write(type=EntryType.VALUATION_RECORDED, **payload)
    assert send(engine, tablet, tablet.wire()).status is PushStatus.OK
    assert [r.source for r in rows(engine, valuations)] == ["device"]
    [flag] = anomalies_of(engine, "valuation_not_recomputed")
    assert "unknown mission" in flag.detail["reason"]
    assert rows(engine, missions) == []


def test_a_valuation_under_a_contract_the_server_does_not_hold_is_kept_and_flagged(
    engine,  # noqa: F811
    tablet,
):
    unknown = {**PRIVATE, "id": "PRIVATE-2027"}
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(unknown, ROADSIDE))
    send(engine, tablet, tablet.wire())
    [flag] = anomalies_of(engine, "valuation_not_recomputed")
    assert "PRIVATE-2027" in flag.detail["en"]


def test_a_collection_on_a_mission_the_office_cancelled_is_stored_and_raised(engine, tablet):  # noqa: F811
    office_mission(engine, ROADSIDE, status="cancelled")
    tablet.write(type=EntryType.COLLECTION, mission_id="M-P-0001", method="cash", amount="180.00")
    result = send(engine, tablet, tablet.wire())
    assert (result.status, result.stored) == (PushStatus.OK, 1)
    [raised] = anomalies_of(engine, "collection_on_cancelled_mission")
    assert (raised.mission_id, raised.amount_cents, raised.driver_id) == ("M-P-0001", 18000, "d1")


def test_a_collection_on_a_mission_unknown_to_the_office_is_stored_and_raised(engine, tablet):  # noqa: F811
    tablet.write(type=EntryType.COLLECTION, mission_id="M-GHOST", method="cash", amount="50.00")
    assert send(engine, tablet, tablet.wire()).stored == 1
    [raised] = anomalies_of(engine, "collection_unknown_mission")
    assert (raised.mission_id, raised.amount_cents) == ("M-GHOST", 5000)


def test_a_collection_on_a_mission_created_earlier_in_the_same_batch_is_normal(engine, tablet):  # noqa: F811
    tablet.write(type=EntryType.VALUATION_RECORDED, **valuation_payload(PRIVATE, ROADSIDE))
    tablet.write(type=EntryType.COLLECTION, mission_id="M-P-0001", method="cash", amount="180.00")
    assert send(engine, tablet, tablet.wire()).stored == 2
    assert anomalies_of(engine) == []
