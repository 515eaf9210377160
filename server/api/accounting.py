# mypy: disable-error-code="untyped-decorator"
"""The accountant's exports (docs/accounting.md): the FEC of a fiscal year or a period,
the plain sales journal CSV, and the tenant's chart of accounts.

Rights: downloading needs `reconcile`; setting the chart of accounts needs
`manage_users` (the administrator's: like the seller's identity, it is the company's).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema

from server.api.security import current_user, require_user
from server.office import accounts, fec, sales_journal
from server.office.customer_debts import FIRST_DAY, LAST_DAY
from server.people.rights import Right
from server.platform.web import Blueprint, Strict, engine, now, reader
from shared.schema_tools import bilingual

accounting_blp = Blueprint(
    "accounting", __name__, url_prefix="/api/v1", description="The accountant's exports"
)

DAY = validate.Range(min=FIRST_DAY, max=LAST_DAY)
FILE_RESPONSE = {
    "200": {
        "description": "The file",
        "content": {"text/plain": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ExportPeriodQuery(Strict):
    year = fields.Integer(
        validate=validate.Range(min=2000, max=2099),
        metadata={"description": "the fiscal year closing in this year"},
    )
    start = fields.Date(data_key="from", validate=DAY, metadata={"description": "YYYY-MM-DD"})
    end = fields.Date(data_key="to", validate=DAY, metadata={"description": "YYYY-MM-DD"})

    @validates_schema
    def _one_period(self, data: dict[str, Any], **_: Any) -> None:
        has_range = "start" in data or "end" in data
        if ("year" in data) == has_range or (has_range and not ("start" in data and "end" in data)):
            raise ValidationError(
                bilingual(
                    "indiquez soit year, soit from et to",
                    "give either year, or both from and to",
                ),
                "year",
            )
        if has_range and data["start"] > data["end"]:
            raise ValidationError(bilingual("from est après to", "from is after to"), "from")


class ChartIO(Strict):
    version = fields.Integer(dump_only=True)
    receivable = fields.String(validate=validate.Length(min=3, max=20))
    customer_credit = fields.String(validate=validate.Length(min=3, max=20))
    revenue = fields.String(validate=validate.Length(min=3, max=20))
    vat = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=8)),
        values=fields.String(validate=validate.Length(min=3, max=20)),
    )
    vat_other = fields.String(validate=validate.Length(min=3, max=20))
    methods = fields.Dict(
        keys=fields.String(validate=validate.OneOf(accounts.METHODS)),
        values=fields.String(validate=validate.Length(min=3, max=20)),
    )
    bank = fields.String(validate=validate.Length(min=3, max=20))
    journals = fields.Dict(
        keys=fields.String(validate=validate.OneOf(accounts.JOURNALS)),
        values=fields.String(validate=validate.Length(min=1, max=6)),
    )
    fiscal_year_end = fields.String(validate=validate.Length(equal=5))
    labels = fields.Dict(
        keys=fields.String(validate=validate.Length(min=3, max=20)),
        values=fields.String(validate=validate.Length(min=1, max=120)),
    )


def _period(conn: Any, tenant_id: str, query: dict[str, Any]) -> tuple[date, date]:
    if "year" in query:
        return fec.year_bounds(conn, tenant_id, query["year"])
    return query["start"], query["end"]


@accounting_blp.route("/exports/fec")
class Fec(MethodView):
    @require_user(Right.RECONCILE)
    @accounting_blp.arguments(ExportPeriodQuery, location="query")
    @accounting_blp.doc(responses=FILE_RESPONSE)
    def get(self, query: dict[str, Any]) -> Response:
        """The FEC (article A47 A-1 LPF) of a fiscal year (`year`) or a period (`from`,
        `to`): tab-separated, ISO 8859-15, named SIREN + FEC + closing date. 409
        `seller_identity_missing` without the seller's SIREN."""
        tenant = current_user().tenant_id
        with reader().connect() as conn:
            start, end = _period(conn, tenant, query)
            made = fec.build(conn, tenant, start, end)
        return Response(
            made.content,
            content_type=f"text/plain; charset={fec.ENCODING}",
            headers={"Content-Disposition": f'attachment; filename="{made.name}"'},
        )


@accounting_blp.route("/exports/sales-journal")
class SalesJournal(MethodView):
    @require_user(Right.RECONCILE)
    @accounting_blp.arguments(ExportPeriodQuery, location="query")
    @accounting_blp.doc(responses=FILE_RESPONSE)
    def get(self, query: dict[str, Any]) -> Response:
        """The sales journal CSV (one line per document and VAT rate; credit notes
        negative; UTF-8, `;`)."""
        tenant = current_user().tenant_id
        with reader().connect() as conn:
            start, end = _period(conn, tenant, query)
            data = sales_journal.build(conn, tenant, start, end)
        return Response(
            data,
            mimetype="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{sales_journal.file_name(tenant, start, end)}"'
                )
            },
        )


@accounting_blp.route("/accounts")
class Chart(MethodView):
    @require_user(Right.RECONCILE)
    @accounting_blp.response(200, ChartIO)
    def get(self) -> dict[str, Any]:
        """The chart of accounts in force (version 0: the French defaults)."""
        with reader().connect() as conn:
            return accounts.to_wire(accounts.current(conn, current_user().tenant_id))

    @require_user(Right.MANAGE_USERS)
    @accounting_blp.arguments(ChartIO)
    @accounting_blp.response(200, ChartIO)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the chart (a new version; fields left out keep their defaults)."""
        user = current_user()
        with engine().begin() as conn:
            made = accounts.set_chart(conn, user.tenant_id, data, actor=user.id, now=now())
        return accounts.to_wire(made)
