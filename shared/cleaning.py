"""Cleaning rules: an ordering party's recurring mistakes, corrected before valuation.

Seed 000's "Erreur du donneur d'ordre / Solution 2": some ordering parties make the same
mistake in order after order (mileage in miles, a service code spelled their way, no
vehicle class, a deductible sent as a percentage). A rule set, one per ordering party and
versioned, says as data what to look for (`when`) and what to correct (`then`);
`clean` applies it to an incoming order, a plain JSON document, before it is valued, and
returns the cleaned order with one `Correction` per value changed, naming the rule and
the rule set's version. `shared.cleaning_schema` reads rule set documents;
docs/cleaning-rules.md is the reference.

How a rule set applies:
- rules apply in their order, each to the order as the earlier rules left it: a rule's
  condition sees their corrections;
- a rule's condition is evaluated once, before its first correction; its corrections then
  apply in their order;
- a correction that changes nothing (the value is already right, the field is not there
  to map) logs nothing;
- the input is never modified; the log replays (`replay`) onto the order as received to
  give the cleaned order. Replaying a rule set on an open file starts again from the order
  as received, never from the cleaned one: a `multiply` applied twice multiplies twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from shared.cleaning_paths import (
    ABSENT,
    Segments,
    copy_json,
    delete,
    expand,
    get,
    join,
    put,
    same,
    split,
)
from shared.errors import Refused
from shared.i18n import Text
from shared.money import parse_decimal

# Conditions ------------------------------------------------------------------------


class Op(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    MISSING = "missing"
    PRESENT = "present"
    MATCHES = "matches"
    LESS_THAN = "less_than"
    GREATER_THAN = "greater_than"


@dataclass(frozen=True, slots=True)
class Check:
    """One test of the value at `path`. The operand is a JSON value (equals, not_equals),
    a tuple of them (in), a bool (missing, present), a compiled pattern (matches) or a
    Decimal (less_than, greater_than)."""

    path: str
    op: Op
    operand: Any


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition = Check | AllOf | AnyOf | Not


def _blank(value: Any) -> bool:
    """Missing: not there, null, blank text, or an empty list or object."""
    if value is ABSENT or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _number(value: Any) -> Decimal | None:
    """A decimal read from a string or an integer; anything else (floats included) is not
    a number a rule compares."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return parse_decimal(value.strip() if isinstance(value, str) else value)
    except ValueError:
        return None


def _check(check: Check, value: Any) -> bool:
    op = check.op
    if op is Op.MISSING:
        return _blank(value) is check.operand
    if op is Op.PRESENT:
        return (not _blank(value)) is check.operand
    if op is Op.NOT_EQUALS:
        return not same(value, check.operand)
    if value is ABSENT:
        return False
    if op is Op.EQUALS:
        return same(value, check.operand)
    if op is Op.IN:
        return any(same(value, item) for item in check.operand)
    if op is Op.MATCHES:
        return isinstance(value, str) and check.operand.search(value) is not None
    number = _number(value)
    bound: Decimal = check.operand
    if number is None:
        return False
    return number < bound if op is Op.LESS_THAN else number > bound


def holds(condition: Condition, order: Any) -> bool:
    """Whether the condition holds on the order. A path with `*` holds when at least one
    item passes the test (and not at all when there is no item)."""
    if isinstance(condition, AllOf):
        return all(holds(c, order) for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(holds(c, order) for c in condition.conditions)
    if isinstance(condition, Not):
        return not holds(condition.condition, order)
    return any(_check(condition, get(order, path)) for path in expand(order, split(condition.path)))


# Corrections a rule makes ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetValue:
    path: str
    value: Any


@dataclass(frozen=True, slots=True)
class CopyValue:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class RemoveValue:
    path: str


@dataclass(frozen=True, slots=True)
class Multiply:
    """Numbers (strings or integers) times `factor`, rounded half up to `places`, or to
    the scale the value was written with ("125.0" keeps one decimal)."""

    path: str
    factor: Decimal
    places: int | None = None


@dataclass(frozen=True, slots=True)
class Replace:
    path: str
    pattern: re.Pattern[str]
    replacement: str


@dataclass(frozen=True, slots=True)
class MapValues:
    path: str
    table: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AddService:
    """Adds the service (its wire form: code, quantity, amount) unless one with that code
    is already listed."""

    service: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RemoveService:
    code: str


Action = (
    SetValue | CopyValue | RemoveValue | Multiply | Replace | MapValues | AddService | RemoveService
)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    description: Text
    when: Condition | None  # None: every order
    then: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    party: str
    version: int
    rules: tuple[Rule, ...]
    digest: str  # sha256 of the document's canonical JSON: what a file's log cites


# The log ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Correction:
    """One value changed by one rule. `before` is ABSENT when the rule added the field,
    `after` is ABSENT when it removed it."""

    rule: str
    version: int
    path: str
    before: Any
    after: Any

    def to_wire(self) -> dict[str, Any]:
        """JSON form for a file's log: `before`/`after` are left out when absent."""
        wire: dict[str, Any] = {"rule": self.rule, "version": self.version, "path": self.path}
        if self.before is not ABSENT:
            wire["before"] = copy_json(self.before)
        if self.after is not ABSENT:
            wire["after"] = copy_json(self.after)
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Correction:
        return cls(
            rule=str(wire["rule"]),
            version=int(wire["version"]),
            path=str(wire["path"]),
            before=copy_json(wire["before"]) if "before" in wire else ABSENT,
            after=copy_json(wire["after"]) if "after" in wire else ABSENT,
        )


@dataclass(frozen=True, slots=True)
class Cleaned:
    order: dict[str, Any]
    corrections: tuple[Correction, ...]
    party: str
    version: int
    ruleset_digest: str

    @property
    def changed(self) -> bool:
        return bool(self.corrections)

    def to_wire(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "version": self.version,
            "digest": self.ruleset_digest,
            "corrections": [c.to_wire() for c in self.corrections],
        }


# Applying --------------------------------------------------------------------------

# Explicit precision and rounding: nothing depends on the thread's decimal context.
_DECIMAL = Context(prec=60, rounding=ROUND_HALF_UP)

Change = tuple[Segments, Any, Any]  # path, before, after


def _multiplied(value: Any, factor: Decimal, places: int | None) -> Any:
    number = _number(value)
    if number is None:
        return ABSENT
    if places is None:
        exponent = number.as_tuple().exponent
        places = 0 if isinstance(value, int) or not isinstance(exponent, int) else -exponent
        places = max(places, 0)
    try:
        result = _DECIMAL.multiply(number, factor).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_DECIMAL
        )
    except InvalidOperation:
        return ABSENT
    if isinstance(value, int) and places == 0:
        return int(result)
    return format(result, "f")


def _write(order: dict[str, Any], path: Segments, new: Any) -> Iterator[Change]:
    old = get(order, path)
    if new is ABSENT or (old is not ABSENT and same(old, new)):
        return
    logged = copy_json(new)  # before writing: a copy's source can be the target's parent
    if put(order, path, copy_json(new)):
        yield path, old, logged


def _services_changes(
    order: dict[str, Any], action: AddService | RemoveService
) -> Iterator[Change]:
    services = get(order, ("services",))
    if isinstance(action, RemoveService):
        if isinstance(services, list):
            for i in reversed(range(len(services))):
                item = services[i]
                if isinstance(item, dict) and same(item.get("code"), action.code):
                    del services[i]
                    yield ("services", str(i)), item, ABSENT
        return
    if services is ABSENT or services is None:
        yield from _write(order, ("services",), [action.service])
    elif isinstance(services, list) and not any(
        isinstance(item, dict) and same(item.get("code"), action.service["code"])
        for item in services
    ):
        yield from _write(order, ("services", str(len(services))), action.service)


def _apply(order: dict[str, Any], action: Action) -> Iterator[Change]:
    if isinstance(action, AddService | RemoveService):
        yield from _services_changes(order, action)
        return
    if isinstance(action, CopyValue):
        yield from _write(order, split(action.target), get(order, split(action.source)))
        return
    paths = expand(order, split(action.path))
    if isinstance(action, RemoveValue):
        for path in reversed(paths):  # last first: list indices stay what they were
            old = get(order, path)
            if delete(order, path):
                yield path, old, ABSENT
        return
    for path in paths:
        old = get(order, path)
        if isinstance(action, SetValue):
            new = action.value
        elif isinstance(action, Multiply):
            new = _multiplied(old, action.factor, action.places)
        elif isinstance(action, Replace):
            new = action.pattern.sub(action.replacement, old) if isinstance(old, str) else ABSENT
        else:
            new = action.table[old] if isinstance(old, str) and old in action.table else ABSENT
        yield from _write(order, path, new)


def clean(order: Mapping[str, Any], ruleset: RuleSet) -> Cleaned:
    """Apply the rule set to an incoming order (its JSON document, not yet validated)."""
    work: dict[str, Any] = copy_json(order)
    log: list[Correction] = []
    for rule in ruleset.rules:
        if rule.when is not None and not holds(rule.when, work):
            continue
        for action in rule.then:
            for path, before, after in _apply(work, action):
                log.append(Correction(rule.id, ruleset.version, join(path), before, after))
    return Cleaned(work, tuple(log), ruleset.party, ruleset.version, ruleset.digest)


def replay(order: Mapping[str, Any], corrections: Iterable[Correction]) -> dict[str, Any]:
    """The order with the logged corrections written onto it, in order: what `clean`
    returned. Refused when a correction's `before` is not what the order holds there (a
    log that belongs to another order, or corrections out of order)."""
    work: dict[str, Any] = copy_json(order)
    for correction in corrections:
        path = split(correction.path)
        current = get(work, path)
        expected = correction.before
        if not (current is expected or same(current, expected)):
            raise Refused(
                f"le journal de nettoyage ne correspond pas à la commande ({correction.path})",
                f"the cleaning log does not match the order ({correction.path})",
            )
        if correction.after is ABSENT:
            delete(work, path)
        else:
            put(work, path, copy_json(correction.after))
    return work
