"""What the order modules share about what is stored: the party's rule sets applied to an
order as received, the orders, missions and file log entries read back, and writing a
mission's document and the file's log. Which cleaning wrote a mission ("the baseline") is read
from the file's log: the last `mission_created` or `mission_updated` entry names the order and
the rule set version. Cleaning is deterministic, so a mission whose document differs from that
cleaned order was corrected by hand and is never overwritten."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import mission_keys, missions
from server.parties import cleaning as cleaning_store
from server.parties import files as party_files
from server.parties.cleaning import Stored
from server.parties.order_document import as_cleaned, mission_document
from server.people import ordering_parties as parties
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import not_found
from server.platform.tables import file_events, valuations
from server.platform.tables import missions as missions_table
from server.platform.tables import orders as orders_table
from shared import file_lifecycle as lifecycle
from shared.canonical import canonical_json
from shared.cleaning import Correction, clean
from shared.cleaning_paths import copy_json, same
from shared.i18n import Text
from shared.mission import load_mission


def require_party(conn: sa.Connection, tenant_id: str, party_id: str) -> None:
    if not parties.exists(conn, tenant_id, party_id):
        raise not_found("Donneur d'ordre", "Ordering party", party_id)


@dataclass(frozen=True, slots=True)
class Cleaning:
    order: dict[str, Any]
    corrections: tuple[Correction, ...]
    version: int | None
    digest: str | None
    descriptions: Mapping[str, Text] = field(default_factory=dict)

    def wire(self) -> list[dict[str, Any]]:
        out = []
        for c in self.corrections:
            text = self.descriptions.get(c.rule)
            out.append(
                {
                    **c.to_wire(),
                    "digest": self.digest,
                    "description": None if text is None else {"fr": text.fr, "en": text.en},
                }
            )
        return out


def cleaning_of(received: Mapping[str, Any], stored: Stored | None) -> Cleaning:
    if stored is None:
        return Cleaning(copy_json(received), (), None, None)
    done = clean(received, stored.ruleset)
    return Cleaning(
        done.order,
        done.corrections,
        stored.ruleset.version,
        stored.ruleset.digest,
        {rule.id: rule.description for rule in stored.ruleset.rules},
    )


class Rules:
    """The party's published versions, each loaded once."""

    def __init__(self, conn: sa.Connection, tenant_id: str, party_id: str) -> None:
        self.conn, self.tenant_id, self.party_id = conn, tenant_id, party_id
        self._cache: dict[int, Stored] = {}

    def version(self, version: int | None) -> Stored | None:
        if version is None:
            return None
        if version not in self._cache:
            self._cache[version] = cleaning_store.load_version(
                self.conn, self.tenant_id, self.party_id, version
            )
        return self._cache[version]

    def latest(self) -> Stored | None:
        stored = cleaning_store.latest(self.conn, self.tenant_id, self.party_id)
        if stored is not None:
            self._cache[stored.ruleset.version] = stored
        return stored


def order_by_id(conn: sa.Connection, tenant_id: str, order_id: str) -> Any:
    return conn.execute(
        sa.select(orders_table).where(
            orders_table.c.tenant_id == tenant_id, orders_table.c.id == order_id
        )
    ).first()


def mission_row(conn: sa.Connection, tenant_id: str, mission_id: str) -> Any:
    return conn.execute(
        sa.select(missions_table).where(
            missions_table.c.tenant_id == tenant_id, missions_table.c.id == mission_id
        )
    ).first()


def event_with_message(conn: sa.Connection, tenant_id: str, party_id: str, message_id: str) -> Any:
    return conn.execute(
        sa.select(file_events).where(
            file_events.c.tenant_id == tenant_id,
            file_events.c.party_id == party_id,
            file_events.c.message_id == message_id,
        )
    ).first()


def valued_by_tablet(conn: sa.Connection, tenant_id: str, mission_id: str) -> bool:
    """Whether a tablet sent its valuation of the mission: from then on the mission's
    price is a fact in the field, and only the credit-note path may change it."""
    return (
        conn.execute(
            sa.select(valuations.c.id)
            .where(
                valuations.c.tenant_id == tenant_id,
                valuations.c.mission_id == mission_id,
                valuations.c.source == "device",
            )
            .limit(1)
        ).first()
        is not None
    )


def last_entry(entries: Sequence[Mapping[str, Any]], events: Iterable[str], **match: Any) -> Any:
    wanted = set(events)
    for entry in reversed(entries):
        detail = entry["detail"] or {}
        if entry["event"] in wanted and all(detail.get(k) == v for k, v in match.items()):
            return entry
    return None


