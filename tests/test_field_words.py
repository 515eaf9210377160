"""The command line in the driver's words (issue 13): steps, methods and kinds of
attachment in French as well as English, a manager's code typed the way it was read out,
usage errors in the chosen language (exit 2, nothing recorded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldclient.cli import main as field
from fieldclient.cli.usage import join_spoken_codes
from fieldclient.driver_words import KINDS, METHODS, STEPS, normalised, read
from shared.approvals import Kind
from tests.field_support import Clock, approval_code, offline_tablet
from tests.site_facts_support import JPEG

WINCHING = "M-A-0004"  # the beneficiary pays 96,00 €


def cli(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(field, [*args, "--home", str(home)])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    t = offline_tablet(tmp_path / "cli", Clock())
    t.register_open(Decimal("0.00"))
    t.close()
    return tmp_path / "cli"


@pytest.mark.parametrize(
    ("typed", "step"),
    [
        ("en route", "en_route"),
        ("Sur place", "on_site"),
        ("sur-place", "on_site"),
        ("Départ", "departed"),
        ("quitte", "departed"),
        ("livré", "delivered"),
        ("Clôturé", "closed"),
        ("annulée", "cancelled"),
        ("personne", "gone_on_arrival"),
        ("departed", "departed"),
    ],
)
def test_steps_read_in_french_and_english(typed, step):
    assert read(typed, STEPS) == step


@pytest.mark.parametrize(
    ("typed", "method"),
    [
        ("espèces", "cash"),
        ("Especes", "cash"),
        ("CB", "card"),
        ("carte", "card"),
        ("chèque", "cheque"),
        ("virement", "transfer"),
        ("lien de paiement", "payment_link"),
    ],
)
def test_methods_read_in_french_and_english(typed, method):
    assert read(typed, METHODS) == method


def test_every_word_names_one_value_only():
    for words in (STEPS, METHODS, KINDS):
        aliases = [a for values in words.values() for a in values]
        assert len(aliases) == len(set(aliases))
        assert all(normalised(a) == a for a in aliases)


def test_a_day_typed_in_french(home):
    for typed in ("en_route", "sur place"):
        assert cli(home, "step", WINCHING, typed).exit_code == 0
    paid = cli(
        home, "collect", WINCHING, "--method", "espèces", "--amount", "96", "--tendered", "100"
    )
    assert paid.exit_code == 0, paid.output
    assert "Encaissé : 96,00\u00a0€ (espèces)" in paid.output
    left = cli(home, "step", WINCHING, "quitte")
    assert left.exit_code == 0 and "départ des lieux (departed)" in left.output
    photo = home.parent / "photo.jpg"
    photo.write_bytes(JPEG)
    attached = cli(home, "attach", WINCHING, "--kind", "photo", str(photo), "--json")
    assert json.loads(attached.output)["kind"] == "vehicle_photo"


def test_a_word_that_names_nothing_is_refused_in_the_drivers_language(home):
    before = cli(home, "journal", "verify", "--json").output
    french = cli(home, "step", WINCHING, "garé")
    assert french.exit_code == 2
    assert "Erreur : « garé » n'est pas une étape connue. Possibles : attribuee, en_route," in (
        french.output
    )
    assert "Aide :" in french.output and " step --help" in french.output
    english = cli(home, "collect", WINCHING, "--method", "bitcoin", "--amount", "1", "--lang", "en")
    assert english.exit_code == 2
    assert "Error: “bitcoin” is not a known payment method. Possible: cash, card," in english.output
    assert cli(home, "journal", "verify", "--json").output == before  # nothing recorded


@pytest.mark.parametrize(
    ("args", "french", "english"),
    [
        (["collect", WINCHING, "--amount", "10"], "Il manque --method.", "Missing --method."),
        (["show", WINCHING, "--nope"], "Option inconnue : --nope.", "No such option: --nope."),
        (["show", WINCHING, "extra"], "Argument en trop : extra.", "Unexpected argument: extra."),
        (["montre", WINCHING], "Commande inconnue : montre.", "No such command: montre."),
    ],
)
def test_usage_errors_speak_the_chosen_language(home, args, french, english):
    said = cli(home, *args)
    assert said.exit_code == 2 and f"Erreur : {french}" in said.output
    assert "Utilisation :" in said.output or args[0] == "montre"
    told = CliRunner().invoke(field, [*args, "--home", str(home)], env={"TOWLINE_LANG": "en"})
    assert told.exit_code == 2 and f"Error: {english}" in told.output


def test_a_managers_code_typed_as_read_out_is_accepted(home):
    code = approval_code(WINCHING, Kind.DISCOUNT, "20.00", datetime.now(UTC))
    spoken = [code[:3], code[3:5], code[5:]]  # "37K 3H EHHP4", pieces as heard
    done = cli(home, "discount", WINCHING, "--amount", "20.00", "--code", *spoken, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["amount"] == "20.00"


def test_pieces_are_joined_only_when_they_make_one_code():
    assert join_spoken_codes(["discount", "M1", "--code", "37K3H", "EHHP4"]) == [
        "discount",
        "M1",
        "--code",
        "37K3H EHHP4",
    ]
    assert join_spoken_codes(["--code", "37K3H-EHHP4", "M1"]) == ["--code", "37K3H-EHHP4", "M1"]
    # Not a code once joined: left alone, click says what is wrong.
    assert join_spoken_codes(["--code", "12", "--amount", "5"]) == ["--code", "12", "--amount", "5"]
    assert join_spoken_codes(["--code", "ABC", "M-A-0004"]) == ["--code", "ABC", "M-A-0004"]
