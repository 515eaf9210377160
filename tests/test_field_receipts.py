"""The receipt at the scene (issue 13), on the tablet with no server: each collection is
numbered in the tablet's gapless series inside its own signed entry, and gives a receipt
with the company, the customer, the service, who pays what and what was received, in
French or English, from `towline-field receipt` and on the driver's screen; who pays on
site is captured, checked and signed. (Crashes: tests/test_field_receipt_crash.py; the
server's PDF: tests/test_receipts_server.py.)"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldclient import receipts
from fieldclient.cli import main as field
from fieldclient.integrity import verify
from fieldclient.tablet import Tablet
from shared.beneficiary import Beneficiary, captured
from shared.errors import InvalidDocument, Refused
from shared.receipt import as_text, build, receipt_block, seller_digest
from tests.field_support import Clock, feed, offline_tablet

D = Decimal
WINCHING = "M-A-0004"  # ASSIST-A: the beneficiary pays the winching, 96,00 € TTC
ACCIDENT = "M-A-0003"  # ASSIST-A, week-end accident: the beneficiary pays 164,00 €
PRIVATE = "M-P-0001"  # a private customer: 180,00 €
SELLER = {
    "name": "Dépannage Acme SAS",
    "address": "12 rue des Lilas",
    "postcode": "69003",
    "city": "Lyon",
    "siret": "73282932000017",
    "vat_number": "FR44732829320",
    "phone": "04 72 00 00 00",
}


def seller_change(seller: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "kind": "seller",
        "id": "acme",
        "data": {"seller": seller or SELLER, "timezone": "Europe/Paris"},
    }


@pytest.fixture
def tablet(tmp_path: Path):
    t = offline_tablet(tmp_path / "tablet", Clock())
    feed(t, [seller_change()])
    t.register_open(D("50.00"))
    yield t
    t.close()


def numbers_in_journal(t: Tablet) -> list[int]:
    return [r.payload["receipt"]["number"] for r in t.ledger().rows() if r.type == "collection"]


# --- numbering ----------------------------------------------------------------------------------


def test_each_collection_takes_the_next_number_of_the_tablets_series_in_its_signed_entry(tablet):
    tablet.collect(ACCIDENT, "card", "100.00", {"terminal_ref": "AUT-1"})
    tablet.collect(WINCHING, "cash", "96.00", {"tendered": "100.00"})
    third = tablet.collect(ACCIDENT, "cheque", "64.00", {"cheque_number": "1234567", "bank": "CIC"})
    assert third.payload["receipt"] == {
        "number": 3,
        "settled_before": "100.00",
        # the identity the tablet printed (a feed without a version number: none)
        "seller": {"digest": seller_digest(receipts.seller(tablet.db))},
    }
    assert numbers_in_journal(tablet) == [1, 2, 3]  # one series for the tablet, not per mission
    assert receipts.numbers(tablet.db, ACCIDENT) == [1, 3]
    assert verify(tablet).ok  # the number is inside the signed, chained entry


def test_a_refused_collection_takes_no_number(tablet):
    tablet.collect(WINCHING, "card", "50.00", {"terminal_ref": "AUT-1"})
    with pytest.raises(Refused):
        tablet.collect(WINCHING, "card", "50.00", {"terminal_ref": "AUT-2"})  # 46 remain
    with pytest.raises(Refused):
        tablet.collect("M-A-0001", "cash", "1.00", {"tendered": "1.00"})  # nothing due
    tablet.collect(WINCHING, "card", "46.00", {"terminal_ref": "AUT-3"})
    assert numbers_in_journal(tablet) == [1, 2]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from([ACCIDENT, WINCHING, PRIVATE]), st.integers(1, 9000)),
        min_size=1,
        max_size=12,
    )
)
def test_numbers_are_gapless_and_each_receipt_adds_up_to_the_mission(tmp_path_factory, plan):  # type: ignore[no-untyped-def]
    """Whatever is collected, refused or not: the numbers are 1..n in journal order, and
    each receipt's settled-before plus its amount is what the mission had received."""
    t = offline_tablet(tmp_path_factory.mktemp("t"), Clock())
    t.register_open(D("0.00"))
    received: dict[str, Decimal] = {}
    for mission, cents in plan:
        amount = D(cents) / 100
        try:
            recorded = t.collect(mission, "card", f"{amount:.2f}", {"terminal_ref": "A1"})
        except Refused:
            continue
        block = recorded.payload["receipt"]
        assert D(block["settled_before"]) == received.get(mission, D(0))
        received[mission] = received.get(mission, D(0)) + amount
    assert numbers_in_journal(t) == list(range(1, len(numbers_in_journal(t)) + 1))
    for mission, total in received.items():
        last = receipts.receipt(
            t.db, device_id=t.device_id, timezone=t.timezone, mission_id=mission
        )
        assert last.settled_before + last.amount == total
        assert last.remaining_after == max(last.beneficiary_totals.incl - total, D(0))
    t.close()


