"""The office's hand-set terms for a mission, in the core and on the tablet: each part
keeps the latest value the office gave it; a tablet keeps the newest announcement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fieldclient import office_terms, store
from shared.deposit import (
    fold_office_terms,
    office_terms_from_wire,
    office_terms_payload,
    office_terms_wire,
)
from shared.payment_terms import DepositTerms, DepositWhen, PayWhen

D = Decimal


def test_each_part_keeps_the_latest_value_the_office_gave_it() -> None:
    first = office_terms_payload(
        "M1", deposit=DepositTerms(DepositWhen.AT_ORDER, D("50")), reason="inconnu"
    )
    second = office_terms_payload("M1", pays=PayWhen.ON_INVOICE, reason="garage")
    third = office_terms_payload(
        "M1", deposit=DepositTerms(DepositWhen.BEFORE_DEPARTURE, D("20.5")), reason="revu"
    )
    assert second == {"mission_id": "M1", "pays": "on_invoice", "reason": "garage"}
    terms = fold_office_terms([first, second, third])
    assert terms.deposit == DepositTerms(DepositWhen.BEFORE_DEPARTURE, D("20.50"))
    assert terms.pays is PayWhen.ON_INVOICE
    assert terms.payment_moment(PayWhen.AT_DELIVERY) is PayWhen.ON_INVOICE
    assert fold_office_terms([first]).payment_moment(PayWhen.AT_DELIVERY) is PayWhen.AT_DELIVERY
    wire = office_terms_wire(terms)
    assert wire == {
        "deposit": {"when": "before_departure", "amount": "20.50"},
        "pays": "on_invoice",
    }
    assert office_terms_from_wire(wire) == terms


def test_a_payload_needs_something_to_set_and_a_reason() -> None:
    with pytest.raises(ValueError):
        office_terms_payload("M1", reason="x")
    with pytest.raises(ValueError):
        office_terms_payload("M1", pays=PayWhen.AT_ORDER, reason="  ")


def test_the_tablet_keeps_the_newest_announcement_and_ignores_a_tombstone(tmp_path) -> None:
    db = store.connect(tmp_path / "t.db")
    newer = {"deposit": {"when": "at_order", "amount": "30.00"}, "pays": None}
    older = {"deposit": {"when": "at_order", "amount": "99.00"}, "pays": "on_invoice"}
    with store.write(db):
        assert office_terms.keep(db, {"id": "M1", "seq": 9, "data": newer})
        assert not office_terms.keep(db, {"id": "M1", "seq": 4, "data": older})
        assert not office_terms.keep(db, {"id": "M1", "seq": 12, "data": None})
        assert not office_terms.keep(db, {"id": "M1", "seq": 13, "data": {"pays": "soon"}})
    held = office_terms.terms(db, "M1")
    assert held.deposit == DepositTerms(DepositWhen.AT_ORDER, D("30.00")) and held.pays is None
    assert office_terms.terms(db, "M2").deposit is None
