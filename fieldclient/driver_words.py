"""The words a driver types for steps, payment methods and kinds of attachment, in French
as well as English: `depart`, `quitte`, `especes`, `cheque`, `carte`, `pv`…

Accents, case, spaces, dashes and apostrophes do not matter (`Départ`, `sur place`,
`sur-place`, `Espèces` all read). Each word names one value of the core (`shared.steps`,
`shared.payment_terms`, the attachment kinds); what names nothing is refused with the
words that would do, in the driver's language (`WordChoice`, a click type whose refusal
`fieldclient.cli.usage` prints in French or English).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import click

from shared.i18n import Text

STEPS: Mapping[str, tuple[str, ...]] = {
    "assigned": ("attribuee", "attribue", "assignee", "assigned"),
    "en_route": ("en_route", "enroute", "route", "en_chemin", "on_the_way"),
    "on_site": (
        "on_site",
        "sur_place",
        "surplace",
        "sur_les_lieux",
        "arrive",
        "arrivee",
        "arrived",
    ),
    "departed": (
        "departed",
        "depart",
        "depart_des_lieux",
        "quitte",
        "quitter",
        "quitte_les_lieux",
        "parti",
        "left",
        "leave",
    ),
    "delivered": ("delivered", "livre", "livree", "livraison"),
    "closed": ("closed", "cloture", "cloturee", "clos", "termine", "fini", "fin"),
    "cancelled": ("cancelled", "canceled", "annule", "annulee", "annulation"),
    "gone_on_arrival": (
        "gone_on_arrival",
        "gone",
        "personne",
        "personne_sur_place",
        "absent",
        "no_show",
    ),
}
METHODS: Mapping[str, tuple[str, ...]] = {
    "cash": ("cash", "especes", "espece", "liquide"),
    "card": ("card", "carte", "cb", "carte_bancaire", "carte_bleue"),
    "cheque": ("cheque", "check"),
    "transfer": ("transfer", "virement", "bank_transfer"),
    "payment_link": ("payment_link", "lien", "lien_de_paiement", "link"),
}
KINDS: Mapping[str, tuple[str, ...]] = {
    "vehicle_photo": ("vehicle_photo", "photo", "vehicule", "photo_vehicule", "photo_du_vehicule"),
    "signature": ("signature", "signature_client"),
    "handover_report": ("handover_report", "pv", "proces_verbal", "pv_de_remise", "report"),
    "receipt": ("receipt", "justificatif", "recu", "ticket"),
    "other": ("other", "autre", "autre_document"),
}


def normalised(typed: str) -> str:
    """`Départ des lieux` → `depart_des_lieux`."""
    plain = unicodedata.normalize("NFKD", typed.strip().lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    for separator in (" ", "-", "'", "’", "."):
        plain = plain.replace(separator, "_")
    while "__" in plain:
        plain = plain.replace("__", "_")
    return plain.strip("_")


def read(typed: str, words: Mapping[str, tuple[str, ...]]) -> str | None:
    """The value a typed word names (None: none)."""
    wanted = normalised(typed)
    for value, aliases in words.items():
        if wanted in aliases:
            return value
    return None


class BadWord(click.BadParameter):
    """A word that names nothing, with the words that would do, in both languages."""

    def __init__(self, text: Text, param: click.Parameter | None, ctx: click.Context | None):
        super().__init__(text.en, ctx=ctx, param=param)
        self.text = text


class WordChoice(click.ParamType):  # type: ignore[type-arg]  # generic only in click 8.2+
    """One of `words`' values, typed in French or English; converted to the value."""

    def __init__(
        self,
        name: str,
        words: Mapping[str, tuple[str, ...]],
        french: Mapping[str, str],
        what: Text,
    ) -> None:
        self.name = name
        self.words = words
        self.french = french  # the French word shown for each value
        self.what = what

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name.upper()  # the words are in the help: there are too many to list

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> str:
        found = read(str(value), self.words)
        if found is not None:
            return found
        french = ", ".join(self.french[v] for v in self.words)
        english = ", ".join(self.words)
        raise BadWord(
            Text(
                f"« {value} » n'est pas {self.what.fr}. Possibles : {french}.",
                f"“{value}” is not {self.what.en}. Possible: {english}.",
            ),
            param,
            ctx if isinstance(ctx, click.Context) else None,
        )


STEP = WordChoice(
    "step",
    STEPS,
    {
        "assigned": "attribuee",
        "en_route": "en_route",
        "on_site": "sur_place",
        "departed": "depart",
        "delivered": "livre",
        "closed": "cloture",
        "cancelled": "annule",
        "gone_on_arrival": "personne",
    },
    Text("une étape connue", "a known step"),
)
METHOD = WordChoice(
    "method",
    METHODS,
    {
        "cash": "especes",
        "card": "carte",
        "cheque": "cheque",
        "transfer": "virement",
        "payment_link": "lien",
    },
    Text("un mode de règlement connu", "a known payment method"),
)
KIND = WordChoice(
    "kind",
    KINDS,
    {
        "vehicle_photo": "photo",
        "signature": "signature",
        "handover_report": "pv",
        "receipt": "justificatif",
        "other": "autre",
    },
    Text("un type de pièce connu", "a known kind of attachment"),
)
