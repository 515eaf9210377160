"""An order taken on the phone, as the desk's form sends it: every field checked and
written one way (the plate as a French plate, the phone number, amounts, distances, the
call time in the tenant's zone), or every problem named by its field, in French and
English, with nothing stored (server.parties.phone_orders takes the call).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from server.people.tenant_time import parse_local
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.money import parse_amount, wire
from shared.phones import Phone, read_phone
from shared.plates import Plate, read_foreign_plate, read_french_plate

WHAT = Text("Appel incomplet ou invalide", "Incomplete or invalid call")
SERVICES: Mapping[str, Text] = {
    "TOW": Text("Remorquage", "Tow"),
    "REP": Text("Dépannage sur place", "On-site repair"),
    "WIN": Text("Treuillage", "Winching"),
}
PLACE_FIELDS = ("address", "postcode", "city")
COVERAGE_AMOUNTS = ("mission_cap", "file_cap", "deductible")
_CALL_ID = re.compile(r"^tel_[0-9a-f]{16}$")
MAX_KM = Decimal(10_000)


def new_call_id() -> str:
    """The id of a call being taken: it makes the form's second post the same call."""
    return "tel_" + secrets.token_hex(8)


@dataclass(frozen=True)
class PhoneOrder:
    call_id: str
    party_id: str | None  # None: a private customer
    customer: str | None  # the contract's customer account (private customers)
    file_number: str | None
    file_sequence: int
    reference: str | None  # the ordering party's own reference
    caller_name: str | None
    phone: Phone | None
    plate: Plate
    vehicle_class: str | None
    weight_kg: int | None
    call_at: datetime
    places: dict[str, dict[str, str]]
    services: tuple[str, ...]
    distance_km: dict[str, str]
    accident: bool
    note: str | None
    coverage: dict[str, Any] = field(default_factory=dict)  # what the party says it covers
    driver_id: str | None = None
    bill_later: bool = False  # the customer pays on invoice ("bill later"), asked at the call
    agent: str | None = None  # who brought the business (server.office.agents), if anyone


