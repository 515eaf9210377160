"""The documents an ordering party requires on its claims: their labels, the party's
versioned list (`requirements`, `set_requirements`), which of them a claim has
(`documents_state`) and the refusal naming what is missing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from server.office import document_files
from server.people.identity import audit
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import attachments, claim_requirements, ordering_parties
from shared.i18n import Text

INVOICE_PDF = "invoice_pdf"
DOCUMENT_LABELS: Mapping[str, Text] = MappingProxyType(
    {
        INVOICE_PDF: Text("la facture (PDF)", "the invoice (PDF)"),
        "vehicle_photo": Text("photo du véhicule", "vehicle photo"),
        "signature": Text("signature du client", "customer's signature"),
        "handover_report": Text("procès-verbal de remise signé", "signed handover report"),
        "plate_photo": Text("photo de la plaque", "number plate photo"),
        "damage_photo": Text("photo des dégâts", "damage photo"),
    }
)
DEFAULT_REQUIREMENTS: tuple[str, ...] = (INVOICE_PDF,)
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"  # attachments.kind is 32 characters at most
MAX_KINDS = 20


def document_label(kind: str) -> Text:
    return DOCUMENT_LABELS.get(kind, Text(kind, kind))


def requirements(conn: sa.Connection, tenant_id: str, party_id: str) -> dict[str, Any]:
    """The party's latest list of required documents: {version, kinds, set_at, set_by};
    version 0 (the invoice PDF only) when it never set one."""
    row = conn.execute(
        sa.select(claim_requirements)
        .where(
            claim_requirements.c.tenant_id == tenant_id,
            claim_requirements.c.party_id == party_id,
        )
        .order_by(claim_requirements.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return {
            "party_id": party_id,
            "version": 0,
            "kinds": list(DEFAULT_REQUIREMENTS),
            "set_at": None,
            "set_by": None,
        }
    return {
        "party_id": party_id,
        "version": int(row.version),
        "kinds": list(row.kinds),
        "set_at": row.set_at,
        "set_by": row.set_by,
    }


def require_party(conn: sa.Connection, tenant_id: str, party_id: str) -> str:
    name = conn.execute(
        sa.select(ordering_parties.c.name).where(
            ordering_parties.c.tenant_id == tenant_id, ordering_parties.c.id == party_id
        )
    ).scalar_one_or_none()
    if name is None:
        raise not_found("Donneur d'ordre", "Ordering party", party_id)
    return str(name)


def set_requirements(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    kinds: Sequence[str],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A new version of the party's required documents (the same list again adds no
    version). Claims are checked against the latest version when they are submitted."""
    import re

    require_party(conn, tenant_id, party_id)
    cleaned: list[str] = []
    bad = [k for k in kinds if not isinstance(k, str) or not re.match(KIND_PATTERN, k)]
    if bad or len(kinds) > MAX_KINDS:
        raise Unprocessable(
            "Types de pièces invalides : des noms en minuscules, chiffres et _ (32 caractères"
            f" au plus), {MAX_KINDS} au plus, par exemple vehicle_photo.",
            "Invalid document kinds: lower-case names, digits and _ (32 characters at most),"
            f" {MAX_KINDS} at most, e.g. vehicle_photo.",
            code="requirements_invalid",
        )
    for kind in kinds:
        if kind not in cleaned:
            cleaned.append(kind)
    current = requirements(conn, tenant_id, party_id)
    if current["version"] > 0 and current["kinds"] == cleaned:
        return current
    version = int(current["version"]) + 1
    conn.execute(
        sa.insert(claim_requirements).values(
            tenant_id=tenant_id,
            party_id=party_id,
            version=version,
            kinds=cleaned,
            set_at=now,
            set_by=actor[:64],
        )
    )
    audit(
        conn,
        tenant_id,
        actor,
        "claim_requirements.set",
        party_id,
        now,
        detail={"version": version, "kinds": cleaned},
    )
    return requirements(conn, tenant_id, party_id)


def _present_kinds(conn: sa.Connection, tenant_id: str, claim: Any) -> set[str]:
    """The document kinds this claim has: its invoice's PDF, and every complete
    attachment of its mission."""
    present = {
        str(kind)
        for kind in conn.execute(
            sa.select(attachments.c.kind)
            .where(
                attachments.c.tenant_id == tenant_id,
                attachments.c.mission_id == claim.mission_id,
                attachments.c.completed_at.is_not(None),
            )
            .distinct()
        ).scalars()
    }
    if claim.invoice_number and document_files.is_ready(conn, tenant_id, claim.invoice_number):
        present.add(INVOICE_PDF)
    return present


def documents_state(conn: sa.Connection, tenant_id: str, claim: Any) -> dict[str, Any]:
    """What the party requires for this claim, and which are there."""
    required = requirements(conn, tenant_id, claim.party_id)
    present = _present_kinds(conn, tenant_id, claim)
    items = [
        {
            "kind": kind,
            "label": {"fr": document_label(kind).fr, "en": document_label(kind).en},
            "present": kind in present,
        }
        for kind in required["kinds"]
    ]
    return {
        "version": required["version"],
        "documents": items,
        "missing": [i["kind"] for i in items if not i["present"]],
    }


def missing_refusal(number: str, missing: Sequence[str]) -> Conflict:
    fr = ", ".join(document_label(k).fr for k in missing)
    en = ", ".join(document_label(k).en for k in missing)
    return Conflict(
        f"Pièces manquantes pour la demande {number} : {fr}. Les photos et signatures"
        " arrivent avec la synchronisation de la tablette.",
        f"Documents missing for claim {number}: {en}. Photos and signatures arrive with"
        " the tablet's sync.",
        code="documents_missing",
    )
