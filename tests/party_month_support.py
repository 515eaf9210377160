"""Helpers for the scripted month of one ordering party (tests/test_party_month.py): the
party's own system (its API key as Bearer), the office (users' tokens, the desk), the
driver's tablet, and what the month's assertions read back from the database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fieldclient import attachments as field_attachments
from fieldclient.tablet import Tablet
from server.platform.tables import (
    claims,
    documents,
    file_events,
    missions,
    orders,
    party_files,
    payment_imports,
    payment_lines,
)
from tests.desk_support import post as desk_post
from tests.desk_support import sign_in
from tests.office_world import World

PARTY = "ASSIST-A"
TENANT = "demo"
FIRST_DAY = date(2026, 3, 10)  # a Tuesday: day 0 of the month
D = Decimal

# The party's recurring mistakes (docs/cleaning-rules.md): its UK platform sends miles,
# and it spells two services its own way. Version 2 adds a rule made from a hand fix.
RULES_V1: dict[str, Any] = {
    "party": PARTY,
    "rules": [
        {
            "id": "km-miles",
            "description": {
                "fr": "La plateforme britannique envoie des miles",
                "en": "The UK platform sends miles",
            },
            "when": {"path": "file_number", "matches": "^A-UK-"},
            "then": [{"multiply": {"path": "distance_km.*", "factor": "1.609344"}}],
        },
        {
            "id": "codes-maison",
            "description": {
                "fr": "Assistance A envoie ses propres codes de prestation",
                "en": "Assistance A sends its own service codes",
            },
            "when": {"path": "services.*.code", "in": ["REMORQ", "TREUIL"]},
            "then": [
                {"map": {"path": "services.*.code", "table": {"REMORQ": "TOW", "TREUIL": "WIN"}}}
            ],
        },
    ],
}

# The tables a duplicated message or order must leave exactly as they were.
WATCHED = (party_files, file_events, claims, orders, missions, documents, payment_lines)


def at(day: int, hour: int = 9) -> datetime:
    """Day `day` of the month, `hour` o'clock UTC (an hour later in Lyon)."""
    return datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC).replace(
        hour=hour
    )


def order(
    file_number: str,
    message_id: str,
    day: int,
    *,
    services: Sequence[str] = ("TOW",),
    loaded: str | None = "30",
    en_route: str = "12",
    sequence: int = 1,
    plate: str = "GH-482-KL",
) -> dict[str, Any]:
    """An order as Assistance A's platform sends it (examples/orders/assist-a-order.json),
    called in at 10:00 on a weekday of the month."""
    distance = {"en_route": en_route} | ({"loaded": loaded} if loaded is not None else {})
    return {
        "message_id": message_id,
        "file_number": file_number,
        "id": f"IMA-{message_id}",
        "file_sequence": sequence,
        "ordering_party": PARTY,
        "customer": None,
        "vehicle": {"plate": plate, "class": "VL"},
        "times": {"call": f"{FIRST_DAY + timedelta(days=day)}T10:00:00+01:00"},
        "distance_km": distance,
        "facts": {"accident": False},
        "services": [{"code": code} for code in services],
        "beneficiary": {"name": "Paul Durand", "phone": "+33 6 98 76 54 32"},
        "places": {
            "from": {"address": "A7, sortie 12", "city": "Vienne"},
            "to": {"address": "Garage Durand", "postcode": "38200", "city": "Vienne"},
        },
        "coverage": {
            "mission_cap": "250.00",
            "caps_include_vat": True,
            "km_covered": "50",
            "deductible": "0.00",
        },
        "file_consumed": "0.00",
    }


def picture(seed: str) -> bytes:
    """A small JPEG, as the tablet's camera sends one (the magic number is what counts)."""
    body = hashlib.sha256(seed.encode()).digest() * 64
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + body


class Party:
    """Assistance A's own system: its API key as Bearer."""

    def __init__(self, world: World, key: str) -> None:
        self.world = world
        self.headers = {"Authorization": f"Bearer {key}", "Accept-Language": "fr"}

    def order(self, body: Mapping[str, Any], status: int = 201) -> dict[str, Any]:
        answer = self.world.office.post("/api/v1/party/orders", json=body, headers=self.headers)
        assert answer.status_code == status, answer.get_json()
        return dict(answer.get_json())

    def message(
        self, file_number: str, message_id: str, kind: str, name: str, **detail: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": message_id,
            "file_number": file_number,
            "kind": kind,
            "name": name,
            "at": self.world.clock.now.isoformat(),
        }
        if detail:
            body["detail"] = detail
        answer = self.world.office.post("/api/v1/party/messages", json=body, headers=self.headers)
        assert answer.status_code == 200, answer.get_json()
        return dict(answer.get_json())

    def file(self, file_number: str) -> dict[str, Any]:
        answer = self.world.office.get(f"/api/v1/party/files/{file_number}", headers=self.headers)
        assert answer.status_code == 200, answer.get_json()
        return dict(answer.get_json())


