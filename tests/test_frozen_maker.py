"""`shared.frozen.maker`: a value built without the frozen guard's cost is the value the
class builds, and stays frozen."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from shared.frozen import maker
from shared.i18n import Text
from shared.valuation import Line, Step
from shared.vat import RateTotals


def test_a_made_value_is_the_class_value_and_stays_frozen():
    fields = ("TOW.VL.P", "service", Text("Remorquage", "Tow"), Decimal(1), Decimal("120.00"))
    money = (Decimal("120.00"), Decimal("20"), Decimal("120.00"), Decimal("0.00"), None)
    made, built = maker(Line)(*fields, *money), Line(*fields, *money)
    assert type(made) is Line
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert made.canonical() == built.canonical()
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.amount = Decimal(0)  # type: ignore[misc]
    assert dataclasses.replace(made, band="night") == dataclasses.replace(built, band="night")


def test_keywords_and_every_field_are_asked_for():
    step = maker(Step)(rule="contract", params={"id": "A"})
    assert step == Step("contract", {"id": "A"})
    with pytest.raises(TypeError):
        maker(RateTotals)(Decimal(20), Decimal(1), Decimal(0))  # one missing


def test_classes_it_cannot_make_are_refused():
    @dataclasses.dataclass(frozen=True)
    class Loose:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            assert self.a > 0

    for cls in (Loose, Checked):
        with pytest.raises(TypeError):
            maker(cls)
