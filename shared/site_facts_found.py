"""What the driver typed about a mission's site, turned into the facts of one entry.

`changes(order, current, found, contract)` keeps only what differs from the mission as it
stands (the order with the facts already recorded), checks every code against the
contract's catalogue, and says what is wrong in words a driver can act on, before
anything is recorded. Pure: receipts come in as their SHA-256, stored by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.contract import Contract
from shared.errors import InvalidDocument, Problem, Refused
from shared.i18n import Text
from shared.mission import LEGS, Mission
from shared.site_facts import (
    SITE_FACTS,
    STORAGE,
    WAIT,
    Fact,
    plain_families,
    same,
    text,
    value_of,
)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A photo of a receipt, as the entry cites it (the bytes stay with the attachment)."""

    sha256: str
    content_type: str


@dataclass(frozen=True, slots=True)
class Found:
    """What the driver found, only what they gave (None / empty: not given)."""

    distance_km: Mapping[str, Decimal] = field(default_factory=dict)  # per leg
    odometer: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # start, end
    add_services: tuple[str, ...] = ()
    remove_services: tuple[str, ...] = ()
    waiting_minutes: Decimal | None = None
    storage_days: Decimal | None = None
    at_cost: tuple[tuple[str, Decimal, Receipt | None], ...] = ()  # family, amount, receipt
    accident: bool | None = None
    weight_kg: int | None = None
    vehicle_class: str | None = None

    def empty(self) -> bool:
        return self == Found()


class _Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, path: str, fr: str, en: str) -> None:
        self.found.append(Problem(path, Text(fr, en)))


def changes(order: Mission, current: Mission, found: Found, contract: Contract) -> list[Fact]:
    """The facts of one entry: one per fact the driver's figures change. Raises
    `InvalidDocument` (bad input) or `Refused` (nothing differs)."""
    bad = _Problems()
    wanted: list[tuple[str, str | None, Any, dict[str, Any]]] = []  # fact, key, found, evidence
    distances = _distances(found, bad)
    for leg, (km, evidence) in distances.items():
        wanted.append(("distance", leg, text(km), evidence))
    services = _services(current, found, contract, bad)
    if services is not None:
        wanted.append(("services", None, services, {}))
    catalogue = contract.catalogue.families
    for fact, family, figure in (
        ("waiting", WAIT, found.waiting_minutes),
        ("storage", STORAGE, found.storage_days),
    ):
        if figure is None:
            continue
        if figure < 0 or (fact == "storage" and figure != figure.to_integral()):
            bad.add(
                fact,
                "un nombre entier positif ou zéro est attendu",
                "a whole number, zero or more, is expected",
            )
        elif family not in catalogue:
            bad.add(
                fact,
                f"la convention {contract.id} n'a pas de prestation {family}",
                f"contract {contract.id} has no {family} service",
            )
        else:
            wanted.append((fact, None, text(figure), {}))
    wanted += _at_cost(current, found, contract, bad)
    if found.accident is not None:
        wanted.append(("accident", None, found.accident, {}))
    if found.weight_kg is not None:
        if not 0 < found.weight_kg <= 100_000:
            bad.add("weight", "poids entre 1 et 100 000 kg", "weight between 1 and 100,000 kg")
        else:
            wanted.append(("weight", None, found.weight_kg, {}))
    if found.vehicle_class is not None:
        classes = contract.catalogue.segment("class").values
        chosen = found.vehicle_class.strip().upper()
        if chosen not in classes:
            bad.add(
                "class",
                f"classe inconnue : {chosen} (connues : {', '.join(classes)})",
                f"unknown class: {chosen} (known: {', '.join(classes)})",
            )
        else:
            wanted.append(("vehicle_class", None, chosen, {}))
    if bad.found:
        raise InvalidDocument(SITE_FACTS, bad.found)
    facts = []
    for fact, key, figure, evidence in wanted:
        now = value_of(current, fact, key, contract)
        if same(fact, now, figure) and not evidence.get("receipts"):
            continue
        said = value_of(order, fact, key, contract)
        facts.append(Fact(fact, key, said, figure, evidence))
    if not facts:
        raise Refused(
            "Rien ne change : ces constats sont déjà ceux de la mission. Rien n'est enregistré.",
            "Nothing changes: these facts are already the mission's. Nothing is recorded.",
        )
    return facts


