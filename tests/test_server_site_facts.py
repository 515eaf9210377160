"""The office re-derives the facts drivers found on site from the signed entries, on SQLite
and PostgreSQL: the tablet's day of site facts (tests.site_facts_support), stored as a
push stores it, valued again by the server with the same digests; a fact beyond the
tolerance without a code raises `site_fact_beyond_tolerance`, with a code the office
issued raises nothing; a class contradicting the weight raises its anomaly once.

The calls below are the ones the tablets' ingest makes (`server.devices.ingest`)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from server.devices import ingest as push_ingest
from server.office import approvals, site_facts
from server.office.valuation import Valuer, contract_id_of, mission_to_value, revalue_mission
from server.platform.tables import (
    anomalies,
    contracts,
    devices,
    journal_entries,
    missions,
    valuations,
)
from shared import journal, signing
from shared.approvals import Kind
from shared.canonical import canonical_json, digest, plain
from shared.journal import EntryType
from shared.site_facts_found import Found
from tests.conftest import example
from tests.field_support import (
    APPROVAL_SECRET,
    DEVICE,
    PRIVATE_KEY_SEED,
    Clock,
    approval_code,
    feed,
    offline_tablet,
)
from tests.site_facts_support import EXPECTED, MISSIONS, contract_document, load_day, play
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import NOW, TENANT, add_tenant, enrol, send
from tests.sync_support import Tablet as Device

D = Decimal


def publish(conn: sa.Connection, document: dict[str, Any]) -> None:
    until = document.get("valid_until")
    conn.execute(
        sa.insert(contracts).values(
            tenant_id=TENANT,
            id=document["id"],
            version=document["version"],
            document=json.dumps(document),
            digest=digest(document),
            valid_from=date.fromisoformat(document["valid_from"]),
            valid_until=None if until is None else date.fromisoformat(until),
            published_at=NOW,
            published_by="manager",
        )
    )


def order(conn: sa.Connection, document: dict[str, Any]) -> None:
    conn.execute(
        sa.insert(missions).values(
            tenant_id=TENANT,
            id=document["id"],
            file_number=document.get("file_number"),
            ordering_party_id=document.get("ordering_party"),
            driver_id="d1",
            document=json.dumps(document),
            status="assigned",
            source="office",
            created_at=NOW,
            created_by="clerk",
        )
    )


@pytest.fixture
def office(engine):  # noqa: F811
    """The office: Assistance T's contract and orders, the tablet enrolled with the
    approval secret it holds (so the codes the manager issues fit)."""
    add_tenant(engine)
    key = signing.private_key_from_bytes(PRIVATE_KEY_SEED)
    enrol(engine, Device(DEVICE, key=key))  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(
            sa.update(devices)
            .where(devices.c.id == DEVICE)
            .values(approval_secret=APPROVAL_SECRET.hex(), approval_key_id=1)
        )
        publish(conn, contract_document())
        for document in MISSIONS:
            order(conn, document)
    return engine


def store(eng: sa.Engine, tablet: Any) -> list[journal.SignedEntry]:
    """The tablet's entries as a push stores them (verified chain, canonical bodies)."""
    stored = []
    with eng.begin() as conn:
        for row in tablet.ledger().rows():
            signed = journal.from_wire(row.wire(DEVICE))
            entry = signed.entry
            body = {name: getattr(entry, name) for name in journal.ENTRY_FIELDS}
            conn.execute(
                sa.insert(journal_entries).values(
                    device_id=DEVICE,
                    seq=signed.seq,
                    tenant_id=TENANT,
                    type=str(entry.type),
                    at=entry.at,
                    driver_id=entry.driver_id,
                    mission_id=entry.payload.get("mission_id"),
                    hash=signed.hash,
                    prev_hash=entry.prev_hash,
                    sig=signed.sig,
                    body=canonical_json(body).decode("utf-8"),
                    received_at=NOW,
                )
            )
            stored.append(signed)
    return stored


