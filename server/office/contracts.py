"""Contracts (conventions) on the server: published as new versions, never edited.

A version is validated by the core (`load_contract`), stored as its canonical JSON
(whose sha256 is the digest the core reports in every valuation) and announced to every
tablet of the tenant through the pull feed, as change `contract` with id `<id>:<version>`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.people import ordering_parties as parties
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import contracts
from shared.canonical import canonical_json
from shared.contract_schema import CONTRACT, load_contract
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

MAX_VERSION = 2**31 - 1  # an integer column on every database


def change_id(contract_id: str, version: int) -> str:
    return f"{contract_id}:{version}"


def publish(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    path: str = "document",
) -> dict[str, Any]:
    """Validate and store a new contract version; refuse one that exists."""
    try:
        terms = load_contract(document)
    except InvalidDocument as error:
        raise InvalidDocument(
            error.what,
            [Problem(f"{path}.{p.path}" if p.path else path, p.text) for p in error.problems],
        ) from None
    if terms.version > MAX_VERSION:
        raise InvalidDocument(
            CONTRACT,
            [Problem(f"{path}.version", Text(f"au plus {MAX_VERSION}", f"at most {MAX_VERSION}"))],
        )
    party = terms.ordering_party
    if party is not None and not parties.exists(conn, tenant_id, party.id):
        raise Unprocessable(
            f"Donneur d'ordre inconnu : {party.id}. Créez-le avant de publier sa convention.",
            f"Unknown ordering party: {party.id}. Create it before publishing its contract.",
            code="ordering_party_unknown",
        )
    taken = conn.execute(
        sa.select(contracts.c.version).where(
            contracts.c.tenant_id == tenant_id,
            contracts.c.id == terms.id,
            contracts.c.version == terms.version,
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"La convention {terms.id} v{terms.version} existe déjà : une version publiée "
            "ne change plus, publiez la version suivante.",
            f"Contract {terms.id} v{terms.version} already exists: a published version never "
            "changes, publish the next version.",
            code="contract_version_exists",
        )
    text = canonical_json(document).decode("utf-8")
    conn.execute(
        sa.insert(contracts).values(
            tenant_id=tenant_id,
            id=terms.id,
            version=terms.version,
            document=text,
            digest=terms.source_digest,
            valid_from=terms.valid_from,
            valid_until=terms.valid_until,
            published_at=now,
            published_by=actor,
        )
    )
    summary = {
        "id": terms.id,
        "version": terms.version,
        "label": terms.label,
        "ordering_party_id": party.id if party else None,
        "digest": terms.source_digest,
        "valid_from": terms.valid_from.isoformat(),
        "valid_until": terms.valid_until.isoformat() if terms.valid_until else None,
    }
    changes.record(
        conn,
        tenant_id,
        "contract",
        change_id(terms.id, terms.version),
        {**summary, "document": json.loads(text)},
        scope=None,
        now=now,
    )
    audit(
        conn,
        tenant_id,
        actor,
        "contract.publish",
        change_id(terms.id, terms.version),
        now,
        detail={"digest": terms.source_digest},
    )
    return {**summary, "published_at": now, "published_by": actor}


def _summary(row: Any) -> dict[str, Any]:
    document = json.loads(row.document)
    party = document.get("ordering_party") or {}
    return {
        "id": row.id,
        "version": row.version,
        "label": document.get("label", ""),
        "ordering_party_id": party.get("id"),
        "digest": row.digest,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "published_at": row.published_at,
        "published_by": row.published_by,
    }


def list_versions(
    conn: sa.Connection, tenant_id: str, contract_id: str | None = None
) -> list[dict[str, Any]]:
    query = sa.select(contracts).where(contracts.c.tenant_id == tenant_id)
    if contract_id is not None:
        query = query.where(contracts.c.id == contract_id)
    rows = conn.execute(query.order_by(contracts.c.id, contracts.c.version))
    return [_summary(r) for r in rows]


def get_version(
    conn: sa.Connection, tenant_id: str, contract_id: str, version: int
) -> dict[str, Any]:
    row = None
    if 1 <= version <= MAX_VERSION:
        row = conn.execute(
            sa.select(contracts).where(
                contracts.c.tenant_id == tenant_id,
                contracts.c.id == contract_id,
                contracts.c.version == version,
            )
        ).first()
    if row is None:
        raise not_found("Convention", "Contract", change_id(contract_id, version))
    return {**_summary(row), "document": json.loads(row.document)}
