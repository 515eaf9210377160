"""Money is Decimal rounded half up; canonical JSON is byte-stable and refuses floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.canonical import canonical_json, digest
from shared.money import (
    FloatRefused,
    Money,
    amount_cents,
    cents,
    format_amount,
    from_cents,
    parse_amount,
    to_cents,
)

D = Decimal


def test_rounding_is_half_up_not_bankers():
    assert cents(D("0.125")) == D("0.13")
    assert cents(D("0.135")) == D("0.14")
    assert cents(D("-0.125")) == D("-0.13")


@pytest.mark.parametrize("bad", [0.1, "1.005", "abc", "", True, None, "1e3"])
def test_parse_amount_refuses_floats_and_malformed_text(bad):
    with pytest.raises((ValueError, TypeError)):
        parse_amount(bad)


@given(
    st.one_of(
        st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,2})?\n?", fullmatch=True),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.decimals(places=2, min_value=-(10**12), max_value=10**12, allow_nan=False),
        st.text(max_size=8),
    )
)
def test_amount_cents_reads_what_parse_amount_reads(value):
    """The integer fast path: the same cents as Decimal's, the same refusals."""
    try:
        expected = int(parse_amount(value) * 100)
    except (ValueError, TypeError, ArithmeticError) as refused:
        with pytest.raises(type(refused)):
            amount_cents(value)
        return
    assert amount_cents(value) == expected
    assert type(amount_cents(value)) is int


def test_float_refused_is_a_type_error_with_advice():
    with pytest.raises(FloatRefused, match=r'"12\.50"'):
        Money(12.5)  # type: ignore[arg-type]


def test_money_refuses_mixing_currencies_and_sums():
    assert sum([Money(D("1.10")), Money(D("2.20"))]) == Money(D("3.30"))
    with pytest.raises(ValueError, match="EUR"):
        Money(D("1.00")) + Money(D("1.00"), "CHF")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_cents_round_trip(value):
    assert to_cents(from_cents(value)) == value


def test_amounts_for_people_in_french_and_english():
    assert format_amount(D("1234.5"), "fr") == "1\u202f234,50\u00a0€"
    assert format_amount(D("1234.5"), "en") == "€1,234.50"
    assert format_amount(D("-3"), "en") == "-€3.00"


def test_canonical_json_sorts_keys_without_whitespace_and_writes_decimals_as_strings():
    assert (
        canonical_json({"b": D("1.50"), "a": [1, "é", None]})
        == '{"a":[1,"é",null],"b":"1.50"}'.encode()
    )


def test_canonical_json_refuses_floats_anywhere():
    with pytest.raises(FloatRefused):
        canonical_json({"deep": [{"x": 0.5}]})


def test_digest_is_sha256_of_the_canonical_bytes():
    import hashlib

    assert digest({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()
