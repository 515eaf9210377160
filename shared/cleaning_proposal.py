"""Make a cleaning rule from a fix the office made by hand.

When a clerk corrects an order before sending it (seed 000's "Solution 1") and sees the
same mistake coming back, the fix itself says most of the rule: *when* the fields the
clerk changed hold the values they had (and the order comes from that ordering party),
*then* set the values the clerk wrote. The proposal is a rule document, to read and edit
(widen a condition, name the rule, word its description) before it is added to the
party's rule set as a new version; docs/cleaning-rules.md shows an example.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.cleaning import clean
from shared.cleaning_paths import (
    ABSENT,
    Segments,
    copy_json,
    delete,
    join,
    path_problem,
    put,
    same,
)
from shared.cleaning_schema import MAX_CORRECTIONS, load_ruleset
from shared.errors import InvalidDocument, Refused

_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Change = tuple[Segments, Any, Any]  # path, before, after (ABSENT when not there)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A rule document to edit before adding it, and the changed paths no rule can make
    (the order's id, a field an order does not have, a binary float)."""

    rule: dict[str, Any]
    left_out: tuple[str, ...]


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, Mapping):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


def _diff(old: Any, new: Any, path: Segments) -> list[Change]:
    """The smallest values that differ: into objects, and into lists of the same length."""
    if old is not ABSENT and new is not ABSENT and same(old, new):
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping) and path:
        return _diff_objects(old, new, path)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found: list[Change] = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found += _diff(a, b, (*path, str(i)))
        return found
    return [(path, old, new)]


def _diff_objects(old: Mapping[str, Any], new: Mapping[str, Any], path: Segments) -> list[Change]:
    found: list[Change] = []
    for key in sorted({*old, *new}, key=str):
        found += _diff(old.get(key, ABSENT), new.get(key, ABSENT), (*path, str(key)))
    return found


def _applied(before: Mapping[str, Any], changes: list[Change]) -> dict[str, Any]:
    expected: dict[str, Any] = copy_json(before)
    for path, _, new in changes:
        if new is ABSENT:
            delete(expected, path)
        else:
            put(expected, path, copy_json(new))
    return expected


def _test(path: str, old: Any) -> dict[str, Any]:
    return {"path": path, "missing": True} if old is ABSENT else {"path": path, "equals": old}


def _plain(changes: list[Change]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    when = [_test(join(path), old) for path, old, _ in changes]
    then = [
        {"remove": {"path": join(path)}}
        if new is ABSENT
        else {"set": {"path": join(path), "to": copy_json(new)}}
        for path, _, new in changes
    ]
    return when, then


Candidate = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # when, then


def _renamed(changes: list[Change]) -> Candidate | None:
    """A service code the party spells its own way: mapped wherever it appears."""
    table: dict[str, str] = {}
    others: list[Change] = []
    for change in changes:
        path, old, new = change
        if (
            path[0] == "services"
            and path[2:] == ("code",)
            and isinstance(old, str)
            and isinstance(new, str)
            and table.get(old, new) == new
        ):
            table[old] = new
        else:
            others.append(change)
    if not table or set(table) & set(table.values()):  # a chain is not a spelling
        return None
    when, then = _plain(others)
    when += [{"path": "services.*.code", "equals": code} for code in table]
    then.append({"map": {"path": "services.*.code", "table": table}})
    return when, then


def _added_removed(
    changes: list[Change], before: Mapping[str, Any], after: Mapping[str, Any]
) -> Candidate | None:
    """A service the party forgets is added; one it should not send is removed."""
    old, new = before.get("services"), after.get("services")
    if not isinstance(old, list) or not isinstance(new, list):
        return None
    when, then = _plain([c for c in changes if c[0][0] != "services"])
    old_codes = [item.get("code") for item in old if isinstance(item, Mapping)]
    new_codes = [item.get("code") for item in new if isinstance(item, Mapping)]
    for code in dict.fromkeys(old_codes):
        if code not in new_codes:
            when.append({"path": "services.*.code", "equals": code})
            then.append({"remove_service": {"code": code}})
    for item in new:
        if isinstance(item, Mapping) and item.get("code") not in old_codes:
            when.append({"not": {"path": "services.*.code", "equals": item.get("code")}})
            then.append({"add_service": copy_json(item)})
    return when, then


def _coarse(
    changes: list[Change], left_out: list[str], before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[Change]:
    """Too many small changes for one rule: whole top-level fields instead (but for a
    field holding a change no rule can make)."""
    kept = {path.split(".")[0] for path in left_out}
    heads = sorted({path[0] for path, _, _ in changes} - kept)
    return [c for c in changes if c[0][0] in kept] + [
        ((head,), before.get(head, ABSENT), after.get(head, ABSENT)) for head in heads
    ]


def propose_rule(before: Mapping[str, Any], after: Mapping[str, Any], *, rule_id: str) -> Proposal:
    """A rule that makes, on this order as received (`before`), the fix the office made
    by hand (`after`); refused when no difference can be made by a rule."""
    if not _RULE_ID.match(rule_id):
        raise Refused(
            "identifiant de règle attendu : lettres, chiffres, _ . - (64 au plus)",
            "a rule id is expected: letters, digits, _ . - (64 at most)",
        )
    changes: list[Change] = []
    left_out: list[str] = []
    for change in _diff_objects(before, after, ()):
        path, old, new = change
        if path_problem(join(path), writing=True, wildcards=False) or _has_float((old, new)):
            left_out.append(join(path))
        else:
            changes.append(change)
    if not changes:
        raise Refused(
            "aucune différence qu'une règle puisse reproduire entre la commande reçue et la "
            "commande corrigée",
            "no difference a rule can make between the order as received and as corrected",
        )
    if len(changes) > MAX_CORRECTIONS:
        changes = _coarse(changes, left_out, before, after)
    expected = _applied(before, changes)
    party = before.get("ordering_party")
    party_test = (
        [{"path": "ordering_party", "equals": party}]
        if isinstance(party, str)
        and party.strip()
        and not any(path[0] == "ordering_party" for path, _, _ in changes)
        else []
    )
    file_number = before.get("file_number")
    where = f" ({file_number})" if isinstance(file_number, str) and file_number else ""
    fixed = ", ".join(join(path) for path, _, _ in changes)
    if len(fixed) > 300:
        fixed = fixed[:297] + "…"
    description = {
        "fr": f"Proposée d'après une correction faite à la main{where} : {fixed}",
        "en": f"Proposed from a fix made by hand{where}: {fixed}",
    }
    touched = any(path[0] == "services" for path, _, _ in changes)
    candidates = [
        _renamed(changes),
        _added_removed(changes, before, after) if touched else None,
        _plain(changes),
    ]
    for when, then in (c for c in candidates if c is not None):
        rule = {
            "id": rule_id,
            "description": description,
            "when": {"all": party_test + when},
            "then": then,
        }
        if _reproduces(rule, before, expected):
            break
    return Proposal(rule, tuple(left_out))


def _reproduces(rule: dict[str, Any], before: Mapping[str, Any], expected: Any) -> bool:
    try:
        ruleset = load_ruleset({"party": "PROPOSAL", "version": 1, "rules": [rule]})
    except InvalidDocument:
        return False
    return same(clean(before, ruleset).order, expected)
