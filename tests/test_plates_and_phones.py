"""Plates and phone numbers as people type them (shared/plates.py, shared/phones.py): a
French plate is read whatever its spacing and case and written one way, a wrong one is
refused in words; a phone number gets one key however it is written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.i18n import Text
from shared.phones import Phone, phone_key, read_phone
from shared.plates import FNI, SIV, Plate, plate_key, read_foreign_plate, read_french_plate

LETTERS = "ABCDEFGHJKLMNPQRSTVWXYZ"  # no I, O, U on an SIV plate


@pytest.mark.parametrize(
    ("typed", "kind", "written"),
    [
        ("ab 123 cd", SIV, "AB-123-CD"),
        ("AB123CD", SIV, "AB-123-CD"),
        ("ab-123-cd", SIV, "AB-123-CD"),
        (" Ab.123_cD ", SIV, "AB-123-CD"),
        ("WW-123-AB", SIV, "WW-123-AB"),  # a temporary plate
        ("1234 ab 75", FNI, "1234 AB 75"),
        ("123abc2a", FNI, "123 ABC 2A"),
        ("12-A-971", FNI, "12 A 971"),
        ("7 XY 13", FNI, "7 XY 13"),
    ],
)
def test_a_french_plate_is_read_any_way_and_written_one_way(typed, kind, written):
    assert read_french_plate(typed) == Plate(kind, written)


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("AI-123-CD", "les lettres I, O et U ne figurent jamais"),
        ("AB-123-CO", "les lettres I, O et U ne figurent jamais"),
        ("SS-123-AB", "« SS » ne commence ni ne termine"),
        ("AB-123-SS", "« SS » ne commence ni ne termine"),
        ("AB-000-CD", "le numéro 000 n'existe pas"),
        ("12 AB 20", "département 20 inconnu"),
        ("12 AB 00", "département 00 inconnu"),
        ("ABC-12-D", "plaque non reconnue"),
        ("AB-123-CD-5", "plaque non reconnue"),
        ("AB/12é", "plaque non reconnue"),
        ("", "plaque non reconnue"),
    ],
)
def test_a_wrong_french_plate_is_refused_in_words(typed, words):
    refused = read_french_plate(typed)
    assert isinstance(refused, Text)
    assert words in refused.fr and refused.en


def test_a_foreign_plate_is_kept_as_typed_within_bounds():
    assert read_foreign_plate("b 123 xyz") == Plate("foreign", "B 123 XYZ")
    assert isinstance(read_foreign_plate("X"), Text)
    assert isinstance(read_foreign_plate("A" * 17), Text)


@given(
    st.sampled_from(LETTERS),
    st.sampled_from(LETTERS),
    st.integers(1, 999),
    st.sampled_from(LETTERS),
    st.sampled_from(LETTERS),
    st.lists(st.sampled_from(["", " ", "-", ".", "  "]), min_size=2, max_size=2),
    st.booleans(),
)
def test_any_spacing_and_case_of_an_siv_plate_gives_the_same_plate_and_key(
    a, b, number, c, d, seps, lower
):
    first, last = a + b, c + d
    if "SS" in (first, last):
        return
    written = f"{first}-{number:03d}-{last}"
    typed = f"{first}{seps[0]}{number:03d}{seps[1]}{last}"
    typed = typed.lower() if lower else typed
    assert read_french_plate(typed) == Plate(SIV, written)
    assert plate_key(typed) == plate_key(written) == f"{first}{number:03d}{last}"


@pytest.mark.parametrize(
    "typed",
    ["06 12 34 56 78", "0612345678", "06.12.34.56.78", "+33 6 12 34 56 78", "+33612345678",
     "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78", "06-12-34-56-78"],
)  # fmt: skip
def test_a_french_number_has_one_key_however_it_is_written(typed):
    assert read_phone(typed) == Phone("0612345678", "06 12 34 56 78")


def test_other_numbers_keep_their_country_and_wrong_ones_are_refused():
    assert read_phone("+44 20 7946 0000") == Phone("00442079460000", "+442079460000")
    assert phone_key("0044 20 7946 0000") == "00442079460000"
    for wrong in ("12 34", "06 12 34 56 7", "06 12 34 56 789", "appelez-moi", "+1 23", ""):
        assert phone_key(wrong) is None, wrong
        assert isinstance(read_phone(wrong), Text)


@given(st.integers(100_000_000, 999_999_999), st.sampled_from(["", " ", ".", "-"]))
def test_the_national_and_international_forms_of_a_french_number_share_a_key(digits, sep):
    national = "0" + str(digits)
    pairs = sep.join(national[i : i + 2] for i in range(0, 10, 2))
    international = (
        "+33" + sep + sep.join([national[1]] + [national[i : i + 2] for i in range(2, 10, 2)])
    )
    assert phone_key(pairs) == phone_key(international) == national