def as_received(row: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(row.received)
    return document


def cleaned_for(rules: Rules, row: Any, version: int | None) -> Cleaning:
    return cleaning_of(as_received(row), rules.version(version))


def _document_for(rules: Rules, row: Any, version: int | None) -> dict[str, Any]:
    """The mission document that cleaning `row` with `version` gives."""
    cleaning = cleaned_for(rules, row, version)
    return mission_document(cleaning.order, row.mission_id, row.party_id, row.file_number)


def baseline(
    conn: sa.Connection, rules: Rules, history: Sequence[Mapping[str, Any]], mission_id: str
) -> dict[str, Any] | None:
    """The mission document as automatic cleaning last wrote it (None: not from an
    order)."""
    entry = last_entry(history, ("mission_created", "mission_updated"), mission_id=mission_id)
    if entry is None:
        return None
    row = order_by_id(conn, rules.tenant_id, entry["detail"]["order_id"])
    return None if row is None else _document_for(rules, row, entry["detail"].get("version"))


def hold_reason(conn: sa.Connection, tenant_id: str, mission: Any, baseline: Any) -> str | None:
    """Why an automatic change must not touch the mission: cancelled, valued by a
    tablet, or corrected by hand since cleaning wrote it."""
    if mission.status == missions.CANCELLED:
        return "mission_cancelled"
    if valued_by_tablet(conn, tenant_id, mission.id):
        return "valued_by_tablet"
    if baseline is None or not same(as_cleaned(json.loads(mission.document)), baseline):
        return "corrected_by_hand"
    return None


HOLD_TEXTS = {
    "mission_cancelled": Text(
        "la mission est annulée : elle n'a pas été modifiée",
        "the mission is cancelled: it was not changed",
    ),
    "valued_by_tablet": Text(
        "une tablette a déjà valorisé la mission : elle n'a pas été modifiée ; vérifiez-la et, "
        "si le prix change, corrigez la facture par un avoir",
        "a tablet already valued the mission: it was not changed; check it and, if the price "
        "changes, correct the invoice with a credit note",
    ),
    "corrected_by_hand": Text(
        "la mission a été corrigée à la main au bureau : elle n'a pas été modifiée ; "
        "comparez et corrigez-la si besoin",
        "the mission was corrected by hand in the office: it was not changed; compare and "
        "correct it if needed",
    ),
    "file_done": Text(
        "le dossier est terminé : aucune mission n'a été créée",
        "the file is done: no mission was created",
    ),
}


def write_mission(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    document: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    action: str,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Replace the mission's document; its driver's tablets receive it at their next
    pull (server.office.missions does not edit documents: orders are the only thing that
    does, before a tablet values the mission)."""
    load_mission(document)
    conn.execute(
        sa.update(missions_table)
        .where(missions_table.c.tenant_id == tenant_id, missions_table.c.id == mission_id)
        .values(document=canonical_json(document).decode("utf-8"), **mission_keys.keys(document))
    )
    wire = missions.get(conn, tenant_id, mission_id)
    if wire["driver_id"] is not None:
        data = {k: v for k, v in wire.items() if k != "source"}
        changes.record(
            conn, tenant_id, "mission", mission_id, data, scope=wire["driver_id"], now=now
        )
    audit(conn, tenant_id, actor, action, mission_id, now, detail=dict(detail or {}))
    return wire


def log_corrections(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    cleaning: Cleaning,
    *,
    order_id: str,
    cause: str,
    actor: str,
    now: datetime,
) -> None:
    for wire in cleaning.wire():
        party_files.log(
            conn,
            tenant_id,
            party_id,
            file_number,
            "cleaning_correction",
            source="intake",
            actor=actor,
            now=now,
            detail={"order_id": order_id, "cause": cause, **wire},
        )


def state_label(state: str | None) -> dict[str, str] | None:
    if state is None:
        return None
    text = lifecycle.STATE_LABELS[lifecycle.parse_state(state)]
    return {"fr": text.fr, "en": text.en}


@dataclass(frozen=True, slots=True)
class FileLog:
    """One file's log, for the entries orders add beside the lifecycle's."""

    conn: sa.Connection
    tenant_id: str
    party_id: str
    file_number: str
    actor: str
    now: datetime

    def log(self, event: str, detail: Mapping[str, Any], source: str = "intake") -> None:
        party_files.log(
            self.conn,
            self.tenant_id,
            self.party_id,
            self.file_number,
            event,
            source=source,
            actor=self.actor[:64],
            now=self.now,
            detail=detail,
        )


def order_of_mission(conn: sa.Connection, tenant_id: str, mission: Any) -> Any:
    """The latest order the mission was made from (None: not from an order)."""
    if mission.ordering_party_id is None or mission.file_number is None:
        return None
    history = party_files.history(conn, tenant_id, mission.ordering_party_id, mission.file_number)
    entry = last_entry(history, ("order",), mission_id=mission.id)
    return None if entry is None else order_by_id(conn, tenant_id, entry["detail"]["order_id"])
