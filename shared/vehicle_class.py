"""A vehicle's class for pricing: the class the mission gives, or the band its weight falls in.

The contract decides which wins (`weight_decides`):

- by default the class typed on the order decides, and the weight is used only when no
  class is given;
- under a regulated tariff (`weight_decides: true`) the weight decides whenever it is
  known; a vehicle heavier than every class of the tariff is refused with a sentence that
  states its weight and the tariff's limit.

Either way a class that contradicts the weight is never silent: `conflict` finds it, the
valuation explains it, the tablet warns before valuing and the server raises an anomaly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.contract import Contract
from shared.errors import ValuationRefused
from shared.i18n import Text
from shared.mission import Vehicle


@dataclass(frozen=True, slots=True)
class Conflict:
    """A class typed for a vehicle whose weight puts it in another band of the contract."""

    given: str  # the class typed on the order (or found on site)
    weight_kg: int
    by_weight: str | None  # the band the weight falls in; None: heavier than every band

    def warning(self, contract: Contract) -> Text:
        """What the driver reads before the valuation, and the office in the anomaly."""
        fr_kg, en_kg = kilograms(self.weight_kg, "fr"), kilograms(self.weight_kg, "en")
        if self.by_weight is None:
            limit = weight_limit(contract)
            fr_band = f"plus lourd que toutes ses classes ({kilograms(limit or 0, 'fr')} au plus)"
            en_band = f"heavier than all its classes ({kilograms(limit or 0, 'en')} at most)"
        else:
            fr_band, en_band = f"de classe {self.by_weight}", f"class {self.by_weight}"
        if contract.weight_decides:
            return Text(
                f"Classe {self.given} indiquée, mais un véhicule de {fr_kg} est {fr_band} "
                f"selon la convention {contract.id} : le poids décide (tarif réglementé).",
                f"Class {self.given} was given, but a vehicle of {en_kg} is {en_band} under "
                f"contract {contract.id}: the weight decides (regulated tariff).",
            )
        return Text(
            f"Classe {self.given} indiquée, mais un véhicule de {fr_kg} est {fr_band} selon "
            f"la convention {contract.id}. La classe indiquée est appliquée : vérifiez-la, "
            "le bureau est prévenu.",
            f"Class {self.given} was given, but a vehicle of {en_kg} is {en_band} under "
            f"contract {contract.id}. The class given is applied: check it; the office is told.",
        )


def kilograms(weight: int, lang: str) -> str:
    """2200 kg: plain digits, as on a registration certificate (field F.2)."""
    return f"{weight} kg"


def band_of(contract: Contract, weight: int) -> str | None:
    """The class of the first band the weight fits in (None: heavier than every band)."""
    for band in contract.vehicle_classes:
        if band.max_weight_kg is None or weight <= band.max_weight_kg:
            return band.code
    return None


def weight_limit(contract: Contract) -> int | None:
    """The heaviest vehicle the contract's bands classify (None: a band has no limit)."""
    limits = [band.max_weight_kg for band in contract.vehicle_classes]
    if not limits or None in limits:
        return None
    return max(limit for limit in limits if limit is not None)


def conflict(vehicle: Vehicle, contract: Contract) -> Conflict | None:
    """The class given contradicts the weight given. Only classes that have a weight band
    in the contract can contradict a weight: a van or a motorbike is not a weight band."""
    given, weight = vehicle.vehicle_class, vehicle.weight_kg
    if given is None or weight is None:
        return None
    if given not in {band.code for band in contract.vehicle_classes}:
        return None
    by_weight = band_of(contract, weight)
    return None if by_weight == given else Conflict(given, weight, by_weight)


Explained = tuple[str, Mapping[str, Any]]  # a rule and its params: a valuation `Step`


def classify(vehicle: Vehicle, contract: Contract) -> tuple[str, list[Explained]]:
    """The class the valuation prices, and how it was chosen (rules for the explanation)."""
    given, weight = vehicle.vehicle_class, vehicle.weight_kg
    steps: list[Explained] = []
    if weight is not None and (given is None or contract.weight_decides):
        vclass = band_of(contract, weight)
        if vclass is None:
            raise _too_heavy(contract, weight)
        if given is None or given == vclass:
            steps.append(("vehicle_class_by_weight", {"weight_kg": weight, "class": vclass}))
        else:
            steps.append(
                (
                    "vehicle_class_weight_decides",
                    {"weight_kg": weight, "class": vclass, "given": given},
                )
            )
    elif given is None:
        raise ValuationRefused(
            "Indiquez la classe du véhicule ou son poids.", "Give the vehicle's class or weight."
        )
    else:
        vclass = given
        found = conflict(vehicle, contract)
        if found is not None:
            steps.append(
                (
                    "vehicle_class_weight_conflict",
                    {"class": given, "weight_kg": found.weight_kg, "by_weight": found.by_weight},
                )
            )
    classes = contract.catalogue.segment("class").values
    if vclass not in classes:
        raise ValuationRefused(
            f"Classe de véhicule inconnue : {vclass} (connues : {', '.join(classes)}).",
            f"Unknown vehicle class: {vclass} (known: {', '.join(classes)}).",
        )
    return vclass, steps


def _too_heavy(contract: Contract, weight: int) -> ValuationRefused:
    limit = weight_limit(contract)
    fr_kg, en_kg = kilograms(weight, "fr"), kilograms(weight, "en")
    fr_limit = kilograms(limit, "fr") if limit is not None else "?"
    en_limit = kilograms(limit, "en") if limit is not None else "?"
    name = f"{contract.id} v{contract.version}"
    if contract.weight_decides:
        return ValuationRefused(
            f"Véhicule de {fr_kg} : le tarif réglementé de la convention {name} ne couvre "
            f"que les véhicules de {fr_limit} au plus. Ce véhicule ne peut pas être valorisé "
            "avec ce tarif : appelez le bureau.",
            f"Vehicle of {en_kg}: the regulated tariff of contract {name} covers vehicles of "
            f"{en_limit} at most. This vehicle cannot be valued with this tariff: call the "
            "office.",
        )
    return ValuationRefused(
        f"La convention {name} ne classe pas un véhicule de {fr_kg} (ses classes vont "
        f"jusqu'à {fr_limit}) : indiquez la classe du véhicule.",
        f"Contract {name} has no class for a vehicle of {en_kg} (its classes go up to "
        f"{en_limit}): give the vehicle's class.",
    )
