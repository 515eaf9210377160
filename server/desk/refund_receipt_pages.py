"""The refund receipts the office issued when it voided a collection no invoice bills
(`server.office.refund_receipts`), on the desk: each one as a PDF (right `reconcile`, as
in the API); the mission page lists them. Another tenant's is a 404, like one that does
not exist."""

from __future__ import annotations

from flask import Response, request

from server.desk.blueprint import desk
from server.desk.session import current, page
from server.office import refund_receipts
from server.people.rights import Right
from server.platform.web import reader


@desk.route("/refund-receipts/<string(maxlength=40):number>.pdf")
@page(Right.RECONCILE)
def refund_receipt_pdf(number: str) -> Response:
    """The refund receipt as the customer is given it; `?lang=en` in English."""
    lang = "en" if request.args.get("lang") == "en" else "fr"
    with reader().connect() as conn:
        made = refund_receipts.pdf_of(conn, current().tenant_id, number, lang)
    return Response(
        made,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )
