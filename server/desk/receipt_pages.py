"""The receipts drivers handed out on site, on the desk (right `reconcile`, as in the
API): each one as a PDF, made again from the tablet's signed entries
(`server.office.receipts`, `server.office.receipt_render`); the mission page lists them.
Another tenant's receipt is a 404, like one that does not exist.
"""

from __future__ import annotations

from flask import Response, request

from server.desk.blueprint import desk
from server.desk.session import current, page
from server.office import receipt_render, receipts
from server.people.rights import Right
from server.platform.web import reader


@desk.route("/receipts/<string:device_id>/<int:number>.pdf")
@page(Right.RECONCILE)
def receipt_pdf(device_id: str, number: int) -> Response:
    """The receipt as the customer was given it; `?lang=en` in English."""
    lang = "en" if request.args.get("lang") == "en" else "fr"
    with reader().connect() as conn:
        made = receipts.receipt(conn, current().tenant_id, device_id, number)
    return Response(
        receipt_render.pdf(made, lang),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="recu-{made.ident}.pdf"'},
    )
