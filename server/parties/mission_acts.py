"""The dispatcher's acts on a mission: give it to a driver, give it to another, cancel it.

Each is `server.office.missions`' act (the pull feed: the new driver's tablets receive
the mission at their next pull, the previous driver's get a tombstone and drop it, a
cancellation reaches the driver's tablets with its reason; the audit log), with what the
office must not do refused in words first, and the act written on the ordering party's
file log when the mission belongs to a file Towline follows (docs/file-lifecycle.md:
these entries do not move the file).

Refused (409, nothing changes): assigning or cancelling a mission the office already
cancelled; assigning or cancelling a mission its tablet reported finished (closed, or
nobody there on arrival: what follows is an invoice or a credit note, not dispatch);
giving a mission the road has started (en route, on site…) to another driver without
saying so (`started_ok`): the first driver's tablet loses it at its next pull, what it
recorded stays recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import missions
from server.office.mission_progress import is_finished, last_steps
from server.parties import files as party_files
from server.platform.errors import Conflict, Unprocessable
from shared.steps import LABELS as STEP_LABELS
from shared.steps import Step

REASON_MAX = 500


def _step_of(conn: sa.Connection, tenant_id: str, mission_id: str) -> str | None:
    seen = last_steps(conn, tenant_id, [mission_id]).get(mission_id)
    return None if seen is None else seen.step


def _step_words(step: str) -> tuple[str, str]:
    try:
        words = STEP_LABELS[Step(step)]
    except ValueError:
        return step, step
    return words.fr, words.en


def _refuse_finished(mission: dict[str, Any], step: str | None, act: tuple[str, str]) -> None:
    if mission["status"] == missions.CANCELLED:
        raise Conflict(
            f"La mission {mission['id']} est déjà annulée ({mission['cancel_reason']}) : "
            f"impossible de {act[0]}.",
            f"Mission {mission['id']} is already cancelled ({mission['cancel_reason']}): "
            f"cannot {act[1]} it.",
            code="mission_already_cancelled",
        )
    if is_finished(mission["status"], step):
        assert step is not None
        fr, en = _step_words(step)
        raise Conflict(
            f"La tablette a terminé la mission {mission['id']} (« {fr} ») : impossible de "
            f"{act[0]}. S'il faut reprendre l'argent, émettez un avoir.",
            f"The tablet finished mission {mission['id']} ('{en}'): cannot {act[1]} it. "
            "If money must be given back, issue a credit note.",
            code="mission_finished",
        )


def _log_on_file(
    conn: sa.Connection,
    tenant_id: str,
    mission: dict[str, Any],
    event: str,
    detail: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> None:
    party, number = mission["ordering_party_id"], mission["file_number"]
    if party is None or not number:
        return
    if party_files.state_of(conn, tenant_id, party, number) is None:
        return  # a mission of no followed file (made by the office before any order)
    party_files.log(
        conn,
        tenant_id,
        party,
        number,
        event,
        source="office",
        actor=actor[:64],
        now=now,
        detail={"mission_id": mission["id"], **detail},
    )


def assign(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    driver_id: str,
    *,
    actor: str,
    now: datetime,
    started_ok: bool = False,
) -> dict[str, Any]:
    """Give the mission to `driver_id` (a reassignment when another driver has it)."""
    mission = missions.get(conn, tenant_id, mission_id)
    step = _step_of(conn, tenant_id, mission_id)
    _refuse_finished(mission, step, ("l'attribuer", "assign"))
    previous = mission["driver_id"]
    if previous == driver_id:
        return mission
    if previous is not None and step not in (None, Step.ASSIGNED.value) and not started_ok:
        assert step is not None
        fr, en = _step_words(step)
        raise Conflict(
            f"La tablette a commencé la mission {mission_id} (« {fr} ») : la confier à un "
            "autre chauffeur la retire de la première tablette à sa prochaine synchro "
            "(ce qu'elle a enregistré reste). Confirmez pour la réattribuer.",
            f"The tablet has started mission {mission_id} ('{en}'): giving it to another "
            "driver takes it off the first tablet at its next sync (what it recorded "
            "stays). Confirm to reassign it.",
            code="mission_started",
        )
    done = missions.assign(conn, tenant_id, mission_id, driver_id, actor=actor, now=now)
    event = "mission_assigned" if previous is None else "mission_reassigned"
    detail: dict[str, Any] = {"driver_id": driver_id}
    if previous is not None:
        detail["previous_driver_id"] = previous
    _log_on_file(conn, tenant_id, done, event, detail, actor=actor, now=now)
    return done


def cancel(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Cancel the mission with a reason (1 to 500 characters)."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise Unprocessable(
            f"Indiquez le motif de l'annulation (1 à {REASON_MAX} caractères).",
            f"Give the reason for the cancellation (1 to {REASON_MAX} characters).",
            code="reason_required",
        )
    mission = missions.get(conn, tenant_id, mission_id)
    _refuse_finished(mission, _step_of(conn, tenant_id, mission_id), ("l'annuler", "cancel"))
    done = missions.cancel(conn, tenant_id, mission_id, reason, actor=actor, now=now)
    detail = {"reason": reason, "driver_id": done["driver_id"], "by": "office"}
    _log_on_file(conn, tenant_id, done, "mission_cancelled", detail, actor=actor, now=now)
    return done
