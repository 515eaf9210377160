"""Who recorded an entry, and with what right (docs/sync-protocol.md "Who and what right").

A tablet signs its entries, but what it signs in a driver's name is its word, not proof
that the driver could do it. Once a batch is verified and stored, each new entry is
checked against what the server knows; the first finding that applies holds it:

| finding | when |
|---|---|
| `type_reserved` | a type only the server's own journal holds (closing, invoice…) |
| `decision_unknown` | the entry says it applies an office decision the server never made |
| `driver_missing` | a money entry names no driver |
| `driver_unknown` | the driver named is not one of the tenant's |
| `driver_not_enrolled` | the driver is not one of this tablet's (`device_drivers`) |
| `payments_disabled` | a money entry while the tenant's payments module is off |
| `right_missing` | the driver's role lacks the act's right (`RIGHT_OF`) |

A held entry stays on the chain (stored like any other: nothing is lost and the chain is
unbroken), but nothing is derived from it at the push (no valuation, mission, invoice or
reconciliation), and the office gets one `entry_unauthorised` anomaly per finding and
driver in the batch, naming the driver, the tablet and the entries.

Rights are the driver's role's *today*, as the server holds them: it keeps no history of
roles, so a right withdrawn while the tablet was offline holds what was recorded before
(docs/anomalies.md says so).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.devices.ingest import mission_of
from server.office.anomalies import open_anomaly
from server.office.valuation import wire_cents
from server.people.drivers import driver_rows
from server.people.rights import LABELS, Right, effective_rights
from server.platform.tables import decisions, device_drivers, tenants
from shared.i18n import Text
from shared.journal import Entry, EntryType, SignedEntry

KIND = "entry_unauthorised"
# The right a driver's role needs to record each money entry (seed 004: nobody records a
# transaction without the payments module and a role given the right).
RIGHT_OF: Mapping[EntryType, Right] = {
    EntryType.COLLECTION: Right.COLLECT,
    EntryType.DISCOUNT: Right.COLLECT,  # the manager's code approves it; the driver records it
    EntryType.DEFERRAL: Right.COLLECT,
    EntryType.REVERSAL: Right.VOID_COLLECTION,
}
# Types the server writes in its own journal only.
RESERVED = frozenset(
    {
        EntryType.CLOSING,
        EntryType.DEPOSIT_SET,
        EntryType.INVOICE_ISSUED,
        EntryType.CREDIT_NOTE_ISSUED,
        EntryType.OFFICE_DECISION,
        EntryType.DOCUMENT_RENDERED,
    }
)
OFFICE_REF = "office:"  # a discount's or deferral's `approval_ref` citing an office decision


@dataclass(frozen=True, slots=True)
class Driver:
    id: str
    name: str
    role: str
    role_rights: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    type: str
    collection_hash: str | None  # the collection a void names


@dataclass(frozen=True, slots=True)
class Facts:
    """What the server knows that judges a batch: pure data, so the rule is tested alone."""

    payments_enabled: bool
    enrolled: frozenset[str]  # the tablet's drivers
    drivers: Mapping[str, Driver]  # the tenant's drivers named by the batch
    decisions: Mapping[str, Decision]  # the office decisions the batch cites


@dataclass(frozen=True, slots=True)
class Held:
    reason: str
    right: Right | None = None


def cited_decision(entry: Entry) -> str | None:
    """The office decision a money entry says it applies, if any."""
    if entry.type is EntryType.REVERSAL:
        cited = entry.payload.get("decision")
        return cited if isinstance(cited, str) and cited else None
    if entry.type in (EntryType.DISCOUNT, EntryType.DEFERRAL):
        ref = entry.payload.get("approval_ref")
        if isinstance(ref, str) and ref.startswith(OFFICE_REF):
            return ref.removeprefix(OFFICE_REF) or None
    return None


def _applies(entry: Entry, decision: Decision | None) -> bool:
    """Whether `decision` is one the entry may apply: a void of this very collection, or
    the office's own discount or deferral."""
    if decision is None:
        return False
    if entry.type is EntryType.REVERSAL:
        reverses = entry.payload.get("reverses")
        named = reverses.get("hash") if isinstance(reverses, Mapping) else None
        return decision.type == "void_collection" and named == decision.collection_hash
    return decision.type == str(entry.type)


