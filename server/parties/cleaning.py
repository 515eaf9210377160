"""Cleaning rule sets on the server (docs/cleaning-rules.md): one per ordering party,
published as versions 1, 2, 3… and never changed once published.

A version is validated by the core (`shared.cleaning_schema.load_ruleset`) and stored as
its canonical JSON with its digest, the one every correction on a file's log cites.
Publishing computes the next number: a document that names none gets it, one that names
another (a draft made from an older version) is refused, so two clerks editing at once
cannot overwrite each other's rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.people import ordering_parties as parties
from server.people.identity import audit
from server.platform.errors import Conflict, not_found
from server.platform.tables import cleaning_rulesets
from shared.canonical import canonical_json
from shared.cleaning import RuleSet
from shared.cleaning_schema import RULESET, load_ruleset
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text

MAX_VERSION = 2**31 - 1  # an integer column on every database


@dataclass(frozen=True, slots=True)
class Stored:
    """A published version: the rule set and when, by whom."""

    ruleset: RuleSet
    document: dict[str, Any]
    published_at: datetime
    published_by: str


def _summary(row: Any) -> dict[str, Any]:
    document = json.loads(row.document)
    return {
        "party_id": row.party_id,
        "version": row.version,
        "digest": row.digest,
        "rules": len(document.get("rules", [])),
        "published_at": row.published_at,
        "published_by": row.published_by,
    }


def _head(conn: sa.Connection, tenant_id: str, party_id: str) -> int:
    found = conn.execute(
        sa.select(sa.func.max(cleaning_rulesets.c.version)).where(
            cleaning_rulesets.c.tenant_id == tenant_id,
            cleaning_rulesets.c.party_id == party_id,
        )
    ).scalar_one()
    return int(found or 0)


def _require_party(conn: sa.Connection, tenant_id: str, party_id: str) -> None:
    if not parties.exists(conn, tenant_id, party_id):
        raise not_found("Donneur d'ordre", "Ordering party", party_id)


def _problem(path: str, fr: str, en: str) -> InvalidDocument:
    return InvalidDocument(RULESET, [Problem(path, Text(fr, en))])


def publish(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    document: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    path: str = "document",
) -> dict[str, Any]:
    """Validate and store the party's next version (N+1). `party` and `version` may be
    left out of the document: they are filled in; when given they must match."""
    _require_party(conn, tenant_id, party_id)
    if not isinstance(document, Mapping):
        raise _problem(path, "un objet JSON est attendu", "a JSON object is expected")
    head = _head(conn, tenant_id, party_id)
    filled = dict(document)
    filled.setdefault("party", party_id)
    filled.setdefault("version", head + 1)
    if filled["party"] != party_id:
        raise _problem(
            f"{path}.party",
            f"ces règles sont publiées pour {party_id} : « party » doit valoir {party_id}",
            f"these rules are published for {party_id}: 'party' must be {party_id}",
        )
    try:
        ruleset = load_ruleset(filled)
    except InvalidDocument as error:
        raise InvalidDocument(
            error.what,
            [Problem(f"{path}.{p.path}" if p.path else path, p.text) for p in error.problems],
        ) from None
    if ruleset.version != head + 1 or ruleset.version > MAX_VERSION:
        raise _stale(party_id, head, ruleset.version)
    try:
        with conn.begin_nested():  # two publications racing: the second one is stale
            conn.execute(
                sa.insert(cleaning_rulesets).values(
                    tenant_id=tenant_id,
                    party_id=party_id,
                    version=ruleset.version,
                    document=canonical_json(filled).decode("utf-8"),
                    digest=ruleset.digest,
                    published_at=now,
                    published_by=actor,
                )
            )
    except sa.exc.IntegrityError:
        raise _stale(party_id, head + 1, ruleset.version) from None
    audit(
        conn,
        tenant_id,
        actor,
        "cleaning_rules.publish",
        party_id,
        now,
        detail={"version": ruleset.version, "digest": ruleset.digest},
    )
    return get_version(conn, tenant_id, party_id, ruleset.version)


def _stale(party_id: str, head: int, version: int) -> Conflict:
    return Conflict(
        f"Les règles de nettoyage de {party_id} sont en version {head} : publiez la version "
        f"{head + 1}, pas la {version} (repartez de la dernière version si quelqu'un a "
        "publié entre-temps).",
        f"{party_id}'s cleaning rules are at version {head}: publish version {head + 1}, "
        f"not {version} (start again from the latest version if someone published meanwhile).",
        code="ruleset_version_conflict",
    )


def list_versions(conn: sa.Connection, tenant_id: str, party_id: str) -> list[dict[str, Any]]:
    """Every published version, oldest first."""
    _require_party(conn, tenant_id, party_id)
    rows = conn.execute(
        sa.select(cleaning_rulesets)
        .where(
            cleaning_rulesets.c.tenant_id == tenant_id,
            cleaning_rulesets.c.party_id == party_id,
        )
        .order_by(cleaning_rulesets.c.version)
    )
    return [_summary(r) for r in rows]


def _version_row(conn: sa.Connection, tenant_id: str, party_id: str, version: int) -> Any:
    if not 1 <= version <= MAX_VERSION:
        return None
    return conn.execute(
        sa.select(cleaning_rulesets).where(
            cleaning_rulesets.c.tenant_id == tenant_id,
            cleaning_rulesets.c.party_id == party_id,
            cleaning_rulesets.c.version == version,
        )
    ).first()


def get_version(conn: sa.Connection, tenant_id: str, party_id: str, version: int) -> dict[str, Any]:
    """One version with its document."""
    row = _version_row(conn, tenant_id, party_id, version)
    if row is None:
        raise not_found("Règles de nettoyage", "Cleaning rules", f"{party_id} v{version}")
    return {**_summary(row), "document": json.loads(row.document)}


def _stored(row: Any) -> Stored:
    document = json.loads(row.document)
    return Stored(load_ruleset(document), document, row.published_at, row.published_by)


def load_version(conn: sa.Connection, tenant_id: str, party_id: str, version: int) -> Stored:
    """A published version as the core's `RuleSet` (to clean again with it)."""
    row = _version_row(conn, tenant_id, party_id, version)
    if row is None:
        raise not_found("Règles de nettoyage", "Cleaning rules", f"{party_id} v{version}")
    return _stored(row)


def latest(conn: sa.Connection, tenant_id: str, party_id: str) -> Stored | None:
    """The party's current rule set (the highest version), or None before the first."""
    row = conn.execute(
        sa.select(cleaning_rulesets)
        .where(
            cleaning_rulesets.c.tenant_id == tenant_id,
            cleaning_rulesets.c.party_id == party_id,
        )
        .order_by(cleaning_rulesets.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else _stored(row)
