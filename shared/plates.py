"""Vehicle plates: French plates checked and written one way, and a key to find any plate
however it was typed.

A French plate is either an SIV plate (since 2009: two letters, three digits, two
letters, written "AB-123-CD") or an older FNI plate (one to four digits, one to three
letters, the department: written "1234 AB 75"; departments 01–95, 2A and 2B for Corsica,
971–976 overseas). On an SIV plate the letters I, O and U are never used, "SS" never
starts or ends one and "000" is never its number. Spaces, dashes, dots and case do not
matter when typing: "ab 123 cd", "AB123CD" and "ab-123-cd" are all AB-123-CD.

`plate_key` is what a search compares: the letters and digits, upper-case, of any plate
(French or not), so "ab 123 cd" finds "AB-123-CD".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.i18n import Text

SIV = "siv"
FNI = "fni"

_SIV = re.compile(r"^([A-Z]{2})(\d{3})([A-Z]{2})$")
_FNI = re.compile(r"^(\d{1,4})([A-Z]{1,3})(\d{2}|2A|2B|97[1-6])$")
_UNUSED = frozenset("IOU")
_SEPARATORS = re.compile(r"[\s.\-_/]+")
MAX_FOREIGN = 16


@dataclass(frozen=True, slots=True)
class Plate:
    kind: str  # SIV or FNI
    text: str  # the written form: "AB-123-CD", "1234 AB 75"


def plate_key(typed: str) -> str:
    """The letters and digits of a plate, upper-case: what two plates are compared on."""
    return "".join(ch for ch in typed.upper() if ch.isascii() and ch.isalnum())


def _compact(typed: str) -> str | None:
    """The plate without separators, or None when it holds anything else."""
    joined = _SEPARATORS.sub("", typed.strip().upper())
    return joined if joined.isascii() and joined.isalnum() else None


def _siv_problem(first: str, number: str, last: str) -> Text | None:
    if _UNUSED & set(first + last):
        return Text(
            "les lettres I, O et U ne figurent jamais sur une plaque française (0 ou 1 ?)",
            "the letters I, O and U are never on a French plate (0 or 1?)",
        )
    if "SS" in (first, last):
        return Text(
            "« SS » ne commence ni ne termine une plaque française",
            "'SS' neither starts nor ends a French plate",
        )
    if number == "000":
        return Text(
            "le numéro 000 n'existe pas sur une plaque française",
            "the number 000 is not used on French plates",
        )
    return None


def _fni_department_problem(department: str) -> Text | None:
    if department in ("00", "20", "96", "97", "98", "99"):
        return Text(
            f"département {department} inconnu (01 à 95, 2A, 2B, 971 à 976)",
            f"unknown department {department} (01 to 95, 2A, 2B, 971 to 976)",
        )
    return None


def read_french_plate(typed: str) -> Plate | Text:
    """The French plate typed, in its written form, or why it is not one (in words)."""
    compact = _compact(typed)
    found = _SIV.match(compact) if compact else None
    if found:
        first, number, last = found.groups()
        problem = _siv_problem(first, number, last)
        return problem if problem else Plate(SIV, f"{first}-{number}-{last}")
    found = _FNI.match(compact) if compact else None
    if found:
        number, letters, department = found.groups()
        problem = _fni_department_problem(department)
        return problem if problem else Plate(FNI, f"{number} {letters} {department}")
    return Text(
        "plaque non reconnue : une plaque française s'écrit AB-123-CD (depuis 2009) ou "
        "1234 AB 75 (avant) ; pour une plaque étrangère, cochez « plaque étrangère »",
        "plate not recognised: a French plate reads AB-123-CD (since 2009) or 1234 AB 75 "
        "(before); for a foreign plate, tick 'foreign plate'",
    )


def read_foreign_plate(typed: str) -> Plate | Text:
    """A plate from elsewhere, kept as typed (upper-case, single spaces), 2 to 16 letters
    and digits."""
    text = " ".join(typed.upper().split())
    key = plate_key(text)
    if not 2 <= len(key) <= MAX_FOREIGN or len(text) > 20:
        return Text(
            f"une plaque a de 2 à {MAX_FOREIGN} lettres et chiffres",
            f"a plate has 2 to {MAX_FOREIGN} letters and digits",
        )
    return Plate("foreign", text)


def looks_like_french_plate(typed: str) -> bool:
    """Whether a search text reads as a French plate (any spacing or case)."""
    return isinstance(read_french_plate(typed), Plate)
