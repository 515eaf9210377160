"""Mission steps and the only transitions allowed between them.

The table lives here and nowhere else, so the tablet, the server and the docs agree on
what a driver may do next. Whether money must be collected first is the gate's business
(`shared.gate`); this module only knows the order of the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from shared.errors import Refused
from shared.i18n import Text


class Step(StrEnum):
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    DEPARTED = "departed"  # left the scene (vehicle loaded, or repair done)
    DELIVERED = "delivered"  # vehicle dropped off and released
    CLOSED = "closed"
    CANCELLED = "cancelled"
    GONE_ON_ARRIVAL = "gone_on_arrival"  # nobody and no vehicle at the scene


# The way forward. A tow goes through `delivered`; an on-site repair goes from
# `departed` straight to `closed`. `cancelled`, `gone_on_arrival` and `closed` end it.
TRANSITIONS: Mapping[Step, frozenset[Step]] = MappingProxyType(
    {
        Step.ASSIGNED: frozenset({Step.EN_ROUTE, Step.CANCELLED}),
        Step.EN_ROUTE: frozenset({Step.ON_SITE, Step.GONE_ON_ARRIVAL, Step.CANCELLED}),
        Step.ON_SITE: frozenset({Step.DEPARTED, Step.GONE_ON_ARRIVAL, Step.CANCELLED}),
        Step.DEPARTED: frozenset({Step.DELIVERED, Step.CLOSED}),
        Step.DELIVERED: frozenset({Step.CLOSED}),
        Step.CLOSED: frozenset(),
        Step.CANCELLED: frozenset(),
        Step.GONE_ON_ARRIVAL: frozenset(),
    }
)

# Position along the normal course of a mission; the gate uses it to see whether a
# transition crosses the step it guards (departed -> closed skips delivered).
PROGRESS: Mapping[Step, int] = MappingProxyType(
    {
        Step.ASSIGNED: 0,
        Step.EN_ROUTE: 1,
        Step.ON_SITE: 2,
        Step.DEPARTED: 3,
        Step.DELIVERED: 4,
        Step.CLOSED: 5,
    }
)

LABELS: Mapping[Step, Text] = MappingProxyType(
    {
        Step.ASSIGNED: Text("attribuée", "assigned"),
        Step.EN_ROUTE: Text("en route", "en route"),
        Step.ON_SITE: Text("sur place", "on site"),
        Step.DEPARTED: Text("départ des lieux", "left the scene"),
        Step.DELIVERED: Text("véhicule livré", "vehicle delivered"),
        Step.CLOSED: Text("clôturée", "closed"),
        Step.CANCELLED: Text("annulée", "cancelled"),
        Step.GONE_ON_ARRIVAL: Text("personne sur place à l'arrivée", "gone on arrival"),
    }
)


def is_terminal(step: Step) -> bool:
    return not TRANSITIONS[step]


def next_steps(step: Step) -> frozenset[Step]:
    return TRANSITIONS[step]


def parse_step(value: object) -> Step:
    """A step from the wire; an unknown name is refused in words."""
    try:
        return Step(str(value))
    except ValueError:
        raise Refused(
            f"Étape de mission inconnue : « {value} ».",
            f"Unknown mission step: “{value}”.",
        ) from None


def check_transition(current: Step, target: Step) -> None:
    """Refuse a move the table does not allow, saying what is possible instead."""
    if target in TRANSITIONS[current]:
        return
    here = LABELS[current]
    there = LABELS[target]
    if is_terminal(current):
        raise Refused(
            f"La mission est terminée (« {here.fr} ») : elle ne peut plus passer à « {there.fr} ».",
            f"The mission is over (“{here.en}”): it can no longer move to “{there.en}”.",
        )
    options = [s for s in Step if s in TRANSITIONS[current]]  # a stable order, for both sides
    fr = ", ".join(f"« {LABELS[s].fr} »" for s in options)
    en = ", ".join(f"“{LABELS[s].en}”" for s in options)
    raise Refused(
        f"Passage impossible de « {here.fr} » à « {there.fr} ». Étapes possibles : {fr}.",
        f"Cannot move from “{here.en}” to “{there.en}”. Possible next steps: {en}.",
    )
