"""The beneficiary: the person who pays on site (the vehicle's owner or driver), as the
order gave them or as the driver captured them at the roadside.

Two readings of one block `{"name", "address", "postcode", "city", "phone", "email"}`
(every field optional):
- `from_document`, lenient: what an order or a mission document carries (lengths only,
  as the order schema checks them), so an order is never refused for a phone number
  written oddly;
- `captured`, strict: what a driver types on the tablet, checked field by field (a
  phone number that reads as one, an e-mail address with one @ and a domain, no control
  characters), every problem named with its field, in French and English.

The driver's capture travels in a signed `beneficiary_recorded` entry (`payload`); the
latest one wins over the order's, on the tablet and on the server alike (`current`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.phones import Phone, read_phone

BENEFICIARY = Text("Bénéficiaire invalide", "Invalid beneficiary")
ENTRY_TYPE = "beneficiary_recorded"
# The longest each field may be (the order schema's limits for name, phone and e-mail).
LIMITS = {"name": 200, "address": 300, "postcode": 16, "city": 120, "phone": 40, "email": 200}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # a newline is allowed in an address only
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,14}$")

LABELS: Mapping[str, Text] = {
    "name": Text("nom", "name"),
    "address": Text("adresse", "address"),
    "postcode": Text("code postal", "postcode"),
    "city": Text("ville", "city"),
    "phone": Text("téléphone", "phone"),
    "email": Text("e-mail", "e-mail"),
}


@dataclass(frozen=True, slots=True)
class Beneficiary:
    name: str | None = None
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None

    def to_wire(self) -> dict[str, str]:
        """The block as it travels: only the fields given."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @property
    def empty(self) -> bool:
        return not self.to_wire()

    def town(self) -> str | None:
        """ "69003 Lyon" """
        text = " ".join(p for p in (self.postcode, self.city) if p)
        return text or None

    def postal_lines(self) -> list[str]:
        """Name and postal address, line by line, as printed on a receipt or an invoice."""
        lines = [self.name] if self.name else []
        if self.address:
            lines.extend(line.strip() for line in self.address.splitlines() if line.strip())
        if town := self.town():
            lines.append(town)
        return lines


def from_document(block: object) -> Beneficiary | None:
    """The beneficiary an order or a mission document carries (None: none, or nothing
    usable). Lenient: only text within the lengths is kept."""
    if not isinstance(block, Mapping):
        return None
    kept: dict[str, str] = {}
    for name, limit in LIMITS.items():
        value = block.get(name)
        if isinstance(value, str) and value.strip() and len(value) <= limit:
            kept[name] = value.strip()
    found = Beneficiary(**kept)
    return None if found.empty else found


def captured(typed: Mapping[str, object]) -> Beneficiary:
    """What a driver typed, checked: `InvalidDocument` names every field that is wrong.
    Blank fields are left out; at least one field must be given."""
    problems: list[Problem] = []
    kept: dict[str, str] = {}
    for name in sorted(set(typed) - set(LIMITS)):
        problems.append(Problem(name, Text("champ inconnu", "unknown field")))
    for name, limit in LIMITS.items():
        value = typed.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            problems.append(Problem(name, Text("texte attendu", "text expected")))
            continue
        text = value.strip() if name == "address" else " ".join(value.split())
        problem = _problem(name, text, limit)
        if isinstance(problem, Text):
            problems.append(Problem(name, problem))
        else:
            kept[name] = problem
    if not kept and not problems:
        problems.append(
            Problem(
                "",
                Text(
                    "indiquez au moins le nom, l'adresse, le téléphone ou l'e-mail",
                    "give at least the name, the address, the phone or the e-mail",
                ),
            )
        )
    if problems:
        raise InvalidDocument(BENEFICIARY, problems)
    return Beneficiary(**kept)


def _problem(name: str, text: str, limit: int) -> str | Text:
    """The field's normal form, or what is wrong with it."""
    if len(text) > limit:
        return Text(f"{limit} caractères au plus", f"{limit} characters at most")
    control = re.compile(r"[\x00-\x1f\x7f]") if name != "address" else _CONTROL
    if control.search(text):
        return Text("caractères de contrôle refusés", "control characters refused")
    if name == "phone":
        phone = read_phone(text)
        return phone.text if isinstance(phone, Phone) else phone
    if name == "email":
        if not _EMAIL.match(text):
            return Text(
                f"adresse e-mail illisible : « {text} » (par ex. jean.dupont@example.fr)",
                f"unreadable e-mail address: “{text}” (e.g. jean.dupont@example.fr)",
            )
        return text.lower()
    if name == "postcode" and not _POSTCODE.match(text):
        return Text(f"code postal illisible : « {text} »", f"unreadable postcode: “{text}”")
    if name == "name" and not any(ch.isalpha() for ch in text):
        return Text(f"nom illisible : « {text} »", f"unreadable name: “{text}”")
    return text


def payload(mission_id: str, beneficiary: Beneficiary) -> dict[str, Any]:
    """The `beneficiary_recorded` entry's payload."""
    return {"mission_id": mission_id, "beneficiary": beneficiary.to_wire()}


def current(
    document: Mapping[str, Any] | None, recorded: Iterable[Mapping[str, Any]]
) -> Beneficiary | None:
    """Who pays on site: the latest `beneficiary_recorded` payload of `recorded` (in
    journal order), else the mission document's `beneficiary` block, else its `customer`
    (a name typed on the road)."""
    latest: Beneficiary | None = None
    for body in recorded:
        found = from_document(body.get("beneficiary"))
        if found is not None:
            latest = found
    if latest is not None:
        return latest
    if document is None:
        return None
    ordered = from_document(document.get("beneficiary"))
    if ordered is not None:
        return ordered
    customer = document.get("customer")
    if isinstance(customer, str) and customer.strip():
        return Beneficiary(name=customer.strip()[: LIMITS["name"]])
    return None
