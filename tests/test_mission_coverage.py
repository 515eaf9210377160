"""The mission's optional `coverage` block (shared/mission.py): what the ordering party
says it covers, what the contract applies, looked up at intake (server/parties/orders.py), and
shown to the driver before the step buttons (fieldclient/render.py, the screen)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldclient import render
from fieldclient.screen import create_app
from shared.contract import Amount
from shared.errors import InvalidDocument
from shared.mission import ContractCoverage, Coverage, coverage_warning, load_mission
from shared.valuation import ValuationContext, value
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_field_screen import sign_in, text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NBSP = "\u00a0"

BASE = {
    "id": "M-COV-1",
    "file_number": "B-2026-0901",
    "ordering_party": "ASSIST-B",
    "vehicle": {"plate": "AB-123-CD", "class": "VL"},
    "times": {"call": "2026-03-10T09:40:00+01:00"},
    "services": [{"code": "TOW"}],
}
BLOCK = {
    "mission_cap": "250.00",
    "km_covered": "50",
    "deductible": "50.00",
    "file_consumed": "94.00",
    "reference": "CTR-B-1",
    "note": "Véhicule de remplacement non couvert",
}


def problems(document: dict) -> dict[str, str]:
    with pytest.raises(InvalidDocument) as caught:
        load_mission(document)
    return {p.path: p.text.en for p in caught.value.problems}


def test_the_schema_takes_the_block_and_builds_the_values():
    mission = load_mission({**BASE, "coverage": BLOCK})
    c = mission.coverage
    assert c is not None
    assert c.mission_cap == Amount(Decimal("250.00"), True)
    assert c.file_cap is None and c.contract is None and c.warning is None
    assert (c.km_covered, c.deductible, c.file_consumed) == (
        Decimal(50),
        Amount(Decimal("50.00"), True),
        Decimal("94.00"),
    )
    assert load_mission(BASE).coverage is None
    assert load_mission({**BASE, "coverage": None}).coverage is None


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ({"mission_cap": 250.5}, "coverage.mission_cap", "binary float refused"),
        ({"deductible": "-1.00"}, "coverage.deductible", "negative amount"),
        ({"file_consumed": "1.005"}, "coverage.file_consumed", None),
        ({"km_covered": "-3"}, "coverage.km_covered", "must be at least 0"),
        ({"caps_include_vat": "yes"}, "coverage.caps_include_vat", None),
        ({"ceiling": "1.00"}, "coverage.ceiling", None),
        ({"note": "x" * 501}, "coverage.note", None),
        ({"contract": {"id": "C", "version": 0}}, "coverage.contract.version", None),
        (
            {"contract": {"id": "C", "version": 1, "mission_cap": {"amount": "1.00"}}},
            "coverage.contract.mission_cap.includes_vat",
            None,
        ),
        ({"warning": {"fr": "écart"}}, "coverage.warning.en", None),
    ],
)
def test_the_schema_refuses_a_bad_block_naming_the_path(block, path, message):
    found = problems({**BASE, "coverage": block})
    assert path in found, found
    if message:
        assert message in found[path]


@given(
    cap=st.none() | st.decimals(0, 10_000, places=2),
    consumed=st.none() | st.decimals(0, 10_000, places=2),
)
def test_the_block_never_changes_the_valuation(cap, consumed):
    contract = _contract("assist-b.json")
    block = {"km_covered": "50"}
    if cap is not None:
        block["mission_cap"] = str(cap)
    if consumed is not None:
        block["file_consumed"] = str(consumed)
    plain = value(load_mission(BASE), contract, ValuationContext())
    covered = value(load_mission({**BASE, "coverage": block}), contract, ValuationContext())
    assert covered.to_wire() == plain.to_wire()
    assert covered.digest == plain.digest


def _contract(name: str):
    from shared.contract_schema import load_contract

    return load_contract(json.loads((EXAMPLES / "contracts" / name).read_text()))


def test_a_difference_between_order_and_contract_is_a_warning_in_both_languages():
    said = Coverage(
        mission_cap=Amount(Decimal("250.00"), True),
        file_cap=Amount(Decimal("300.00"), True),
        deductible=Amount(Decimal("50.00"), True),
        file_consumed=Decimal("94.00"),
    )
    applied = ContractCoverage(
        "assist-b",
        2,
        mission_cap=None,
        file_cap=Amount(Decimal("300"), True),
        deductible=Amount(Decimal("50"), True),
        file_consumed=Decimal("94"),
    )
    warning = coverage_warning(said, applied)
    assert warning is not None
    assert warning.fr == (
        "L'ordre et la convention assist-b v2 diffèrent (plafond par mission : "
        f"250,00{NBSP}€ TTC selon l'ordre, rien selon la convention). La valorisation "
        "applique la convention : appelez le bureau en cas de doute."
    )
    assert "cap per mission: €250.00 incl. VAT per the order, nothing per the contract" in (
        warning.en
    )
    same = Coverage(file_cap=Amount(Decimal("300.00"), True), deductible=Amount(Decimal(0), True))
    assert coverage_warning(same, applied) is None  # a zero deductible is none at all
    basis = Coverage(file_cap=Amount(Decimal("300.00"), False))
    assert (
        "300,00\u00a0€ HT selon l'ordre, 300,00\u00a0€ TTC" in coverage_warning(basis, applied).fr
    )


def test_the_driver_reads_the_coverage_in_plain_words():
    coverage = load_mission({**BASE, "coverage": BLOCK}).coverage
    assert render.coverage_text(coverage, "fr") == (
        f"L'assistance prend en charge jusqu'à 250,00{NBSP}€ TTC par mission ; 50 km inclus ; "
        f"franchise 50,00{NBSP}€ à la charge du client ; déjà consommé sur le dossier : "
        f"94,00{NBSP}€ ; Véhicule de remplacement non couvert"
    )
    assert render.coverage_text(coverage, "en").startswith(
        "The assistance covers up to €250.00 incl. VAT per mission; 50 km included; "
        "deductible €50.00 paid by the customer; already consumed on the file: €94.00"
    )
    only = load_mission({**BASE, "coverage": {"file_consumed": "12.50"}}).coverage
    assert render.coverage_text(only, "fr") == (
        f"Prise en charge de l'assistance : déjà consommé sur le dossier : 12,50{NBSP}€"
    )


ORDER = {
    "message_id": "ASSIST-B-MSG-COV-1",
    "file_number": "B-2026-0901",
    "vehicle": {"plate": "FT-613-QA", "class": "VL"},
    "times": {"call": "2026-03-10T09:40:00+01:00"},
    "distance_km": {"en_route": "9"},
    "services": [{"code": "TOW"}],
    "coverage": {"mission_cap": "250.00", "km_covered": "50", "deductible": "50.00"},
    "file_consumed": "94.00",
}


def _send(world: World, order: dict) -> dict:  # noqa: F811
    answer = world.office.post(
        "/api/v1/orders/import",
        json={"party_id": "ASSIST-B", "orders": [order], "driver_id": "d1"},
        headers=world.as_user("gerant"),
    )
    assert answer.status_code == 200, answer.get_json()
    line = answer.get_json()["lines"][0]
    assert line["outcome"] == "created", line
    return line


def test_an_order_with_coverage_reaches_the_tablet_and_the_screen_shows_it(
    world,  # noqa: F811
    tmp_path,
):
    mission_id = _send(world, ORDER)["mission_id"]
    document = world.office.get(
        f"/api/v1/missions/{mission_id}", headers=world.as_user("gerant")
    ).get_json()["document"]
    block = document["coverage"]
    assert block["mission_cap"] == "250.00" and block["file_consumed"] == "94.00"
    # What the contract applies: ASSIST-B's has a cap per file and no cap per mission,
    # and no earlier mission of this file was valued by the server.
    assert block["contract"]["mission_cap"] is None
    assert block["contract"]["file_cap"] == {"amount": "300.00", "includes_vat": True}
    assert block["contract"]["deductible"] == {"amount": "50.00", "includes_vat": True}
    assert block["contract"]["file_consumed"] == "0.00"
    fr = block["warning"]["fr"]
    assert f"plafond par mission : 250,00{NBSP}€ TTC selon l'ordre, rien selon la convention" in fr
    assert f"déjà consommé sur le dossier : 94,00{NBSP}€ selon l'ordre, 0,00{NBSP}€ selon la" in fr
    assert "franchise" not in fr  # the deductible agrees
    assert "cap per mission" in block["warning"]["en"]

    tablet = world.tablet(tmp_path / "t1", "d1", "1111")
    world.sync(tablet)
    view = tablet.view(mission_id)
    assert view.mission.coverage is not None
    assert view.mission.coverage.contract is not None
    shown = render.mission_text(view, "fr")
    sentence = (
        f"L'assistance prend en charge jusqu'à 250,00{NBSP}€ TTC par mission ; 50 km inclus ; "
        f"franchise 50,00{NBSP}€ à la charge du client ; déjà consommé sur le dossier : "
        f"94,00{NBSP}€"
    )
    assert sentence in shown
    assert shown.index(sentence) < shown.index("Étapes suivantes")
    assert "ATTENTION : L'ordre et la convention" in shown
    assert render.mission_json(view, "en")["coverage"]["warning"].startswith("The order")
    tablet.close()

    screen = create_app(tmp_path / "t1", clock=world.clock)
    client = screen.test_client()
    sign_in(client, "d1", "1111")
    answer = client.get(f"/missions/{mission_id}")
    page = text(answer)  # spaces collapsed, the no-break ones too
    assert sentence.replace(NBSP, " ") in page
    raw = answer.get_data(as_text=True)
    assert raw.index('id="coverage"') < raw.index('data-step="')
    assert "L'ordre et la convention" in page
    listing = text(client.get("/missions"))
    assert "plafond 250,00 € · 50 km · franchise 50,00 € · consommé 94,00 €" in listing
    assert "écart ordre/convention" in listing


def test_an_order_that_agrees_with_the_contract_has_no_warning_and_no_coverage_no_block(
    world,  # noqa: F811
):
    agreeing = {
        **ORDER,
        "message_id": "ASSIST-B-MSG-COV-2",
        "file_number": "B-2026-0902",
        "coverage": {"file_cap": "300.00", "deductible": "50.00"},
        "file_consumed": "0.00",
    }
    mission_id = _send(world, agreeing)["mission_id"]
    headers = world.as_user("gerant")
    block = world.office.get(f"/api/v1/missions/{mission_id}", headers=headers).get_json()[
        "document"
    ]["coverage"]
    assert "warning" not in block and block["contract"]["version"] >= 1
    bare = {k: v for k, v in ORDER.items() if k not in ("coverage", "file_consumed")}
    bare.update(message_id="ASSIST-B-MSG-COV-3", file_number="B-2026-0903")
    mission_id = _send(world, bare)["mission_id"]
    document = world.office.get(f"/api/v1/missions/{mission_id}", headers=headers).get_json()[
        "document"
    ]
    assert "coverage" not in document
    # An amendment is not held as a hand correction because of what intake looked up.
    again = {**agreeing, "message_id": "ASSIST-B-MSG-COV-4", "distance_km": {"en_route": "11"}}
    assert (
        world.office.post(
            "/api/v1/orders/import",
            json={"party_id": "ASSIST-B", "orders": [again]},
            headers=headers,
        ).get_json()["lines"][0]["outcome"]
        == "amended"
    )
