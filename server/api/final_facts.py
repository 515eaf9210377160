"""The schema of a mission's final facts (`server.office.final_facts`), shown on an
ordering party's file to the office (`/api/v1/files/…`) and to the party itself
(`/api/v1/party/files/…`): each fact as ordered and as the server values it."""

from __future__ import annotations

from marshmallow import fields

from server.platform.web import Strict


class Words(Strict):
    fr = fields.String()
    en = fields.String()


class FinalFactOut(Strict):
    fact = fields.String(
        metadata={
            "description": "distance, services, waiting, storage, at_cost, accident, weight,"
            " vehicle_class"
        }
    )
    key = fields.String(
        allow_none=True, metadata={"description": "the leg of a distance, the family at cost"}
    )
    name = fields.Nested(Words)
    order = fields.Raw(allow_none=True, metadata={"description": "as the order said (wire form)"})
    final = fields.Raw(allow_none=True, metadata={"description": "as the server values it"})
    order_text = fields.Nested(Words)
    final_text = fields.Nested(Words)
    changed = fields.Boolean()


class HeldFactOut(Strict):
    fact = fields.String()
    key = fields.String(allow_none=True)
    name = fields.Nested(Words)
    found = fields.Raw(allow_none=True)
    found_text = fields.Nested(Words)


class ContractRefOut(Strict):
    id = fields.String()
    version = fields.Integer()


class FinalFactsOut(Strict):
    mission_id = fields.String()
    contract = fields.Nested(ContractRefOut)
    facts = fields.List(fields.Nested(FinalFactOut))
    digest = fields.String(allow_none=True)
    ordering_party_due = fields.String(
        allow_none=True, metadata={"description": "incl. VAT, the server's valuation"}
    )
    beneficiary_due = fields.String(allow_none=True)


class OfficeFinalFactsOut(FinalFactsOut):
    held_for_office = fields.List(
        fields.Nested(HeldFactOut),
        metadata={"description": "facts beyond the party's rule without a code: not counted"},
    )


class PartyFileMissionOut(Strict):
    id = fields.String()
    final_facts = fields.Nested(
        FinalFactsOut, allow_none=True, metadata={"description": "null: not valued yet"}
    )