# --- what it says -------------------------------------------------------------------------------


def test_the_receipt_names_the_company_the_customer_the_service_who_pays_what_and_the_payment(
    tablet,
):
    tablet.collect(ACCIDENT, "card", "100.00", {"terminal_ref": "AUT-1"})
    tablet.record_beneficiary(
        ACCIDENT,
        {"name": "Marie Dupont", "address": "4 rue Neuve", "postcode": "69003", "city": "Lyon"},
        place="A7, sortie 12, Vienne",
    )
    tablet.collect(ACCIDENT, "cash", "10.00", {"tendered": "20.00"})
    made = receipts.receipt(
        tablet.db, device_id=tablet.device_id, timezone=tablet.timezone, mission_id=ACCIDENT
    )
    text = as_text(made, "fr")
    assert text.startswith("Reçu n° dev_test_tablet-000002")
    for mention in (
        "Dépannage Acme SAS",
        "12 rue des Lilas",
        "69003 Lyon",
        "SIRET 73282932000017 – TVA FR44732829320",
        "Marie Dupont",  # the customer, as captured before this collection
        "4 rue Neuve",
        "Date de la prestation  14/03/2026",
        "Lieu                   A7, sortie 12, Vienne",
        "Dossier                ASSIST-A-2026-0003",
        "Véhicule               GH-482-KL",
        "Treuillage",
        "1 × 80,00\u00a0€ HT = 80,00\u00a0€ (TVA 20\u00a0%)",
        "dont à votre charge : 51,67\u00a0€ HT",
        "Pris en charge par ASSIST-A  HT 208,33\u00a0€ · TVA 41,67\u00a0€ · TTC 250,00\u00a0€",
        "À votre charge               HT 136,67\u00a0€ · TVA 27,33\u00a0€ · TTC 164,00\u00a0€",
        "Reçu ce jour          10,00\u00a0€ (espèces) ◀",
        "Rendu                 10,00\u00a0€",
        "Déjà réglé avant      100,00\u00a0€",
        "Reste à votre charge  54,00\u00a0€",
        "Établi le  10/03/2026 09:00, heure de Paris (Europe/Paris)\n",  # the zone named
        "Chauffeur  Karim",
        "arrêté n° 83-50/A du 3 octobre 1983",
    ):
        assert mention in text, mention
    english = as_text(made, "en")
    assert "Receipt no. dev_test_tablet-000002" in english
    assert "Received today       €10.00 (cash) ◀" in english
    assert "Yours to pay" in english and "Covered by ASSIST-A" in english
    # English dates in words (10/03 reads as 3 October to some), and the zone named.
    assert "Date of service  14 Mar 2026\n" in english
    assert "Written on  10 Mar 2026 09:00, Paris time (Europe/Paris)\n" in english
    # The first receipt was made before the customer was named: it stays as it was given.
    first = receipts.receipt(
        tablet.db,
        device_id=tablet.device_id,
        timezone=tablet.timezone,
        mission_id=ACCIDENT,
        number=1,
    )
    assert first.beneficiary is None and "non communiqué" in as_text(first, "fr")


