# mypy: disable-error-code="untyped-decorator"
"""Commissions (docs/commissions.md): the report line by line, a person's monthly
statement PDF, the rules per person. Reading needs `reconcile`; setting a person's rules
needs `manage_users` (what people are paid is the administrator's)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from server.api.fields import IDENT
from server.api.reports import PeriodQuery, period_of
from server.api.security import current_user, require_user
from server.office import agents, commissions
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, lang, now, reader

commissions_blp = Blueprint(
    "commissions", __name__, url_prefix="/api/v1", description="Commissions"
)
PDF_RESPONSE = {
    "200": {
        "description": "The PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
CSV_HEADER = [
    "person", "kind", "day", "mission_id", "document", "code", "base", "rate", "commission",
    "rules_version",
]  # fmt: skip


class CommissionQuery(PeriodQuery):
    person = fields.String(validate=IDENT)


class StatementQuery(PeriodQuery):
    language = fields.String(
        data_key="lang", validate=validate.OneOf(["fr", "en"]), metadata={"description": "fr|en"}
    )


class CommissionLineOut(Strict):
    kind = fields.String(validate=validate.OneOf(["percent", "per_mission", "reversal", "tier"]))
    person = fields.String()
    mission_id = fields.String(allow_none=True)
    day = fields.String()
    document = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    base = fields.String(metadata={"description": "excl. VAT; negative for a credit note"})
    rate = fields.String(metadata={"description": "percent"})
    commission = fields.String()
    rules_version = fields.Integer()


class PersonOut(Strict):
    person = fields.String()
    name = fields.String()
    lines = fields.Integer()
    base = fields.String()
    commission = fields.String()


class ReportOut(Strict):
    start = fields.String()
    end = fields.String()
    lines = fields.List(fields.Nested(CommissionLineOut))
    people = fields.List(fields.Nested(PersonOut))
    total = fields.String()


class TierIO(Strict):
    start = fields.String(data_key="from", required=True, validate=validate.Length(max=16))
    percent = fields.String(required=True, validate=validate.Length(max=8))


class RulesIO(Strict):
    person = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)
    percent = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=16)),
        values=fields.String(validate=validate.Length(min=1, max=8)),
        metadata={"description": 'family → percent, "*" for the others: {"TOW": "8"}'},
    )
    per_mission = fields.String(validate=validate.Length(max=16))
    tiers = fields.List(fields.Nested(TierIO), validate=validate.Length(max=10))


class PersonRulesOut(Strict):
    person = fields.String()
    name = fields.String()
    kind = fields.String(
        validate=validate.OneOf(["driver", "user", "agent"]),
        metadata={
            "description": "driver: on the missions driven; user: on those taken; agent: on "
            "those brought"
        },
    )
    version = fields.Integer()
    rules = fields.Dict()


@commissions_blp.route("/commissions")
class Report(MethodView):
    @require_user(Right.RECONCILE)
    @commissions_blp.arguments(CommissionQuery, location="query")
    @commissions_blp.response(200, ReportOut)
    def get(self, query: dict[str, Any]) -> Any:
        """Every commission line of the period (of one `person`), with the totals per
        person (`format=csv` for a file)."""
        start, end = period_of(query)
        with reader().connect() as conn:
            found = commissions.report(
                conn, current_user().tenant_id, start, end, person=query.get("person")
            )
        if query["format"] != "csv":
            return found
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for line in found["lines"]:
            writer.writerow(["" if line[k] is None else line[k] for k in CSV_HEADER])
        name = f"commissions-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(
            out.getvalue().encode("utf-8"),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


@commissions_blp.route("/commissions/rules")
class People(MethodView):
    @require_user(Right.RECONCILE)
    @commissions_blp.response(200, PersonRulesOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every driver, office user and agent with the version of their rules in force
        (0: none)."""
        with reader().connect() as conn:
            return commissions.people(conn, current_user().tenant_id)


@commissions_blp.route("/commissions/rules/<string:person>")
class Rules(MethodView):
    @require_user(Right.RECONCILE)
    @commissions_blp.response(200, RulesIO)
    def get(self, person: str) -> dict[str, Any]:
        """A person's rules in force."""
        with reader().connect() as conn:
            return commissions.rules_of(conn, current_user().tenant_id, person[:64])

    @require_user(Right.MANAGE_USERS)
    @commissions_blp.arguments(RulesIO)
    @commissions_blp.response(200, RulesIO)
    def put(self, data: dict[str, Any], person: str) -> dict[str, Any]:
        """Set a person's rules: a new version, for documents issued from now on."""
        user = current_user()
        given = {**data}
        if "tiers" in given:
            given["tiers"] = [{"from": t["start"], "percent": t["percent"]} for t in given["tiers"]]
        with engine().begin() as conn:
            return commissions.set_rules(
                conn, user.tenant_id, person[:64], given, actor=user.id, now=now()
            )


class AgentIO(Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=agents.NAME_MAX))
    added_at = fields.String(dump_only=True)
    added_by = fields.String(dump_only=True)


@commissions_blp.route("/agents")
class Agents(MethodView):
    @require_user(Right.RECONCILE)
    @commissions_blp.response(200, AgentIO(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The register of agents: the people paid on results for the missions they
        bring (name one on a phone call or an API order's `agent`)."""
        with reader().connect() as conn:
            return agents.listed(conn, current_user().tenant_id)

    @require_user(Right.MANAGE_USERS)
    @commissions_blp.arguments(AgentIO)
    @commissions_blp.response(201, AgentIO)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add an agent (an id of their own, not a driver's or a user's, and a name)."""
        user = current_user()
        with engine().begin() as conn:
            return agents.add(
                conn, user.tenant_id, data["id"], data["name"], actor=user.id, now=now()
            )


@commissions_blp.route("/commissions/<string:person>/statement")
class Statement(MethodView):
    @require_user(Right.RECONCILE)
    @commissions_blp.arguments(StatementQuery, location="query")
    @commissions_blp.doc(responses=PDF_RESPONSE)
    def get(self, query: dict[str, Any], person: str) -> Response:
        """The person's statement for the period, as a PDF (`lang` fr or en)."""
        start, end = period_of(query)
        with reader().connect() as conn:
            name, pdf = commissions.statement(
                conn,
                current_user().tenant_id,
                person[:64],
                start,
                end,
                lang=query.get("language") or lang(),
                now=now(),
            )
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )
