"""The shipped examples' valuation digests, pinned.

A tablet and a server on different releases compare these digests, so a change to how
the core writes or computes a valuation must not move them by a single byte. These were
recorded before the valuation was sped up; if one changes, the change is a bug unless it
is a deliberate, announced change of the money facts.

The digest covers the contract's digest: when the examples ASSIST-A and ASSIST-B gained
their `site_facts` block (what a driver may change alone, issue 13), every digest under
them moved while the money did not (tests/test_example_site_facts.py checks each
valuation is the same, line by line, with and without the block).
"""

from __future__ import annotations

import pytest

from shared.valuation import value

PINNED = {
    "a-bastille-day": "f92f0da660ed963aca63aa61e317959ee3bea730957fc70b5bb8534f43001346",
    "a-easter-monday": "e43ac1d5c24f1dd429f3f4a928c78ccf8b0eef7d2d8c5f8d225815651db9ac17",
    "a-saturday-accident-winching": (
        "ecfbba7266ac8d93478f036819b4bbd10dd80ef666b7e5c0ec5e1a62325470b5"
    ),
    "a-tuesday-30km": "c43c6fdeb01ea1232dc16904958a0df367f5ed99cca52f6e352f3a5d9e1b5861",
    "a-tuesday-80km": "4747972c32cc8153e6cb7b3db1fd274b3133ad5ec0660143b7d27fccf88a4b87",
    "a-tuesday-evening": "ce5ae8676f74f6b577d08ab58a3c72b364c01604431bf80795b3bde6e3177223",
    "a-tuesday-winching-breakdown": (
        "319276a508cc8502900eb6f5d83192e7b86199d197d62502431907df67f1d604"
    ),
    "b-tuesday-30km-file-consumed": (
        "d4d57229c0f8f1e52d40e2d3535faa3ef62dbcf3e1254f113ef30081dabfee8a"
    ),
    "b-tuesday-80km": "f1b65dce6353d97a06a86e5ae5a60ea579f6300bd133df0fa99d3870ec554ce3",
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
