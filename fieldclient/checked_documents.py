"""Contracts and missions read back from the tablet's database, without their schema when
they passed it before.

Validating a document (marshmallow, and the `holidays` library for a contract's
country) is most of what a command spent before it valued anything. The tablet validates
each contract and mission in full the first time it reads or stores it, and records the
digest of its canonical JSON in `checked_documents` (`kind` names the schema and its
version). Later loads compute the digest of the stored document again: when it is a
recorded one, the objects are built without the schema (`shared.checked_contract`,
`shared.checked_mission`, equal to what the schema builds); otherwise the document is
validated in full, as before, and refused (`InvalidDocument`) when it does not pass.

What this trusts, and why it is no weaker than before: a row altered outside the program
has another digest, so it is validated again. Someone who can write the tablet's files
can also record the digest of what they wrote; they gain nothing by it, since they could
already write a valid contract with other prices, and the office values every mission
again with its own copy of the contract (docs/field-client.md "Speed").
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from shared.canonical import digest
from shared.checked import Unchecked
from shared.checked_contract import checked_contract
from shared.checked_mission import checked_mission
from shared.contract import Contract
from shared.mission import Mission, load_mission
from shared.site_facts import Fact, Record, record_from_payload

# Bump the version when a schema refuses more than it did: what the older one let
# through is then validated again.
CONTRACT = "contract/1"
MISSION = "mission/1"
SITE_FACTS = "site_facts/1"  # a `site_facts` entry's payload (shared/site_facts_payload.py)


def _digest(document: Any) -> str | None:
    try:
        return digest(document)
    except (TypeError, ValueError):  # a float, a key that is not text: never checked
        return None


def is_checked(db: sqlite3.Connection, kind: str, document_digest: str | None) -> bool:
    if document_digest is None:
        return False
    row = db.execute(
        "SELECT 1 FROM checked_documents WHERE kind = ? AND digest = ?", [kind, document_digest]
    ).fetchone()
    return row is not None


def remember(db: sqlite3.Connection, kind: str, document_digest: str) -> None:
    """Record that a document passed its schema: inside the caller's transaction when there
    is one. A read-only command records it on its own; if the database is busy or cannot
    be written, the next load simply validates again."""
    try:
        db.execute(
            "INSERT OR IGNORE INTO checked_documents (kind, digest) VALUES (?, ?)",
            [kind, document_digest],
        )
    except sqlite3.OperationalError:
        if db.in_transaction:
            raise


def passed(db: sqlite3.Connection, kind: str, document: Any) -> None:
    """A document the caller just validated in full (a mission stored by the tablet)."""
    found = _digest(document)
    if found is not None:
        remember(db, kind, found)


def contract(db: sqlite3.Connection, text: str) -> Contract:
    """A stored contract document (JSON text) as a `Contract`."""
    document = json.loads(text)
    found = _digest(document)
    if found is not None and is_checked(db, CONTRACT, found):
        try:
            return checked_contract(document, found)
        except Unchecked:
            pass
    from shared.contract_schema import load_contract  # marshmallow and holidays

    terms = load_contract(document)
    remember(db, CONTRACT, terms.source_digest)
    return terms


def mission(db: sqlite3.Connection, text: str) -> Mission:
    """A stored mission document (JSON text) as a `Mission`."""
    document = json.loads(text)
    found = _digest(document)
    if found is not None and is_checked(db, MISSION, found):
        try:
            return checked_mission(document)
        except Unchecked:
            pass
    value = load_mission(document)
    if found is not None:
        remember(db, MISSION, found)
    return value


def site_facts(db: sqlite3.Connection, payload: dict[str, Any], ref: str) -> Record:
    """A `site_facts` entry's payload as a `Record`: built from the payload when it passed
    its schema before (the schema only adds defaults: no odometer, no receipts, no
    approval), else validated in full (`shared.site_facts.record_from_payload`) and its
    digest recorded. The command that records an entry reads it back in its own write
    transaction, so a later `show` neither validates nor writes."""
    found = _digest(payload)
    if found is not None and is_checked(db, SITE_FACTS, found):
        try:
            return _record(payload, ref)
        except (KeyError, TypeError, AttributeError):  # never recorded so: validate it
            pass
    record = record_from_payload(payload, ref)  # marshmallow
    if found is not None:
        remember(db, SITE_FACTS, found)
    return record


def _record(payload: dict[str, Any], ref: str) -> Record:
    facts = []
    for item in payload["facts"]:
        evidence: dict[str, Any] = {}
        if item.get("odometer") is not None:
            evidence["odometer"] = item["odometer"]
        if item.get("receipts"):
            evidence["receipts"] = item["receipts"]
        key = item.get("leg") if item["fact"] == "distance" else item.get("family")
        facts.append(Fact(item["fact"], key, item["order"], item["found"], evidence))
    return Record(tuple(facts), payload.get("approval_ref"), ref)
