"""Field validators the API's schemas share, with messages in both languages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError, validate

from shared.schema_tools import bilingual

IDENT = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    error=bilingual(
        "identifiant attendu : lettres, chiffres, _ . - (64 au plus)",
        "an identifier is expected: letters, digits, _ . - (64 at most)",
    ),
)
NAME = validate.Length(
    min=1, max=200, error=bilingual("de 1 à 200 caractères", "1 to 200 characters")
)
HEX_KEY = validate.Regexp(
    r"^[0-9a-fA-F]{64}$",
    error=bilingual(
        "clé publique Ed25519 attendue : 64 caractères hexadécimaux",
        "an Ed25519 public key is expected: 64 hexadecimal characters",
    ),
)
HEX_SIGNATURE = validate.Regexp(
    r"^[0-9a-fA-F]{128}$",
    error=bilingual(
        "signature Ed25519 attendue : 128 caractères hexadécimaux",
        "an Ed25519 signature is expected: 128 hexadecimal characters",
    ),
)
PIN = validate.Regexp(
    r"^[0-9]{4,8}$",
    error=bilingual(
        "code PIN attendu : de 4 à 8 chiffres, entre guillemets",
        "a PIN is expected: 4 to 8 digits, as a string",
    ),
)
PASSWORD = validate.Length(
    min=10,
    max=200,
    error=bilingual("mot de passe de 10 à 200 caractères", "a password of 10 to 200 characters"),
)


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError(bilingual("ne peut pas être vide", "may not be blank"))


REASON: list[Callable[[Any], Any]] = [
    validate.Length(
        min=1, max=500, error=bilingual("de 1 à 500 caractères", "1 to 500 characters")
    ),
    not_blank,
]
AMOUNT = validate.Regexp(
    r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$",
    error=bilingual(
        'montant attendu en texte, au plus deux décimales, par exemple "20.00"',
        'an amount is expected as text, at most two decimals, such as "20.00"',
    ),
)