def held(entry: Entry, facts: Facts) -> Held | None:
    """Why `entry` may not count as recorded business, or None when it may."""
    if entry.type in RESERVED:
        return Held("type_reserved")
    right = RIGHT_OF.get(entry.type)
    decision_id = cited_decision(entry) if right is not None else None
    if decision_id is not None:
        # The office decided, with its own rights, checked then; the tablet applies it in
        # the name of the driver concerned (a void: whoever took the money, held or not).
        ok = _applies(entry, facts.decisions.get(decision_id))
        return None if ok else Held("decision_unknown")
    driver_id = entry.driver_id
    if driver_id is None:  # only a money entry must name who took or gave the money
        return Held("driver_missing") if right is not None else None
    driver = facts.drivers.get(driver_id)
    if driver is None:
        return Held("driver_unknown")
    if driver_id not in facts.enrolled:
        return Held("driver_not_enrolled")
    if right is None:
        return None
    if not facts.payments_enabled:
        return Held("payments_disabled", right)
    if right not in effective_rights(True, driver.role_rights):
        return Held("right_missing", right)
    return None


# --- the database side ----------------------------------------------------------------------


def gather(
    conn: sa.Connection, tenant_id: str, device_id: str, entries: Sequence[SignedEntry]
) -> Facts:
    """What `held` needs for this batch: three small reads, one more if it cites decisions."""
    named = {s.entry.driver_id for s in entries if s.entry.driver_id is not None}
    payments = conn.execute(
        sa.select(tenants.c.payments_enabled).where(tenants.c.id == tenant_id)
    ).scalar_one()
    enrolled = conn.execute(
        sa.select(device_drivers.c.driver_id).where(
            device_drivers.c.tenant_id == tenant_id, device_drivers.c.device_id == device_id
        )
    ).scalars()
    drivers = {
        row.id: Driver(row.id, row.name, row.role, frozenset(row.role_rights or ()))
        for row in driver_rows(conn, tenant_id, named)
    }
    cited = {d for d in (cited_decision(s.entry) for s in entries) if d is not None}
    return Facts(bool(payments), frozenset(enrolled), drivers, _decisions(conn, tenant_id, cited))


def _decisions(conn: sa.Connection, tenant_id: str, ids: Collection[str]) -> dict[str, Decision]:
    if not ids:
        return {}
    found = {}
    for row in conn.execute(
        sa.select(decisions.c.id, decisions.c.type, decisions.c.data).where(
            decisions.c.tenant_id == tenant_id, decisions.c.id.in_(sorted(ids))
        )
    ):
        data = json.loads(row.data) if isinstance(row.data, str) else row.data
        collection = data.get("collection") if isinstance(data, Mapping) else None
        named = collection.get("hash") if isinstance(collection, Mapping) else None
        found[row.id] = Decision(row.type, named if isinstance(named, str) else None)
    return found


def hold_unauthorised(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    label: str,
    entries: Sequence[SignedEntry],
    now: datetime,
) -> set[int]:
    """The seqs of the batch's entries to hold, each group raised as an anomaly."""
    facts = gather(conn, tenant_id, device_id, entries)
    groups: dict[tuple[str, str | None], list[tuple[SignedEntry, Held]]] = {}
    for signed in entries:
        found = held(signed.entry, facts)
        if found is not None:
            groups.setdefault((found.reason, signed.entry.driver_id), []).append((signed, found))
    for (reason, driver_id), items in groups.items():
        _raise(conn, tenant_id, device_id, label, reason, driver_id, items, facts, now)
    return {s.seq for items in groups.values() for s, _ in items}