def test_without_the_companys_identity_yet_the_receipt_says_so(tmp_path):
    t = offline_tablet(tmp_path / "t", Clock())
    t.register_open(D("0.00"))
    t.collect(WINCHING, "card", "96.00", {"terminal_ref": "AUT-1"})
    made = receipts.receipt(t.db, device_id=t.device_id, timezone=t.timezone, mission_id=WINCHING)
    assert "Identité de l'entreprise non encore reçue sur cette tablette (synchronisez)" in as_text(
        made, "fr"
    )
    t.close()


def test_a_written_note_is_required_from_25_euros_incl_vat():
    def receipt_of(total: str):  # type: ignore[no-untyped-def]
        return build(
            device_id="dev_x",
            at=__import__("datetime").datetime(2026, 3, 10, 9, tzinfo=__import__("datetime").UTC),
            collection={
                "mission_id": "M",
                "method": "cash",
                "amount": total,
                "receipt": receipt_block(1, D(0), None),
            },
            valuation={
                "total": {"incl_vat": total},
                "payers": {"beneficiary": {"incl_vat": total}},
            },
            mission={"times": {"call": "2026-03-10T08:00:00+00:00"}},
            seller=None,
            timezone="Europe/Paris",
        )

    assert receipt_of("24.99").note_required is False
    assert "83-50/A" not in as_text(receipt_of("24.99"), "fr")
    assert receipt_of("25.00").note_required is True
    assert "83-50/A" in as_text(receipt_of("25.00"), "fr")


# --- the beneficiary ----------------------------------------------------------------------------


def test_a_beneficiary_is_checked_field_by_field():
    with pytest.raises(InvalidDocument) as bad:
        captured({"name": "Marie", "phone": "12", "email": "marie@", "postcode": "#"})
    paths = [p.path for p in bad.value.problems]
    assert paths == ["postcode", "phone", "email"]  # in the form's order
    assert captured({"phone": "+33 6 12 34 56 78", "email": "Marie@Example.FR "}) == Beneficiary(
        phone="06 12 34 56 78", email="marie@example.fr"
    )


def test_the_order_gives_the_beneficiary_and_the_driver_corrects_it_with_a_signed_entry(tablet):
    document = tablet.mission_document(WINCHING)
    document["beneficiary"] = {"name": "Paul Martin", "phone": "0612345678"}
    feed(
        tablet,
        [
            {
                "kind": "mission",
                "id": WINCHING,
                "data": {
                    "id": WINCHING,
                    "driver_id": "d1",
                    "status": "assigned",
                    "document": document,
                },
            }
        ],
    )
    first = tablet.collect(WINCHING, "card", "40.00", {"terminal_ref": "AUT-1"})
    assert first.payload["receipt"]["payer"] == {"name": "Paul Martin", "phone": "0612345678"}
    tablet.record_beneficiary(WINCHING, {"name": "Pauline Martin", "email": "p.martin@example.fr"})
    second = tablet.collect(WINCHING, "card", "56.00", {"terminal_ref": "AUT-2"})
    assert second.payload["receipt"]["payer"] == {
        "name": "Pauline Martin",
        "email": "p.martin@example.fr",
    }
    entries = [r for r in tablet.ledger().rows() if r.type == "beneficiary_recorded"]
    assert [e.payload for e in entries] == [
        {
            "mission_id": WINCHING,
            "beneficiary": {"name": "Pauline Martin", "email": "p.martin@example.fr"},
        }
    ]


# --- the command line ---------------------------------------------------------------------------


