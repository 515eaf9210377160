"""Mission steps: only the moves in the table, and a refusal that says what is possible."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import Refused
from shared.steps import (
    LABELS,
    TRANSITIONS,
    Step,
    check_transition,
    is_terminal,
    next_steps,
    parse_step,
)


def walk(*steps: Step) -> None:
    for current, target in pairwise(steps):
        check_transition(current, target)


def refusal(current: Step, target: Step) -> Refused:
    with pytest.raises(Refused) as caught:
        check_transition(current, target)
    return caught.value


def test_a_tow_goes_from_assigned_to_closed_through_every_step() -> None:
    walk(Step.ASSIGNED, Step.EN_ROUTE, Step.ON_SITE, Step.DEPARTED, Step.DELIVERED, Step.CLOSED)


def test_an_on_site_repair_closes_straight_after_leaving_the_scene() -> None:
    walk(Step.ASSIGNED, Step.EN_ROUTE, Step.ON_SITE, Step.DEPARTED, Step.CLOSED)


@pytest.mark.parametrize("before", [Step.EN_ROUTE, Step.ON_SITE])
def test_gone_on_arrival_is_possible_on_the_way_or_on_site(before: Step) -> None:
    assert Step.GONE_ON_ARRIVAL in next_steps(before)


@pytest.mark.parametrize("before", [Step.ASSIGNED, Step.EN_ROUTE, Step.ON_SITE])
def test_a_mission_can_be_cancelled_until_it_leaves_the_scene(before: Step) -> None:
    check_transition(before, Step.CANCELLED)


@pytest.mark.parametrize("after", [Step.DEPARTED, Step.DELIVERED])
def test_a_mission_cannot_be_cancelled_once_the_vehicle_left_the_scene(after: Step) -> None:
    assert refusal(after, Step.CANCELLED).text.en.startswith("Cannot move from")


def test_delivering_without_leaving_the_scene_is_refused_with_the_possible_steps() -> None:
    error = refusal(Step.ON_SITE, Step.DELIVERED)
    assert error.text.fr == (
        "Passage impossible de « sur place » à « véhicule livré ». Étapes possibles :"
        " « départ des lieux », « annulée », « personne sur place à l'arrivée »."
    )
    assert error.text.en == (
        "Cannot move from “on site” to “vehicle delivered”. Possible next steps:"
        " “left the scene”, “cancelled”, “gone on arrival”."
    )


@pytest.mark.parametrize("end", [Step.CLOSED, Step.CANCELLED, Step.GONE_ON_ARRIVAL])
def test_nothing_follows_a_finished_mission(end: Step) -> None:
    assert is_terminal(end)
    error = refusal(end, Step.EN_ROUTE)
    assert error.text.fr == (
        f"La mission est terminée (« {LABELS[end].fr} ») : elle ne peut plus passer à « en route »."
    )


def test_going_back_a_step_is_refused() -> None:
    refusal(Step.DEPARTED, Step.ON_SITE)


def test_staying_on_the_same_step_is_not_a_move() -> None:
    refusal(Step.ON_SITE, Step.ON_SITE)


def test_every_step_has_a_label_in_french_and_english() -> None:
    for step in Step:
        assert LABELS[step].fr and LABELS[step].en


def test_an_unknown_step_name_is_refused_in_words() -> None:
    with pytest.raises(Refused) as caught:
        parse_step("parked")
    assert caught.value.text.en == "Unknown mission step: “parked”."
    assert parse_step("on_site") is Step.ON_SITE


@given(st.sampled_from(Step), st.sampled_from(Step))
def test_a_move_is_accepted_exactly_when_the_table_lists_it(current: Step, target: Step) -> None:
    try:
        check_transition(current, target)
        accepted = True
    except Refused:
        accepted = False
    assert accepted == (target in TRANSITIONS[current])


@given(st.lists(st.integers(min_value=0, max_value=10), max_size=20))
def test_every_walk_from_assigned_ends_on_a_finished_step_within_five_moves(
    choices: list[int],
) -> None:
    step = Step.ASSIGNED
    moves = 0
    for choice in choices:
        options = [s for s in Step if s in TRANSITIONS[step]]
        if not options:
            break
        step = options[choice % len(options)]
        moves += 1
    assert moves <= 5
    if moves < len(choices):
        assert is_terminal(step)
