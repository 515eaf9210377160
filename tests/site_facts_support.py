"""A day of missions whose site facts differ from their orders, for the tablet's tests and
the office's (no tests here).

The contract is Assistance T: a tow of a light vehicle 120.00 excl. VAT, 50 km included then
1.50 per km, winching paid by the customer unless there was an accident, storage paid by
the customer, tolls at cost; the customer pays before leaving the scene. What a driver
may change alone (its `site_facts` block): km up to +10 % or +5 km over the order, waiting
up to 30 minutes more, the weight up to +10 %, storage and items at cost freely; services,
accident and class only with the manager's code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fieldclient.site_facts import ApprovalNeeded, receipt
from fieldclient.tablet import Tablet
from shared.site_facts_found import Found
from tests.conftest import example
from tests.field_support import feed

D = Decimal
JPEG = b"\xff\xd8\xff\xe0" + b"receipt" * 20

RULES: dict[str, Any] = {
    "default": {"allow": "approval"},
    "distance": {"allow": "tolerance", "percent": "10", "absolute": "5"},
    "waiting": {"allow": "tolerance", "absolute": "30"},
    "weight": {"allow": "tolerance", "percent": "10"},
    "storage": {"allow": "free"},
    "at_cost": {"allow": "free"},
}


def contract_document() -> dict[str, Any]:
    doc = copy.deepcopy(example("contracts", "assist-a"))
    doc.update(
        id="ASSIST-T",
        label="Assistance T — convention 2026",
        ordering_party={"id": "ASSIST-T", "name": "Assistance T"},
        caps={"mission": None, "file": None},
        site_facts=RULES,
    )
    return doc


def mission_document(number: int, *, loaded: str = "40") -> dict[str, Any]:
    return {
        "id": f"M-T-{number:02d}",
        "file_number": f"T-2026-{number:04d}",
        "file_sequence": 1,
        "ordering_party": "ASSIST-T",
        "customer": None,
        "vehicle": {"plate": f"AB-{number:03d}-CD", "class": "VL"},
        "times": {"call": "2026-03-10T10:00:00+01:00"},
        "distance_km": {"en_route": "10", "loaded": loaded},
        "facts": {"accident": False},
        "services": [{"code": "TOW"}],
    }


MISSIONS = [mission_document(n, loaded="80" if n == 4 else "40") for n in range(1, 11)]


def load_day(tablet: Tablet) -> None:
    """Assistance T's contract and the day's ten missions, as a pull would bring them."""
    contract = contract_document()
    changes = [{"kind": "contract", "id": "ASSIST-T:1", "data": {"document": contract}}]
    changes += [
        {
            "kind": "mission",
            "id": doc["id"],
            "data": {"id": doc["id"], "driver_id": "d1", "status": "assigned", "document": doc},
        }
        for doc in MISSIONS
    ]
    feed(tablet, changes)


@dataclass(frozen=True)
class Planned:
    mission: str
    found: Found
    code: bool = False  # the manager gives a code
    for_office: bool = False  # no code: kept for the office
    photos: dict[str, bytes] | None = None


def _toll() -> tuple[Found, dict[str, bytes]]:
    cited = receipt(JPEG)
    return Found(at_cost=(("TOLL", D("12.40"), cited),)), {cited.sha256: JPEG}


def plan() -> list[Planned]:
    toll, photos = _toll()
    return [
        Planned("M-T-01", Found(distance_km={"loaded": D("44")})),  # more km, within
        Planned("M-T-02", Found(distance_km={"loaded": D("70")}), code=True),  # beyond, code
        Planned("M-T-03", Found(distance_km={"loaded": D("70")}), for_office=True),  # no code
        Planned("M-T-04", Found(distance_km={"loaded": D("60")})),  # fewer km
        Planned("M-T-05", Found(add_services=("WIN",)), code=True),  # winching added
        Planned("M-T-06", toll, photos=photos),  # a toll with its receipt
        Planned("M-T-07", Found(storage_days=D(3))),  # storage
        Planned("M-T-08", Found(accident=True), code=True),  # an accident
        Planned("M-T-09", Found(weight_kg=2200, vehicle_class="VLP"), code=True),  # heavier
        Planned("M-T-10", Found(weight_kg=2600), code=True),  # heavier, class left as VL
    ]


# What each mission costs after its facts: (total incl. VAT, the customer's share).
EXPECTED = {
    "M-T-01": (D("144.00"), D("0.00")),  # 44 km: still within the 50 included
    "M-T-02": (D("180.00"), D("0.00")),  # 70 km: 20 extra × 1.50 = 30.00 excl.
    "M-T-03": (D("144.00"), D("0.00")),  # kept for the office: the order's 40 km
    "M-T-04": (D("162.00"), D("0.00")),  # 60 km instead of 80: 10 extra, not 30
    "M-T-05": (D("240.00"), D("96.00")),  # winching without accident: the customer's
    "M-T-06": (D("156.40"), D("0.00")),  # toll at cost, no VAT
    "M-T-07": (D("187.20"), D("43.20")),  # 3 days of storage: the customer's
    "M-T-08": (D("192.00"), D("0.00")),  # accident supplement
    "M-T-09": (D("192.00"), D("0.00")),  # class VLP: the heavier tow price
    "M-T-10": (D("144.00"), D("0.00")),  # class VL kept (weight 2600 kg contradicts it)
}


def play(tablet: Tablet, issue: Callable[[str, Decimal], str]) -> dict[str, Any]:
    """Record each mission's facts; where a code is needed, the refusal names the amount
    and `issue(mission, amount)` gives the manager's code for it."""
    results = {}
    for planned in plan():
        kwargs: dict[str, Any] = {"photos": planned.photos}
        if planned.code:
            try:
                tablet.record_site_facts(planned.mission, planned.found, planned.photos)
            except ApprovalNeeded as needed:
                kwargs["code"] = issue(planned.mission, needed.total)
            else:
                raise AssertionError(f"{planned.mission}: a code should have been asked")
        results[planned.mission] = tablet.record_site_facts(
            planned.mission, planned.found, for_office=planned.for_office, **kwargs
        )
    return results
