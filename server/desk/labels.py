"""Words the desk shows for the system's codes: anomaly kinds, journal entry types,
payment methods, file states and log entries, claim statuses, payment outcomes, mission
steps; and `label`, a code's words in the page's language. One place, so every page names
a thing the same way."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import sqlalchemy as sa

from server.desk.blueprint import desk, t
from server.desk.session import current
from server.parties.api_keys import KEY_PREFIX
from server.parties.claim_documents import DOCUMENT_LABELS as CLAIM_DOCUMENTS
from server.parties.claim_states import ACTION_LABELS as CLAIM_ACTION_LABELS
from server.parties.claim_states import STATUS_LABELS as CLAIM_STATUS_LABELS
from server.platform.tables import party_api_keys
from server.platform.web import lang, reader
from shared.file_lifecycle import EVENT_LABELS, STATE_LABELS
from shared.i18n import Text
from shared.payment_terms import Method
from shared.payments import LABELS as METHODS
from shared.steps import LABELS as STEP_LABELS
from shared.steps import Step

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
        "document_render_failed": Text("PDF de facture non fabriqué", "Invoice PDF not made"),
        "site_fact_beyond_tolerance": Text(
            "Constat sur place hors tolérance", "Site fact beyond tolerance"
        ),
        "vehicle_class_contradicts_weight": Text(
            "Classe contraire au poids", "Class contradicts weight"
        ),
        "site_facts_unreadable": Text("Constats illisibles", "Unreadable site facts"),
        "entry_unauthorised": Text("Entrée sans droit", "Entry without the right"),
        "entry_date_implausible": Text("Date d'entrée invraisemblable", "Implausible entry date"),
        "card_unsettled": Text("Carte sans remise du terminal", "Card payment never settled"),
        "collection_method_invalid": Text(
            "Encaissement hors convention", "Collection outside the contract"
        ),
        "owed_at_end": Text("Reste dû, mission non effectuée", "Owed, mission not carried out"),
        "cash_over_limit": Text("Espèces au-delà du plafond", "Cash above the limit"),
        "deferral_to_debtor": Text(
            "Facturation ultérieure à un client débiteur", "Bill-later for a customer who owes"
        ),
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
        "site_facts": Text("Constats sur place", "Site facts"),
        "approval_refused": Text("Code d'accord refusé", "Approval code refused"),
        "closing": Text("Clôture", "Closing"),
        "deposit_set": Text("Acompte fixé par le bureau", "Deposit set by the office"),
        "beneficiary_recorded": Text("Client sur place noté", "Customer on site recorded"),
        "invoice_issued": Text("Facture émise", "Invoice issued"),
        "credit_note_issued": Text("Avoir émis", "Credit note issued"),
        "office_decision": Text("Décision du bureau", "Office decision"),
        "office_payment": Text("Paiement reçu au bureau", "Payment received at the office"),
        "document_rendered": Text("PDF du document établi", "Document's PDF made"),
        "pin_refused": Text("Code PIN refusé", "PIN refused"),
    }
)


def label(words: Mapping[str, tuple[str, str]] | Mapping[str, Text], key: str | None) -> str:
    """A code's label in the page's language; an unknown code shows as itself."""
    if key is None:
        return "—"
    found = words.get(key)
    if found is None:
        return key
    return found(lang()) if isinstance(found, Text) else t(*found)


def kind_label(kind: str | None) -> str:
    return label(ANOMALY_KINDS, kind)


def step_label(step: object) -> str:
    try:
        return STEP_LABELS[Step(str(step))](lang())
    except ValueError:
        return str(step)


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


# --- ordering parties: files, claims, payments back (issue 8) ------------------------------

# A file's states and a claim's statuses: the lifecycle's and the claims' own words.
FILE_STATES: Mapping[str, Text] = MappingProxyType(
    {state.value: text for state, text in STATE_LABELS.items()}
)
CLAIM_STATUSES: Mapping[str, Text] = MappingProxyType(
    {status.value: text for status, text in CLAIM_STATUS_LABELS.items()}
)

# Who wrote an entry of a file's log (party_files.SOURCES).
LOG_SOURCES: Mapping[str, Text] = MappingProxyType(
    {
        "party": Text("Donneur d'ordre", "Ordering party"),
        "office": Text("Bureau", "Office"),
        "intake": Text("Réception des ordres", "Order intake"),
        "claim": Text("Demande de remboursement", "Claim"),
        "payment": Text("Paiement", "Payment"),
    }
)

# The log's entries that are not lifecycle events (server.parties.orders, server.parties.claims and
# server.parties.claim_money).
_LOG_EVENTS: dict[str, Text] = {
    "cleaning_correction": Text(
        "Correction automatique (règle de nettoyage)", "Automatic correction (cleaning rule)"
    ),
    "manual_clean": Text("Corrigé à la main au bureau", "Corrected by hand in the office"),
    "order_recleaned": Text("Ordre nettoyé à nouveau", "Order cleaned again"),
    "mission_created": Text("Mission créée", "Mission created"),
    "mission_updated": Text("Mission mise à jour", "Mission updated"),
    "mission_not_created": Text("Mission non créée", "Mission not created"),
    "order_not_applied": Text("Ordre non appliqué à la mission", "Order not applied"),
    "mission_cancelled": Text("Mission annulée", "Mission cancelled"),
    "mission_assigned": Text("Mission attribuée à un chauffeur", "Mission given to a driver"),
    "mission_reassigned": Text(
        "Mission confiée à un autre chauffeur", "Mission given to another driver"
    ),
    "mission_kept": Text("Mission conservée", "Mission kept"),
    "claim_opened": Text("Demande ouverte (facture émise)", "Claim opened (invoice issued)"),
    "claim_credited": Text("Avoir sur la facture", "Credit note on the invoice"),
    "claim_message_ignored": Text(
        "Message sans effet sur la demande", "Message with no effect on the claim"
    ),
    "document_refused_by_file": Text(
        "Facture émise, refusée par le dossier", "Invoice issued, refused by the file"
    ),
    "payment_matched": Text("Paiement reçu : facture réglée", "Payment received: invoice paid"),
    "payment_partial": Text("Paiement partiel reçu", "Partial payment received"),
    "payment_over_amount": Text(
        "Paiement supérieur au dû, non appliqué", "Payment above what is owed, not applied"
    ),
    "payment_already_paid": Text(
        "Paiement sur une facture déjà réglée", "Payment on an invoice already settled"
    ),
}
for _action, _words in CLAIM_ACTION_LABELS.items():
    _LOG_EVENTS[f"claim_{_action.value}"] = Text(f"Demande : {_words.fr}", f"Claim: {_words.en}")
FILE_LOG_EVENTS: Mapping[str, Text] = MappingProxyType(
    {**{event.value: text for event, text in EVENT_LABELS.items()}, **_LOG_EVENTS}
)

# What matching decided for an imported payment line (server.parties.payments.OUTCOMES).
PAYMENT_OUTCOMES: Mapping[str, Text] = MappingProxyType(
    {
        "matched": Text("Rapproché : facture réglée", "Matched: invoice paid"),
        "amount_differs": Text("Montant différent", "Amount differs"),
        "unknown_reference": Text("Référence inconnue", "Unknown reference"),
        "already_paid": Text("Déjà réglée", "Already paid"),
    }
)
PAYMENT_SOURCES: Mapping[str, Text] = MappingProxyType(
    {
        "advice": Text("Avis de paiement", "Payment advice"),
        "bank": Text("Relevé bancaire", "Bank statement"),
    }
)

# Photos, signatures and reports from the tablets (server.devices.attachments.KINDS), and the
# documents a party may require (server.parties.claim_documents.DOCUMENT_LABELS), capitalised.
ATTACHMENT_KINDS: Mapping[str, Text] = MappingProxyType(
    {
        **{
            kind: Text(words.fr[:1].upper() + words.fr[1:], words.en[:1].upper() + words.en[1:])
            for kind, words in CLAIM_DOCUMENTS.items()
        },
        "other": Text("Autre pièce", "Other document"),
    }
)

# A mission's status in the office (server.office.missions), then the steps its tablet
# reports, which the status shown follows (server.office.mission_progress.shown_status).
MISSION_STATUSES: Mapping[str, Text] = MappingProxyType(
    {
        **{step.value: words for step, words in STEP_LABELS.items()},
        "new": Text("nouvelle, sans chauffeur", "new, no driver"),
        "assigned": Text("attribuée", "assigned"),
        "cancelled": Text("annulée", "cancelled"),
    }
)

# --- the office's own words for people and missions (issue 14) ------------------------------

# The roles every tenant starts with (server.people.rights.DEFAULT_ROLES); a role the tenant
# created shows under the name it was given.
ROLES: Mapping[str, Text] = MappingProxyType(
    {
        "admin": Text("administrateur", "administrator"),
        "manager": Text("gérant", "manager"),
        "office": Text("bureau", "office"),
        "driver": Text("chauffeur", "driver"),
    }
)
# Where a mission came from (missions.source).
MISSION_SOURCES: Mapping[str, Text] = MappingProxyType(
    {
        "office": Text("saisie au bureau", "entered at the office"),
        "order": Text("ordre d'un donneur d'ordre", "an ordering party's order"),
        "phone": Text("appel d'un particulier", "a private customer's call"),
    }
)


def role_label(role: str | None) -> str:
    return label(ROLES, role)


def mission_status_label(status: str | None) -> str:
    return label(MISSION_STATUSES, status)


# What an anomaly's evidence holds beyond its sentence and journal entries (detail keys).
EVIDENCE_KEYS: Mapping[str, Text] = MappingProxyType(
    {
        "due": Text("Dû", "Due"),
        "reason": Text("Motif", "Reason"),
        "terminal_ref": Text("Référence du terminal", "Terminal reference"),
        "approval_ref": Text("Code d'accord", "Approval code"),
        "day": Text("Jour", "Day"),
        "customer": Text("Client", "Customer"),
        "owed": Text("Reste dû", "Still owed"),
        "valuation": Text("Valorisation", "Valuation"),
        "mission_id": Text("Mission", "Mission"),
        "device_id": Text("Tablette", "Tablet"),
        "tablet": Text("Tablette", "Tablet"),
        "findings": Text("Constats", "Findings"),
        "cap": Text("Plafond", "Cap"),
        "limit": Text("Plafond d'espèces", "Cash limit"),
        "cash": Text("Espèces encaissées", "Cash collected"),
        "counted": Text("Compté", "Counted"),
        "expected": Text("Attendu", "Expected"),
        "variance": Text("Écart", "Variance"),
        "method": Text("Mode de paiement", "Payment method"),
        "amount": Text("Montant", "Amount"),
        "caused_by": Text("Causée par", "Caused by"),
        "valuation_gap": Text(
            "Écart entre la valorisation de la tablette et celle du serveur",
            "Gap between the tablet's valuation and the server's",
        ),
    }
)


def evidence_key(key: str) -> str:
    """An evidence key in words; one not named here reads as words, not as a code."""
    if key in EVIDENCE_KEYS:
        return label(EVIDENCE_KEYS, key)
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def actor_words(actor: object) -> str:
    """Who did it, as a person reads it: an ordering party's API key by its label ("API
    key « Plateforme » of ASSIST-A"), never its id; anything else as given."""
    text = "—" if actor is None else str(actor)
    if not text.startswith(KEY_PREFIX):
        return text
    with reader().connect() as conn:
        row = conn.execute(
            sa.select(party_api_keys.c.label, party_api_keys.c.party_id).where(
                party_api_keys.c.tenant_id == current().tenant_id,
                party_api_keys.c.id == text,
            )
        ).first()
    if row is None:
        return text
    return t(
        f"Clé d'API « {row.label} » de {row.party_id}", f"API key '{row.label}' of {row.party_id}"
    )


@desk.app_context_processor
def _code_words() -> dict[str, object]:
    """The words for codes every desk template may call."""
    return {
        "role_label": role_label,
        "mission_status_label": mission_status_label,
        "source_label": lambda source: label(MISSION_SOURCES, source),
        "kind_words": kind_label,
        "evidence_key": evidence_key,
        "actor_words": actor_words,
        "method_words": lambda method: method_label(method, lang()),
    }
