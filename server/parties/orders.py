"""Orders in: mission orders and messages from ordering parties (docs/orders.md).

An order arrives from the party's system (API key) or from an import. It is kept exactly
as received, cleaned with the party's latest rule set (shared/cleaning.py), validated,
and becomes a mission (server.office.missions.create: a driver's tablets get it at their next
pull); each correction goes to the file's log with the rule and the rule set's version,
and the file moves with the `order` event (server.parties.files). The party's message id
makes it idempotent: the same order sent twice creates one mission and one event, and
the second call answers with the first outcome.

The file's other messages (opening request, follow-up, invoice rejected or validated,
payment advice, order cancelled, provider changed) move the file through the lifecycle
table (docs/file-lifecycle.md).

The office side: replaying the current rule set on open files (always from the order as
received, never from the cleaned one), correcting a mission by hand before a tablet
values it, turning such a fix into a draft rule, and a bug report bundle for a mission
Towline valued wrong — the four causes of seed 000 each have a home here.

Which cleaning wrote a mission ("the baseline") is read from the file's log: the last
`mission_created` or `mission_updated` entry names the order and the rule set version.
Cleaning is deterministic, so that cleaned order can always be computed again; a mission
whose document differs from it was corrected by hand and is never overwritten.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from server.office import missions
from server.office.valuation import Valuer
from server.parties import claims
from server.parties import cleaning as cleaning_store
from server.parties import files as party_files
from server.parties.cleaning import Stored
from server.people import ordering_parties as parties
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import Conflict, Forbidden, Unprocessable, not_found
from server.platform.tables import anomalies, file_events, valuations
from server.platform.tables import missions as missions_table
from server.platform.tables import orders as orders_table
from server.platform.tables import party_files as party_files_table
from server.platform.web import nul_paths
from shared import calendar
from shared import file_lifecycle as lifecycle
from shared.canonical import canonical_json, digest
from shared.cleaning import Correction, clean
from shared.cleaning_paths import MISSION_FIELDS, copy_json, same
from shared.cleaning_proposal import propose_rule
from shared.contract import Amount, Contract
from shared.contract_schema import load_contract
from shared.errors import InvalidDocument, Problem, TowlineError
from shared.file_lifecycle import Event, State
from shared.i18n import Text
from shared.mission import (
    ContractCoverage,
    Mission,
    MissionSchema,
    coverage_warning,
    load_mission,
)
from shared.money import wire as money_wire
from shared.schema_tools import AmountField, DecimalField, bilingual, problems

ORDER = Text("Ordre de mission invalide", "Invalid mission order")
MESSAGE = Text("Message invalide", "Invalid message")
ORDERS_FILE = Text("Fichier de commandes invalide", "Invalid orders file")
MISSION_SOURCE = "order"  # missions.source: made from an ordering party's order
MAX_BATCH = 5000
# The messages `receive_message` takes; an order goes through `receive_order`.
MESSAGE_KINDS = tuple(e.value for e in Event if lifecycle.is_message(e) and e is not Event.ORDER)
# The order's identity, which cleaning cannot change: the mission gets Towline's id, the
# file number the party sent and the party of the key.
FORCED = ("id", "ordering_party", "file_number")
CLOSED = (State.DONE, State.CANCELLED)


# --- the order document ---------------------------------------------------------------


class _Strict(Schema):
    class Meta:
        unknown = RAISE


_NAME = validate.Length(min=1, max=200, error=bilingual("de 1 à 200 caractères", "1 to 200 chars"))


def _text(high: int) -> validate.Length:
    return validate.Length(
        max=high, error=bilingual(f"au plus {high} caractères", f"at most {high} characters")
    )


def _strict_bool(**kwargs: Any) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class _BeneficiarySchema(_Strict):
    name = fields.String(required=True, validate=_NAME)
    phone = fields.String(load_default=None, allow_none=True, validate=_text(40))
    email = fields.String(load_default=None, allow_none=True, validate=_text(200))


class _PlaceSchema(_Strict):
    address = fields.String(load_default=None, allow_none=True, validate=_text(300))
    postcode = fields.String(load_default=None, allow_none=True, validate=_text(16))
    city = fields.String(load_default=None, allow_none=True, validate=_text(120))
    country = fields.String(load_default=None, allow_none=True, validate=_text(56))
    lat = DecimalField(load_default=None, allow_none=True)
    lon = DecimalField(load_default=None, allow_none=True)

    @validates_schema
    def _somewhere(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data.get("address") or data.get("city")):
            raise ValidationError(
                bilingual("indiquez l'adresse ou la ville", "give the address or the city")
            )


class _CoverageSchema(_Strict):
    mission_cap = AmountField(load_default=None, allow_none=True)
    file_cap = AmountField(load_default=None, allow_none=True)
    caps_include_vat = _strict_bool(load_default=True)
    km_covered = DecimalField(load_default=None, allow_none=True, minimum=Decimal(0))
    deductible = AmountField(load_default=None, allow_none=True)
    deductible_includes_vat = _strict_bool(load_default=True)
    reference = fields.String(load_default=None, allow_none=True, validate=_text(64))

    @validates_schema
    def _not_negative(self, data: dict[str, Any], **kwargs: Any) -> None:
        for name in ("mission_cap", "file_cap", "deductible"):
            if data.get(name) is not None and data[name] < 0:
                raise ValidationError(bilingual("montant négatif", "negative amount"), name)


class OrderSchema(MissionSchema):
    """An order: the mission document's fields (shared/mission.py), plus the party's own:
    its message id, the beneficiary, the places and the coverage it grants (caps, km
    covered, deductible) and what the file already consumed of its cap. `id` is the
    party's own reference, optional: the mission gets Towline's id."""

    id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    message_id = fields.String(required=True, validate=validate.Length(1, 120))
    file_number = fields.String(required=True, validate=validate.Length(1, 64))
    beneficiary = fields.Nested(_BeneficiarySchema, load_default=None, allow_none=True)
    places = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("from", "to"))),
        values=fields.Nested(_PlaceSchema),
        load_default=dict,
    )
    coverage = fields.Nested(_CoverageSchema, load_default=None, allow_none=True)
    file_consumed = AmountField(load_default=None, allow_none=True)

    @validates_schema
    def _consumed(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("file_consumed") is not None and data["file_consumed"] < 0:
            raise ValidationError(bilingual("montant négatif", "negative amount"), "file_consumed")


def validate_order(order: Any) -> dict[str, Any]:
    """The order's values, or `InvalidDocument` naming every problem by its path."""
    if not isinstance(order, Mapping):
        raise InvalidDocument(ORDER, problems(["Invalid input type."]))
    try:
        loaded: dict[str, Any] = OrderSchema().load(order)
    except ValidationError as exc:
        raise InvalidDocument(ORDER, problems(exc.messages)) from None
    return loaded


def _identity(order: Any) -> tuple[str, str]:
    """The message id and file number, checked before anything else (they say whether
    the order is a duplicate, and which file it is about)."""
    if not isinstance(order, Mapping):
        raise InvalidDocument(ORDER, problems(["Invalid input type."]))
    found: list[Problem] = []
    nul = bilingual("caractère nul (\\u0000) refusé", "the null character (\\u0000) is refused")
    found += problems({path: [nul] for path in nul_paths(dict(order))})
    values: list[str] = []
    for name, high in (("message_id", 120), ("file_number", 64)):
        value = order.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > high:
            found.append(
                Problem(
                    name,
                    Text(
                        f"obligatoire : un texte de 1 à {high} caractères",
                        f"required: a text of 1 to {high} characters",
                    ),
                )
            )
        values.append(value if isinstance(value, str) else "")
    if found:
        raise InvalidDocument(ORDER, found)
    return values[0], values[1]


