"""The business side of entries a push has just stored, in the push's transaction.

Nothing here refuses: the entries are facts, signed on the tablet and already stored.
What looks wrong becomes an anomaly for the office (docs: the anomaly catalogue), with a
reason a clerk understands. Small on purpose; the office issue extends it.

- `valuation_recorded` (payload `{"mission_id", "valuation": Valuation.to_wire(),
  "mission"?: mission document}`): the device's valuation is stored (source `device`);
  the server values the mission again with the core and the contract versions it holds
  and stores its own (source `server`); different digests → `valuation_mismatch`, with
  the lines that differ. An unknown mission whose document is in the payload is created
  (source `device`: a private customer met on the road).
- `collection` on an unknown mission, or on one the office cancelled → an anomaly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from typing import Any

import sqlalchemy as sa

from server.office import (
    invoicing,
    mission_money,
    reconcile,
    reconcile_facts,
    site_facts,
    valuation_figures,
)
from server.office.anomalies import open_anomaly
from server.office.reconcile_rules import Item
from server.office.valuation import (
    Valuer,
    beneficiary_due,
    contract_id_of,
    mission_to_value,
    valued_facts,
    wire_cents,
)
from server.platform.tables import missions, valuations
from shared.canonical import canonical_json, plain
from shared.errors import TowlineError
from shared.journal import EntryType, SignedEntry
from shared.signing import PrivateKey
from shared.steps import Step

CANCELLED = Step.CANCELLED.value


def mission_of(signed: SignedEntry) -> str | None:
    """The mission an entry is about, when its payload names one that fits the column."""
    mission_id = signed.entry.payload.get("mission_id")
    if isinstance(mission_id, str) and 0 < len(mission_id) <= 64:
        return mission_id
    return None


@dataclass
class _Context(Valuer):
    device_id: str = ""

    def anomaly(self, signed: SignedEntry, kind: str, detail: Mapping[str, Any], **kw: Any) -> None:
        ref = {"device_id": self.device_id, "seq": signed.seq, "hash": signed.hash}
        open_anomaly(
            self.conn,
            tenant_id=self.tenant_id,
            kind=kind,
            detail={"entry": ref, **detail},
            now=self.now,
            device_id=self.device_id,
            driver_id=signed.entry.driver_id,
            mission_id=mission_of(signed),
            **kw,
        )


def entries_stored(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    entries: Sequence[SignedEntry],
    now: datetime,
    key: PrivateKey | None = None,
    stored: Sequence[SignedEntry] | None = None,
) -> None:
    """Derive what the office needs from newly stored entries, in device order: the
    server's own valuations, collections questioned; then reconciliation of what the
    batch touched; last, the invoices of missions closed (with the server's `key`).
    `stored`: every entry the push stored (`entries` and those it held; default
    `entries`), which reconciliation then takes as they are instead of reading them back."""
    ctx = _Context(conn, tenant_id, now, device_id=device_id)
    closed: list[str] = []
    for signed in entries:
        if signed.entry.type is EntryType.VALUATION_RECORDED:
            _valuation_recorded(ctx, signed)
        elif signed.entry.type is EntryType.COLLECTION:
            _collection(ctx, signed)
        elif signed.entry.type is EntryType.SITE_FACTS:
            site_facts.site_facts_stored(ctx, ctx.device_id, signed)
        elif signed.entry.type is EntryType.MISSION_STEP and signed.entry.payload.get("to") == (
            Step.CLOSED.value
        ):
            mission_id = mission_of(signed)
            if mission_id is not None:
                closed.append(mission_id)
    # One truth across tablets (issue 13): tablets learn the money of the missions this batch
    # touched, and the seller's identity if they never had it.
    mission_money.entries_stored(conn, tenant_id, entries, now=now)
    # Reconcile what the batch touched, against the server's own valuations.
    # Items as reconciliation reads them back from the database (the payload's fields its
    # rules read: `reconcile_facts`), made once here for every entry the push stored.
    fresh = [
        Item(
            device_id,
            s.seq,
            str(s.entry.type),
            s.entry.at,
            s.entry.driver_id,
            reconcile_facts.rule_payload(s.entry.payload),
            s.hash,
        )
        for s in (entries if stored is None else stored)
    ]
    business = {s.seq for s in entries}
    items = [i for i in fresh if i.seq in business]
    reconcile.reconcile_entries(conn, tenant_id, items, now=now, fresh=fresh)
    # Invoices last: numbering locks the tenant's series row until the push commits, so it
    # comes after everything else the push does (their PDFs are made after the commit).
    if key is not None:
        for mission_id in closed:
            invoicing.on_mission_completed(
                conn, tenant_id, mission_id, key=key, actor="system", now=now
            )


# --- collections ----------------------------------------------------------------------------


def _collection(ctx: _Context, signed: SignedEntry) -> None:
    """Money taken in the field is a fact: never refused, but questioned when odd."""
    cents = wire_cents(signed.entry.payload.get("amount"))
    mission_id = mission_of(signed)
    status = None
    if mission_id is not None:
        status = ctx.conn.execute(
            sa.select(missions.c.status).where(
                missions.c.tenant_id == ctx.tenant_id, missions.c.id == mission_id
            )
        ).scalar_one_or_none()
    if status is None:
        ctx.anomaly(
            signed,
            "collection_unknown_mission",
            {
                "mission_id": signed.entry.payload.get("mission_id"),
                "fr": "Encaissement sur une mission inconnue du bureau.",
                "en": "Collection on a mission the office does not know.",
            },
            amount_cents=cents,
        )
    elif status == CANCELLED:
        ctx.anomaly(
            signed,
            "collection_on_cancelled_mission",
            {
                "fr": "Encaissement sur une mission annulée par le bureau.",
                "en": "Collection on a mission the office cancelled.",
            },
            amount_cents=cents,
        )


# --- valuations -----------------------------------------------------------------------------


def _valuation_recorded(ctx: _Context, signed: SignedEntry) -> None:
    payload = plain(signed.entry.payload)
    device = payload.get("valuation")
    mission_id = mission_of(signed)
    due = beneficiary_due(device)
    if mission_id is None or due is None or not isinstance(device.get("digest"), str):
        ctx.anomaly(
            signed,
            "valuation_unreadable",
            {
                "fr": "Valorisation de la tablette illisible : ni comparée ni recalculée.",
                "en": "The tablet's valuation is unreadable: neither compared nor recomputed.",
            },
        )
        return
    _store_valuation(ctx, signed, mission_id, "device", device, due)
    mission = mission_to_value(ctx, signed, mission_id, payload.get("mission"), by=ctx.device_id)
    if isinstance(mission, str):
        ctx.anomaly(signed, "valuation_not_recomputed", {"reason": mission})
        return
    try:
        contract_id = contract_id_of(device)
        mission = site_facts.mission_on_site(ctx, ctx.device_id, signed, mission, contract_id)
        server = ctx.value(mission, contract_id)
    except TowlineError as exc:
        ctx.anomaly(
            signed,
            "valuation_not_recomputed",
            {"reason": exc.message("en"), "fr": exc.message("fr"), "en": exc.message("en")},
        )
        return
    server_due = beneficiary_due(server)
    assert server_due is not None  # the core's own output
    _store_valuation(ctx, signed, mission_id, "server", server, server_due, valued_facts(mission))
    if server["digest"] != device["digest"]:
        ctx.anomaly(
            signed,
            "valuation_mismatch",
            {
                "device_digest": device["digest"],
                "server_digest": server["digest"],
                "contract": {"device": device.get("contract"), "server": server["contract"]},
                "lines": _differing_lines(device.get("lines"), server["lines"]),
                "payers": {"device": device.get("payers"), "server": server["payers"]},
                "fr": "La valorisation de la tablette diffère de celle du serveur.",
                "en": "The tablet's valuation differs from the server's.",
            },
            amount_cents=due - server_due,  # what the tablet asks beyond the server's figure
        )


def _store_valuation(
    ctx: _Context,
    signed: SignedEntry,
    mission_id: str,
    source: str,
    body: Mapping[str, Any],
    due_cents: int,
    valued: Mapping[str, Any] | None = None,
) -> None:
    ctx.conn.execute(
        sa.insert(valuations).values(
            tenant_id=ctx.tenant_id,
            mission_id=mission_id,
            source=source,
            device_id=ctx.device_id,
            entry_seq=signed.seq,
            digest=str(body["digest"])[:64],
            beneficiary_due_cents=due_cents,
            body=canonical_json(body).decode("utf-8"),
            created_at=ctx.now,
            **valuation_figures.columns(body),
            **(valued or {}),
        )
    )


def _differing_lines(device: object, server: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Line by line, position by position: the pairs that differ (None where one is missing)."""
    mine = list(device) if isinstance(device, list) else []
    return [
        {"index": index, "device": left, "server": right}
        for index, (left, right) in enumerate(zip_longest(mine, server))
        if _money_line(left) != _money_line(right)
    ]


def _money_line(line: object) -> object:
    """A line without its label, which is wording, not money."""
    if isinstance(line, Mapping):
        return {k: v for k, v in line.items() if k != "label"}
    return line
