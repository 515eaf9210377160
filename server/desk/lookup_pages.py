"""The lookup at the call, on every desk page: one search box (`/desk/lookup?q=`) for a
plate in any spacing or case, a phone number, a customer's name, the ordering party's
reference, a file number, an invoice or credit note number, a mission id. A single
result opens at once; otherwise each result opens the whole history of a vehicle
(`/desk/lookup/vehicle/<plate key>`) or a customer (`/desk/lookup/customer?phone=…`,
`?name=…` or `?account=…`): missions, calls, files and their states, collections,
invoices and credit notes, claims, and the money still owed, flagged when there is some.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from server.desk import labels
from server.desk.blueprint import desk, not_found, t
from server.desk.labels import label, method_label
from server.desk.session import current, page
from server.desk.times import zone
from server.parties import lookup
from server.parties.call_history import History, history
from server.people.rights import Right
from server.people.tenant_time import local_day
from server.platform.web import lang, now, reader
from shared.phones import Phone, read_phone
from shared.plates import plate_key

# Who sees the search box and its pages: the clerk on the phone (reconcile) or the
# dispatcher (manage_missions).
RIGHTS = (Right.RECONCILE, Right.MANAGE_MISSIONS)
FOUND_BY = {
    "plate": ("plaque", "plate"),
    "phone": ("téléphone", "phone"),
    "name": ("nom", "name"),
    "account": ("compte client", "customer account"),
    "file_number": ("n° de dossier", "file number"),
    "reference": ("référence du donneur d'ordre", "ordering party's reference"),
    "document": ("n° de facture ou d'avoir", "invoice or credit note number"),
    "mission_id": ("n° de mission", "mission id"),
}
DOCUMENT_KINDS = {"invoice": ("Facture", "Invoice"), "credit_note": ("Avoir", "Credit note")}
RECIPIENTS = {
    "ordering_party": ("Donneur d'ordre", "Ordering party"),
    "beneficiary": ("Client", "Customer"),
}
BALANCE = {
    "paid": ("payée", "paid"),
    "partly_paid": ("payée en partie", "partly paid"),
    "open": ("à payer", "open"),
}


def may_look_up() -> bool:
    user = g.get("desk_user")
    return user is not None and any(r in user.rights for r in RIGHTS)


@desk.app_context_processor
def _lookup_helpers() -> dict[str, Any]:
    return {"may_look_up": may_look_up}


def _refuse_without_right() -> Any:
    message = t(
        "Cette page demande le droit « gérer les missions » ou « rapprocher les caisses ».",
        "This page needs the right 'manage missions' or 'reconcile'.",
    )
    return render_template("desk/error.html", status=403, message=message), 403


def _hit_url(hit: lookup.Hit) -> str:
    if hit.kind == lookup.VEHICLE:
        return url_for("desk.lookup_vehicle", key=hit.key)
    if hit.kind == lookup.CUSTOMER:
        query: dict[str, Any] = {hit.by: hit.key}
        return url_for("desk.lookup_customer", **query)
    if Right.RECONCILE in current().rights:
        return url_for("desk.mission", mission_id=hit.key)
    return url_for("desk.dispatch")


def _found_by(reasons: tuple[str, ...]) -> str:
    return ", ".join(t(*FOUND_BY[r]) if r in FOUND_BY else r for r in reasons)


@desk.route("/lookup", endpoint="lookup")
@page()
def lookup_page() -> Any:
    if not may_look_up():
        return _refuse_without_right()
    user = current()
    q = " ".join((request.args.get("q") or "").split())
    error = None
    hits: list[lookup.Hit] = []
    if len(q) > lookup.MAX_QUERY:
        error = t(
            f"{lookup.MAX_QUERY} caractères au plus.", f"{lookup.MAX_QUERY} characters at most."
        )
    elif q:
        with reader().connect() as conn:
            hits = lookup.search(conn, user.tenant_id, q)
        if len(hits) == 1:
            return redirect(_hit_url(hits[0]))
    html = render_template(
        "desk/lookup.html",
        q=q,
        error=error,
        hits=[(h, _hit_url(h), _found_by(h.found_by)) for h in hits],
    )
    return (html, 400) if error else html


def _render_history(title: str, subtitle: str, found: History) -> Any:
    return render_template(
        "desk/history.html",
        title=title,
        subtitle=subtitle,
        h=found,
        status_label=lambda s: label(labels.MISSION_STATUSES, s),
        file_state=lambda s: label(labels.FILE_STATES, s),
        document_kind=lambda k: t(*DOCUMENT_KINDS.get(k, (k, k))),
        recipient=lambda k: t(*RECIPIENTS.get(k, (k, k))),
        balance=lambda k: t(*BALANCE[k]) if k in BALANCE else "—",
        method=lambda m: method_label(m, lang()),
        claim_status=lambda c: (c.get("status_label") or {}).get(lang(), ""),
        may_open_missions=Right.RECONCILE in current().rights,
        today=local_day(now(), zone()),
    )


@desk.route("/lookup/vehicle/<key>", endpoint="lookup_vehicle")
@page()
def vehicle_history(key: str) -> Any:
    if not may_look_up():
        return _refuse_without_right()
    user = current()
    key = plate_key(key)
    if not key or len(key) > 20:
        return not_found()
    with reader().connect() as conn:
        ids = lookup.missions_with_plate(conn, user.tenant_id, key)
        if not ids:
            return not_found()
        found = history(conn, user.tenant_id, ids, local_day(now(), zone()))
    written = next((m["plate"] for m in found.missions if m["plate"]), key)
    return _render_history(
        t(f"Véhicule {written}", f"Vehicle {written}"),
        t(
            "Tout ce que le bureau sait de ce véhicule.",
            "Everything the office holds about this vehicle.",
        ),
        found,
    )


@desk.route("/lookup/customer", endpoint="lookup_customer")
@page()
def customer_history() -> Any:
    if not may_look_up():
        return _refuse_without_right()
    user = current()
    phone = (request.args.get("phone") or "").strip()[:40]
    name = " ".join((request.args.get("name") or "").split())[:200]
    account = (request.args.get("account") or "").strip()[:160]
    with reader().connect() as conn:
        if phone:
            typed = read_phone(phone)
            if not isinstance(typed, Phone):
                return not_found()
            ids = lookup.missions_with_phone(conn, user.tenant_id, typed.key)
            title = t(f"Client au {typed.text}", f"Customer on {typed.text}")
        elif name:
            ids = lookup.missions_named(conn, user.tenant_id, name)
            title = t(f"Client {name}", f"Customer {name}")
        elif account:
            ids = lookup.missions_of_account(conn, user.tenant_id, account)
            title = t(f"Compte client {account}", f"Customer account {account}")
        else:
            return not_found()
        if not ids:
            return not_found()
        found = history(conn, user.tenant_id, ids, local_day(now(), zone()))
    return _render_history(
        title,
        t(
            "Tout ce que le bureau sait de ce client.",
            "Everything the office holds about this customer.",
        ),
        found,
    )
