"""Phone numbers as people type them, and a key to find one however it was written.

A French number has ten digits starting with 0 ("06 12 34 56 78"), or is written
internationally ("+33 6 12 34 56 78", "0033 6 12 34 56 78"); both are the same number
and get the same key, its ten-digit national form ("0612345678"). Another country's
number is written with + or 00 and has 8 to 15 digits after it; its key is "00" and
those digits. Spaces, dots, dashes and brackets do not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.i18n import Text

_ALLOWED = re.compile(r"^\+?[\d\s.\-()/]+$")


@dataclass(frozen=True, slots=True)
class Phone:
    key: str  # "0612345678", or "0044…" for another country's number
    text: str  # written for people: "06 12 34 56 78", "+44 2079460000"


def _digits(typed: str) -> str:
    return "".join(ch for ch in typed if ch.isdigit())


def phone_key(typed: str) -> str | None:
    """The key of a phone number (None: not one), what a search compares."""
    found = read_phone(typed)
    return found.key if isinstance(found, Phone) else None


def read_phone(typed: str) -> Phone | Text:
    """The phone number typed, or why it is not one (in words)."""
    text = typed.strip()
    problem = Text(
        "numéro de téléphone non reconnu : 10 chiffres (06 12 34 56 78) ou au format "
        "international (+33 6 12 34 56 78)",
        "phone number not recognised: 10 digits (06 12 34 56 78) or international "
        "(+33 6 12 34 56 78)",
    )
    if not text or not _ALLOWED.match(text):
        return problem
    digits = _digits(text)
    international = text.startswith("+") or digits.startswith("00")
    if international:
        rest = digits[2:] if digits.startswith("00") and not text.startswith("+") else digits
        if rest.startswith("33"):
            national = rest[2:].removeprefix("0")  # "+33 (0)6…" is written too
            digits = "0" + national
        else:
            if not 8 <= len(rest) <= 15:
                return problem
            return Phone("00" + rest, "+" + rest)
    if len(digits) != 10 or not digits.startswith("0") or digits.startswith("00"):
        return problem
    pairs = " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    return Phone(digits, pairs)


def looks_like_phone(typed: str) -> bool:
    """Whether a search text reads as a phone number."""
    return isinstance(read_phone(typed), Phone)
