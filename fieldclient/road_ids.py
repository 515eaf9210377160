"""Short ids for missions met on the road, that a driver can type with gloves on.

A mission the tablet creates gets the id `R-0012.<device id>`: unique in the tenant (the
server keys missions by id), and the driver types and reads `R-0012` (or `r12`, `R 12`,
`R-0012`): the number is unique per tablet, counted from the missions it created. Missions
created before short ids (`<device id>-0012`) answer to `R-0012` too.
"""

from __future__ import annotations

import re
import sqlite3

PREFIX = "R-"
WIDTH = 4
_TYPED = re.compile(r"^R[\s_-]*0*(\d{1,6})$")


def full_id(number: int, device_id: str) -> str:
    return f"{PREFIX}{number:0{WIDTH}d}.{device_id}"


def number_of(mission_id: str, device_id: str) -> int | None:
    """The short number of a mission this tablet created (None: not one of those)."""
    head, dot, device = mission_id.partition(".")
    if dot and device == device_id and head.startswith(PREFIX) and head[2:].isdigit():
        return int(head[2:])
    legacy = device_id + "-"
    rest = mission_id[len(legacy) :]
    if mission_id.startswith(legacy) and rest.isdigit():
        return int(rest)
    return None


def short(mission_id: str, device_id: str) -> str:
    """What the driver reads: `R-0012` for a mission met on the road, else the id."""
    number = number_of(mission_id, device_id)
    return mission_id if number is None else f"{PREFIX}{number:0{WIDTH}d}"


def next_id(db: sqlite3.Connection, device_id: str) -> str:
    """The next road mission's id: one more than the highest this tablet made."""
    ids = [str(r[0]) for r in db.execute("SELECT id FROM missions WHERE source = 'tablet'")]
    numbers = [n for n in (number_of(i, device_id) for i in ids) if n is not None]
    return full_id(max(numbers, default=0) + 1, device_id)


def resolve(db: sqlite3.Connection, typed: str, device_id: str | None) -> str:
    """The mission id for what the driver typed: the id itself, or a short id. What
    matches nothing is given back as typed (the command then says the mission is
    unknown)."""
    text = typed.strip()
    if device_id is None or db.execute("SELECT 1 FROM missions WHERE id = ?", [text]).fetchone():
        return text
    found = _TYPED.match(text.upper())
    if found is None:
        return text
    number = int(found.group(1))
    for candidate in (full_id(number, device_id), f"{device_id}-{number:0{WIDTH}d}"):
        if db.execute("SELECT 1 FROM missions WHERE id = ?", [candidate]).fetchone():
            return candidate
    return text
