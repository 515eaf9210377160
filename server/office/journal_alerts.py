"""The words of a journal alert raised at a push (issue 16): a forked journal
(`journal_fork`) or an invalid one (`journal_invalid`, from the server's verification of
a batch). The push knows the entries; the office needs the tablet by its label, the
drivers whose entries the alert concerns, and a sentence that says what to do.

`describe` adds them to the alert's detail when it is raised (`open_anomaly`): `tablet`
({device_id, label, revoked}), `drivers` ([{id, name}]), `drivers_from` (`entries`: the
entries the alert names, stored or received; `tablet`: none of them is known, so the
drivers of the tablet's latest stored entries) and the sentence in French and English.
A detail that already carries its sentence (a tablet's integrity report) is left as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from server.platform.tables import devices, drivers, journal_entries

KINDS = frozenset({"journal_fork", "journal_invalid"})
RECENT = 50  # the tablet's latest entries read when the alert names none it holds


def _tablet(conn: sa.Connection, tenant_id: str, device_id: str | None) -> dict[str, Any]:
    row = None
    if device_id:
        row = conn.execute(
            sa.select(devices.c.label, devices.c.revoked_at).where(
                devices.c.tenant_id == tenant_id, devices.c.id == device_id
            )
        ).first()
    return {
        "device_id": device_id,
        "label": row.label if row is not None else None,
        "revoked": row is not None and row.revoked_at is not None,
    }


def _seqs(detail: Mapping[str, Any]) -> list[int]:
    """The seqs of the tablet's chain the alert names."""
    named = [detail.get("seq"), *(f.get("seq") for f in detail.get("findings") or ())]
    return sorted({s for s in named if isinstance(s, int) and not isinstance(s, bool)})


def _driver_ids(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str | None,
    detail: Mapping[str, Any],
    given: str | None,
) -> tuple[list[str], str]:
    found: set[str] = {given} if given else set()
    body = detail.get("received_body")
    if isinstance(body, Mapping) and isinstance(body.get("driver_id"), str):
        found.add(body["driver_id"])
    if device_id:
        seqs = _seqs(detail)
        if seqs:
            found |= {
                d
                for d in conn.execute(
                    sa.select(journal_entries.c.driver_id).where(
                        journal_entries.c.tenant_id == tenant_id,
                        journal_entries.c.device_id == device_id,
                        journal_entries.c.seq.in_(seqs),
                    )
                ).scalars()
                if d
            }
        if not found:
            recent = (
                sa.select(journal_entries.c.driver_id)
                .where(
                    journal_entries.c.tenant_id == tenant_id,
                    journal_entries.c.device_id == device_id,
                )
                .order_by(journal_entries.c.seq.desc())
                .limit(RECENT)
            )
            return sorted({d for d in conn.execute(recent).scalars() if d}), "tablet"
    return sorted(d for d in found if 0 < len(d) <= 64), "entries"


def _names(conn: sa.Connection, tenant_id: str, ids: Sequence[str]) -> list[dict[str, str]]:
    if not ids:
        return []
    names = dict(
        conn.execute(
            sa.select(drivers.c.id, drivers.c.name).where(
                drivers.c.tenant_id == tenant_id, drivers.c.id.in_(list(ids))
            )
        ).all()
    )
    return [{"id": i, "name": str(names.get(i, i))} for i in ids]


def _who(people: Sequence[Mapping[str, str]], lang: str) -> str:
    if not people:
        return "aucun chauffeur connu" if lang == "fr" else "no known driver"
    return ", ".join(f"{p['name']} ({p['id']})" for p in people)


def _what(kind: str, detail: Mapping[str, Any], lang: str) -> str:
    findings = [f for f in detail.get("findings") or () if isinstance(f, Mapping)]
    listed = " ".join(str(f.get(lang) or f.get("fr") or "") for f in findings).strip()
    if kind == "journal_fork" and "seq" in detail:
        seq = detail["seq"]
        return (
            f"elle a envoyé une autre entrée n° {seq} que celle déjà reçue (journal réécrit ou"
            " tablette copiée)."
            if lang == "fr"
            else f"it sent another entry no. {seq} than the one already received (a rewritten"
            " journal or a copied tablet)."
        )
    return listed or ("lot invalide." if lang == "fr" else "invalid batch.")


def describe(
    conn: sa.Connection,
    tenant_id: str,
    kind: str,
    detail: Mapping[str, Any],
    *,
    device_id: str | None,
    driver_id: str | None,
) -> tuple[dict[str, Any], str | None]:
    """The detail with the tablet, the drivers and the sentence; and the driver the
    anomaly names (when exactly one is concerned)."""
    if kind not in KINDS or "fr" in detail:
        return dict(detail), driver_id
    tablet = _tablet(conn, tenant_id, device_id)
    ids, source = _driver_ids(conn, tenant_id, device_id, detail, driver_id)
    people = _names(conn, tenant_id, ids)
    label = tablet["label"] or "?"
    title = (
        ("Journal réécrit", "Journal fork")
        if kind == "journal_fork"
        else ("Journal invalide", "Invalid journal")
    )
    whose = ("Chauffeurs concernés", "Drivers concerned")
    if source == "tablet":
        whose = ("Derniers chauffeurs de la tablette", "The tablet's latest drivers")
    fr = (
        f"{title[0]} sur la tablette « {label} » ({device_id}) : {_what(kind, detail, 'fr')}"
        f" {whose[0]} : {_who(people, 'fr')}. Lot refusé, rien n'est enregistré. Si la"
        " tablette a été copiée ou altérée, révoquez-la (ses envois seront mis de côté), puis"
        " traitez l'alerte avec son motif."
    )
    en = (
        f"{title[1]} on tablet “{label}” ({device_id}): {_what(kind, detail, 'en')}"
        f" {whose[1]}: {_who(people, 'en')}. Batch refused, nothing stored. If the tablet was"
        " copied or altered, revoke it (what it sends will be set aside), then acknowledge"
        " the alert with its reason."
    )
    described = {
        **detail,
        "fr": fr,
        "en": en,
        "tablet": tablet,
        "drivers": people,
        "drivers_from": source,
    }
    return described, (ids[0] if len(ids) == 1 else driver_id)
