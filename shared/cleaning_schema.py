"""The cleaning rule set document (JSON) and its validation into a `RuleSet`.

Like contracts: unknown fields, unknown operators, paths outside an order's fields and
floats are refused, every problem named by its path (`rules.2.then.0.multiply.factor`),
in French and English, before any rule touches an order. docs/cleaning-rules.md is the
reference for this format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.canonical import digest
from shared.cleaning import (
    Action,
    AddService,
    AllOf,
    AnyOf,
    Check,
    Condition,
    CopyValue,
    MapValues,
    Multiply,
    Not,
    Op,
    RemoveService,
    RemoveValue,
    Replace,
    Rule,
    RuleSet,
    SetValue,
)
from shared.cleaning_paths import path_problem
from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.schema_tools import AmountField, DecimalField, bilingual, problems

MAX_RULES = 500
MAX_CORRECTIONS = 20
MAX_DEPTH = 8
MAX_PATTERN = 200
_ID = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    error=bilingual(
        "identifiant attendu : lettres, chiffres, _ . - (64 au plus)",
        "an identifier is expected: letters, digits, _ . - (64 at most)",
    ),
)
_SERVICE_CODE = validate.Regexp(
    r"^[A-Z0-9]{1,8}$",
    error=bilingual(
        "code de prestation attendu : majuscules et chiffres, 8 au plus (par ex. TOW)",
        "a service code is expected: capitals and digits, 8 at most (e.g. TOW)",
    ),
)


def _length(low: int = 0, high: int | None = None) -> validate.Length:
    """Length, with its message in both languages."""
    if high is None:
        return validate.Length(
            min=low, error=bilingual(f"longueur d'au moins {low}", f"length at least {low}")
        )
    return validate.Length(
        min=low,
        max=high,
        error=bilingual(f"longueur de {low} à {high}", f"length {low} to {high}"),
    )


def _range(low: int, high: int | None = None) -> validate.Range:
    """Range, with its message in both languages."""
    if high is None:
        return validate.Range(
            min=low, error=bilingual(f"doit être au moins {low}", f"must be at least {low}")
        )
    return validate.Range(
        min=low, max=high, error=bilingual(f"de {low} à {high}", f"{low} to {high}")
    )


COMBINATORS = ("all", "any", "not")
OPERATORS = tuple(op.value for op in Op)
ACTIONS = (
    "set",
    "copy",
    "remove",
    "multiply",
    "replace",
    "map",
    "add_service",
    "remove_service",
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _error(text: Text) -> str:
    return bilingual(text.fr, text.en)


class _PathField(fields.String):
    """A dotted path into an order: `vehicle.class`, `services.*.code`."""

    def __init__(self, *, writing: bool = False, wildcards: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writing = writing
        self.wildcards = wildcards

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        path = super()._deserialize(value, attr, data, **kwargs)
        problem = path_problem(path, writing=self.writing, wildcards=self.wildcards)
        if problem is not None:
            raise ValidationError(_error(problem))
        return path


class _JsonField(fields.Field[Any]):
    """Any JSON value but a float (text, integer, true/false, null, list, object)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        _check_json(value, 0)
        return value


