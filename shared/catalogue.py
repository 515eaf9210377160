"""Structured service codes, generated from segments (seed 003's "codici parlanti").

A code is the segment values joined by the separator: family, vehicle class, variant,
e.g. ``TOW.VL.P`` is a tow of a light vehicle, first mission of its file. Prices are
looked up by the longest prefix that a price list defines (``TOW.VL.S``, then ``TOW.VL``,
then ``TOW``), so one price can serve every class or every variant.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from shared.i18n import Text


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    values: Mapping[str, Text]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The code scheme: ordered segments (family first), each with labelled values."""

    segments: tuple[Segment, ...]
    separator: str = "."

    @property
    def families(self) -> Mapping[str, Text]:
        return self.segments[0].values

    def segment(self, name: str) -> Segment:
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(name)

    def code(self, *values: str) -> str:
        return self.separator.join(values)

    def label(self, code: str) -> Text:
        """The label of a full or partial code, segment labels joined by dashes."""
        parts = code.split(self.separator)
        labels = [seg.values[value] for seg, value in zip(self.segments, parts, strict=False)]
        return Text(" — ".join(t.fr for t in labels), " — ".join(t.en for t in labels))

    def is_known(self, code: str) -> bool:
        """True for a full or partial code whose every segment value exists."""
        parts = code.split(self.separator)
        if not parts or len(parts) > len(self.segments):
            return False
        return all(value in seg.values for seg, value in zip(self.segments, parts, strict=False))

    def generate(self) -> Iterator[tuple[str, Text]]:
        """Every full code with its label, in segment order (the article list of seed 003)."""
        for combo in product(*(tuple(seg.values) for seg in self.segments)):
            code = self.code(*combo)
            yield code, self.label(code)


@lru_cache(maxsize=4096)
def prefixes(code: str, separator: str = ".") -> tuple[str, ...]:
    """``TOW.VL.P`` → (``TOW.VL.P``, ``TOW.VL``, ``TOW``): the price lookup order."""
    parts = code.split(separator)
    return tuple(separator.join(parts[:n]) for n in range(len(parts), 0, -1))


# Variant values chosen from the mission's rank in its file (seed 003: first activation
# vs renewal; in towing, the first tow vs a follow-up tow of the same file).
FIRST = "P"
FOLLOW_UP = "S"

DEFAULT_CATALOGUE = Catalogue(
    segments=(
        Segment(
            "family",
            {
                "TOW": Text("Remorquage", "Tow"),
                "REP": Text("Dépannage sur place", "On-site repair"),
                "KM": Text("Kilomètres supplémentaires", "Extra kilometres"),
                "WIN": Text("Treuillage", "Winching"),
                "ACC": Text("Supplément véhicule accidenté", "Accident-damaged vehicle supplement"),
                "WAIT": Text("Temps d'attente (heure)", "Waiting time (hour)"),
                "STO": Text("Gardiennage (jour)", "Storage (day)"),
                "TOLL": Text("Péage (au réel)", "Toll (at cost)"),
                "PART": Text("Pièces (au réel)", "Parts (at cost)"),
            },
        ),
        Segment(
            "class",
            {
                "VL": Text("véhicule léger jusqu'à 1,8 t", "light vehicle up to 1.8 t"),
                "VLP": Text("véhicule de 1,8 à 3,5 t", "vehicle 1.8 to 3.5 t"),
                "VU": Text("utilitaire", "van"),
                "PL": Text("poids lourd", "heavy vehicle"),
                "MOTO": Text("deux-roues", "motorbike"),
            },
        ),
        Segment(
            "variant",
            {
                FIRST: Text("première intervention", "first mission"),
                FOLLOW_UP: Text("intervention de suite", "follow-up mission"),
            },
        ),
    )
)
