"""Dotted paths into an incoming order (parsed JSON), for the cleaning rules.

`vehicle.class`, `distance_km.loaded`, `services.0.code`: object keys and list indices
joined by dots, as the order is written on the wire (the vehicle's class is `class`, not
`vehicle_class`). `*` stands for every item of a list or every entry of an object
(`distance_km.*`, `services.*.code`). Reading what is not there gives `ABSENT`, never an
error: an ordering party's order is exactly what is not yet trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from shared.i18n import Text
from shared.mission import MissionSchema

WILDCARD = "*"
MAX_PATH = 200
_SEGMENT = re.compile(r"^(\*|[A-Za-z0-9_-]{1,64})$")
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,5})$")

# The top-level fields of an incoming order: the mission document's, plus what the
# ordering party adds (who the beneficiary is, the places, the coverage it grants —
# caps, km covered, deductible — and what the file already consumed of its cap).
MISSION_FIELDS: Final = tuple(
    field.data_key or name for name, field in MissionSchema().fields.items()
)
ORDER_FIELDS: Final = tuple(
    dict.fromkeys((*MISSION_FIELDS, "beneficiary", "places", "coverage", "file_consumed"))
)  # in order, once each: the mission document now has its own `coverage` block
# Fields a condition may read but no correction may write: the order's identity.
READ_ONLY: Final = frozenset({"id"})


class _Absent:
    """The value of a path that is not in the document (distinct from JSON null)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __copy__(self) -> _Absent:
        return self

    def __deepcopy__(self, memo: Any) -> _Absent:
        return self


ABSENT: Final = _Absent()

Segments = tuple[str, ...]


def split(path: str) -> Segments:
    return tuple(path.split("."))


def join(segments: Segments) -> str:
    return ".".join(segments)


def path_problem(path: str, *, writing: bool, wildcards: bool = True) -> Text | None:
    """Why `path` cannot be used in a rule, or None when it can."""
    segments = path.split(".")
    if len(path) > MAX_PATH or not all(_SEGMENT.match(s) for s in segments):
        return Text(
            "chemin attendu : des noms séparés par des points, par ex. vehicle.class "
            f"ou services.*.code ({MAX_PATH} caractères au plus)",
            "a path is expected: names joined by dots, e.g. vehicle.class or "
            f"services.*.code ({MAX_PATH} characters at most)",
        )
    head = segments[0]
    if head not in ORDER_FIELDS:
        known = ", ".join(ORDER_FIELDS)
        return Text(
            f"champ inconnu de la commande : « {head} » (champs connus : {known})",
            f"not a field of an order: '{head}' (known fields: {known})",
        )
    if WILDCARD in segments and not wildcards:
        return Text("pas de * dans ce chemin", "no * in this path")
    if writing and head in READ_ONLY:
        return Text(
            f"le champ {head} identifie la commande : une règle ne le corrige pas",
            f"the {head} field identifies the order: a rule does not correct it",
        )
    return None


def copy_json(value: Any) -> Any:
    """A deep copy as plain dicts and lists, so nothing is shared with the caller."""
    if isinstance(value, Mapping):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(item) for item in value]
    return value


def same(a: Any, b: Any) -> bool:
    """JSON equality: "0" is not 0, and true is not 1 (as it is in Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(same(a[key], b[key]) for key in a)
        )
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return type(a) is type(b) and bool(a == b)


def _index(segment: str) -> int | None:
    return int(segment) if _INDEX.match(segment) else None


def get(document: Any, segments: Segments) -> Any:
    """The value at the path, or ABSENT."""
    node = document
    for segment in segments:
        if isinstance(node, dict):
            if segment not in node:
                return ABSENT
            node = node[segment]
        elif isinstance(node, list) and (i := _index(segment)) is not None and i < len(node):
            node = node[i]
        else:
            return ABSENT
    return node


def expand(document: Any, segments: Segments) -> list[Segments]:
    """The concrete paths a path stands for: `*` becomes each index or key present now.

    A path without `*` stands for itself, present or not."""
    found: list[Segments] = [()]
    for segment in segments:
        if segment != WILDCARD:
            found = [(*prefix, segment) for prefix in found]
            continue
        wider: list[Segments] = []
        for prefix in found:
            node = get(document, prefix)
            if isinstance(node, dict):
                wider += [(*prefix, key) for key in sorted(k for k in node if isinstance(k, str))]
            elif isinstance(node, list):
                wider += [(*prefix, str(i)) for i in range(len(node))]
        found = wider
    return found


def put(document: Any, segments: Segments, value: Any) -> bool:
    """Write the value at the path, making the objects on the way (over an absent or null
    parent); index len(list) appends. False, and nothing written, when a parent is a
    text, a number or a list without that index."""
    node = document
    for segment in segments[:-1]:
        if isinstance(node, dict):
            child = node.get(segment)
            if child is None:
                child = {}
                node[segment] = child
            node = child
        elif isinstance(node, list) and (i := _index(segment)) is not None and i < len(node):
            node = node[i]
        else:
            return False
    last = segments[-1]
    if isinstance(node, dict):
        node[last] = value
        return True
    if isinstance(node, list) and (i := _index(last)) is not None and i <= len(node):
        if i == len(node):
            node.append(value)
        else:
            node[i] = value
        return True
    return False


def delete(document: Any, segments: Segments) -> bool:
    """Remove the key or list item at the path; False when it is not there."""
    parent = get(document, segments[:-1])
    last = segments[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    if isinstance(parent, list) and (i := _index(last)) is not None and i < len(parent):
        del parent[i]
        return True
    return False
