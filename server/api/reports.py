# mypy: disable-error-code="untyped-decorator"
"""The manager's numbers (docs/reports.md): per ordering party and per driver over a
period, as JSON or CSV. Right `reconcile`."""

from __future__ import annotations

import calendar
import csv
import io
import re
from datetime import date
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema

from server.api.security import current_user, require_user
from server.office import driver_report
from server.office.customer_debts import FIRST_DAY, LAST_DAY
from server.parties import party_report
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, lang, reader
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
    @reports_blp.arguments(PeriodQuery, location="query")
    @reports_blp.response(200, PartiesOut)
    def get(self, query: dict[str, Any]) -> Any:
        """Per ordering party: missions, revenue excl. VAT, paid by the party and by the
        beneficiaries, credit notes, days to pay, still owed (`format=csv` for a file)."""
        start, end = period_of(query)
        tenant = current_user().tenant_id
        with reader().connect() as conn:
            found = party_report.report(conn, tenant, start, end)
        if query["format"] == "csv":
            name = f"donneurs-d-ordre-{start.isoformat()}-{end.isoformat()}.csv"
            return _csv(party_report.csv_rows(found, lang()), name)
        return found


@reports_blp.route("/reports/drivers")
class DriversReport(MethodView):
    @require_user(Right.RECONCILE)
    @reports_blp.arguments(PeriodQuery, location="query")
    @reports_blp.response(200, DriversOut)
    def get(self, query: dict[str, Any]) -> Any:
        """Per driver: missions, collected per method, register variances, anomalies
        raised (`format=csv` for a file)."""
        start, end = period_of(query)
        tenant = current_user().tenant_id
        with reader().connect() as conn:
            found = driver_report.report(conn, tenant, start, end)
        if query["format"] == "csv":
            name = f"chauffeurs-{start.isoformat()}-{end.isoformat()}.csv"
            return _csv(driver_report.csv_rows(found), name)
        return found