def _check_json(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValidationError(
            bilingual("valeur imbriquée trop profondément", "value nested too deeply")
        )
    if isinstance(value, float):
        raise ValidationError("FLOAT")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError("Invalid input type.")
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif not (value is None or isinstance(value, str | int)):  # bool is an int
        raise ValidationError("Invalid input type.")


class _StrictBoolean(fields.Field[bool]):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


def nested_quantifier(pattern: str) -> bool:
    """A quantified group that holds a quantifier, like (a+)+ or (\\d*x)*: the shape of
    patterns that can take exponential time on a hostile string."""
    groups: list[bool] = []  # per open group: does it hold a quantifier?
    closed_with_quantifier = False  # the token just before is a group holding one
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            closed_with_quantifier = False
            continue
        if char == "[":  # a character class: its * + { are plain characters
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            closed_with_quantifier = False
            continue
        if char == "(":
            groups.append(False)
            closed_with_quantifier = False
        elif char == ")":
            held = groups.pop() if groups else False
            if held and groups:
                groups[-1] = True
            closed_with_quantifier = held
        elif char in "*+" or (char == "{" and re.match(r"\{\d*,?\d*\}", pattern[i:])):
            if closed_with_quantifier:
                return True
            if groups:
                groups[-1] = True
            closed_with_quantifier = False
        else:
            closed_with_quantifier = False
        i += 1
    return False


class _PatternField(fields.String):
    """A regular expression, compiled here so a bad one is refused before use."""

    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> re.Pattern[str]:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text or len(text) > MAX_PATTERN:
            raise ValidationError(
                bilingual(
                    f"expression régulière de 1 à {MAX_PATTERN} caractères",
                    f"a regular expression of 1 to {MAX_PATTERN} characters",
                )
            )
        try:
            compiled = re.compile(text)
        except re.error as exc:
            raise ValidationError(
                bilingual(
                    f"expression régulière invalide : {exc}", f"invalid regular expression: {exc}"
                )
            ) from None
        if nested_quantifier(text):
            raise ValidationError(
                bilingual(
                    "quantificateur imbriqué refusé, par ex. (a+)+ : il peut bloquer le serveur",
                    "nested quantifier refused, e.g. (a+)+: it can hang the server",
                )
            )
        return compiled


# Conditions ------------------------------------------------------------------------


class _CheckSchema(_Strict):
    path = _PathField(required=True)
    equals = _JsonField(allow_none=True)
    not_equals = _JsonField(allow_none=True)
    in_ = fields.List(_JsonField(allow_none=True), data_key="in", validate=_length(low=1, high=200))
    missing = _StrictBoolean()
    present = _StrictBoolean()
    matches = _PatternField()
    less_than = DecimalField()
    greater_than = DecimalField()


def _condition(raw: Any, depth: int) -> Condition:
    if not isinstance(raw, Mapping):
        raise ValidationError(["Invalid input type."])
    if depth > MAX_DEPTH:
        raise ValidationError(
            bilingual(
                f"conditions imbriquées sur plus de {MAX_DEPTH} niveaux",
                f"conditions nested more than {MAX_DEPTH} levels deep",
            )
        )
    combinator = [key for key in raw if key in COMBINATORS]
    if combinator:
        key = combinator[0]
        if len(raw) > 1:
            raise ValidationError(
                {
                    other: [
                        bilingual(
                            f"« {key} » est seul dans son objet",
                            f"'{key}' stands alone in its object",
                        )
                    ]
                    for other in raw
                    if other != key
                }
            )
        body = raw[key]
        if key == "not":
            try:
                return Not(_condition(body, depth + 1))
            except ValidationError as exc:
                raise ValidationError({key: exc.messages}) from None
        if not isinstance(body, list) or not 1 <= len(body) <= 50:
            raise ValidationError(
                {key: [bilingual("une liste de 1 à 50 conditions", "a list of 1 to 50 conditions")]}
            )
        items: list[Condition] = []
        errors: dict[int, Any] = {}
        for i, item in enumerate(body):
            try:
                items.append(_condition(item, depth + 1))
            except ValidationError as exc:
                errors[i] = exc.messages
        if errors:
            raise ValidationError({key: errors})
        return AllOf(tuple(items)) if key == "all" else AnyOf(tuple(items))
    unknown = [key for key in raw if key != "path" and key not in OPERATORS]
    if unknown:
        known = ", ".join((*OPERATORS, *COMBINATORS))
        raise ValidationError(
            {
                str(key): [
                    bilingual(
                        f"opérateur inconnu « {key} » (connus : {known})",
                        f"unknown operator '{key}' (known: {known})",
                    )
                ]
                for key in unknown
            }
        )
    ops = [key for key in raw if key in OPERATORS]
    if len(ops) != 1:
        raise ValidationError(
            [
                bilingual(
                    "une condition a un chemin (path) et un seul opérateur parmi : "
                    + ", ".join(OPERATORS),
                    "a condition has a path and exactly one operator among: "
                    + ", ".join(OPERATORS),
                )
            ]
        )
    data = _CheckSchema().load(raw)
    op = Op(ops[0])
    operand = data["in_" if op is Op.IN else op.value]
    return Check(data["path"], op, tuple(operand) if op is Op.IN else operand)


class _ConditionField(fields.Field[Condition]):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Condition:
        return _condition(value, 1)


# Corrections -----------------------------------------------------------------------


class _SetSchema(_Strict):
    path = _PathField(required=True, writing=True)
    value = _JsonField(required=True, allow_none=True, data_key="to")


class _CopySchema(_Strict):
    source = _PathField(required=True, data_key="from", wildcards=False)
    target = _PathField(required=True, data_key="to", writing=True, wildcards=False)


class _RemoveSchema(_Strict):
    path = _PathField(required=True, writing=True)


class _MultiplySchema(_Strict):
    path = _PathField(required=True, writing=True)
    factor = DecimalField(required=True)
    places = fields.Integer(load_default=None, strict=True, validate=_range(0, 6))

    @validates_schema
    def _positive(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "factor" in data and not data["factor"] > 0:
            raise ValidationError(
                bilingual("le facteur est positif", "the factor is positive"), "factor"
            )


_GROUP_REFERENCE = re.compile(r"\\(?:([1-9])(?!\d)|g<(\w+)>|(\\))")


class _ReplaceSchema(_Strict):
    path = _PathField(required=True, writing=True)
    pattern = _PatternField(required=True)
    replacement = fields.String(required=True, data_key="with", validate=_length(high=MAX_PATTERN))

    @validates_schema
    def _references(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "pattern" not in data or "replacement" not in data:
            return
        pattern: re.Pattern[str] = data["pattern"]
        text: str = data["replacement"]
        fine = "\\" not in _GROUP_REFERENCE.sub("", text)
        for match in _GROUP_REFERENCE.finditer(text):
            number, name, _ = match.groups()
            if number is not None:
                fine = fine and int(number) <= pattern.groups
            elif name is not None:
                fine = fine and (
                    int(name) <= pattern.groups if name.isdigit() else name in pattern.groupindex
                )
        if fine:
            return
        raise ValidationError(
            bilingual(
                "le remplacement ne cite que des groupes de l'expression (\\1 à \\9, "
                "\\g<nom>) ; \\\\ pour une barre oblique inverse",
                "the replacement only cites groups of the pattern (\\1 to \\9, \\g<name>); "
                "\\\\ for a backslash",
            ),
            "with",
        )


class _MapSchema(_Strict):
    path = _PathField(required=True, writing=True)
    table = fields.Dict(
        keys=fields.String(validate=_length(high=200)),
        values=_JsonField(allow_none=True),
        required=True,
        validate=_length(low=1, high=500),
    )


class _AddServiceSchema(_Strict):
    code = fields.String(required=True, validate=_SERVICE_CODE)
    quantity = DecimalField(minimum=Decimal(0))
    amount = AmountField()


class _RemoveServiceSchema(_Strict):
    code = fields.String(required=True, validate=_length(low=1, high=64))


_ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "set": _SetSchema,
    "copy": _CopySchema,
    "remove": _RemoveSchema,
    "multiply": _MultiplySchema,
    "replace": _ReplaceSchema,
    "map": _MapSchema,
    "add_service": _AddServiceSchema,
    "remove_service": _RemoveServiceSchema,
}


def _action(raw: Any) -> Action:
    if not isinstance(raw, Mapping):
        raise ValidationError(["Invalid input type."])
    unknown = [key for key in raw if key not in ACTIONS]
    if unknown:
        known = ", ".join(ACTIONS)
        raise ValidationError(
            {
                str(key): [
                    bilingual(
                        f"correction inconnue « {key} » (connues : {known})",
                        f"unknown correction '{key}' (known: {known})",
                    )
                ]
                for key in unknown
            }
        )
    if len(raw) != 1:
        raise ValidationError(
            [
                bilingual(
                    "une correction est un objet à une seule clé parmi : " + ", ".join(ACTIONS),
                    "a correction is an object with a single key among: " + ", ".join(ACTIONS),
                )
            ]
        )
    ((kind, body),) = raw.items()
    if not isinstance(body, Mapping):
        raise ValidationError({kind: ["Invalid input type."]})
    try:
        data = _ACTION_SCHEMAS[kind]().load(body)
    except ValidationError as exc:
        raise ValidationError({kind: exc.messages}) from None
    if kind == "set":
        return SetValue(data["path"], data["value"])
    if kind == "copy":
        return CopyValue(data["source"], data["target"])
    if kind == "remove":
        return RemoveValue(data["path"])
    if kind == "multiply":
        return Multiply(data["path"], data["factor"], data["places"])
    if kind == "replace":
        return Replace(data["path"], data["pattern"], data["replacement"])
    if kind == "map":
        return MapValues(data["path"], dict(data["table"]))
    if kind == "add_service":
        # The wire form, as written: it goes into the order as the party would send it.
        return AddService({key: body[key] for key in ("code", "quantity", "amount") if key in body})
    return RemoveService(data["code"])


class _ActionField(fields.Field[Action]):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Action:
        return _action(value)


# The rule set ----------------------------------------------------------------------


class _DescriptionSchema(_Strict):
    fr = fields.String(required=True, validate=_length(low=1, high=500))
    en = fields.String(required=True, validate=_length(low=1, high=500))


class _RuleSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    description = fields.Nested(_DescriptionSchema, required=True)
    when = _ConditionField(load_default=None, allow_none=True)
    then = fields.List(_ActionField(), required=True, validate=_length(low=1, high=MAX_CORRECTIONS))


class RuleSetSchema(_Strict):
    party = fields.String(required=True, validate=_ID)
    version = fields.Integer(required=True, strict=True, validate=_range(1))
    rules = fields.List(fields.Nested(_RuleSchema), required=True, validate=_length(high=MAX_RULES))

    @validates_schema
    def _unique_ids(self, data: dict[str, Any], **kwargs: Any) -> None:
        seen: set[str] = set()
        errors: dict[str, list[str]] = {}
        for i, rule in enumerate(data.get("rules", [])):
            if rule["id"] in seen:
                errors[f"rules.{i}.id"] = [
                    bilingual("identifiant de règle en double", "duplicate rule id")
                ]
            seen.add(rule["id"])
        if errors:
            raise ValidationError(errors)


RULESET = Text("Règles de nettoyage invalides", "Invalid cleaning rules")


def load_ruleset(document: Any) -> RuleSet:
    """Validate a rule set document (parsed JSON) and build the `RuleSet` value.

    Raises `InvalidDocument` listing every problem with its path."""
    if not isinstance(document, Mapping):
        raise InvalidDocument(RULESET, problems(["Invalid input type."]))
    try:
        data = RuleSetSchema().load(document)
    except ValidationError as exc:
        raise InvalidDocument(RULESET, problems(exc.messages)) from None
    return RuleSet(
        party=data["party"],
        version=data["version"],
        rules=tuple(
            Rule(
                id=rule["id"],
                description=Text(rule["description"]["fr"], rule["description"]["en"]),
                when=rule["when"],
                then=tuple(rule["then"]),
            )
            for rule in data["rules"]
        ),
        digest=ruleset_digest(document),
    )


def ruleset_digest(document: Mapping[str, Any]) -> str:
    """sha256 of the rule set document's canonical JSON: the exact version a log cites."""
    return digest(document)