def ingest(eng: sa.Engine, entries: list[journal.SignedEntry]) -> dict[int, tuple[str, str]]:
    """What the ingest does with these entries: judge each `site_facts` entry, and value
    each `valuation_recorded` one on the mission as found on site. Returns, per valuation
    entry, (the tablet's digest, the server's)."""
    digests = {}
    with eng.begin() as conn:
        ctx = Valuer(conn, TENANT, NOW)
        for signed in entries:
            if signed.entry.type is EntryType.SITE_FACTS:
                site_facts.site_facts_stored(ctx, DEVICE, signed)
            elif signed.entry.type is EntryType.VALUATION_RECORDED:
                payload = plain(signed.entry.payload)
                mission_id = payload["mission_id"]
                mission = mission_to_value(ctx, signed, mission_id, payload["mission"], by=DEVICE)
                assert not isinstance(mission, str), mission
                contract_id = contract_id_of(payload["valuation"])
                mission = site_facts.mission_on_site(ctx, DEVICE, signed, mission, contract_id)
                server = ctx.value(mission, contract_id)
                digests[signed.seq] = (payload["valuation"]["digest"], server["digest"])
    return digests


def kinds(eng: sa.Engine) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with eng.connect() as conn:
        for row in conn.execute(sa.select(anomalies).order_by(anomalies.c.id)):
            found.setdefault(row.kind, []).append(row.mission_id)
    return found


@pytest.fixture
def day(office, tmp_path):
    """The tablet's day; the manager's codes are issued by the office (and logged)."""
    clock = Clock()
    tablet = offline_tablet(tmp_path / "tablet", clock)
    load_day(tablet)

    def issue(mission: str, amount: Decimal) -> str:
        with office.begin() as conn:
            made = approvals.issue(
                conn,
                TENANT,
                DEVICE,
                mission,
                "site_facts",
                str(amount),
                actor="gerant",
                now=clock.now,
            )
        return str(made["code"])

    play(tablet, issue)
    entries = store(office, tablet)
    latest = {m: tablet.view(m).valuation.digest for m in EXPECTED}
    tablet.close()
    return entries, latest


def test_the_server_values_each_mission_on_site_with_the_tablets_digest(office, day):
    entries, latest = day
    digests = ingest(office, entries)
    assert len(digests) == len(EXPECTED)  # each mission valued once, on site
    assert all(device == server for device, server in digests.values()), digests
    assert {s for s, _ in digests.values()} >= set(latest.values())


def test_a_fact_beyond_the_tolerance_without_a_code_is_raised_with_a_code_is_not(office, day):
    entries, _ = day
    ingest(office, entries)
    found = kinds(office)
    assert found[site_facts.BEYOND] == ["M-T-03"]
    assert found[site_facts.CLASS_WEIGHT] == ["M-T-10"]
    assert set(found) == {site_facts.BEYOND, site_facts.CLASS_WEIGHT}
    with office.connect() as conn:
        row = conn.execute(sa.select(anomalies).where(anomalies.c.kind == site_facts.BEYOND)).one()
    [fact] = row.detail["facts"]
    assert (fact["fact"], fact["order"], fact["found"], fact["limit"]) == (
        "distance",
        "40",
        "70",
        "45",
    )
    assert "sans accord" in fact["fr"] and row.subject.startswith(f"{DEVICE}:")


def test_judging_the_same_entries_again_raises_nothing_more(office, day):
    entries, _ = day
    ingest(office, entries)
    first = kinds(office)
    ingest(office, entries)
    assert kinds(office) == first


def test_a_code_the_office_never_issued_is_raised(office, tmp_path):
    clock = Clock()
    tablet = offline_tablet(tmp_path / "tablet", clock)
    load_day(tablet)
    code = approval_code("M-T-02", Kind.SITE_FACTS, "180.00", clock.now)  # not logged
    tablet.record_site_facts("M-T-02", Found(distance_km={"loaded": D("70")}), code=code)
    entries = store(office, tablet)
    tablet.close()
    ingest(office, entries)
    with office.connect() as conn:
        row = conn.execute(sa.select(anomalies)).one()
    assert (row.kind, row.mission_id) == (site_facts.BEYOND, "M-T-02")
    assert "jamais donné" in row.detail["fr"]


def test_the_office_revalues_a_mission_with_its_site_facts(office, day):
    _, latest = day
    with office.begin() as conn:
        again = revalue_mission(conn, TENANT, "M-T-05", now=NOW)
    assert again["digest"] == latest["M-T-05"]
    assert again["beneficiary_due"] == "96.00"


def test_an_unreadable_site_facts_entry_is_raised_once(office):
    device = Device(DEVICE + "-2")
    [signed] = device.write(
        type=EntryType.SITE_FACTS, mission_id="M-T-01", contract={"id": "ASSIST-T"}, facts=[]
    )
    with office.begin() as conn:
        ctx = Valuer(conn, TENANT, NOW)
        site_facts.site_facts_stored(ctx, device.device_id, signed)
        site_facts.site_facts_stored(ctx, device.device_id, signed)
    assert kinds(office) == {site_facts.UNREADABLE: ["M-T-01"]}


def test_private_facts_are_free_and_an_ordered_class_contradicting_its_weight_is_raised(
    office, tmp_path
):
    heavy = {**MISSIONS[0], "id": "M-T-11", "vehicle": {"class": "VL", "weight_kg": 2400}}
    with office.begin() as conn:
        publish(conn, example("contracts", "private"))
        order(conn, example("missions", "private-tow"))
        order(conn, heavy)
    tablet = offline_tablet(tmp_path / "tablet", Clock())
    load_day(tablet)
    data = {"id": "M-T-11", "driver_id": "d1", "status": "assigned", "document": heavy}
    feed(tablet, [{"kind": "mission", "id": "M-T-11", "data": data}])
    tablet.record_site_facts("M-P-0001", Found(distance_km={"loaded": D("60")}, accident=True))
    tablet.step("M-T-11", "en_route")  # values the order as it is: VL, 2400 kg
    entries = store(office, tablet)
    tablet.close()
    digests = ingest(office, entries)
    assert len(digests) == 2 and all(a == b for a, b in digests.values())
    assert kinds(office) == {site_facts.CLASS_WEIGHT: ["M-T-11"]}


# --- through a real push, once the ingest calls server.office.site_facts ---------------------

WIRED = hasattr(push_ingest, "site_facts")  # the lead wires it: docs in the module's header


@pytest.mark.skipif(not WIRED, reason="server.devices.ingest does not call site_facts yet")
def test_a_push_of_the_day_gives_the_tablets_digests_and_the_right_anomalies(office, tmp_path):
    clock = Clock()
    tablet = offline_tablet(tmp_path / "tablet", clock)
    load_day(tablet)

    def issue(mission: str, amount: Decimal) -> str:
        with office.begin() as conn:
            made = approvals.issue(
                conn,
                TENANT,
                DEVICE,
                mission,
                "site_facts",
                str(amount),
                actor="gerant",
                now=clock.now,
            )
        return str(made["code"])

    play(tablet, issue)
    key = signing.private_key_from_bytes(PRIVATE_KEY_SEED)
    wire = [row.wire(DEVICE) for row in tablet.ledger().rows()]
    tablet.close()
    result = send(office, Device(DEVICE, key=key), wire)  # type: ignore[arg-type]
    assert result.stored == len(wire)
    with office.connect() as conn:
        kept = conn.execute(
            sa.select(valuations.c.source, valuations.c.digest, valuations.c.mission_id)
        ).all()
    by_source: dict[str, set[str]] = {}
    for source, digest_, _ in kept:
        by_source.setdefault(source, set()).add(digest_)
    assert by_source["device"] == by_source["server"]
    found = kinds(office)
    assert "valuation_mismatch" not in found
    assert found[site_facts.BEYOND] == ["M-T-03"]
    assert found[site_facts.CLASS_WEIGHT] == ["M-T-10"]
