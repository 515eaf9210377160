"""The facts a driver finds on site, on the tablet, offline: one signed entry holding order
and site, the mission valued again at once with the same contract, the gate following the
new amount, the ordering party's tolerance, the manager's code, receipts, class against
weight, and the command line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldclient import attachments
from fieldclient.cli import main as field
from fieldclient.render import mission_json, mission_text
from fieldclient.site_facts import ApprovalNeeded, receipt
from fieldclient.tablet import Tablet
from shared.approvals import ApprovalRefused, Kind
from shared.errors import InvalidDocument, Refused
from shared.explain import explain
from shared.site_facts_found import Found
from tests.field_support import Clock, approval_code, offline_tablet
from tests.site_facts_support import EXPECTED, JPEG, load_day, play

D = Decimal


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tablet(tmp_path: Path, clock: Clock):
    t = offline_tablet(tmp_path / "tablet", clock)
    load_day(t)
    yield t
    t.close()


def entries(t: Tablet, kind: str | None = None) -> list:
    return [r for r in t.ledger().rows() if kind is None or r.type == kind]


def test_a_day_of_site_facts_revalues_each_mission_and_keeps_what_the_order_said(tablet, clock):
    results = play(
        tablet,
        lambda mission, amount: approval_code(mission, Kind.SITE_FACTS, str(amount), clock.now),
    )
    for mission, (total, customer) in EXPECTED.items():
        view = tablet.view(mission)
        assert (view.valuation.total.incl, view.money.due) == (total, customer), mission
        # The journal holds this valuation: the tablet recorded it at once.
        assert view.recorded_digest == view.valuation.digest, mission
    facts = {r.payload["mission_id"]: r.payload for r in entries(tablet, "site_facts")}
    assert set(facts) == set(EXPECTED)
    km = facts["M-T-02"]["facts"][0]
    assert (km["fact"], km["leg"], km["order"], km["found"]) == ("distance", "loaded", "40", "70")
    assert (km["allow"], km["limit"], km["within"]) == ("tolerance", "45", False)
    assert facts["M-T-02"]["approval_ref"] and facts["M-T-03"]["approval_ref"] is None
    assert results["M-T-03"].held and not results["M-T-02"].held
    assert facts["M-T-04"]["facts"][0]["within"] is True  # fewer km: always within
    # M-T-10: the weight found contradicts the class kept; said, and recorded with both.
    assert "2600 kg" in facts["M-T-10"]["warnings"][0]["fr"]
    vehicle = tablet.view("M-T-10").mission.vehicle
    assert (vehicle.vehicle_class, vehicle.weight_kg) == ("VL", 2600)
    # The gate follows each new amount, and the register what was collected.
    tablet.register_open(D("50.00"))
    for mission, (_, customer) in EXPECTED.items():
        tablet.step(mission, "en_route")
        tablet.step(mission, "on_site")
        if customer:
            with pytest.raises(Refused, match="Impossible de quitter les lieux"):
                tablet.step(mission, "departed")
            tablet.collect(mission, "card", str(customer), {"terminal_ref": f"AUT-{mission}"})
        tablet.step(mission, "departed")
    assert {m.value: a for m, a in tablet.register("d1").net_by_method.items()} == {
        "card": D("139.20")
    }
    # The chain, its signatures and the derived rows rebuilt from it all verify.
    checked = run("journal", "verify", "--home", str(tablet.home.path))
    assert checked.exit_code == 0, checked.output


def test_the_explanation_shows_order_and_site_side_by_side(tablet):
    tablet.record_site_facts("M-T-01", Found(distance_km={"loaded": D("44")}))
    view = tablet.view("M-T-01")
    first = view.valuation.explanation[0]
    assert (first.rule, first.params["order"], first.params["found"]) == ("site_fact", "40", "44")
    assert explain(view.valuation, "fr")[0] == (
        "Sur place, distance en charge : 44 km (ordre : 40 km) — dans la tolérance (45 km au plus)."
    )
    assert explain(view.valuation, "en")[0] == (
        "On site, distance loaded with the vehicle: 44 km (order: 40 km) — within the tolerance"
        " (45 km at most)."
    )


def test_the_gate_follows_the_new_amount_and_money_collected_stays(tablet, clock):
    tablet.register_open(D("50.00"))
    tablet.step("M-T-05", "en_route")
    tablet.step("M-T-05", "on_site")
    assert tablet.view("M-T-05").money.remaining == D("0.00")
    code = approval_code("M-T-05", Kind.SITE_FACTS, "240.00", clock.now)
    tablet.record_site_facts("M-T-05", Found(add_services=("WIN",)), code=code)
    with pytest.raises(Refused, match="96,00"):
        tablet.step("M-T-05", "departed")
    tablet.collect("M-T-05", "cash", "96.00", {"tendered": "100.00"})
    tablet.step("M-T-05", "departed")
    assert tablet.register("d1").net_by_method  # the register follows the collection


def test_a_lower_price_after_payment_shows_the_over_collection_and_what_to_do(tablet, clock):
    tablet.register_open(D("50.00"))
    tablet.record_site_facts("M-T-07", Found(storage_days=D(3)))
    tablet.collect("M-T-07", "cash", "43.20", {"tendered": "50.00"})
    tablet.record_site_facts("M-T-07", Found(storage_days=D(1)))
    view = tablet.view("M-T-07")
    assert (view.money.due, view.money.net_collected, view.money.overpaid) == (
        D("14.40"),
        D("43.20"),
        D("28.80"),
    )
    text = mission_text(view, "fr")
    assert "TROP ENCAISSÉ : 28,80" in text and "le bureau le remboursera" in text


def test_beyond_the_tolerance_a_code_is_asked_for_the_new_total_and_nothing_is_written(tablet):
    before = len(entries(tablet))
    with pytest.raises(ApprovalNeeded) as refused:
        tablet.record_site_facts("M-T-02", Found(distance_km={"loaded": D("70")}))
    assert refused.value.total == D("180.00")
    words = refused.value.message("fr")
    assert "70 km (ordre : 40 km ; seul : 45 km au plus)" in words
    assert "180,00" in words
    assert len(entries(tablet)) == before


def test_a_wrong_or_reused_code_is_refused(tablet, clock):
    with pytest.raises(ApprovalRefused):
        tablet.record_site_facts(
            "M-T-02",
            Found(distance_km={"loaded": D("70")}),
            code=approval_code("M-T-02", Kind.SITE_FACTS, "999.00", clock.now),
        )
    code = approval_code("M-T-02", Kind.SITE_FACTS, "180.00", clock.now)
    tablet.record_site_facts("M-T-02", Found(distance_km={"loaded": D("70")}), code=code)
    tablet.record_site_facts("M-T-02", Found(distance_km={"loaded": D("40")}))  # back to order
    with pytest.raises(Refused, match="déjà servi"):
        tablet.record_site_facts("M-T-02", Found(distance_km={"loaded": D("70")}), code=code)


def test_a_discount_code_does_not_approve_site_facts(tablet, clock):
    code = approval_code("M-T-02", Kind.DISCOUNT, "180.00", clock.now)
    with pytest.raises(ApprovalRefused) as refused:
        tablet.record_site_facts("M-T-02", Found(distance_km={"loaded": D("70")}), code=code)
    assert refused.value.reason.value == "other_kind"


def test_a_toll_keeps_its_receipt_and_the_entry_cites_its_sha256(tablet):
    cited = receipt(JPEG)
    tablet.record_site_facts(
        "M-T-06", Found(at_cost=(("TOLL", D("12.40"), cited),)), {cited.sha256: JPEG}
    )
    [kept] = attachments.for_mission(tablet.db, "M-T-06")
    assert (kept.kind, kept.sha256) == ("receipt", cited.sha256)
    [fact] = entries(tablet, "site_facts")[0].payload["facts"]
    assert fact["receipts"] == [
        {"amount": "12.40", "sha256": cited.sha256, "content_type": "image/jpeg"}
    ]
    with pytest.raises(InvalidDocument) as refused:
        tablet.record_site_facts("M-T-06", Found(at_cost=(("TOLL", D("3.10"), None),)))
    assert "photographiez le justificatif" in refused.value.message("fr")


@pytest.mark.parametrize(
    ("found", "path"),
    [
        (Found(add_services=("WINX",)), "services.WINX"),
        (Found(remove_services=("REP",)), "services.REP"),
        (Found(add_services=("TOLL",)), "services.TOLL"),
        (Found(odometer={"loaded": (D("12100"), D("12000"))}), "odometer.loaded"),
        (Found(at_cost=(("PART", D("5.00"), None),)), "at_cost.PART"),
        (Found(vehicle_class="XX"), "class"),
    ],
)
def test_bad_facts_are_named_and_nothing_is_written(tablet, found, path):
    before = len(entries(tablet))
    with pytest.raises(InvalidDocument) as refused:
        tablet.record_site_facts("M-T-01", found)
    assert [p.path for p in refused.value.problems] == [path]
    assert len(entries(tablet)) == before


def test_facts_equal_to_the_mission_change_nothing_and_write_nothing(tablet):
    with pytest.raises(Refused, match="Rien ne change"):
        tablet.record_site_facts("M-T-01", Found(distance_km={"loaded": D("40.0")}))
    assert entries(tablet) == []


def test_odometer_readings_give_the_distance_and_are_kept(tablet):
    tablet.record_site_facts("M-T-01", Found(odometer={"loaded": (D("12034"), D("12078"))}))
    [fact] = entries(tablet, "site_facts")[0].payload["facts"]
    assert (fact["found"], fact["odometer"]) == ("44", {"start": "12034", "end": "12078"})


def test_private_customers_facts_are_free(tablet):
    tablet.record_site_facts("M-P-0001", Found(distance_km={"loaded": D("60")}, accident=True))
    [entry] = entries(tablet, "site_facts")
    assert {f["allow"] for f in entry.payload["facts"]} == {"free"}


# --- class against weight ----------------------------------------------------------------


def test_a_class_contradicting_the_weight_is_said_before_the_valuation(tablet, clock):
    code = approval_code("M-T-10", Kind.SITE_FACTS, "144.00", clock.now)
    tablet.record_site_facts("M-T-10", Found(weight_kg=2600), code=code)
    view = tablet.view("M-T-10")
    head = mission_text(view, "fr").split("\n\n")[0]
    assert "ATTENTION : Classe VL indiquée, mais un véhicule de 2600 kg est de classe VLP" in head
    assert mission_json(view, "en")["warnings"][0].startswith("Class VL was given")


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def home(tablet):
    return str(tablet.home.path)


def run(*args: str):
    return CliRunner().invoke(field, list(args), catch_exceptions=False)


def test_the_facts_command_records_shows_and_says_what_to_do(home, tmp_path):
    ticket = tmp_path / "ticket.jpg"
    ticket.write_bytes(JPEG)
    done = run("facts", "M-T-06", "--at-cost", f"TOLL:12.40:{ticket}", "--home", home)
    assert done.exit_code == 0, done.output
    assert "Nouveau total de la mission : 156,40" in done.output
    shown = run("facts", "M-T-06", "--home", home, "--json", "--lang", "en")
    assert json.loads(shown.output)["facts"][0]["found"] == "€12.40"
    beyond = run("facts", "M-T-02", "--km-loaded", "70", "--home", home)
    assert beyond.exit_code == 3 and "--for-office" in beyond.output
    kept = run("facts", "M-T-02", "--km-loaded", "70", "--for-office", "--json", "--home", home)
    body = json.loads(kept.output)
    assert body["held"] == [{"fact": "distance", "key": "loaded", "found": "70"}]
    assert body["money"]["due"] == "0.00"
    bad = run("facts", "M-T-02", "--odometer", "loaded:12", "--home", home)
    assert bad.exit_code == 2
    unreadable = run(
        "facts", "M-T-02", "--at-cost", f"TOLL:3.10:{tmp_path / 'none.jpg'}", "--home", home
    )
    assert unreadable.exit_code == 2 and "Traceback" not in unreadable.output
    nothing = run("facts", "M-T-01", "--km-loaded", "40", "--home", home)
    assert nothing.exit_code == 3 and "Rien ne change" in nothing.output
