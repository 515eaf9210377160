"""The shipped examples' valuation digests, pinned.

A tablet and a server on different releases compare these digests, so a change to how
the core writes or computes a valuation must not move them by a single byte. These were
recorded before the valuation was sped up; if one changes, the change is a bug unless it
is a deliberate, announced change of the money facts.
"""

from __future__ import annotations

import pytest

from shared.valuation import value

PINNED = {
    "a-bastille-day": "11643835bd435e474a3cd9c2bd7d1d8f05e2ccc3844a5213c777420d9d364a06",
    "a-easter-monday": "e62ba88d45f37269ed8089a98a49f9be57dc4227216eef26e56b552a59f1a511",
    "a-saturday-accident-winching": (
        "fce926043486d357c3b029f304ef57a5a78e7578a7b90651b2729a08f20a45ff"
    ),
    "a-tuesday-30km": "0072382c4e20a2d3bd6f6a188d6efd95addea7949b648131a1103c9817eb0180",
    "a-tuesday-80km": "646575d115f05a4802534b59305c948d75ce30c44dd0e0ba63e6dc34fcae3858",
    "a-tuesday-evening": "bb508156b4cb1d40b8ab5f6d777c2b06b8c472edb5a9989f5a085dc7e41a8ed3",
    "a-tuesday-winching-breakdown": (
        "fd4991d0341da0159933bf0b235b7e8976b5b2ddb9822a06b2b834e71166d195"
    ),
    "b-tuesday-30km-file-consumed": (
        "57fd738fee525c707f39d0241c132b060d2b1292b253d5107dc8c2d920e031aa"
    ),
    "b-tuesday-80km": "9fc75066ea6c1735c423e7c5e3ecf176aa0b0cdfc2d99d684cfb24269616a373",
    "private-tow": "d49214fbc3c6d6be3ab20cbbfdc84cfcf0e7258e76720d58f3776e391cab93d7",
}

CONTRACT_OF = {"a": "assist-a", "b": "assist-b", "private": "private"}


@pytest.mark.parametrize(("name", "pinned"), sorted(PINNED.items()))
def test_example_valuation_digest_is_unchanged(contracts, mission, name, pinned):
    contract = contracts(CONTRACT_OF[name.split("-")[0]])
    assert value(mission(name), contract).digest == pinned


def test_the_files_earlier_consumption_gives_one_digest_however_it_is_written(contracts, mission):
    """94, 94.0 and 94.00 are one amount: a tablet summing cents and a server summing
    strings must agree on the digest (found by the office's simulated day)."""
    from decimal import Decimal

    from shared.valuation import ValuationContext, value

    terms, job = contracts("assist-b"), mission("b-tuesday-80km")
    digests = {
        value(job, terms, ValuationContext(file_consumed=Decimal(text))).digest
        for text in ("94", "94.0", "94.00", "9400E-2")
    }
    assert len(digests) == 1
