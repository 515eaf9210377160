"""The receipt on the driver's screen, full-screen, for the customer to read, photograph
or sign (in French or English, whatever the driver's language), and who pays on site.

The receipt is the one `towline-field receipt` prints (`fieldclient.receipts`,
`shared.receipt.blocks`); the beneficiary form records a signed entry
(`fieldclient.beneficiaries`), and a refusal shows the mission again with why.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from fieldclient import beneficiaries, receipts
from fieldclient.screen.context import (
    lang,
    own_mission,
    screen,
    signed_in,
    status_of,
    t,
    tablet,
)
from fieldclient.tablet import Tablet
from shared.beneficiary import LABELS
from shared.errors import TowlineError
from shared.i18n import LANGS
from shared.receipt import blocks, receipt_ident, title

FIELDS = ("name", "address", "postcode", "city", "phone", "email")


def mission_extras(device: Tablet, mission_id: str) -> dict[str, Any]:
    """What the mission page shows of its receipts and its beneficiary."""
    who = beneficiaries.of_mission(device.db, mission_id, device.mission_document(mission_id))
    return {
        "receipts": [
            (n, receipt_ident(device.device_id, n)) for n in receipts.numbers(device.db, mission_id)
        ],
        "beneficiary": who.to_wire() if who else {},
        "beneficiary_labels": {f: LABELS[f](lang()) for f in FIELDS},
        "place": beneficiaries.place_of(device.db, mission_id) or "",
    }


@screen.route("/missions/<mission_id>/receipts/<int:number>")
@signed_in
def receipt(mission_id: str, number: int) -> Any:
    own_mission(mission_id)
    device = tablet()
    shown_in = request.args.get("for") or lang()
    if shown_in not in LANGS:
        abort(404)
    try:
        made = receipts.receipt(
            device.db,
            device_id=device.device_id,
            timezone=device.timezone,
            mission_id=mission_id,
            number=number,
        )
    except TowlineError:
        abort(404)
    return render_template(
        "receipt.html",
        mission_id=mission_id,
        number=number,
        title=title(made, shown_in),
        blocks=blocks(made, shown_in),
        shown_in=shown_in,
        other="en" if shown_in == "fr" else "fr",
    )


@screen.route("/missions/<mission_id>/beneficiary", methods=["POST"])
@signed_in
def beneficiary(mission_id: str) -> Any:
    own_mission(mission_id)
    typed = {name: request.form.get(name) for name in FIELDS}
    try:
        tablet().record_beneficiary(mission_id, typed, request.form.get("place"))
    except TowlineError as refused:
        from fieldclient.screen.missions import mission_page

        return mission_page(
            mission_id,
            status=status_of(refused),
            error=refused.message(lang()),
            form=request.form,
            where="client",
        )
    flash(t("Client enregistré.", "Customer recorded."), "ok")
    return redirect(url_for("screen.mission", mission_id=mission_id) + "#client")
