"""Languages for people: French by default, English available.

Text for people travels as a pair (French, English) so both faces can show either
without a catalogue lookup; code, logs and docs stay in English.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"


@dataclass(frozen=True, slots=True)
class Text:
    """One sentence in both languages."""

    fr: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.fr


def choose_lang(explicit: str | None, *environment: str | None) -> str:
    """The explicit choice, else the first locale-like value that names a known language.

    `environment` is typically (TOWLINE_LANG, LC_ALL, LANG) as read by the caller.
    """
    for value in (explicit, *environment):
        if value:
            code = value.strip().lower()[:2]
            if code in LANGS:
                return code
    return DEFAULT_LANG
