"""Reading again a document that passed its schema before: the few shape checks that keep
the fast builders (`shared.checked_mission`, `shared.checked_contract`) from building
anything other than what the schema built. A value of another shape raises `Unchecked`,
and the caller validates the document in full instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Unchecked(ValueError):
    """The document is not in the shape its schema leaves: validate it in full."""


def mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Unchecked("an object is expected")
    return value


def text(value: Any) -> str:
    if type(value) is not str:
        raise Unchecked("a string is expected")
    return value


def optional(value: Any) -> str | None:
    return None if value is None else text(value)


def boolean(value: Any) -> bool:
    """Only true or false: the schema would turn "yes" or 1 into a bool, this does not."""
    if type(value) is not bool:
        raise Unchecked("true or false is expected")
    return value


def integer(value: Any) -> int:
    if type(value) is not int:
        raise Unchecked("an integer is expected")
    return value
