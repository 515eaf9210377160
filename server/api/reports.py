# mypy: disable-error-code="untyped-decorator"
"""The manager's numbers (docs/reports.md): per ordering party and per driver over a
period, as JSON, CSV or PDF (`format=pdf`, or `Accept: application/pdf`). Right
`reconcile`."""

from __future__ import annotations

import calendar
import csv
import io
import re
from datetime import date
from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema

from server.api.security import current_user, require_user
from server.office import cost_settings, driver_report, report_render
from server.office.customer_debts import FIRST_DAY, LAST_DAY
from server.office.seller import get_seller
from server.parties import party_report, profitability
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, lang, now, reader
from shared.schema_tools import bilingual

reports_blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Reports")

DAY = validate.Range(min=FIRST_DAY, max=LAST_DAY)
MONTH = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")


def month_bounds(text: str) -> tuple[date, date]:
    """ "2026-03" → (2026-03-01, 2026-03-31)."""
    found = MONTH.match(text)
    if not found:
        raise ValueError(text)
    year, month = int(found.group(1)), int(found.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


class PeriodQuery(Strict):
    month = fields.String(validate=validate.Regexp(MONTH), metadata={"description": "YYYY-MM"})
    start = fields.Date(data_key="from", validate=DAY, metadata={"description": "YYYY-MM-DD"})
    end = fields.Date(data_key="to", validate=DAY, metadata={"description": "YYYY-MM-DD"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))

    @validates_schema
    def _one_period(self, data: dict[str, Any], **_: Any) -> None:
        ranged = "start" in data or "end" in data
        if ("month" in data) == ranged or (ranged and not ("start" in data and "end" in data)):
            raise ValidationError(
                bilingual("indiquez soit month, soit from et to", "give month, or from and to"),
                "month",
            )
        if ranged and data["start"] > data["end"]:
            raise ValidationError(bilingual("from est après to", "from is after to"), "from")


PDF = "application/pdf"
PDF_RESPONSE = {
    "200": {
        "description": "JSON; the CSV (`format=csv`); the PDF (`format=pdf` or Accept)",
        "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ReportQuery(PeriodQuery):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "pdf"]))
    language = fields.String(
        data_key="lang",
        validate=validate.OneOf(["fr", "en"]),
        metadata={"description": "the PDF's and CSV's language: fr|en (else Accept-Language)"},
    )


def wanted(query: dict[str, Any]) -> str:
    """json, csv or pdf: `format`, else a request that accepts a PDF before JSON."""
    if query["format"] != "json":
        return str(query["format"])
    best = request.accept_mimetypes.best_match(["application/json", PDF])
    return "pdf" if best == PDF and request.accept_mimetypes[PDF] else "json"


def pdf_answer(pdf: bytes, name: str) -> Response:
    return Response(
        pdf, mimetype=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


def period_of(query: dict[str, Any]) -> tuple[date, date]:
    """The period a `PeriodQuery` names."""
    if "month" in query:
        return month_bounds(query["month"])
    return query["start"], query["end"]


def _csv(rows: list[list[str]], name: str) -> Response:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class PartyRowOut(Strict):
    party_id = fields.String(allow_none=True, metadata={"description": "null: private customers"})
    name = fields.String(allow_none=True)
    missions = fields.Integer()
    revenue = fields.String(metadata={"description": "invoiced excl. VAT, net of credit notes"})
    beneficiary_share = fields.String(metadata={"description": "of which the beneficiaries'"})
    shifted_by_caps = fields.String(
        metadata={"description": "of which what caps and deductibles shifted to them"}
    )
    credit_notes = fields.String(metadata={"description": "incl. VAT"})
    credit_notes_count = fields.Integer()
    paid_by_party = fields.String()
    paid_by_beneficiaries = fields.String()
    owed_by_party = fields.String()
    owed_by_beneficiaries = fields.String()
    owed = fields.String(metadata={"description": "still owed today"})
    days_to_pay = fields.String(allow_none=True, metadata={"description": "mean, one decimal"})
    invoices_paid = fields.Integer()


class PartiesOut(Strict):
    start = fields.String()
    end = fields.String()
    parties = fields.List(fields.Nested(PartyRowOut))
    totals = fields.Nested(PartyRowOut)


class DriverRowOut(Strict):
    driver_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    missions = fields.Integer()
    collected = fields.Dict(keys=fields.String(), values=fields.String())
    collected_total = fields.String()
    closings = fields.Integer()
    unbalanced = fields.Integer()
    variance = fields.String(metadata={"description": "negative: cash missing"})
    anomalies = fields.Integer()
    anomalies_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())
    commission = fields.String(metadata={"description": "earned in the period"})


class DriversOut(Strict):
    start = fields.String()
    end = fields.String()
    drivers = fields.List(fields.Nested(DriverRowOut))
    totals = fields.Nested(DriverRowOut)


@reports_blp.route("/reports/parties")
class PartiesReport(MethodView):
    @require_user(Right.RECONCILE)
    @reports_blp.arguments(ReportQuery, location="query")
    @reports_blp.response(200, PartiesOut)
    @reports_blp.doc(responses=PDF_RESPONSE)
    def get(self, query: dict[str, Any]) -> Any:
        """Per ordering party: missions, revenue excl. VAT, what caps and deductibles
        shifted to beneficiaries, paid by the party and by the beneficiaries, credit
        notes, days to pay, still owed (`format=csv` or `pdf` for a file)."""
        start, end = period_of(query)
        tenant = current_user().tenant_id
        chosen = query.get("language") or lang()
        with reader().connect() as conn:
            found = party_report.report(conn, tenant, start, end)
            seller = get_seller(conn, tenant)
        name = f"donneurs-d-ordre-{start.isoformat()}-{end.isoformat()}"
        kind = wanted(query)
        if kind == "csv":
            return _csv(party_report.csv_rows(found, chosen), f"{name}.csv")
        if kind == "pdf":
            made = report_render.parties_pdf(found, seller=seller, lang=chosen, made_at=now())
            return pdf_answer(made, f"{name}.pdf")
        return found


@reports_blp.route("/reports/drivers")
class DriversReport(MethodView):
    @require_user(Right.RECONCILE)
    @reports_blp.arguments(ReportQuery, location="query")
    @reports_blp.response(200, DriversOut)
    @reports_blp.doc(responses=PDF_RESPONSE)
    def get(self, query: dict[str, Any]) -> Any:
        """Per driver: missions, collected per method, register variances, anomalies
        raised (`format=csv` or `pdf` for a file)."""
        start, end = period_of(query)
        tenant = current_user().tenant_id
        chosen = query.get("language") or lang()
        with reader().connect() as conn:
            found = driver_report.report(conn, tenant, start, end)
            seller = get_seller(conn, tenant)
        name = f"chauffeurs-{start.isoformat()}-{end.isoformat()}"
        kind = wanted(query)
        if kind == "csv":
            return _csv(driver_report.csv_rows(found), f"{name}.csv")
        if kind == "pdf":
            made = report_render.drivers_pdf(found, seller=seller, lang=chosen, made_at=now())
            return pdf_answer(made, f"{name}.pdf")
        return found


class ProfitRowOut(Strict):
    party_id = fields.String(allow_none=True, metadata={"description": "null: private customers"})
    name = fields.String(allow_none=True)
    missions = fields.Integer()
    km = fields.String(metadata={"description": "the missions' legs, as the office holds them"})
    invoiced = fields.String(metadata={"description": "invoices excl. VAT"})
    credit_notes = fields.String(metadata={"description": "credit notes excl. VAT"})
    revenue = fields.String(metadata={"description": "invoiced − credit notes"})
    commissions = fields.String()
    at_cost = fields.String(metadata={"description": "tolls, parts… re-invoiced at cost"})
    km_cost = fields.String(metadata={"description": "km × the class's cost per km"})
    costs = fields.String(metadata={"description": "commissions + at cost + km cost"})
    margin = fields.String(metadata={"description": "revenue − costs"})


class CostsIO(Strict):
    version = fields.Integer(dump_only=True)
    per_km = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": 'vehicle class (or "*") → euros per km, as text ("0.45")'},
    )


class ProfitOut(Strict):
    start = fields.String()
    end = fields.String()
    cost_per_km = fields.Nested(CostsIO)
    unattributed_commissions = fields.String(
        metadata={"description": "monthly tiers: in the totals, in no party's row"}
    )
    parties = fields.List(fields.Nested(ProfitRowOut))
    totals = fields.Nested(ProfitRowOut)


@reports_blp.route("/reports/profitability")
class ProfitabilityReport(MethodView):
    @require_user(Right.RECONCILE)
    @reports_blp.arguments(ReportQuery, location="query")
    @reports_blp.response(200, ProfitOut)
    @reports_blp.doc(responses=PDF_RESPONSE)
    def get(self, query: dict[str, Any]) -> Any:
        """Per ordering party: revenue excl. VAT against commissions, items at cost and
        the cost per km, and the margin (`format=csv` or `pdf` for a file)."""
        start, end = period_of(query)
        tenant = current_user().tenant_id
        chosen = query.get("language") or lang()
        with reader().connect() as conn:
            found = profitability.report(conn, tenant, start, end)
            seller = get_seller(conn, tenant)
        name = f"rentabilite-{start.isoformat()}-{end.isoformat()}"
        kind = wanted(query)
        if kind == "csv":
            return _csv(profitability.csv_rows(found, chosen), f"{name}.csv")
        if kind == "pdf":
            made = report_render.profitability_pdf(found, seller=seller, lang=chosen, made_at=now())
            return pdf_answer(made, f"{name}.pdf")
        return found


@reports_blp.route("/reports/costs")
class Costs(MethodView):
    @require_user(Right.RECONCILE)
    @reports_blp.response(200, CostsIO)
    def get(self) -> dict[str, Any]:
        """The tenant's cost per km per vehicle class in force (version 0: none set)."""
        with reader().connect() as conn:
            return cost_settings.current(conn, current_user().tenant_id)

    @require_user(Right.EDIT_CONTRACTS)
    @reports_blp.arguments(CostsIO)
    @reports_blp.response(200, CostsIO)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the cost per km per vehicle class: a new version (the same again adds
        none). 422 names every problem."""
        user = current_user()
        with engine().begin() as conn:
            return cost_settings.set_costs(conn, user.tenant_id, data, actor=user.id, now=now())