class Office:
    """The office's API calls, as the clerk (bureau) unless told."""

    def __init__(self, world: World) -> None:
        self.world = world

    def call(
        self, method: str, path: str, body: Any = None, *, who: str = "bureau", status: int = 200
    ) -> Any:
        send = getattr(self.world.office, method)
        answer = send(path, json=body, headers=self.world.as_user(who))
        assert answer.status_code == status, (path, answer.get_json())
        return answer.get_json()

    def assign(self, mission_id: str, driver: str = "d1") -> None:
        self.call("post", f"/api/v1/missions/{mission_id}/assign", {"driver_id": driver})

    def claim(self, number: str, *actions: str, status: int = 200) -> dict[str, Any]:
        done: dict[str, Any] = {}
        for action in actions:
            done = self.call("post", f"/api/v1/claims/{number}/{action}", status=status)
        return done

    def invoices(self, mission_id: str) -> dict[str, dict[str, Any]]:
        """The mission's invoices by recipient kind."""
        found = self.call("get", f"/api/v1/documents?mission_id={mission_id}&kind=invoice")
        return {d["recipient_kind"]: d for d in found}

    def credit_note(self, invoice: str, reason: str, amount: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} | ({"amount": amount} if amount is not None else {})
        return dict(self.call("post", f"/api/v1/documents/{invoice}/credit-note", body, status=201))

    def cancel_by_hand(self, file_number: str, reason: str) -> None:
        """On the desk, as a clerk does it: confirmed, with a reason."""
        client = self.world.app.test_client()
        assert sign_in(client, "bureau").status_code == 302
        done = desk_post(
            client,
            "/desk/files/cancel",
            {"party_id": PARTY, "file_number": file_number, "reason": reason, "confirm": "1"},
        )
        assert done.status_code == 302, done.get_data(as_text=True)[:500]


def drive(
    tablet: Tablet,
    mission_id: str,
    *,
    collect: str = "0.00",
    repair: bool = False,
    photo: bool = True,
) -> None:
    """The driver's job from en route to closed, collecting what the beneficiary owes
    before leaving the scene (ASSIST-A: before departure), and a photo of the vehicle."""
    tablet.step(mission_id, "en_route")
    tablet.step(mission_id, "on_site")
    money = tablet.view(mission_id).money
    assert money is not None, mission_id
    remaining = money.remaining
    assert remaining == D(collect), (mission_id, remaining)
    if remaining > 0:
        tablet.collect(mission_id, "card", collect, {"terminal_ref": f"AUT-{mission_id[-9:]}"})
    tablet.step(mission_id, "departed")
    if not repair:
        tablet.step(mission_id, "delivered")
    tablet.step(mission_id, "closed")
    if photo:
        take_photo(tablet, mission_id)


def take_photo(tablet: Tablet, mission_id: str) -> None:
    field_attachments.attach(tablet, mission_id, "vehicle_photo", picture(mission_id))


# --- reading back --------------------------------------------------------------------------


def _plain(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return repr(value)


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the watched tables, as text, in a stable order."""
    out = {}
    with engine.connect() as conn:
        for table in WATCHED:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted(tuple(_plain(v) for v in row) for row in rows)
    return out


def lifecycle_rows(engine: sa.Engine, file_number: str) -> list[Any]:
    """The file's lifecycle events (the log's entries that moved it), oldest first."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(file_events)
                .where(
                    file_events.c.party_id == PARTY,
                    file_events.c.file_number == file_number,
                    file_events.c.state_after.is_not(None),
                )
                .order_by(file_events.c.id)
            )
        )


def log_entries(engine: sa.Engine, file_number: str, event: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r.detail)
            for r in conn.execute(
                sa.select(file_events.c.detail)
                .where(
                    file_events.c.party_id == PARTY,
                    file_events.c.file_number == file_number,
                    file_events.c.event == event,
                )
                .order_by(file_events.c.id)
            )
        ]


def stored_files(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            r.file_number: r
            for r in conn.execute(sa.select(party_files).where(party_files.c.party_id == PARTY))
        }


def payment_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(payment_lines, payment_imports.c.source)
                .join(
                    payment_imports,
                    sa.and_(
                        payment_imports.c.tenant_id == payment_lines.c.tenant_id,
                        payment_imports.c.id == payment_lines.c.import_id,
                    ),
                )
                .order_by(payment_imports.c.source, payment_lines.c.line_no)
            )
        )


def applied_by_line(engine: sa.Engine) -> dict[str, int]:
    """Cents each payment line put on a claim, read from the files' logs (the claims'
    side of the story: `payment:<import>:<line>` → cents)."""
    applied: dict[str, int] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(file_events.c.event, file_events.c.detail).where(
                file_events.c.source == "payment",
                file_events.c.event.in_(
                    [
                        "payment_matched",
                        "payment_partial",
                        "payment_over_amount",
                        "payment_already_paid",
                    ]
                ),
            )
        )
        for event, detail in rows:
            cents = int(D(detail["amount"]) * 100)
            applied[detail["reference"]] = (
                cents if event in ("payment_matched", "payment_partial") else 0
            )
    return applied


def database_url(engine: sa.Engine) -> str:
    """A URL the command line can open on the test's database (its schema on PostgreSQL)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.exec_driver_sql("SHOW search_path").scalar()
    return f"{url}?options=-csearch_path%3D{schema}"


def drop(root: Path, folder: str, name: str, text: str) -> Path:
    """A file waiting in the nightly inbox."""
    where = root / TENANT / folder
    where.mkdir(parents=True, exist_ok=True)
    path = where / name
    path.write_text(text, encoding="utf-8")
    return path