_PLAIN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def mission_id_for(party_id: str, file_number: str, sequence: int) -> str:
    """Towline's id for the mission of one file sequence: readable when the file number
    is plain (`ASSIST-A.A-2026-0101.1`), else the party and a digest. One id per
    (party, file, sequence): an amended order finds its mission again."""
    readable = f"{party_id}.{file_number}.{sequence}"
    if _PLAIN.match(file_number) and len(readable) <= 64:
        return readable
    tag = hashlib.sha256(json.dumps([party_id, file_number, sequence]).encode("utf-8")).hexdigest()[
        :20
    ]
    return f"{party_id[:40]}.{tag}"


def mission_document(
    cleaned: Mapping[str, Any], mission_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """The mission fields of a cleaned order, and its coverage (the order's `coverage`
    fields and `file_consumed`) as the mission's informational `coverage` block. The
    beneficiary and the places stay on the order. Deterministic: what the contract
    applies is added when the mission is written (`with_contract_coverage`)."""
    document = {
        key: copy_json(cleaned[key])
        for key in MISSION_FIELDS
        if key in cleaned and key not in FORCED and key != "coverage"
    }
    said = cleaned.get("coverage")
    consumed = cleaned.get("file_consumed")
    if isinstance(said, Mapping) or consumed is not None:
        block = {k: copy_json(v) for k, v in (said or {}).items()}
        if consumed is not None:
            block["file_consumed"] = copy_json(consumed)
        document["coverage"] = block
    document.update(id=mission_id, ordering_party=party_id, file_number=file_number)
    return document


# The keys of the mission's `coverage` block looked up at intake, not read from the order.
LOOKED_UP = ("contract", "warning")


def as_cleaned(document: Mapping[str, Any]) -> dict[str, Any]:
    """A mission document without what intake looked up (the contract's terms and the
    file's consumption change with time): what cleaning alone wrote."""
    out = dict(document)
    block = out.get("coverage")
    if isinstance(block, Mapping):
        out["coverage"] = {k: v for k, v in block.items() if k not in LOOKED_UP}
    return out


def _party_contract(conn: sa.Connection, tenant_id: str, mission: Mission) -> Contract | None:
    """The party's contract valid on the mission's day, as a tablet would choose it: the
    highest version of the one contract naming the party (None: none, or several)."""
    from server.platform.tables import contracts

    valid: dict[str, Contract] = {}
    for text in conn.execute(
        sa.select(contracts.c.document).where(contracts.c.tenant_id == tenant_id)
    ).scalars():
        document = json.loads(text)
        if (document.get("ordering_party") or {}).get("id") != mission.ordering_party:
            continue
        terms = load_contract(document)
        day = calendar.local(mission.times["call"], terms.timezone).date()
        if terms.is_valid_on(day) and (
            terms.id not in valid or valid[terms.id].version < terms.version
        ):
            valid[terms.id] = terms
    return next(iter(valid.values())) if len(valid) == 1 else None


def _amount_wire(amount: Amount | None) -> dict[str, Any] | None:
    if amount is None:
        return None
    return {"amount": money_wire(amount.amount), "includes_vat": amount.includes_vat}


def with_contract_coverage(
    conn: sa.Connection, tenant_id: str, document: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The mission document with, in its `coverage` block (when it has one), what the
    party's contract applies (`contract`: caps, deductible, km included, and what the
    file's earlier missions consumed per the server's valuations) and a `warning` in
    French and English when the order says otherwise. A document without coverage is
    returned unchanged."""
    out = as_cleaned(document)
    if not isinstance(out.get("coverage"), Mapping):
        return out
    mission = load_mission(out)
    assert mission.coverage is not None
    terms = _party_contract(conn, tenant_id, mission)
    if terms is None:
        return out
    consumed = Valuer(conn, tenant_id, now).file_consumed(mission, terms.id)
    applied = ContractCoverage(
        contract_id=terms.id,
        version=terms.version,
        mission_cap=terms.caps.mission,
        file_cap=terms.caps.file,
        deductible=terms.deductible,
        km_included=terms.distance.included_km if terms.distance else None,
        file_consumed=consumed,
    )
    block = dict(out["coverage"])
    block["contract"] = {
        "id": terms.id,
        "version": terms.version,
        "mission_cap": _amount_wire(applied.mission_cap),
        "file_cap": _amount_wire(applied.file_cap),
        "deductible": _amount_wire(applied.deductible),
        "km_included": None if applied.km_included is None else str(applied.km_included),
        "file_consumed": money_wire(consumed),
    }
    warning = coverage_warning(mission.coverage, applied)
    if warning is not None:
        block["warning"] = {"fr": warning.fr, "en": warning.en}
    out["coverage"] = block
    return out


# --- cleaning ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cleaning:
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


def _cleaning(received: Mapping[str, Any], stored: Stored | None) -> _Cleaning:
    if stored is None:
        return _Cleaning(copy_json(received), (), None, None)
    done = clean(received, stored.ruleset)
    return _Cleaning(
        done.order,
        done.corrections,
        stored.ruleset.version,
        stored.ruleset.digest,
        {rule.id: rule.description for rule in stored.ruleset.rules},
    )


class _Rules:
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


# --- reading what is stored -------------------------------------------------------------


def _order_by_message(conn: sa.Connection, tenant_id: str, party_id: str, message_id: str) -> Any:
    return conn.execute(
        sa.select(orders_table).where(
            orders_table.c.tenant_id == tenant_id,
            orders_table.c.party_id == party_id,
            orders_table.c.message_id == message_id,
        )
    ).first()


def _order_by_id(conn: sa.Connection, tenant_id: str, order_id: str) -> Any:
    return conn.execute(
        sa.select(orders_table).where(
            orders_table.c.tenant_id == tenant_id, orders_table.c.id == order_id
        )
    ).first()


def _mission_row(conn: sa.Connection, tenant_id: str, mission_id: str) -> Any:
    return conn.execute(
        sa.select(missions_table).where(
            missions_table.c.tenant_id == tenant_id, missions_table.c.id == mission_id
        )
    ).first()


def _event_with_message(conn: sa.Connection, tenant_id: str, party_id: str, message_id: str) -> Any:
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


def _last(entries: Sequence[Mapping[str, Any]], events: Iterable[str], **match: Any) -> Any:
    wanted = set(events)
    for entry in reversed(entries):
        detail = entry["detail"] or {}
        if entry["event"] in wanted and all(detail.get(k) == v for k, v in match.items()):
            return entry
    return None


def _received(row: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(row.received)
    return document


def _cleaned_for(rules: _Rules, row: Any, version: int | None) -> _Cleaning:
    return _cleaning(_received(row), rules.version(version))


def _document_for(rules: _Rules, row: Any, version: int | None) -> dict[str, Any]:
    """The mission document that cleaning `row` with `version` gives."""
    cleaning = _cleaned_for(rules, row, version)
    return mission_document(cleaning.order, row.mission_id, row.party_id, row.file_number)


def _baseline(
    conn: sa.Connection, rules: _Rules, history: Sequence[Mapping[str, Any]], mission_id: str
) -> dict[str, Any] | None:
    """The mission document as automatic cleaning last wrote it (None: not from an
    order)."""
    entry = _last(history, ("mission_created", "mission_updated"), mission_id=mission_id)
    if entry is None:
        return None
    row = _order_by_id(conn, rules.tenant_id, entry["detail"]["order_id"])
    return None if row is None else _document_for(rules, row, entry["detail"].get("version"))


def _hold_reason(conn: sa.Connection, tenant_id: str, mission: Any, baseline: Any) -> str | None:
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


def _write_mission(
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
        .values(document=canonical_json(document).decode("utf-8"))
    )
    wire = missions.get(conn, tenant_id, mission_id)
    if wire["driver_id"] is not None:
        data = {k: v for k, v in wire.items() if k != "source"}
        changes.record(
            conn, tenant_id, "mission", mission_id, data, scope=wire["driver_id"], now=now
        )
    audit(conn, tenant_id, actor, action, mission_id, now, detail=dict(detail or {}))
    return wire


def _log_corrections(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    cleaning: _Cleaning,
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


def _label(state: str | None) -> dict[str, str] | None:
    if state is None:
        return None
    text = lifecycle.STATE_LABELS[lifecycle.parse_state(state)]
    return {"fr": text.fr, "en": text.en}


# --- intake -------------------------------------------------------------------------------


def _require_party(conn: sa.Connection, tenant_id: str, party_id: str) -> None:
    if not parties.exists(conn, tenant_id, party_id):
        raise not_found("Donneur d'ordre", "Ordering party", party_id)


def receive_order(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    order: Any,
    *,
    actor: str,
    now: datetime,
    received_text: str | None = None,
    driver_id: str | None = None,
) -> dict[str, Any]:
    """Take one order from `party_id`, inside the caller's transaction. Refused (nothing
    written) when malformed (422, every problem by its path), when it names another
    party (403) or reuses another message's id (409). The same message id again answers
    with the first outcome and changes nothing. `received_text` is the body exactly as
    it arrived (else the order's JSON is kept)."""
    _require_party(conn, tenant_id, party_id)
    message_id, file_number = _identity(order)
    first = _order_by_message(conn, tenant_id, party_id, message_id)
    if first is not None:
        return outcome_of(conn, tenant_id, first, duplicate=True)
    if _event_with_message(conn, tenant_id, party_id, message_id) is not None:
        raise Conflict(
            f"L'identifiant de message {message_id} a déjà servi à un autre message de ce "
            "dossier : chaque message a son propre identifiant.",
            f"Message id {message_id} was already used by another message: each message "
            "has its own id.",
            code="message_id_reused",
        )
    claimed = order.get("ordering_party")
    if claimed is not None and claimed != party_id:
        raise Forbidden(
            f"Cette clé est celle de {party_id} : elle ne peut pas envoyer d'ordre pour "
            f"« {claimed} ».",
            f"This key belongs to {party_id}: it cannot send orders for '{claimed}'.",
            code="party_mismatch",
        )
    rules = _Rules(conn, tenant_id, party_id)
    cleaning = _cleaning(order, rules.latest())
    loaded = validate_order(cleaning.order)
    mission_id = mission_id_for(party_id, file_number, loaded["file_sequence"])
    document = mission_document(cleaning.order, mission_id, party_id, file_number)
    try:
        load_mission(document)
    except InvalidDocument as error:
        raise InvalidDocument(ORDER, list(error.problems)) from None
    document = with_contract_coverage(conn, tenant_id, document, now)
    existing = _mission_row(conn, tenant_id, mission_id)
    if existing is not None and (
        existing.ordering_party_id != party_id or existing.file_number != file_number
    ):
        raise Conflict(
            f"La mission {mission_id} existe déjà pour un autre dossier.",
            f"Mission {mission_id} already exists for another file.",
            code="mission_exists",
        )
    before = party_files.state_of(conn, tenant_id, party_id, file_number)
    after = lifecycle.apply(before, Event.ORDER).state
    history = party_files.history(conn, tenant_id, party_id, file_number) if existing else []
    reason: str | None = None
    if after is State.DONE:
        outcome, reason = "not_created", "file_done"
    elif existing is None:
        outcome = "created"
    else:
        reason = _hold_reason(
            conn, tenant_id, existing, _baseline(conn, rules, history, mission_id)
        )
        outcome = "held" if reason else "amended"
    order_id = "ord_" + secrets.token_hex(10)
    try:
        with conn.begin_nested():  # the same order racing itself: the second is a duplicate
            conn.execute(
                sa.insert(orders_table).values(
                    tenant_id=tenant_id,
                    id=order_id,
                    party_id=party_id,
                    file_number=file_number,
                    message_id=message_id,
                    received=received_text
                    if received_text is not None
                    else json.dumps(order, ensure_ascii=False),
                    cleaned=canonical_json(cleaning.order).decode("utf-8"),
                    ruleset_version=cleaning.version,
                    mission_id=None if outcome == "not_created" else mission_id,
                    received_at=now,
                    received_by=actor[:64],
                )
            )
    except sa.exc.IntegrityError:
        first = _order_by_message(conn, tenant_id, party_id, message_id)
        if first is None:
            raise
        return outcome_of(conn, tenant_id, first, duplicate=True)
    party_files.record(
        conn,
        tenant_id,
        party_id,
        file_number,
        Event.ORDER,
        source="party",
        actor=actor[:64],
        now=now,
        message_id=message_id,
        detail={
            "order_id": order_id,
            "mission_id": None if outcome == "not_created" else mission_id,
            "outcome": outcome,
            "reason": reason,
            "ruleset_version": cleaning.version,
            "ruleset_digest": cleaning.digest,
            "corrections": len(cleaning.corrections),
        },
    )
    _log_corrections(
        conn,
        tenant_id,
        party_id,
        file_number,
        cleaning,
        order_id=order_id,
        cause="intake",
        actor=actor[:64],
        now=now,
    )
    on_file = _File(conn, tenant_id, party_id, file_number, actor[:64], now)
    log = {"mission_id": mission_id, "order_id": order_id, "version": cleaning.version}
    if outcome == "created":
        _create_mission(conn, tenant_id, document, driver_id, actor=actor[:64], now=now)
        on_file.log("mission_created", {**log, "driver_id": driver_id})
    elif outcome == "amended":
        assert existing is not None
        if not same(json.loads(existing.document), document):
            _write_mission(
                conn,
                tenant_id,
                mission_id,
                document,
                actor=actor[:64],
                now=now,
                action="mission.update_from_order",
                detail={"order_id": order_id},
            )
        on_file.log("mission_updated", {**log, "cause": "amended_order"})
    elif outcome == "held":
        on_file.log("order_not_applied", {**log, "reason": reason})
    else:
        on_file.log("mission_not_created", {"order_id": order_id, "reason": reason})
    row = _order_by_id(conn, tenant_id, order_id)
    return outcome_of(conn, tenant_id, row, duplicate=False)


@dataclass(frozen=True, slots=True)
class _File:
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


def _create_mission(
    conn: sa.Connection,
    tenant_id: str,
    document: Mapping[str, Any],
    driver_id: str | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    try:
        with conn.begin_nested():  # another order of the same file sequence, at once
            missions.create(
                conn,
                tenant_id,
                document,
                driver_id,
                source=MISSION_SOURCE,
                actor=actor,
                now=now,
                path="order",
            )
    except sa.exc.IntegrityError:
        mission_id = document["id"]
        raise Conflict(
            f"Un autre ordre pour la mission {mission_id} arrive au même instant : "
            "renvoyez celui-ci, il sera pris comme une modification.",
            f"Another order for mission {mission_id} is arriving at the same time: send "
            "this one again, it will be taken as an amendment.",
            code="order_race",
        ) from None


def outcome_of(conn: sa.Connection, tenant_id: str, row: Any, *, duplicate: bool) -> dict[str, Any]:
    """What intake answered for this order; the same every time it is asked (a
    duplicate gets it again): cleaning is computed again with the version used then."""
    event = _event_with_message(conn, tenant_id, row.party_id, row.message_id)
    detail = dict(event.detail or {}) if event is not None else {}
    rules = _Rules(conn, tenant_id, row.party_id)
    cleaning = _cleaned_for(rules, row, row.ruleset_version)
    reason = detail.get("reason")
    note = HOLD_TEXTS.get(reason) if isinstance(reason, str) else None
    return {
        "order_id": row.id,
        "message_id": row.message_id,
        "party_id": row.party_id,
        "file_number": row.file_number,
        "mission_id": row.mission_id,
        "outcome": detail.get("outcome"),
        "reason": reason,
        "note": None if note is None else {"fr": note.fr, "en": note.en},
        "state": None if event is None else event.state_after,
        "state_label": _label(None if event is None else event.state_after),
        "warning": detail.get("warning"),
        "ruleset": None
        if cleaning.version is None
        else {"version": cleaning.version, "digest": cleaning.digest},
        "corrections": cleaning.wire(),
        "received_at": row.received_at,
        "duplicate": duplicate,
    }


# --- messages -------------------------------------------------------------------------------


class _MessageDetailSchema(_Strict):
    invoice_number = fields.String(validate=validate.Length(1, 32))
    reasons = fields.List(fields.String(validate=_text(500)), validate=validate.Length(max=20))
    amount = AmountField()
    reference = fields.String(validate=_text(120))
    provider = fields.String(validate=_text(200))
    note = fields.String(validate=_text(1000))


class MessageSchema(_Strict):
    message_id = fields.String(required=True, validate=validate.Length(1, 120))
    file_number = fields.String(required=True, validate=validate.Length(1, 64))
    kind = fields.String(required=True, validate=validate.OneOf(MESSAGE_KINDS))
    name = fields.String(load_default=None, allow_none=True, validate=_text(200))
    at = fields.AwareDateTime(load_default=None, allow_none=True)
    detail = fields.Nested(_MessageDetailSchema, load_default=dict)


def receive_message(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    message: Any,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Apply one of the party's messages to its file (never refused once well formed:
    the world already happened). A known message id changes nothing and answers with
    the first outcome. An invoice validated or rejected moves the file's claims; an
    order cancelled or a provider changed cancels the file's missions no tablet has
    valued yet (the others stay, and are listed for the office)."""
    _require_party(conn, tenant_id, party_id)
    if not isinstance(message, Mapping):
        raise InvalidDocument(MESSAGE, problems(["Invalid input type."]))
    nul = bilingual("caractère nul (\\u0000) refusé", "the null character (\\u0000) is refused")
    found = nul_paths(dict(message))
    if found:
        raise InvalidDocument(MESSAGE, problems({path: [nul] for path in found}))
    try:
        data = MessageSchema().load(message)
    except ValidationError as exc:
        raise InvalidDocument(MESSAGE, problems(exc.messages)) from None
    known = _event_with_message(conn, tenant_id, party_id, data["message_id"])
    if known is not None:
        return _message_outcome(known, duplicate=True)
    event = Event(data["kind"])
    detail = {k: (str(v) if k == "amount" else v) for k, v in data["detail"].items()}
    entry: dict[str, Any] = {"kind": event.value, **detail}
    if data["at"] is not None:
        entry["sent_at"] = data["at"].isoformat()
    file_number = data["file_number"]
    try:
        with conn.begin_nested():
            recorded = party_files.record(
                conn,
                tenant_id,
                party_id,
                file_number,
                event,
                source="party",
                actor=actor[:64],
                now=now,
                message_id=data["message_id"],
                message_name=data["name"],
                detail=entry,
            )
    except sa.exc.IntegrityError:
        recorded = None
    if recorded is None or recorded.duplicate or recorded.event_id is None:
        known = _event_with_message(conn, tenant_id, party_id, data["message_id"])
        return _message_outcome(known, duplicate=True)
    touched = claims.on_file_event(
        conn,
        tenant_id,
        party_id,
        file_number,
        event,
        actor=actor[:64],
        now=now,
        invoice_number=detail.get("invoice_number"),
        reasons=detail.get("reasons"),
        message_name=data["name"],
    )
    cancelled: list[str] = []
    kept: list[str] = []
    transition = recorded.transition
    if (
        event in (Event.ORDER_CANCELLED, Event.PROVIDER_CHANGED)
        and transition is not None
        and transition.state is State.DONE
    ):
        cancelled, kept = _stop_missions(
            conn, tenant_id, party_id, file_number, event, data, actor=actor, now=now
        )
    row = conn.execute(sa.select(file_events).where(file_events.c.id == recorded.event_id)).one()
    return {
        **_message_outcome(row, duplicate=False),
        "claims": [{"invoice_number": c["invoice_number"], "status": c["status"]} for c in touched],
        "missions_cancelled": cancelled,
        "missions_kept": kept,
    }


def _stop_missions(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    file_number: str,
    event: Event,
    data: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> tuple[list[str], list[str]]:
    rows = conn.execute(
        sa.select(missions_table)
        .where(
            missions_table.c.tenant_id == tenant_id,
            missions_table.c.ordering_party_id == party_id,
            missions_table.c.file_number == file_number,
            missions_table.c.status != missions.CANCELLED,
        )
        .order_by(missions_table.c.id)
    ).all()
    label = lifecycle.EVENT_LABELS[event].fr
    reason = f"{label} par le donneur d'ordre ({data['name'] or data['message_id']})"
    cancelled, kept = [], []
    for row in rows:
        if valued_by_tablet(conn, tenant_id, row.id):
            kept.append(row.id)
            _File(conn, tenant_id, party_id, file_number, actor, now).log(
                "mission_kept",
                {
                    "mission_id": row.id,
                    "reason": "valued_by_tablet",
                    "message_id": data["message_id"],
                },
            )
            continue
        missions.cancel(conn, tenant_id, row.id, reason, actor=actor[:64], now=now)
        cancelled.append(row.id)
        _File(conn, tenant_id, party_id, file_number, actor, now).log(
            "mission_cancelled",
            {"mission_id": row.id, "message_id": data["message_id"]},
        )
    return cancelled, kept


def _message_outcome(row: Any, *, duplicate: bool) -> dict[str, Any]:
    detail = dict(row.detail or {})
    return {
        "message_id": row.message_id,
        "file_number": row.file_number,
        "kind": row.event,
        "duplicate": duplicate,
        "state_before": row.state_before,
        "state": row.state_after,
        "state_label": _label(row.state_after),
        "changed": row.state_before != row.state_after,
        "warning": detail.get("warning"),
        "claims": [],
        "missions_cancelled": [],
        "missions_kept": [],
    }


# --- files ------------------------------------------------------------------------------------


def _orders_of_file(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> list[Any]:
    return list(
        conn.execute(
            sa.select(orders_table)
            .where(
                orders_table.c.tenant_id == tenant_id,
                orders_table.c.party_id == party_id,
                orders_table.c.file_number == file_number,
            )
            .order_by(orders_table.c.received_at, orders_table.c.id)
        )
    )


def file_for_party(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """What the ordering party may see of its own file: the state and its own messages
    (never the office's notes)."""
    stored = party_files.get_file(conn, tenant_id, party_id, file_number)
    messages = [
        {
            "message_id": e["message_id"],
            "kind": e["event"],
            "state": e["state_after"],
            "at": e["at"],
        }
        for e in party_files.history(conn, tenant_id, party_id, file_number)
        if e["source"] == "party" and e["message_id"] is not None
    ]
    return {
        "file_number": file_number,
        "state": stored["state"],
        "state_label": _label(stored["state"]),
        "updated_at": stored["updated_at"],
        "messages": messages,
    }


def file_detail(
    conn: sa.Connection, tenant_id: str, party_id: str, file_number: str
) -> dict[str, Any]:
    """The office's view of a file: state, warning, the whole log, its orders and
    missions."""
    stored = party_files.get_file(conn, tenant_id, party_id, file_number)
    mission_rows = conn.execute(
        sa.select(missions_table)
        .where(
            missions_table.c.tenant_id == tenant_id,
            missions_table.c.ordering_party_id == party_id,
            missions_table.c.file_number == file_number,
        )
        .order_by(missions_table.c.id)
    ).all()
    return {
        **stored,
        "state_label": _label(stored["state"]),
        "history": party_files.history(conn, tenant_id, party_id, file_number),
        "orders": [
            {
                "order_id": r.id,
                "message_id": r.message_id,
                "mission_id": r.mission_id,
                "ruleset_version": r.ruleset_version,
                "received_at": r.received_at,
                "received_by": r.received_by,
            }
            for r in _orders_of_file(conn, tenant_id, party_id, file_number)
        ],
        "missions": [
            {
                "id": m.id,
                "status": m.status,
                "driver_id": m.driver_id,
                "valued_by_tablet": valued_by_tablet(conn, tenant_id, m.id),
            }
            for m in mission_rows
        ],
    }


def list_files(
    conn: sa.Connection,
    tenant_id: str,
    *,
    party_id: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    found = party_files.list_files(conn, tenant_id, party_id=party_id, state=state, limit=limit)
    return [{**f, "state_label": _label(f["state"])} for f in found]


# --- replay on open files ------------------------------------------------------------------


def replay(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    *,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Clean again, with the party's latest rule set, the orders of its open files (not
    done, not cancelled by hand), each from the order AS RECEIVED. Where the result
    differs from the last cleaning, the corrections are logged and the mission is
    updated — unless a tablet valued it, the office corrected it by hand or it is
    cancelled: then it is left alone and reported. `dry_run` only reports."""
    _require_party(conn, tenant_id, party_id)
    rules = _Rules(conn, tenant_id, party_id)
    stored = rules.latest()
    if stored is None:
        raise Conflict(
            f"Aucune règle de nettoyage publiée pour {party_id} : rien à rejouer.",
            f"No cleaning rules published for {party_id}: nothing to replay.",
            code="no_ruleset",
        )
    version = stored.ruleset.version
    open_files = conn.execute(
        sa.select(party_files_table.c.file_number)
        .where(
            party_files_table.c.tenant_id == tenant_id,
            party_files_table.c.party_id == party_id,
            party_files_table.c.state.not_in([s.value for s in CLOSED]),
        )
        .order_by(party_files_table.c.file_number)
    ).scalars()
    report: list[dict[str, Any]] = []
    for file_number in list(open_files):
        history = party_files.history(conn, tenant_id, party_id, file_number)
        latest_orders: dict[str, str] = {}
        for entry in history:
            detail = entry["detail"] or {}
            if entry["event"] == "order" and detail.get("mission_id") and detail.get("order_id"):
                latest_orders[detail["mission_id"]] = detail["order_id"]
        for mission_id, order_id in latest_orders.items():
            row = _order_by_id(conn, tenant_id, order_id)
            mission = _mission_row(conn, tenant_id, mission_id)
            if row is None or mission is None:
                continue
            item = _replay_one(
                conn, rules, stored, row, mission, history, actor=actor, now=now, dry_run=dry_run
            )
            if item is not None:
                report.append({"file_number": file_number, **item})
    counts: dict[str, int] = {}
    for item in report:
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    return {
        "party_id": party_id,
        "version": version,
        "digest": stored.ruleset.digest,
        "dry_run": dry_run,
        "counts": counts,
        "files": report,
    }


def _replay_one(
    conn: sa.Connection,
    rules: _Rules,
    stored: Stored,
    row: Any,
    mission: Any,
    history: Sequence[Mapping[str, Any]],
    *,
    actor: str,
    now: datetime,
    dry_run: bool,
) -> dict[str, Any] | None:
    tenant_id = rules.tenant_id
    version = stored.ruleset.version
    last = _last(history, ("order_recleaned",), order_id=row.id)
    previous = row.ruleset_version if last is None else last["detail"].get("version")
    if previous == version:
        return None
    old = _cleaned_for(rules, row, previous)
    new = _cleaning(_received(row), stored)
    if same(old.order, new.order):
        return None
    item: dict[str, Any] = {
        "order_id": row.id,
        "mission_id": mission.id,
        "from_version": previous,
        "corrections": new.wire(),
        "changed": _differences(old.order, new.order),
    }
    document = mission_document(new.order, mission.id, row.party_id, row.file_number)
    try:
        validate_order(new.order)
        load_mission(document)
    except InvalidDocument as error:
        item["outcome"] = "invalid"
        item["problems"] = [
            {"path": p.path, "fr": p.text.fr, "en": p.text.en} for p in error.problems
        ]
    else:
        reason = _hold_reason(conn, tenant_id, mission, _baseline(conn, rules, history, mission.id))
        item["outcome"] = (
            "would_update"
            if dry_run and reason is None
            else ("updated" if reason is None else "held")
        )
        if reason is not None:
            item["reason"] = reason
            note = HOLD_TEXTS[reason]
            item["note"] = {"fr": note.fr, "en": note.en}
    if dry_run:
        return item
    file_number = row.file_number
    _log_corrections(
        conn,
        tenant_id,
        row.party_id,
        file_number,
        new,
        order_id=row.id,
        cause="replay",
        actor=actor,
        now=now,
    )
    _File(conn, tenant_id, row.party_id, file_number, actor, now).log(
        "order_recleaned",
        {
            "order_id": row.id,
            "mission_id": mission.id,
            "version": version,
            "digest": stored.ruleset.digest,
            "from_version": previous,
            "outcome": item["outcome"],
            **({"reason": item["reason"]} if "reason" in item else {}),
        },
    )
    if item["outcome"] == "updated":
        _write_mission(
            conn,
            tenant_id,
            mission.id,
            with_contract_coverage(conn, tenant_id, document, now),
            actor=actor,
            now=now,
            action="mission.update_from_replay",
            detail={"order_id": row.id, "version": version},
        )
        _File(conn, tenant_id, row.party_id, file_number, actor, now).log(
            "mission_updated",
            {
                "mission_id": mission.id,
                "order_id": row.id,
                "version": version,
                "cause": "replay",
            },
        )
    return item


def _differences(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two JSON documents differ, value by value (for people; `before`/`after`
    left out when absent)."""
    if same(old, new):
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found: list[dict[str, Any]] = []
        for key in sorted({*old, *new}, key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append({"path": sub, "after": copy_json(new[key])})
            elif key not in new:
                found.append({"path": sub, "before": copy_json(old[key])})
            else:
                found += _differences(old[key], new[key], sub)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in _differences(a, b, f"{path}.{i}")
        ]
    return [{"path": path, "before": copy_json(old), "after": copy_json(new)}]


# --- the office's own fix, and a rule from it ----------------------------------------------


def _order_of_mission(conn: sa.Connection, tenant_id: str, mission: Any) -> Any:
    """The latest order the mission was made from (None: not from an order)."""
    if mission.ordering_party_id is None or mission.file_number is None:
        return None
    history = party_files.history(conn, tenant_id, mission.ordering_party_id, mission.file_number)
    entry = _last(history, ("order",), mission_id=mission.id)
    return None if entry is None else _order_by_id(conn, tenant_id, entry["detail"]["order_id"])


def correct_mission(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    document: Any,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """The office cleans an order by hand before a tablet values it (seed 000, "Solution
    1"): the mission's new document, with what changed logged on the file naming the
    clerk. Refused once a tablet valued the mission (then the price is corrected by a
    credit note), on a cancelled mission, or when the id, party or file change."""
    mission = _mission_row(conn, tenant_id, mission_id)
    if mission is None:
        raise not_found("Mission", "Mission", mission_id)
    if mission.status == missions.CANCELLED:
        raise Conflict(
            f"La mission {mission_id} est annulée : elle ne se corrige plus.",
            f"Mission {mission_id} is cancelled: it can no longer be corrected.",
            code="mission_cancelled",
        )
    if valued_by_tablet(conn, tenant_id, mission_id):
        raise Conflict(
            f"Une tablette a déjà valorisé la mission {mission_id} : corrigez le prix par un "
            "avoir (ou acceptez la contestation), pas en modifiant la mission.",
            f"A tablet already valued mission {mission_id}: correct the price with a credit "
            "note (or accept the dispute), not by editing the mission.",
            code="mission_already_valued",
        )
    if not isinstance(document, Mapping):
        raise InvalidDocument(
            ORDER, [Problem("document", Text("un objet est attendu", "an object"))]
        )
    try:
        load_mission(document)
    except InvalidDocument as error:
        raise InvalidDocument(
            error.what,
            [
                Problem(f"document.{p.path}" if p.path else "document", p.text)
                for p in error.problems
            ],
        ) from None
    held = {
        "id": mission.id,
        "ordering_party": mission.ordering_party_id,
        "file_number": mission.file_number,
    }
    moved = [k for k, v in held.items() if document.get(k) != v]
    if moved:
        raise Unprocessable(
            "L'identifiant, le donneur d'ordre et le numéro de dossier d'une mission ne se "
            f"corrigent pas ({', '.join(moved)}).",
            f"A mission's id, ordering party and file number cannot be corrected "
            f"({', '.join(moved)}).",
            code="mission_identity",
        )
    before = json.loads(mission.document)
    changed = _differences(before, dict(document))
    wire = _write_mission(
        conn,
        tenant_id,
        mission_id,
        document,
        actor=actor,
        now=now,
        action="mission.manual_clean",
        detail={"reason": reason, "changes": len(changed)},
    )
    if mission.ordering_party_id and mission.file_number:
        _File(conn, tenant_id, mission.ordering_party_id, mission.file_number, actor, now).log(
            "manual_clean",
            {"mission_id": mission_id, "reason": reason, "changes": changed},
            source="office",
        )
    return {**wire, "changes": changed}


def _default_rule_id(mission_id: str, taken: set[str]) -> str:
    base = "fix-" + re.sub(r"[^A-Za-z0-9_.-]", "-", mission_id)[:54]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def rule_from_fix(
    conn: sa.Connection, tenant_id: str, mission_id: str, *, rule_id: str | None = None
) -> dict[str, Any]:
    """A draft rule from the office's hand fix of a mission made from an order
    (shared.cleaning_proposal.propose_rule), and the party's rule set with it appended,
    as the next version: to edit, then publish.

    The fix is read against the order as received cleaned by the party's current rule
    set: a new rule runs after the existing ones and sees what they left."""
    mission = _mission_row(conn, tenant_id, mission_id)
    if mission is None:
        raise not_found("Mission", "Mission", mission_id)
    row = _order_of_mission(conn, tenant_id, mission)
    if row is None:
        raise Conflict(
            f"La mission {mission_id} ne vient pas d'un ordre de mission : il n'y a pas de "
            "commande reçue d'où tirer une règle.",
            f"Mission {mission_id} does not come from an order: there is no order as "
            "received to make a rule from.",
            code="no_order",
        )
    rules = _Rules(conn, tenant_id, row.party_id)
    stored = rules.latest()
    before = _cleaning(_received(row), stored).order
    before.pop("message_id", None)
    fixed = json.loads(mission.document)
    after = {k: copy_json(v) for k, v in before.items() if k not in MISSION_FIELDS or k in FORCED}
    # The coverage block is the order's, with what intake looked up: not a fix to learn.
    after.update({k: copy_json(v) for k, v in fixed.items() if k not in (*FORCED, "coverage")})
    for key in ("coverage", "file_consumed"):
        if key in before:
            after[key] = copy_json(before[key])
    current_rules = [] if stored is None else list(stored.document.get("rules", []))
    taken = {str(r.get("id")) for r in current_rules if isinstance(r, Mapping)}
    chosen = rule_id or _default_rule_id(mission_id, taken)
    proposal = propose_rule(before, after, rule_id=chosen)
    head = 0 if stored is None else stored.ruleset.version
    return {
        "mission_id": mission_id,
        "order_id": row.id,
        "party_id": row.party_id,
        "based_on_version": None if stored is None else head,
        "rule": proposal.rule,
        "left_out": list(proposal.left_out),
        "draft": {
            "party": row.party_id,
            "version": head + 1,
            "rules": [*current_rules, proposal.rule],
        },
    }


# --- bug report ---------------------------------------------------------------------------


def bug_report(
    conn: sa.Connection, tenant_id: str, mission_id: str, *, now: datetime
) -> dict[str, Any]:
    """Everything needed to replay a mission Towline valued wrong outside the tenant's
    data: the order as received, its cleaning (rule set, corrections), the mission as
    valued, the contract version used, the valuations and the file's log. Its `homes`
    say where each of seed 000's four causes is fixed."""
    mission = _mission_row(conn, tenant_id, mission_id)
    if mission is None:
        raise not_found("Mission", "Mission", mission_id)
    row = _order_of_mission(conn, tenant_id, mission)
    order: dict[str, Any] | None = None
    if row is not None:
        rules = _Rules(conn, tenant_id, row.party_id)
        stored = rules.version(row.ruleset_version)
        cleaning = _cleaned_for(rules, row, row.ruleset_version)
        order = {
            "order_id": row.id,
            "message_id": row.message_id,
            "received_at": row.received_at.isoformat(),
            "received_by": row.received_by,
            "received": row.received,
            "cleaned": json.loads(row.cleaned),
            "ruleset": None
            if stored is None
            else {
                "version": stored.ruleset.version,
                "digest": stored.ruleset.digest,
                "document": stored.document,
            },
            "corrections": cleaning.wire(),
        }
    valued = conn.execute(
        sa.select(valuations)
        .where(valuations.c.tenant_id == tenant_id, valuations.c.mission_id == mission_id)
        .order_by(valuations.c.id)
    ).all()
    bodies = [
        {
            "source": v.source,
            "device_id": v.device_id,
            "entry_seq": v.entry_seq,
            "digest": v.digest,
            "created_at": v.created_at.isoformat(),
            "body": json.loads(v.body),
        }
        for v in valued
    ]
    contract = _contract_used(conn, tenant_id, bodies)
    found = conn.execute(
        sa.select(anomalies)
        .where(anomalies.c.tenant_id == tenant_id, anomalies.c.mission_id == mission_id)
        .order_by(anomalies.c.id)
    ).all()
    history: list[dict[str, Any]] = []
    if mission.ordering_party_id and mission.file_number:
        history = [
            {**e, "at": e["at"].isoformat()}
            for e in party_files.history(
                conn, tenant_id, mission.ordering_party_id, mission.file_number
            )
        ]
    fixes = "/api/v1/missions/" + mission_id
    bundle = {
        "format": "towline.bug-report/1",
        "generated_at": now.isoformat(),
        "tenant_id": tenant_id,
        "mission": {
            "id": mission.id,
            "status": mission.status,
            "driver_id": mission.driver_id,
            "source": mission.source,
            "document": json.loads(mission.document),
        },
        "order": order,
        "contract": contract,
        "valuations": bodies,
        "anomalies": [
            {
                "id": a.id,
                "kind": a.kind,
                "status": a.status,
                "detail": a.detail,
                "created_at": a.created_at.isoformat(),
            }
            for a in found
        ],
        "file_log": history,
        "homes": {
            "programming_error": {
                "fr": "Envoyez ce fichier aux développeurs de Towline : il suffit à rejouer "
                "la valorisation (towline-field quote CONTRACT.json MISSION.json).",
                "en": "Send this file to Towline's developers: it is enough to replay the "
                "valuation (towline-field quote CONTRACT.json MISSION.json).",
            },
            "configuration_error": {
                "contract": None
                if contract is None
                else {k: contract[k] for k in ("id", "version", "digest")},
                "fr": "Publiez une version corrigée de la convention (POST /api/v1/contracts) "
                "puis acceptez la contestation pour revaloriser.",
                "en": "Publish a corrected version of the contract (POST /api/v1/contracts), "
                "then accept the dispute to value it again.",
            },
            "one_off_order_error": {
                "endpoint": fixes + "/manual-clean",
                "fr": "Corrigez la mission au bureau avant que la tablette ne la valorise.",
                "en": "Correct the mission in the office before the tablet values it.",
            },
            "recurring_order_error": {
                "endpoint": fixes + "/rule-from-fix",
                "fr": "Faites une règle de nettoyage de la correction, puis publiez-la.",
                "en": "Make a cleaning rule from the fix, then publish it.",
            },
        },
    }
    bundle["digest"] = digest(json.loads(json.dumps(bundle, default=str)))
    return bundle


def _contract_used(
    conn: sa.Connection, tenant_id: str, bodies: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The contract version of the latest valuation (the server's if any), with its
    document."""
    chosen = None
    for body in bodies:  # oldest first: the last server valuation wins over the tablets'
        if body["source"] == "server" or chosen is None or chosen["source"] != "server":
            chosen = body
    if chosen is None:
        return None
    used = chosen["body"].get("contract") or {}
    contract_id, version = used.get("id"), used.get("version")
    if not isinstance(contract_id, str) or not isinstance(version, int):
        return None
    from server.office import contracts

    try:
        found = contracts.get_version(conn, tenant_id, contract_id, version)
    except TowlineError:
        return {
            "id": contract_id,
            "version": version,
            "digest": used.get("digest"),
            "document": None,
        }
    return {
        "id": contract_id,
        "version": version,
        "digest": used.get("digest"),
        "document": found["document"],
    }


# --- imports ------------------------------------------------------------------------------

# CSV column → where it goes in the order (docs/orders.md "CSV").
CSV_PATHS: Mapping[str, tuple[str, ...]] = {
    "message_id": ("message_id",),
    "file_number": ("file_number",),
    "order_ref": ("id",),
    "file_sequence": ("file_sequence",),
    "customer": ("customer",),
    "plate": ("vehicle", "plate"),
    "vehicle_class": ("vehicle", "class"),
    "weight_kg": ("vehicle", "weight_kg"),
    "call_at": ("times", "call"),
    "arrival_at": ("times", "arrival"),
    "departure_at": ("times", "departure"),
    "delivery_at": ("times", "delivery"),
    "km_en_route": ("distance_km", "en_route"),
    "km_loaded": ("distance_km", "loaded"),
    "km_return": ("distance_km", "return"),
    "services": ("services",),
    "beneficiary_name": ("beneficiary", "name"),
    "beneficiary_phone": ("beneficiary", "phone"),
    "beneficiary_email": ("beneficiary", "email"),
    "from_address": ("places", "from", "address"),
    "from_postcode": ("places", "from", "postcode"),
    "from_city": ("places", "from", "city"),
    "to_address": ("places", "to", "address"),
    "to_postcode": ("places", "to", "postcode"),
    "to_city": ("places", "to", "city"),
    "mission_cap": ("coverage", "mission_cap"),
    "file_cap": ("coverage", "file_cap"),
    "caps_include_vat": ("coverage", "caps_include_vat"),
    "km_covered": ("coverage", "km_covered"),
    "deductible": ("coverage", "deductible"),
    "deductible_includes_vat": ("coverage", "deductible_includes_vat"),
    "coverage_reference": ("coverage", "reference"),
    "file_consumed": ("file_consumed",),
}
CSV_INTEGERS = frozenset({"file_sequence", "weight_kg"})
CSV_BOOLEANS = frozenset({"caps_include_vat", "deductible_includes_vat"})
FACT_PREFIX = "fact_"  # fact_accident → facts.accident
DRIVER_COLUMN = "driver_id"  # not part of the order: whom the office assigns the mission to
_TRUE = {"true", "oui", "yes", "1", "vrai"}
_FALSE = {"false", "non", "no", "0", "faux"}
_SERVICE = re.compile(r"^\s*([^*=]+?)\s*(?:\*\s*([^=]+?)\s*)?(?:=\s*(.+?)\s*)?$")


@dataclass(frozen=True, slots=True)
class BatchItem:
    line: int  # CSV: the line in the file (the header is line 1); JSON: position from 1
    order: Any
    driver_id: str | None = None


def _services(cell: str) -> list[dict[str, Any]]:
    """`TOW|WIN|STO*3|TOLL=12.50`: codes, an optional quantity, an optional amount."""
    found: list[dict[str, Any]] = []
    for item in cell.split("|"):
        if not item.strip():
            continue
        match = _SERVICE.match(item)
        if match is None:
            found.append({"code": item.strip()})
            continue
        code, quantity, amount = match.groups()
        service: dict[str, Any] = {"code": code}
        if quantity is not None:
            service["quantity"] = quantity
        if amount is not None:
            service["amount"] = amount
        found.append(service)
    return found


def _cell(column: str, text: str) -> Any:
    if column == "services":
        return _services(text)
    if column in CSV_INTEGERS and re.fullmatch(r"[0-9]{1,9}", text):
        return int(text)
    if column in CSV_BOOLEANS or column.startswith(FACT_PREFIX):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
    return text


def _put(document: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value


def _bad(what: Text, path: str, fr: str, en: str) -> InvalidDocument:
    return InvalidDocument(what, [Problem(path, Text(fr, en))])


def _known_column(name: str) -> bool:
    if name in CSV_PATHS or name == DRIVER_COLUMN:
        return True
    return (
        name.startswith(FACT_PREFIX) and re.fullmatch(r"[A-Za-z0-9_]{1,40}", name[5:]) is not None
    )


def orders_from_csv(text: str) -> list[BatchItem]:
    """Orders from a CSV file (`,` or `;` separated, UTF-8, header first). Empty cells
    are left out of the order (so a cleaning rule sees them missing). A header the
    format does not know refuses the whole file; a bad line refuses only that line."""
    text = text.removeprefix("\ufeff")
    head = text.split("\n", 1)[0]
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise _bad(
            ORDERS_FILE,
            "1",
            "fichier vide : la première ligne nomme les colonnes",
            "empty file: the first line names the columns",
        )
    found = [
        Problem(
            f"1.{name}",
            Text("colonne inconnue (voir docs/orders.md)", "unknown column (see docs/orders.md)"),
        )
        for name in header
        if not _known_column(name)
    ]
    found += [
        Problem(f"1.{name}", Text("colonne obligatoire manquante", "required column missing"))
        for name in ("message_id", "file_number")
        if name not in header
    ]
    if len(set(header)) != len(header):
        found.append(Problem("1", Text("colonne en double", "duplicate column")))
    if found:
        raise InvalidDocument(ORDERS_FILE, found)
    items: list[BatchItem] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(items) >= MAX_BATCH:
                raise _too_many()
            items.append(_csv_line(reader.line_num, header, cells))
    except csv.Error as exc:
        line = str(reader.line_num)
        raise _bad(ORDERS_FILE, line, f"CSV illisible : {exc}", f"unreadable CSV: {exc}") from None
    return items


def _csv_line(line: int, header: Sequence[str], cells: Sequence[str]) -> BatchItem:
    if len(cells) != len(header):
        return BatchItem(line, _WrongWidth(len(header), len(cells)))
    order: dict[str, Any] = {}
    driver: str | None = None
    for name, raw in zip(header, cells, strict=True):
        value = raw.strip()
        if not value:
            continue
        if name == DRIVER_COLUMN:
            driver = value
        elif name.startswith(FACT_PREFIX):
            _put(order, ("facts", name[len(FACT_PREFIX) :]), _cell(name, value))
        else:
            _put(order, CSV_PATHS[name], _cell(name, value))
    return BatchItem(line, order, driver)


@dataclass(frozen=True, slots=True)
class _WrongWidth:
    expected: int
    got: int

    def refusal(self) -> InvalidDocument:
        return _bad(
            ORDER,
            "",
            f"{self.expected} cellules attendues, {self.got} trouvées",
            f"{self.expected} cells expected, {self.got} found",
        )


def _too_many() -> InvalidDocument:
    return _bad(
        ORDERS_FILE,
        "",
        f"au plus {MAX_BATCH} commandes par envoi : découpez le fichier",
        f"at most {MAX_BATCH} orders per batch: split the file",
    )


def orders_from_json(data: Any) -> list[BatchItem]:
    """Orders from a JSON batch: a list of orders, or `{"orders": [...]}`."""
    if isinstance(data, Mapping) and set(data) == {"orders"}:
        data = data["orders"]
    if not isinstance(data, list):
        raise _bad(
            ORDERS_FILE,
            "",
            'une liste d\'ordres de mission est attendue, ou {"orders": [...]}',
            'a list of mission orders is expected, or {"orders": [...]}',
        )
    if len(data) > MAX_BATCH:
        raise _too_many()
    return [BatchItem(i, item) for i, item in enumerate(data, start=1)]


def import_orders(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    items: Sequence[BatchItem],
    *,
    actor: str,
    now: datetime,
    lang: str = "fr",
    driver_id: str | None = None,
) -> dict[str, Any]:
    """Take a batch of orders: each line on its own (a savepoint each), the valid ones
    kept, each refused line named by its number with its problems. Not all-or-nothing:
    an ordering party's batch mixes files that have nothing to do with each other, and
    holding 49 good missions back for one bad line would keep drivers waiting."""
    _require_party(conn, tenant_id, party_id)
    lines: list[dict[str, Any]] = []
    for item in items:
        try:
            if isinstance(item.order, _WrongWidth):
                raise item.order.refusal()
            with conn.begin_nested():
                made = receive_order(
                    conn,
                    tenant_id,
                    party_id,
                    item.order,
                    actor=actor,
                    now=now,
                    driver_id=item.driver_id or driver_id,
                )
        except (TowlineError, sa.exc.IntegrityError) as error:
            lines.append(_refused_line(item.line, error, lang))
            continue
        lines.append(
            {
                "line": item.line,
                "outcome": "duplicate" if made["duplicate"] else made["outcome"],
                "message_id": made["message_id"],
                "file_number": made["file_number"],
                "order_id": made["order_id"],
                "mission_id": made["mission_id"],
                "corrections": len(made["corrections"]),
            }
        )
    refused = [item["line"] for item in lines if item["outcome"] == "refused"]
    duplicates = sum(1 for item in lines if item["outcome"] == "duplicate")
    taken = len(lines) - len(refused) - duplicates
    return {
        "party_id": party_id,
        "taken": taken,
        "duplicates": duplicates,
        "refused": len(refused),
        "refused_lines": refused,
        "message": _summary_text(taken, duplicates, refused)(lang),
        "lines": lines,
    }


def _refused_line(line: int, error: Exception, lang: str) -> dict[str, Any]:
    if isinstance(error, TowlineError):
        code = getattr(error, "code", "refused")
        message = error.text(lang)
        found = [{"path": p.path, "message": p.text(lang)} for p in getattr(error, "problems", ())]
    else:
        code = "conflict"
        message = Text(
            "Conflit d'écriture : renvoyez cette ligne.", "Write conflict: send this line again."
        )(lang)
        found = []
    return {"line": line, "outcome": "refused", "code": code, "message": message, "problems": found}


def _summary_text(taken: int, duplicates: int, refused: Sequence[int]) -> Text:
    fr = f"{taken} commande(s) prise(s) en compte"
    en = f"{taken} order(s) taken"
    if duplicates:
        fr += f", {duplicates} déjà reçue(s) (sans effet)"
        en += f", {duplicates} already received (no effect)"
    if refused:
        numbers = ", ".join(str(n) for n in refused)
        fr += (
            f", {len(refused)} refusée(s) (ligne(s) {numbers}). Les commandes valides sont "
            "enregistrées : corrigez les lignes refusées et renvoyez-les seules."
        )
        en += (
            f", {len(refused)} refused (line(s) {numbers}). The valid orders are stored: "
            "fix the refused lines and send them again on their own."
        )
    else:
        fr += "."
        en += "."
    return Text(fr, en)
