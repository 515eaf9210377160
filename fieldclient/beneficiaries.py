"""Who pays on site, on the tablet: the order's beneficiary (in the mission document) or
what the driver captured, as a signed `beneficiary_recorded` entry (`shared.beneficiary`).

A correction is a new entry: the latest one wins, and nothing recorded is changed. The
entry may also say where the service was done (`place`), which the receipt prints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fieldclient import store
from fieldclient.ledger import unpack
from shared.beneficiary import ENTRY_TYPE, Beneficiary, captured, current, payload
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.journal import utc_timestamp

if TYPE_CHECKING:  # the tablet calls this module; it never imports the tablet at run time
    from fieldclient.tablet import Recorded, Tablet

PLACE_LIMIT = 300


def recorded(db: sqlite3.Connection, mission_id: str) -> list[dict[str, Any]]:
    """The mission's `beneficiary_recorded` payloads, in journal order."""
    return [
        unpack(row[0])
        for row in db.execute(
            "SELECT payload FROM journal WHERE mission_id = ? AND type = ? ORDER BY seq",
            [mission_id, ENTRY_TYPE],
        )
    ]


def of_mission(
    db: sqlite3.Connection, mission_id: str, document: Mapping[str, Any] | None
) -> Beneficiary | None:
    """The beneficiary as the tablet knows them now."""
    return current(document, recorded(db, mission_id))


def place_of(db: sqlite3.Connection, mission_id: str) -> str | None:
    """Where the service was done, as the driver last recorded it."""
    place = None
    for body in recorded(db, mission_id):
        if isinstance(body.get("place"), str):
            place = body["place"]
    return place


def _place(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > PLACE_LIMIT or any(ord(c) < 32 for c in cleaned):
        raise InvalidDocument(
            Text("Lieu invalide", "Invalid place"),
            [
                Problem(
                    "place",
                    Text(
                        f"{PLACE_LIMIT} caractères au plus, sans caractère de contrôle",
                        f"{PLACE_LIMIT} characters at most, no control character",
                    ),
                )
            ],
        )
    return cleaned


def record(
    tablet: Tablet, mission_id: str, typed: Mapping[str, object], place: str | None = None
) -> Recorded:
    """Record who pays (and where the service was done): one signed entry. Bad input
    (`InvalidDocument`, exit 2) records nothing."""
    from fieldclient.tablet import Recorded

    driver = tablet.signed_in()
    tablet.mission(mission_id)  # UnknownMission
    where = _place(place)
    if any(v is not None and str(v).strip() for v in typed.values()):
        body = payload(mission_id, captured(typed))
    else:
        if where is None:
            captured(typed)  # says what to give
        body = {"mission_id": mission_id, "beneficiary": {}}
    if where is not None:
        body["place"] = where
    ledger = tablet.ledger()
    with store.write(tablet.db):
        signed = ledger.append(
            ENTRY_TYPE, body, driver_id=driver.id, at=utc_timestamp(tablet.now())
        )
    return Recorded(signed.seq, signed.hash, body)