class _Reader:
    def __init__(self, form: Mapping[str, Any]) -> None:
        self.form = form
        self.problems: list[Problem] = []

    def text(self, name: str, high: int, *, required: Text | None = None) -> str | None:
        value = str(self.form.get(name) or "").strip()
        if not value:
            if required is not None:
                self.problems.append(Problem(name, required))
            return None
        if len(value) > high:
            self.problems.append(
                Problem(name, Text(f"{high} caractères au plus", f"{high} characters at most"))
            )
            return None
        return value

    def refuse(self, name: str, text: Text) -> None:
        self.problems.append(Problem(name, text))

    def decimal(self, name: str, high: Decimal) -> Decimal | None:
        value = self.text(name, 20)
        if value is None:
            return None
        try:
            number = Decimal(value.replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            number = Decimal(-1)
        if not number.is_finite() or number < 0 or number > high:
            self.refuse(name, Text(f"un nombre de 0 à {high}", f"a number from 0 to {high}"))
            return None
        return number

    def amount(self, name: str) -> str | None:
        value = self.text(name, 20)
        if value is None:
            return None
        try:
            amount = parse_amount(value.replace(",", ".").replace(" ", "").replace("€", ""))
        except ValueError:
            self.refuse(name, Text("un montant comme 250,00", "an amount such as 250.00"))
            return None
        if amount < 0:
            self.refuse(name, Text("montant négatif", "negative amount"))
            return None
        return wire(amount)


def _plate(reader: _Reader) -> Plate | None:
    typed = reader.text("plate", 24, required=Text("la plaque du véhicule", "the vehicle's plate"))
    if typed is None:
        return None
    foreign = reader.form.get("foreign_plate") in ("1", "on", "true")
    found = read_foreign_plate(typed) if foreign else read_french_plate(typed)
    if isinstance(found, Text):
        reader.refuse("plate", found)
        return None
    return found


def _vehicle(reader: _Reader, classes: Collection[str]) -> tuple[str | None, int | None]:
    chosen = reader.text("vehicle_class", 8)
    if chosen is not None and classes and chosen not in classes:
        names = ", ".join(sorted(classes))
        reader.refuse(
            "vehicle_class",
            Text(f"une classe de la convention ({names})", f"a class of the contract ({names})"),
        )
        chosen = None
    weight_text = reader.text("weight_kg", 7)
    weight = None
    if weight_text is not None:
        digits = weight_text.replace(" ", "")
        if digits.isdigit() and 1 <= int(digits) <= 100_000:
            weight = int(digits)
        else:
            reader.refuse(
                "weight_kg", Text("un poids de 1 à 100 000 kg", "a weight of 1 to 100,000 kg")
            )
    if (
        chosen is None
        and weight is None
        and not any(p.path in ("vehicle_class", "weight_kg") for p in reader.problems)
    ):
        reader.refuse(
            "vehicle_class",
            Text("la classe du véhicule ou son poids", "the vehicle's class or its weight"),
        )
    return chosen, weight


def _places(reader: _Reader) -> dict[str, dict[str, str]]:
    places: dict[str, dict[str, str]] = {}
    for leg, high in (("from", 300), ("to", 300)):
        place: dict[str, str] = {}
        for part in PLACE_FIELDS:
            value = reader.text(f"{leg}_{part}", high if part == "address" else 120)
            if value is not None:
                place[part] = value
        if place and not (place.get("address") or place.get("city")):
            reader.refuse(
                f"{leg}_address",
                Text("indiquez l'adresse ou la ville", "give the address or the city"),
            )
        elif place:
            places[leg] = place
    if "from" not in places and not any(p.path == "from_address" for p in reader.problems):
        reader.refuse(
            "from_address",
            Text("où est le véhicule (adresse ou ville)", "where the vehicle is (address or city)"),
        )
    return places


def _call_at(reader: _Reader, zone: ZoneInfo, now: datetime) -> datetime:
    typed = reader.text("call_at", 40)
    if typed is None:
        return now.replace(microsecond=0)
    try:
        return parse_local(typed, zone)
    except ValueError:
        reader.refuse("call_at", Text("une date et une heure", "a date and a time"))
        return now.replace(microsecond=0)


def read_form(
    form: Mapping[str, Any],
    *,
    zone: ZoneInfo,
    now: datetime,
    parties: Collection[str],
    classes: Collection[str] = (),
) -> PhoneOrder:
    """The call the form describes, or `InvalidDocument` naming each field at fault."""
    r = _Reader(form)
    call_id = str(form.get("call_id") or "")
    if not _CALL_ID.match(call_id):
        call_id = new_call_id()
    party = r.text("party_id", 64)
    if party is not None and party not in parties:
        r.refuse("party_id", Text("donneur d'ordre inconnu", "unknown ordering party"))
        party = None
    file_number = r.text(
        "file_number",
        64,
        required=Text("le numéro de dossier du donneur d'ordre", "the ordering party's file number")
        if party
        else None,
    )
    sequence_text = r.text("file_sequence", 3) or "1"
    sequence = int(sequence_text) if sequence_text.isdigit() else 0
    if not 1 <= sequence <= 99:
        r.refuse("file_sequence", Text("de 1 à 99", "from 1 to 99"))
        sequence = 1
    name = r.text("caller_name", 200)
    phone_text = r.text("caller_phone", 40)
    phone = None
    if phone_text is not None:
        found = read_phone(phone_text)
        if isinstance(found, Text):
            r.refuse("caller_phone", found)
        else:
            phone = found
    if party is None and name is None and phone_text is None:
        r.refuse(
            "caller_name",
            Text("le nom ou le téléphone du client", "the customer's name or phone"),
        )
    plate = _plate(r)
    vehicle_class, weight = _vehicle(r, classes)
    services = tuple(code for code in SERVICES if form.get(f"service_{code}") in ("1", "on"))
    if not services:
        r.refuse("services", Text("au moins une prestation", "at least one service"))
    distances = {}
    for leg in ("en_route", "loaded"):
        km = r.decimal(f"km_{leg}", MAX_KM)
        if km is not None:
            distances[leg] = format(km.normalize(), "f")
    coverage: dict[str, Any] = {}
    if party is not None:
        for name_ in COVERAGE_AMOUNTS:
            amount = r.amount(f"coverage_{name_}")
            if amount is not None:
                coverage[name_] = amount
        km_covered = r.decimal("coverage_km_covered", MAX_KM)
        if km_covered is not None:
            coverage["km_covered"] = format(km_covered.normalize(), "f")
        reference = r.text("coverage_reference", 64)
        if reference is not None:
            coverage["reference"] = reference
    order = PhoneOrder(
        call_id=call_id,
        party_id=party,
        customer=None if party else r.text("customer", 64),
        file_number=file_number,
        file_sequence=sequence,
        reference=r.text("reference", 64) if party else None,
        caller_name=name,
        phone=phone,
        plate=plate or Plate("none", ""),
        vehicle_class=vehicle_class,
        weight_kg=weight,
        call_at=_call_at(r, zone, now),
        places=_places(r),
        services=services,
        distance_km=distances,
        accident=form.get("accident") in ("1", "on"),
        note=r.text("note", 1000),
        coverage=coverage,
        driver_id=r.text("driver_id", 64),
        bill_later=form.get("bill_later") in ("1", "on"),
        agent=r.text("agent", 64),
    )
    if r.problems:
        raise InvalidDocument(WHAT, r.problems)
    return order
