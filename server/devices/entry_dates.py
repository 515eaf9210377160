"""Dates a tablet writes, against what the server knows of time (docs/sync-protocol.md
"Dates").

An entry's `at` is the tablet's clock, corrected at each sync by the server's
(`server_time` of the session answer), so an honest entry is dated in the server's time
give or take the correction's error and the drift since. Money in the field is a fact:
a date that cannot be right is flagged, never refused. Flagged, per new entry:

- `after_receipt`: dated after the server received it, beyond `tolerance(offline)`:
  `CLOCK_TOLERANCE` plus `DRIFT_PER_DAY` for every day since the tablet's last contact
  (the receipt of its stored head, or its enrolment), the time its clock ran uncorrected;
- `before_previous`: dated earlier than the entry before it in the chain (stored or in the
  batch) by more than `CLOCK_TOLERANCE` (a correction at a sync may step back that much);
- `before_enrolment`: dated before the tablet was enrolled (its journal cannot be older),
  beyond `CLOCK_TOLERANCE`.

An entry recorded offline days ago and pushed now is none of these. What dates alone
cannot show (a clock set back, between two entries, by less than the time between them)
is left to what does not depend on the tablet's word: card settlements, registers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from server.devices.ingest import mission_of
from server.office.anomalies import open_anomaly
from server.platform.tables import journal_entries
from shared.i18n import Text
from shared.journal import Head, SignedEntry

KIND = "entry_date_implausible"
CLOCK_TOLERANCE = timedelta(minutes=5)
DRIFT_PER_DAY = timedelta(minutes=1)  # about 700 ppm: several times a poor quartz's drift
_LISTED = 20


@dataclass(frozen=True, slots=True)
class Known:
    """What the server knows of the tablet's time before the batch."""

    previous_at: datetime | None  # the stored head's date (None: the journal starts here)
    last_contact: datetime  # the stored head's receipt, or the enrolment
    enrolled_at: datetime


@dataclass(frozen=True, slots=True)
class DateFinding:
    seq: int
    at: str
    problem: str  # after_receipt | before_previous | before_enrolment
    text: Text


def parse(at: str) -> datetime:
    """An entry's `at` (checked by `shared.journal.from_wire`) as an aware instant."""
    return datetime.fromisoformat(at)


def tolerance(offline: timedelta) -> timedelta:
    """How far past the receipt an entry may be dated after `offline` without correction."""
    days = max(offline, timedelta(0)) / timedelta(days=1)
    return CLOCK_TOLERANCE + DRIFT_PER_DAY * days


def _show(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def date_findings(
    dated: Sequence[tuple[int, str]], known: Known, received: datetime
) -> list[DateFinding]:
    """Every implausible date of a batch `dated` as (seq, at), in chain order. Pure."""
    found = []
    ahead = received + tolerance(received - known.last_contact)
    previous = known.previous_at
    for seq, at in dated:
        moment = parse(at)
        if moment > ahead:
            found.append(
                DateFinding(
                    seq,
                    at,
                    "after_receipt",
                    Text(
                        f"n° {seq} daté du {at}, après sa réception par le serveur "
                        f"({_show(received)})",
                        f"no. {seq} dated {at}, after the server received it ({_show(received)})",
                    ),
                )
            )
        if moment < known.enrolled_at - CLOCK_TOLERANCE:
            found.append(
                DateFinding(
                    seq,
                    at,
                    "before_enrolment",
                    Text(
                        f"n° {seq} daté du {at}, avant l'enrôlement de la tablette "
                        f"({_show(known.enrolled_at)})",
                        f"no. {seq} dated {at}, before the tablet was enrolled "
                        f"({_show(known.enrolled_at)})",
                    ),
                )
            )
        elif previous is not None and moment < previous - CLOCK_TOLERANCE:
            found.append(
                DateFinding(
                    seq,
                    at,
                    "before_previous",
                    Text(
                        f"n° {seq} daté du {at}, avant l'entrée qui le précède ({_show(previous)})",
                        f"no. {seq} dated {at}, before the entry it follows ({_show(previous)})",
                    ),
                )
            )
        previous = moment
    return found


def known_before(conn: sa.Connection, tenant_id: str, head: Head, enrolled_at: datetime) -> Known:
    """The stored head's date and receipt (one read by primary key), else the enrolment."""
    if head.seq == 0:
        return Known(None, enrolled_at, enrolled_at)
    row = conn.execute(
        sa.select(journal_entries.c.at, journal_entries.c.received_at).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.device_id == head.device_id,
            journal_entries.c.seq == head.seq,
        )
    ).one()
    return Known(parse(row.at), row.received_at, enrolled_at)


def flag_dates(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    label: str,
    known: Known,
    entries: Sequence[SignedEntry],
    now: datetime,
) -> list[DateFinding]:
    """One `entry_date_implausible` anomaly for the batch when any date is implausible."""
    found = date_findings([(s.seq, s.entry.at) for s in entries], known, now)
    if not found:
        return found
    flagged = {f.seq for f in found}
    by_seq = {s.seq: s for s in entries if s.seq in flagged}
    drivers = sorted({d for d in (s.entry.driver_id for s in by_seq.values()) if d})
    missions = {mission_of(s) for s in by_seq.values()}
    shown = found[:_LISTED]
    more = f" … (+{len(found) - _LISTED})" if len(found) > _LISTED else ""
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind=KIND,
        device_id=device_id,
        driver_id=drivers[0] if len(drivers) == 1 else None,
        mission_id=missions.pop() if len(missions) == 1 else None,
        detail={
            "fr": f"Dates invraisemblables sur la tablette « {label} » ({device_id}) : "
            + " ; ".join(f.text.fr for f in shown)
            + more
            + ". Enregistrées telles quelles : vérifiez l'horloge de la tablette.",
            "en": f"Implausible dates on tablet “{label}” ({device_id}): "
            + "; ".join(f.text.en for f in shown)
            + more
            + ". Stored as they are: check the tablet's clock.",
            "tablet": {"device_id": device_id, "label": label},
            "drivers": drivers,
            "received_at": now.isoformat(),
            "tolerance_seconds": int(tolerance(now - known.last_contact).total_seconds()),
            "findings": [
                {"seq": f.seq, "at": f.at, "problem": f.problem, "fr": f.text.fr, "en": f.text.en}
                for f in found
            ],
            "entries": [
                {"device_id": device_id, "seq": s.seq, "hash": s.hash}
                for s in sorted(by_seq.values(), key=lambda s: s.seq)
            ],
        },
        now=now,
    )
    return found
