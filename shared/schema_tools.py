"""Marshmallow helpers shared by every document schema of the core: strict decimal
fields that refuse floats, and error flattening into path-named problems in French and
English."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.money import FloatRefused, OutOfRange, parse_amount, parse_decimal


class AmountField(fields.Field[Decimal]):
    """Money: a string with at most two decimals ("120.00"), never a float."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float):
            raise ValidationError("FLOAT")
        if not isinstance(value, str):
            raise ValidationError("AMOUNT")
        try:
            return parse_amount(value)
        except (ValueError, FloatRefused) as exc:
            raise ValidationError("AMOUNT") from exc

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class DecimalField(fields.Field[Decimal]):
    """A non-money number (percent, km, quantity): a string or an int, never a float."""

    def __init__(self, *, minimum: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float):
            raise ValidationError("FLOAT")
        try:
            number = parse_decimal(value)
        except OutOfRange as exc:
            raise ValidationError("RANGE") from exc
        except ValueError as exc:
            raise ValidationError("NUMBER") from exc
        if self.minimum is not None and number < self.minimum:
            raise ValidationError(f"MIN:{self.minimum}")
        return number


# Our own codes, and marshmallow's most common messages, in both languages.
_MESSAGES: dict[str, Text] = {
    "FLOAT": Text(
        'nombre à virgule flottante refusé : écrivez-le entre guillemets, par ex. "1.50"',
        'binary float refused: write it as a string, e.g. "1.50"',
    ),
    "AMOUNT": Text(
        'montant invalide : une chaîne avec au plus deux décimales, par ex. "120.00"',
        'invalid amount: a string with at most two decimals, e.g. "120.00"',
    ),
    "NUMBER": Text(
        'nombre invalide : une chaîne décimale, par ex. "1.5"',
        'invalid number: a decimal string, e.g. "1.5"',
    ),
    "RANGE": Text(
        "nombre hors limites : moins de 1 000 000 000 000, au plus 12 décimales",
        "number out of range: below 1,000,000,000,000, at most 12 decimal places",
    ),
    "Unknown field.": Text("champ inconnu", "unknown field"),
    "Missing data for required field.": Text(
        "champ obligatoire manquant", "required field missing"
    ),
    "Field may not be null.": Text("ne peut pas être vide (null)", "may not be null"),
    "Not a valid string.": Text("doit être une chaîne de caractères", "must be a string"),
    "Not a valid integer.": Text("doit être un nombre entier", "must be an integer"),
    "Not a valid boolean.": Text("doit être true ou false", "must be true or false"),
    "Not a valid date.": Text("date invalide (AAAA-MM-JJ)", "invalid date (YYYY-MM-DD)"),
    "Not a valid datetime.": Text(
        "date et heure invalides (ISO 8601 avec décalage, par ex. 2026-03-10T10:00:00+01:00)",
        "invalid date and time (ISO 8601 with offset, e.g. 2026-03-10T10:00:00+01:00)",
    ),
    "Not a valid list.": Text("doit être une liste", "must be a list"),
    "Not a valid mapping type.": Text("doit être un objet", "must be an object"),
    "Invalid input type.": Text("type invalide : un objet est attendu", "invalid type: an object"),
    "Invalid value.": Text("valeur invalide", "invalid value"),
}


def translate(message: str) -> Text:
    """A schema message in both languages; messages we raise are already bilingual
    (``fr || en``), and unknown marshmallow messages are shown as they are."""
    if message in _MESSAGES:
        return _MESSAGES[message]
    if message.startswith("MIN:"):
        minimum = message[4:]
        return Text(f"doit être au moins {minimum}", f"must be at least {minimum}")
    if " || " in message:
        fr, en = message.split(" || ", 1)
        return Text(fr, en)
    if message.startswith("Must be one of: "):
        choices = message[len("Must be one of: ") :].rstrip(".")
        return Text(f"doit être l'une des valeurs : {choices}", f"must be one of: {choices}")
    return Text(message, message)


def bilingual(fr: str, en: str) -> str:
    """Encode a bilingual message inside a marshmallow ValidationError."""
    return f"{fr} || {en}"


def problems(messages: Any, path: str = "") -> list[Problem]:
    """Flatten marshmallow's nested error dict into path-named problems, in path order."""
    found: list[Problem] = []
    if isinstance(messages, Mapping):
        for key in sorted(messages, key=str):
            # "_schema" holds whole-object errors; marshmallow's Dict nests each entry's
            # errors under "value" (or "key"), which is noise in a path a person reads.
            if key in ("_schema", "value"):
                sub = path
            else:
                sub = f"{path}.{key}" if path else str(key)
            found.extend(problems(messages[key], sub))
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, Mapping | list | tuple):
                found.extend(problems(item, path))
            else:
                found.append(Problem(path, translate(str(item))))
    else:
        found.append(Problem(path, translate(str(messages))))
    return found


def parse_json(text: str, what: Text) -> Any:
    """Parse a JSON document; a syntax error becomes a problem with its line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidDocument(
            what,
            [
                Problem(
                    f"ligne {exc.lineno}, colonne {exc.colno}",
                    Text(f"JSON invalide : {exc.msg}", f"invalid JSON: {exc.msg}"),
                )
            ],
        ) from None
    except RecursionError:  # "[[[[…" nested deeper than Python's parser goes
        raise InvalidDocument(
            what,
            [Problem("", Text("JSON trop imbriqué", "JSON nested too deeply"))],
        ) from None
