"""The core's errors: each carries a message a driver or a clerk can act on, in French
and English. The API turns them into 4xx with the same message; the command lines print
them and exit with a documented code.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.i18n import Text


class TowlineError(ValueError):
    """Base of every error the core raises on purpose."""

    code = "error"

    def __init__(self, fr: str, en: str) -> None:
        super().__init__(fr)
        self.text = Text(fr, en)

    def message(self, lang: str = "fr") -> str:
        return self.text(lang)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a document, at a path such as `prices.contracted.TOW.VL`."""

    path: str
    text: Text

    def message(self, lang: str = "fr") -> str:
        return f"{self.path or '(document)'}: {self.text(lang)}"


class InvalidDocument(TowlineError):
    """A contract, mission or other document that does not validate: every problem listed."""

    code = "invalid_document"

    def __init__(self, what: Text, problems: list[Problem]) -> None:
        self.what = what
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            f"{what.fr} : {count} erreur{'s' if count > 1 else ''}",
            f"{what.en}: {count} error{'s' if count > 1 else ''}",
        )

    def message(self, lang: str = "fr") -> str:
        head = self.text(lang)
        return "\n".join([head, *("  " + p.message(lang) for p in self.problems)])


class ValuationRefused(TowlineError):
    """The core cannot value this mission with this contract (wrong party, wrong date…)."""

    code = "valuation_refused"


class Refused(TowlineError):
    """A business rule refuses the action (gate closed, collection not allowed…)."""

    code = "refused"