def _distances(found: Found, bad: _Problems) -> dict[str, tuple[Decimal, dict[str, Any]]]:
    out: dict[str, tuple[Decimal, dict[str, Any]]] = {}
    for leg, km in found.distance_km.items():
        if leg not in LEGS:
            bad.add(f"distance.{leg}", "trajet inconnu", "unknown leg")
        elif km < 0:
            bad.add(f"distance.{leg}", "distance négative", "negative distance")
        else:
            out[leg] = (km, {})
    for leg, (start, end) in found.odometer.items():
        if leg in found.distance_km:
            bad.add(
                f"odometer.{leg}",
                "donnez la distance ou le compteur, pas les deux",
                "give the distance or the odometer, not both",
            )
        elif leg not in LEGS:
            bad.add(f"odometer.{leg}", "trajet inconnu", "unknown leg")
        elif end < start or start < 0:
            bad.add(
                f"odometer.{leg}",
                f"le compteur d'arrivée ({text(end)}) est avant celui de départ ({text(start)})",
                f"the end reading ({text(end)}) is below the start reading ({text(start)})",
            )
        else:
            out[leg] = (end - start, {"odometer": {"start": text(start), "end": text(end)}})
    return out


def _services(
    current: Mission, found: Found, contract: Contract, bad: _Problems
) -> list[str] | None:
    if not found.add_services and not found.remove_services:
        return None
    families = plain_families(contract)
    have = set(value_of(current, "services", None, contract))
    added = {code.strip().upper() for code in found.add_services}
    removed = {code.strip().upper() for code in found.remove_services}
    at_cost = set(contract.at_cost)
    for code in sorted(added | removed):
        if code in families:
            continue
        if code in at_cost and code in removed:
            continue  # removing items at cost: handled with them
        if code in (WAIT, STORAGE):
            hint_fr, hint_en = (
                " : donnez les minutes d'attente ou les jours",
                ": give the minutes or days",
            )
        elif code in at_cost:
            hint_fr, hint_en = (
                " : donnez son montant et son justificatif",
                ": give its amount and receipt",
            )
        else:
            hint_fr, hint_en = (
                f" (possibles : {', '.join(sorted(families))})",
                f" (possible: {', '.join(sorted(families))})",
            )
        bad.add(
            f"services.{code}",
            f"prestation {code} non modifiable ainsi{hint_fr}",
            f"service {code} cannot be changed this way{hint_en}",
        )
    for code in sorted(added & removed):
        bad.add(f"services.{code}", "ajoutée et retirée à la fois", "both added and removed")
    for code in sorted((removed & families) - have):
        bad.add(
            f"services.{code}",
            f"{code} n'est pas sur la mission : rien à retirer",
            f"{code} is not on the mission: nothing to remove",
        )
    return sorted((have | (added & families)) - removed)


def _at_cost(
    current: Mission, found: Found, contract: Contract, bad: _Problems
) -> list[tuple[str, str | None, Any, dict[str, Any]]]:
    """Items at cost: the ones given are added to the family's (or replace them when the
    family is removed in the same entry); each needs the photo of its receipt."""
    removed = {code.strip().upper() for code in found.remove_services}
    families = sorted(
        {family for family, _, _ in found.at_cost} | (removed & set(contract.at_cost))
    )
    out: list[tuple[str, str | None, Any, dict[str, Any]]] = []
    for family in families:
        if family not in contract.at_cost:
            bad.add(
                f"at_cost.{family}",
                f"{family} n'est pas facturé au réel par la convention {contract.id}"
                f" (au réel : {', '.join(contract.at_cost) or 'rien'})",
                f"{family} is not charged at cost by contract {contract.id}"
                f" (at cost: {', '.join(contract.at_cost) or 'nothing'})",
            )
            continue
        items = [] if family in removed else list(value_of(current, "at_cost", family, contract))
        receipts = []
        for index, (_, amount, receipt) in enumerate(
            (f, a, r) for f, a, r in found.at_cost if f == family
        ):
            if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                bad.add(
                    f"at_cost.{family}.{index}",
                    "montant positif, deux décimales au plus",
                    "a positive amount, two decimals at most",
                )
            elif receipt is None:
                bad.add(
                    f"at_cost.{family}.{index}",
                    "photographiez le justificatif (ticket de péage, facture de la pièce)",
                    "take a picture of the receipt (toll ticket, invoice for the part)",
                )
            else:
                items.append(str(amount))
                receipts.append(
                    {
                        "amount": str(amount),
                        "sha256": receipt.sha256,
                        "content_type": receipt.content_type,
                    }
                )
        out.append(("at_cost", family, items, {"receipts": receipts} if receipts else {}))
    return out