def cli(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(field, [*args, "--home", str(home)])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    t = offline_tablet(tmp_path / "cli", Clock())
    feed(t, [seller_change()])
    t.register_open(D("0.00"))
    t.close()
    return tmp_path / "cli"


def test_collect_names_the_receipt_and_receipt_prints_it_in_either_language(home):
    paid = cli(
        home, "collect", WINCHING, "--method", "card", "--amount", "96.00", "--terminal-ref", "A-1"
    )
    assert paid.exit_code == 0, paid.output
    assert f"Reçu n° dev_test_tablet-000001 : towline-field receipt {WINCHING}" in paid.output
    shown = cli(home, "receipt", WINCHING)
    assert shown.exit_code == 0 and "Reçu n° dev_test_tablet-000001" in shown.output
    assert "Reçu ce jour          96,00\u00a0€ (carte bancaire) ◀" in shown.output
    assert "Autorisation carte    A-1" in shown.output
    english = cli(home, "receipt", WINCHING, "--lang", "en", "--json")
    body = json.loads(english.output)
    assert (body["receipt"], body["amount"], body["remaining_after"]) == (
        "dev_test_tablet-000001",
        "96.00",
        "0.00",
    )
    assert body["seller"]["siret"] == "73282932000017"


def test_receipt_refuses_a_mission_with_nothing_collected_and_an_unknown_number(home):
    nothing = cli(home, "receipt", WINCHING, "--lang", "en")
    assert nothing.exit_code == 3
    assert (
        "No receipt for mission M-A-0004: nothing was collected on it on this tablet."
        in nothing.output
    )
    cli(home, "collect", WINCHING, "--method", "card", "--amount", "10.00", "--terminal-ref", "A-1")
    assert cli(home, "receipt", WINCHING, "--number", "7").exit_code == 3
    assert cli(home, "receipt", "M-NOPE").exit_code == 3
    listed = cli(home, "receipt", WINCHING, "--all", "--json")
    assert [r["number"] for r in json.loads(listed.output)] == [1]
    assert "Example" in cli(home, "receipt", "--help").output


def test_beneficiary_command_records_checks_and_shows(home):
    before = cli(home, "journal", "verify", "--json").output
    bad = cli(
        home,
        "beneficiary",
        WINCHING,
        "--name",
        "Marie",
        "--email",
        "pas-une-adresse",
        "--lang",
        "en",
    )
    assert bad.exit_code == 2
    assert "email: unreadable e-mail address: “pas-une-adresse”" in bad.output
    assert cli(home, "journal", "verify", "--json").output == before  # nothing recorded
    ok = cli(
        home,
        "beneficiary",
        WINCHING,
        "--name",
        "Marie Dupont",
        "--phone",
        "0612345678",
        "--place",
        "Lyon 3e",
    )
    assert ok.exit_code == 0, ok.output
    assert "nom : Marie Dupont" in ok.output and "téléphone : 06 12 34 56 78" in ok.output
    assert "Lieu : Lyon 3e" in ok.output
    shown = json.loads(cli(home, "beneficiary", WINCHING, "--json").output)
    assert shown["beneficiary"] == {"name": "Marie Dupont", "phone": "06 12 34 56 78"}
    assert "Example" in cli(home, "beneficiary", "--help").output


def test_a_road_mission_has_a_short_id_the_driver_types(home):
    made = cli(
        home, "new-mission", "--plate", "AB-123-CD", "--class", "VL", "--service", "TOW", "--json"
    )
    assert json.loads(made.output)["short"] == "R-0001"
    again = cli(home, "new-mission", "--plate", "EF-456-GH", "--class", "VL", "--service", "TOW")
    assert "Mission créée : R-0002." in again.output
    for typed in ("R-0002", "r2", "R 2", "R-2"):
        shown = cli(home, "show", typed, "--json")
        assert json.loads(shown.output)["mission"] == "R-0002.dev_test_tablet", typed
    listed = cli(home, "missions")
    assert re.search(r"^R-0001\s", listed.output, re.M) and re.search(
        r"^R-0002\s", listed.output, re.M
    )
    assert cli(home, "show", "R-0003").exit_code == 3