def _raise(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    label: str,
    reason: str,
    driver_id: str | None,
    items: Sequence[tuple[SignedEntry, Held]],
    facts: Facts,
    now: datetime,
) -> None:
    signed_entries = [s for s, _ in items]
    refs = [_ref(s) for s in signed_entries]
    missions = {mission_of(s) for s in signed_entries}
    money = [wire_cents(s.entry.payload.get("amount")) for s in signed_entries]
    at_stake = [c for s, c in zip(signed_entries, money, strict=True) if s.entry.type in RIGHT_OF]
    driver = facts.drivers.get(driver_id) if driver_id else None
    rights = sorted({h.right.value for _, h in items if h.right is not None})
    text = _sentence(reason, items, driver_id, driver, label, device_id)
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind=KIND,
        device_id=device_id,
        driver_id=driver_id,
        mission_id=missions.pop() if len(missions) == 1 else None,
        amount_cents=sum(c for c in at_stake if c is not None) if at_stake else None,
        detail={
            "fr": text.fr,
            "en": text.en,
            "reason": reason,
            "rights": rights,
            "tablet": {"device_id": device_id, "label": label},
            "driver": {
                "id": driver_id,
                "name": driver.name if driver else None,
                "role": driver.role if driver else None,
            },
            "entries": refs,
            "collections": [
                r
                for r, s in zip(refs, signed_entries, strict=True)
                if s.entry.type is EntryType.COLLECTION
            ],
        },
        now=now,
    )


def _ref(signed: SignedEntry) -> dict[str, Any]:
    return {
        "device_id": signed.entry.device_id,
        "seq": signed.seq,
        "hash": signed.hash,
        "type": str(signed.entry.type),
        "at": signed.entry.at,
        "mission_id": mission_of(signed),
        "amount": signed.entry.payload.get("amount"),
    }


def _numbers(seqs: Iterable[int]) -> str:
    shown = sorted(seqs)
    listed = ", ".join(str(s) for s in shown[:20])
    return listed + (f"… (+{len(shown) - 20})" if len(shown) > 20 else "")


def _sentence(
    reason: str,
    items: Sequence[tuple[SignedEntry, Held]],
    driver_id: str | None,
    driver: Driver | None,
    label: str,
    device_id: str,
) -> Text:
    seqs = _numbers(s.seq for s, _ in items)
    who = f"{driver.name} ({driver_id})" if driver else f"« {driver_id} »"
    who_en = f"{driver.name} ({driver_id})" if driver else f"“{driver_id}”"
    types = ", ".join(sorted({str(s.entry.type) for s, _ in items}))
    rights = sorted({h.right for _, h in items if h.right is not None})
    right_fr = ", ".join(f"« {LABELS[r][0]} »" for r in rights)
    right_en = ", ".join(f"“{LABELS[r][1]}”" for r in rights)
    role = driver.role if driver else "?"
    why = {
        "type_reserved": Text(
            f"d'un type que seul le journal du serveur contient ({types})",
            f"of a type only the server's journal holds ({types})",
        ),
        "driver_missing": Text(
            f"({types}) sans chauffeur : une entrée d'argent doit nommer qui l'a faite",
            f"({types}) naming no driver: a money entry must name who made it",
        ),
        "driver_unknown": Text(
            f"au nom d'un chauffeur que la société n'a pas ({who})",
            f"in the name of a driver the company does not have ({who_en})",
        ),
        "driver_not_enrolled": Text(
            f"au nom de {who}, qui n'est pas enrôlé sur cette tablette",
            f"in the name of {who_en}, who is not enrolled on this tablet",
        ),
        "decision_unknown": Text(
            f"de {who}, qui disent appliquer une décision du bureau que le serveur n'a pas "
            "prise (ou pas pour cet encaissement)",
            f"by {who_en}, which claim to apply an office decision the server never made "
            "(or not for this collection)",
        ),
        "payments_disabled": Text(
            f"({types}) de {who} alors que le module Paiements de la société est désactivé",
            f"({types}) by {who_en} while the company's payments module is off",
        ),
        "right_missing": Text(
            f"({types}) de {who}, dont le rôle « {role} » n'a pas le droit {right_fr}",
            f"({types}) by {who_en}, whose role “{role}” lacks the right {right_en}",
        ),
    }[reason]
    return Text(
        f"Entrées n° {seqs} de la tablette « {label} » ({device_id}) {why.fr} : enregistrées "
        "sur la chaîne mais mises de côté, rien n'en est tiré (valorisation, mission, "
        "facture). Vérifiez la tablette et le chauffeur, puis annulez l'encaissement ou "
        "acceptez en l'état.",
        f"Entries no. {seqs} of tablet “{label}” ({device_id}) {why.en}: stored on the "
        "chain but set aside, nothing is derived from them (valuation, mission, invoice). "
        "Check the tablet and the driver, then void the collection or accept as is.",
    )
