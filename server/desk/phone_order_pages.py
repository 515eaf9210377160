"""Taking an order on the phone (`/desk/calls/new`): who calls (an ordering party and its
file, or a private customer), the vehicle (a French plate, checked and written one way),
the place, the facts; "See the price" shows the contract that applies, the coverage
looked up as for the parties' own orders, the server's valuation and any money the
caller still owes; "Save the call" makes the mission, given to a driver if one is
chosen, and goes back to the dispatch board.

The form keeps what was typed when it refuses anything: the refusal redirects (303) to
the form, which shows it again from the session (server.desk.refused_forms), so a reload
posts nothing. Saving what was not priced (or was changed since) prices it first. The
call's id, made when the form opens, makes a second post of the same call change nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for

from server.desk import refused_forms
from server.desk.blueprint import desk, money, t
from server.desk.mission_pages import valuation_view
from server.desk.session import current, page
from server.desk.times import zone
from server.office import agents
from server.office.customers import PLATE, mission_customer_key
from server.parties import phone_orders
from server.parties.call_history import caller_debts
from server.parties.phone_order_form import SERVICES, new_call_id, read_form
from server.people.drivers import list_drivers
from server.people.ordering_parties import list_parties
from server.people.rights import Right
from server.people.tenant_time import local, local_day
from server.platform.errors import ApiError
from server.platform.tables import contracts
from server.platform.web import engine, lang, now, reader, server_private_key
from shared.catalogue import DEFAULT_CATALOGUE
from shared.contract import Contract
from shared.contract_schema import load_contract
from shared.errors import InvalidDocument, TowlineError
from shared.plates import plate_key

# The fields of the form (server.parties.phone_order_form reads them).
FIELDS = (
    "party_id", "customer", "file_number", "file_sequence", "reference",
    "caller_name", "caller_phone", "plate", "foreign_plate", "vehicle_class", "weight_kg",
    "from_address", "from_postcode", "from_city", "to_address", "to_postcode", "to_city",
    "call_at", "km_en_route", "km_loaded", "accident", "note",
    "coverage_mission_cap", "coverage_file_cap", "coverage_deductible",
    "coverage_km_covered", "coverage_reference", "driver_id", "bill_later", "agent",
    *(f"service_{code}" for code in SERVICES),
)  # fmt: skip


# The form's fields in words, for the list of what to correct (an order's own paths, as
# intake names them, by their first part).
FIELD_LABELS = {
    "party_id": ("Donneur d'ordre", "Ordering party"),
    "customer": ("Compte client", "Customer account"),
    "file_number": ("N° de dossier", "File number"),
    "file_sequence": ("Mission n°", "Mission no."),
    "reference": ("Référence", "Reference"),
    "caller_name": ("Client", "Customer"),
    "caller_phone": ("Téléphone", "Phone"),
    "plate": ("Plaque", "Plate"),
    "vehicle_class": ("Véhicule", "Vehicle"),
    "weight_kg": ("Poids", "Weight"),
    "vehicle": ("Véhicule", "Vehicle"),
    "from_address": ("Lieu", "Place"),
    "to_address": ("Destination", "Destination"),
    "places": ("Lieu", "Place"),
    "call_at": ("Heure de l'appel", "Call time"),
    "times": ("Heure de l'appel", "Call time"),
    "km_en_route": ("Km aller", "Km en route"),
    "km_loaded": ("Km en charge", "Km loaded"),
    "distance_km": ("Distances", "Distances"),
    "services": ("Prestations", "Services"),
    "note": ("Ce que dit l'appelant", "What the caller says"),
    "coverage": ("Prise en charge", "Coverage"),
    "beneficiary": ("Client", "Customer"),
    "driver_id": ("Chauffeur", "Driver"),
}


def field_label(path: str) -> str:
    """A problem's field in words ("" when it names none)."""
    for key in (path, path.split(".")[0], path.removeprefix("order.").split(".")[0]):
        if key.startswith("coverage_"):
            key = "coverage"
        if key in FIELD_LABELS:
            return t(*FIELD_LABELS[key])
    return ""


def history_url(customer_key: str) -> str:
    """The history of the customer a mission bills: its vehicle's for a plate key."""
    if customer_key.startswith(PLATE):
        return url_for("desk.lookup_vehicle", key=plate_key(customer_key.removeprefix(PLATE)))
    return url_for("desk.lookup_customer", account=customer_key)


