"""The order document: its schema and validation, the mission document an order becomes
(Towline's mission id, the mission fields, the coverage block) with what the party's contract
applies, and where two documents differ (docs/orders.md)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from server.office.valuation import Valuer
from shared import calendar
from shared.cleaning_paths import MISSION_FIELDS, copy_json, same
from shared.contract import Amount, Contract
from shared.contract_schema import load_contract
from shared.errors import InvalidDocument
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
# The order's identity, which cleaning cannot change: the mission gets Towline's id, the
# file number the party sent and the party of the key.
FORCED = ("id", "ordering_party", "file_number")


class Strict(Schema):
    class Meta:
        unknown = RAISE


_NAME = validate.Length(min=1, max=200, error=bilingual("de 1 à 200 caractères", "1 to 200 chars"))


def text_length(high: int) -> validate.Length:
    return validate.Length(
        max=high, error=bilingual(f"au plus {high} caractères", f"at most {high} characters")
    )


def _strict_bool(**kwargs: Any) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class _BeneficiarySchema(Strict):
    name = fields.String(required=True, validate=_NAME)
    address = fields.String(load_default=None, allow_none=True, validate=text_length(300))
    postcode = fields.String(load_default=None, allow_none=True, validate=text_length(16))
    city = fields.String(load_default=None, allow_none=True, validate=text_length(120))
    phone = fields.String(load_default=None, allow_none=True, validate=text_length(40))
    email = fields.String(load_default=None, allow_none=True, validate=text_length(200))


class _PlaceSchema(Strict):
    address = fields.String(load_default=None, allow_none=True, validate=text_length(300))
    postcode = fields.String(load_default=None, allow_none=True, validate=text_length(16))
    city = fields.String(load_default=None, allow_none=True, validate=text_length(120))
    country = fields.String(load_default=None, allow_none=True, validate=text_length(56))
    lat = DecimalField(load_default=None, allow_none=True)
    lon = DecimalField(load_default=None, allow_none=True)

    @validates_schema
    def _somewhere(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data.get("address") or data.get("city")):
            raise ValidationError(
                bilingual("indiquez l'adresse ou la ville", "give the address or the city")
            )


class _CoverageSchema(Strict):
    mission_cap = AmountField(load_default=None, allow_none=True)
    file_cap = AmountField(load_default=None, allow_none=True)
    caps_include_vat = _strict_bool(load_default=True)
    km_covered = DecimalField(load_default=None, allow_none=True, minimum=Decimal(0))
    deductible = AmountField(load_default=None, allow_none=True)
    deductible_includes_vat = _strict_bool(load_default=True)
    reference = fields.String(load_default=None, allow_none=True, validate=text_length(64))

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
    # Who brought the business: an agent of the tenant's register (server.office.agents).
    agent = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))

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
    beneficiary travels with the mission (the driver's receipt and the beneficiary's
    invoice name them); the places stay on the order. Deterministic: what the contract
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


def differences(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
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
                found += differences(old[key], new[key], sub)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in differences(a, b, f"{path}.{i}")
        ]
    return [{"path": path, "before": copy_json(old), "after": copy_json(new)}]
