"""Building values of frozen slotted dataclasses at the speed of plain objects.

A frozen dataclass guards every attribute store, its own `__init__`'s included: each
field is set through `object.__setattr__`, a call of its own. A valuation builds some
twenty such values (its lines, steps and totals), and that guard alone was about a
third of its time. `maker(cls)` returns a function that fills a twin of `cls` (the same
slots, no guard) with plain stores, then gives the object `cls` as its class: from then
on it is an ordinary `cls` value, frozen, with `cls`'s equality, hash and repr. The
twin has `cls`'s exact slot layout, which is what lets Python change an object's class.

For the hot paths of the valuation only: everywhere else, call the class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    """A function taking every field of `cls`, in order, that returns a `cls` value equal
    to `cls(*fields)` (no `__post_init__`: for classes without one)."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    slots = getattr(cls, "__slots__", None)
    if tuple(slots or ()) != tuple(names) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(names)})
    body = "".join(f"    o.{name} = {name}\n" for name in names)
    source = (
        f"def make({', '.join(names)}):\n    o = new(twin)\n{body}"
        "    o.__class__ = cls\n    return o\n"
    )
    scope: dict[str, Any] = {"new": object.__new__, "twin": twin, "cls": cls}
    exec(source, scope)  # generated from the field names, as dataclasses does
    make: Callable[..., T] = scope["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    return make