def _typed() -> dict[str, str]:
    return {name: str(request.form.get(name, "")) for name in FIELDS}


def _digest(typed: dict[str, str]) -> str:
    """What the clerk saw priced: saving anything else prices it again."""
    text = json.dumps(typed, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _choices(tenant_id: str) -> dict[str, Any]:
    """The form's lists: parties, drivers, vehicle classes and customer accounts."""
    classes: dict[str, str] = {}
    accounts: set[str] = set()
    with reader().connect() as conn:
        parties = list_parties(conn, tenant_id)
        drivers = [d for d in list_drivers(conn, tenant_id) if d["active"]]
        agent_register = agents.listed(conn, tenant_id)
        for text in conn.execute(
            sa.select(contracts.c.document).where(contracts.c.tenant_id == tenant_id)
        ).scalars():
            terms = load_contract(json.loads(text))
            for band in terms.vehicle_classes:
                names = DEFAULT_CATALOGUE.segment("class").values
                words = names.get(band.code)
                classes[band.code] = words(lang()) if words else band.code
            if terms.ordering_party is None:
                accounts.update(terms.customers)
    return {
        "parties": parties,
        "drivers": drivers,
        "classes": sorted(classes.items()),
        "accounts": sorted(accounts),
        "services": [(code, words(lang())) for code, words in SERVICES.items()],
        "agents": agent_register,
    }


def _render(
    typed: dict[str, str],
    call_id: str,
    *,
    problems: list[tuple[str, str]] | None = None,
    shown: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    user = current()
    errors: dict[str, str] = {}
    for path, text in problems or []:
        errors.setdefault(path, text)
    html = render_template(
        "desk/phone_order.html",
        typed=typed,
        call_id=call_id,
        errors=errors,
        problems=problems or [],
        preview=shown,
        field_label=field_label,
        **_choices(user.tenant_id),
    )
    return html, status


_KEPT = "phone_order"


def _refuse(
    typed: dict[str, str], call_id: str, problems: list[tuple[str, str]], status: int
) -> Any:
    """Back to the form with what was typed and the problems (Post/Redirect/Get), keeping
    the call's id so saving it after correcting still makes one mission; a form too large
    for the session is answered directly with `status`."""
    values = {**typed, "call_id": call_id}
    if refused_forms.keep(_KEPT, values, {"": [list(p) for p in problems]}):
        return refused_forms.back_to("desk.phone_order")
    return _render(typed, call_id, problems=problems, status=status)


@desk.route("/calls/new", methods=["GET"], endpoint="phone_order")
@page(Right.MANAGE_MISSIONS)
def phone_order_form() -> Any:
    kept = refused_forms.take_back(_KEPT)
    if kept is not None:  # a refused call, as typed (see _refuse)
        values, found = kept
        typed = {name: str(values.get(name, "")) for name in FIELDS}
        problems = [(str(path), str(words)) for path, words in found.get("", [])]
        return _render(typed, str(values.get("call_id") or new_call_id()), problems=problems)
    typed = dict.fromkeys(FIELDS, "")
    typed["file_sequence"] = "1"
    typed["party_id"] = (request.args.get("party") or "")[:64]
    typed["call_at"] = local(now(), zone()).strftime("%Y-%m-%dT%H:%M")
    typed["service_TOW"] = "1"
    return _render(typed, new_call_id())


def coverage_terms(coverage: Any, contract: Contract | None) -> list[str]:
    """What the party's contract covers, in words: the coverage block's `contract` (with
    what the file already consumed) when the call stated a coverage, else the contract's
    own caps and deductible."""
    applied = dict((coverage or {}).get("contract") or {})
    if not applied and contract is not None and contract.ordering_party is not None:
        for name, amount in (
            ("mission_cap", contract.caps.mission),
            ("file_cap", contract.caps.file),
            ("deductible", contract.deductible),
        ):
            if amount is not None:
                applied[name] = {"amount": str(amount.amount)}
        if contract.distance and contract.distance.included_km:
            applied["km_included"] = format(contract.distance.included_km.normalize(), "f")
    terms = []
    if applied.get("mission_cap"):
        words = t("jusqu'à {} par mission", "up to {} per mission")
        terms.append(words.format(money(applied["mission_cap"]["amount"])))
    if applied.get("file_cap"):
        cap = money(applied["file_cap"]["amount"])
        if applied.get("file_consumed") is not None:
            words = t("plafond du dossier {} (déjà consommé {})", "file cap {} ({} consumed)")
            terms.append(words.format(cap, money(applied["file_consumed"])))
        else:
            terms.append(t("plafond du dossier {}", "file cap {}").format(cap))
    if applied.get("deductible"):
        words = t("franchise {}", "deductible {}")
        terms.append(words.format(money(applied["deductible"]["amount"])))
    if applied.get("km_included"):
        terms.append(t("{} km inclus", "{} km included").format(applied["km_included"]))
    return terms


def _preview(order: Any, typed: dict[str, str]) -> dict[str, Any]:
    user = current()
    shown = phone_orders.preview(
        engine(), user.tenant_id, order, zone=zone(), actor=user.id, now=now()
    )
    document = shown.document
    with reader().connect() as conn:
        debts = caller_debts(
            conn,
            user.tenant_id,
            document,
            order.phone.key if order.phone else None,
            local_day(now(), zone()),
        )
    return {
        "mission_id": document["id"],
        "document": document,
        "coverage": document.get("coverage"),
        "coverage_terms": coverage_terms(document.get("coverage"), shown.contract),
        "contract": shown.contract,
        "contract_problem": shown.contract_problem(lang()) if shown.contract_problem else None,
        "valuation": valuation_view(shown.valuation) if shown.valuation else None,
        "valuation_problem": shown.valuation_problem(lang()) if shown.valuation_problem else None,
        "warning": (shown.warning or {}).get(lang()),
        "debtor_warning": shown.debtor_warning(lang()) if shown.debtor_warning else None,
        "debts": debts,
        "history_url": history_url(mission_customer_key(document, str(document["id"]))),
        "digest": _digest(typed),
    }


@desk.route("/calls/new", methods=["POST"], endpoint="phone_order_post")
@page(Right.MANAGE_MISSIONS)
def phone_order_post() -> Any:
    user = current()
    typed = _typed()
    with reader().connect() as conn:
        names = {p["id"] for p in list_parties(conn, user.tenant_id)}
    classes = {code for code, _ in _choices(user.tenant_id)["classes"]}
    try:
        order = read_form(
            {**typed, "call_id": request.form.get("call_id", "")},
            zone=zone(),
            now=now(),
            parties=names,
            classes=classes,
        )
    except InvalidDocument as error:
        problems = [(p.path, p.text(lang())) for p in error.problems]
        return _refuse(typed, request.form.get("call_id", "") or new_call_id(), problems, 422)
    saving = request.form.get("action") == "save"
    if saving and request.form.get("previewed") != _digest(typed):
        saving = False  # changed since it was priced, or never priced: price it first
    try:
        if not saving:
            shown = _preview(order, typed)
            refused_forms.drop()
            return _render(typed, order.call_id, shown=shown)
        with engine().begin() as conn:
            taken = phone_orders.take(
                conn,
                user.tenant_id,
                order,
                zone=zone(),
                actor=user.id,
                now=now(),
                key=server_private_key(),
            )
    except InvalidDocument as error:
        problems = [(p.path, p.text(lang())) for p in error.problems]
        return _refuse(typed, order.call_id, problems, 422)
    except ApiError as error:
        return _refuse(typed, order.call_id, [("", error.text(lang()))], error.status)
    except TowlineError as error:
        return _refuse(typed, order.call_id, [("", error.text(lang()))], 400)
    refused_forms.drop()
    mission_id = taken["mission_id"]
    if taken["debtor_warning"] is not None:  # bill later for a caller who owes (warn)
        flash(taken["debtor_warning"](lang()), "error")
    if taken["duplicate"]:
        flash(
            t(
                f"Appel déjà enregistré : mission {mission_id}.",
                f"Call already saved: mission {mission_id}.",
            )
        )
    elif order.driver_id:
        flash(
            t(
                f"Appel enregistré : mission {mission_id}, attribuée ; la tablette la reçoit à sa "
                "prochaine synchro.",
                f"Call saved: mission {mission_id}, assigned; the tablet gets it at its next sync.",
            ),
            "ok",
        )
    else:
        flash(
            t(
                f"Appel enregistré : mission {mission_id}, sans chauffeur pour l'instant.",
                f"Call saved: mission {mission_id}, no driver yet.",
            ),
            "ok",
        )
    return redirect(url_for("desk.dispatch"))
