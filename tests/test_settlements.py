"""Card-terminal settlement files: what is read, and every bad line named."""

from __future__ import annotations

from datetime import date

import pytest

from server.office.settlements import parse
from shared.errors import InvalidDocument


def test_semicolons_or_commas_iso_or_french_dates_dot_or_comma_decimals():
    assert parse(b"date;reference;montant\n2026-03-10;AUT-1;12,50\n10/03/2026;AUT-2;3\n") == [
        (date(2026, 3, 10), "AUT-1", 1250),
        (date(2026, 3, 10), "AUT-2", 300),
    ]
    assert parse(b"Date,Autorisation,Amount\n2026-03-11,X9,0.05\n") == [
        (date(2026, 3, 11), "X9", 5)
    ]


def test_every_bad_line_is_listed_with_its_number_and_nothing_is_read():
    with pytest.raises(InvalidDocument) as bad:
        parse(b"date;reference;amount\n2026-03-10;A;abc\n2026-03-10;B;1.00\nxx;C;1\n;D;-2\n")
    assert [p.path for p in bad.value.problems] == ["2", "4", "5"]
    assert "unreadable line" in bad.value.message("en")


def test_missing_columns_and_empty_files_are_refused():
    with pytest.raises(InvalidDocument) as missing:
        parse(b"date;amount\n2026-03-10;1.00\n")
    assert "missing columns: reference" in missing.value.message("en")
    with pytest.raises(InvalidDocument):
        parse(b"date;reference;amount\n")
    with pytest.raises(InvalidDocument):
        parse("date;reference;amount\n".encode("utf-16"))


@pytest.mark.parametrize(
    "content",
    [b"\r0", b'date;reference;amount\n2026-03-10;"A\rB;1.00\n', b'a;"' + b"x" * 200_000 + b'"\n'],
)
def test_bytes_the_csv_module_cannot_read_are_a_refused_file_not_a_crash(content: bytes):
    with pytest.raises(InvalidDocument) as bad:
        parse(content)
    assert bad.value.message("en").startswith("Invalid card settlement file")


def test_payment_files_refuse_the_same_unreadable_bytes():
    from server.parties.payment_files import ADVICE
    from server.parties.payment_files import parse as parse_payments

    with pytest.raises(InvalidDocument) as bad:
        parse_payments(b'date;reference;amount\n"' + b"x" * 200_000 + b'"\n', ADVICE)
    assert "unreadable CSV" in bad.value.message("en")
