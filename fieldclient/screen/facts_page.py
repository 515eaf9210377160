"""The facts found on site, on the driver's screen: order against site, and one form for
what differs (distances or odometer, services, waiting, storage, an item at cost with the
photo of its receipt, accident, weight and class). The tablet records and values again
(`Tablet.record_site_facts`); a refusal shows the form again with why and what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, request, url_for

from fieldclient import attachments
from fieldclient import site_facts as facts_on_tablet
from fieldclient.screen import forms
from fieldclient.screen.context import lang, own_mission, page, screen, signed_in, status_of, t
from fieldclient.screen.context import tablet as this_tablet
from fieldclient.site_facts_text import overpaid, rows
from fieldclient.tablet import Tablet
from shared.errors import TowlineError
from shared.i18n import Text
from shared.mission import LEG_WORDS, LEGS, Mission
from shared.money import format_amount
from shared.site_facts import plain_families, value_of
from shared.site_facts_found import Found, Receipt

_KM = Text("la distance", "the distance")


def _number(typed: str | None, what: Text, *, whole: bool = False) -> Decimal | None:
    """A figure as a driver types it (85, 85,5): None when left empty."""
    raw = (typed or "").strip().replace(",", ".").replace(" ", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value >= 10**7 or (whole and value % 1):
        raise forms.BadInput(
            f"{what.fr.capitalize()} est illisible : « {typed} ». Écrivez un nombre, par ex. 85.",
            f"{what.en.capitalize()} cannot be read: “{typed}”. Write a number, e.g. 85.",
        )
    return value


def _found(
    form: Mapping[str, str], current: Mission, tablet: Tablet
) -> tuple[Found, dict[str, bytes]]:
    """What the form says differs; the receipt's photo read and checked first."""
    contract = tablet.contract_for(current)
    distances = {}
    for leg in LEGS:
        km = _number(form.get(f"km_{leg}"), _KM)
        if km is not None:
            distances[leg] = km
    odometer = {}
    start = _number(form.get("odometer_start"), Text("le compteur de départ", "the start reading"))
    end = _number(form.get("odometer_end"), Text("le compteur d'arrivée", "the end reading"))
    if start is not None or end is not None:
        leg = form.get("odometer_leg") or "loaded"
        if start is None or end is None or leg not in LEGS:
            raise forms.BadInput(
                "Donnez les deux relevés du compteur, au départ et à l'arrivée.",
                "Give both odometer readings, at the start and at the end.",
            )
        distances.pop(leg, None)  # the readings say it
        odometer[leg] = (start, end)
    have = set(value_of(current, "services", None, contract))
    ticked = {code for code in plain_families(contract) if form.get(f"service_{code}")}
    waiting = _number(form.get("waiting"), Text("l'attente", "the waiting time"), whole=True)
    storage = _number(form.get("storage"), Text("le gardiennage", "the storage"), whole=True)
    items, photos = [], {}
    amount_typed = (form.get("at_cost_amount") or "").strip()
    if amount_typed:
        amount = forms.read_amount(amount_typed, Text("le montant du justificatif", "the amount"))
        chosen = request.files.get("receipt")
        if chosen is None or not chosen.filename:
            raise forms.BadInput(
                "Photographiez le justificatif (ticket de péage, facture de la pièce).",
                "Take a picture of the receipt (toll ticket, invoice for the part).",
            )
        data: bytes = chosen.read(attachments.max_bytes() + 1)
        cited: Receipt = facts_on_tablet.receipt(data)
        photos[cited.sha256] = data
        items.append((str(form.get("at_cost_family") or ""), amount, cited))
    accident = {"yes": True, "no": False}.get(form.get("accident") or "")
    weight = _number(form.get("weight"), Text("le poids", "the weight"), whole=True)
    found = Found(
        distance_km=distances,
        odometer=odometer,
        add_services=tuple(sorted(ticked - have)),
        remove_services=tuple(sorted(have - ticked)),
        waiting_minutes=waiting,
        storage_days=storage,
        at_cost=tuple(items),
        accident=accident,
        weight_kg=None if weight is None else int(weight),
        vehicle_class=(form.get("vehicle_class") or "").strip() or None,
    )
    return found, photos


def facts_page(
    mission_id: str, *, status: int = 200, error: str | None = None, form: Any = None
) -> Any:
    device = this_tablet()
    view = device.view(mission_id)
    site = facts_on_tablet.on_site(device, mission_id)
    mission = view.mission
    contract = view.contract or (None if site is None else device.contract_for(site.order))
    services, at_cost, classes = [], [], []
    if contract is not None:
        have = set(value_of(mission, "services", None, contract))
        services = [
            (code, contract.catalogue.families[code](lang()), code in have)
            for code in sorted(plain_families(contract))
        ]
        at_cost = [(code, contract.catalogue.families[code](lang())) for code in contract.at_cost]
        classes = list(contract.catalogue.segment("class").values)
    current: dict[str, Any] = {
        "weight": mission.vehicle.weight_kg or "",
        "vehicle_class": mission.vehicle.vehicle_class or "",
        "accident": "yes" if mission.facts.get("accident") is True else "no",
    }
    if contract is not None:
        for leg in LEGS:
            current[f"km_{leg}"] = value_of(mission, "distance", leg, contract)
        current["waiting"] = value_of(mission, "waiting", None, contract)
        current["storage"] = value_of(mission, "storage", None, contract)
    extra = overpaid(view.money)
    return page(
        "facts.html",
        status,
        view=view,
        mission=mission,
        rows=rows(site, lang()),
        legs=[(leg, t(LEG_WORDS[leg].fr, LEG_WORDS[leg].en)) for leg in LEGS],
        services=services,
        at_cost=at_cost,
        classes=classes,
        current=current,
        form=form or {},
        error=error,
        where="facts",
        overpaid=None if extra is None else extra(lang()),
    )


@screen.route("/missions/<mission_id>/facts")
@signed_in
def facts(mission_id: str) -> Any:
    own_mission(mission_id)
    return facts_page(mission_id)


@screen.route("/missions/<mission_id>/facts", methods=["POST"])
@signed_in
def facts_record(mission_id: str) -> Any:
    own_mission(mission_id)
    device = this_tablet()
    try:
        found, photos = _found(request.form, device.view(mission_id).mission, device)
        result = device.record_site_facts(
            mission_id,
            found,
            photos,
            code=(request.form.get("code") or "").strip() or None,
            for_office=bool(request.form.get("for_office")),
        )
    except TowlineError as refused:
        return facts_page(
            mission_id,
            status=status_of(refused),
            error=refused.message(lang()),
            form=request.form,
        )
    money = result.view.money
    text = t("Constats enregistrés.", "Site facts recorded.")
    if result.held:
        text += t(
            " Au-delà de la tolérance sans code : gardés pour le bureau, sans changer le prix.",
            " Beyond the tolerance without a code: kept for the office, the price unchanged.",
        )
    if money is not None:
        left = format_amount(money.remaining, lang())
        text += t(f" Reste à encaisser : {left}.", f" Remaining to collect: {left}.")
    flash(text, "ok")
    return redirect(url_for("screen.mission", mission_id=mission_id))
