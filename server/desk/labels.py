"""Words the desk shows for the system's codes: anomaly kinds, journal entry types,
payment methods. One place, so every page names a thing the same way."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from shared.i18n import Text
from shared.payment_terms import Method
from shared.payments import LABELS as METHODS

ANOMALY_KINDS: Mapping[str, Text] = MappingProxyType(
    {
        "fictitious_collection": Text("Encaissement fictif", "Fictitious collection"),
        "over_collection": Text("Trop encaissé", "Over-collection"),
        "under_collection": Text("Sous-encaissement", "Under-collection"),
        "gate_bypassed": Text("Étape franchie sans encaisser", "Gate bypassed"),
        "discount_without_approval": Text("Remise sans accord", "Discount without approval"),
        "approval_reused": Text("Code d'accord réutilisé", "Approval code reused"),
        "file_cap_exceeded": Text("Plafond du dossier dépassé", "File cap exceeded"),
        "register_variance": Text("Écart de caisse", "Register variance"),
        "card_unmatched": Text("Carte non remise par le terminal", "Card payment unmatched"),
        "dispute_raised": Text("Prix contesté", "Price disputed"),
        "journal_fork": Text("Journal réécrit", "Journal fork"),
        "journal_invalid": Text("Journal invalide", "Invalid journal"),
        "quarantined_push": Text("Envoi mis de côté", "Quarantined push"),
        "valuation_mismatch": Text("Valorisation différente", "Valuation mismatch"),
        "valuation_unreadable": Text("Valorisation illisible", "Unreadable valuation"),
        "valuation_not_recomputed": Text("Valorisation non recalculée", "Valuation not recomputed"),
        "collection_unknown_mission": Text(
            "Encaissement sur mission inconnue", "Collection on an unknown mission"
        ),
        "collection_on_cancelled_mission": Text(
            "Encaissement sur mission annulée", "Collection on a cancelled mission"
        ),
        "invoicing_pending": Text("Facturation en attente", "Invoicing pending"),
    }
)

ENTRY_TYPES: Mapping[str, Text] = MappingProxyType(
    {
        "collection": Text("Encaissement", "Collection"),
        "reversal": Text("Annulation d'encaissement", "Reversal"),
        "discount": Text("Remise", "Discount"),
        "deferral": Text("Facturer plus tard", "Bill later"),
        "dispute": Text("Contestation du prix", "Price dispute"),
        "valuation_recorded": Text("Valorisation", "Valuation"),
        "mission_step": Text("Étape", "Step"),
        "register_opened": Text("Ouverture de caisse", "Register opened"),
        "register_closed": Text("Fermeture de caisse", "Register closed"),
        "bank_deposit": Text("Remise en banque", "Bank deposit"),
        "office_decision_applied": Text("Décision du bureau appliquée", "Office decision applied"),
    }
)


def method_label(method: object, lang: str) -> str:
    """A payment method in words, capitalised for the desk's columns and charts ("Espèces");
    an unknown code shows as itself, none as a dash."""
    if method is None or method == "":
        return "—"
    try:
        words = METHODS[Method(str(method))](lang)
    except ValueError:
        return str(method)
    return words[:1].upper() + words[1:]
