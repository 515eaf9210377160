"""The demo tenant: what a newcomer sees after `make run`.

A towing company with the payments module on, three office users, three drivers, the
example contracts (ASSIST-A, ASSIST-B, PRIVATE) and the example missions assigned to
the drivers, plus one enrolment code per tablet. Seeding twice keeps what is there and
only makes fresh enrolment codes (they are short-lived).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from stdnum import luhn
from stdnum.fr import siren as stdnum_siren

from server.devices import tablets as devices
from server.office import contracts, missions, seller
from server.people import identity
from server.people import ordering_parties as parties
from server.people.drivers import create_driver

TENANT = "demo"
TENANT_NAME = "Dépannage Démo"
PASSWORD = "demo-towline"  # printed by `towline-server demo`; a demo, never production
USERS = (
    ("admin", "Alice Admin", "admin"),
    ("gerant", "Gérard Gérant", "manager"),
    ("bureau", "Béatrice Bureau", "office"),
)
DRIVERS = (("d1", "Karim", "1111"), ("d2", "Julie", "2222"), ("d3", "Marc", "3333"))
PARTIES = (("ASSIST-A", "Assistance A"), ("ASSIST-B", "Assistance B"))
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _demo_seller() -> dict[str, str]:
    """A made-up company whose numbers check out: the check digits are computed with
    python-stdnum (Luhn for the SIREN and the SIRET, the French VAT key)."""
    siren = "90210470" + luhn.calc_check_digit("90210470")
    siret = siren + "0002"
    siret += luhn.calc_check_digit(siret)
    return {
        "name": "Dépannage Démo SAS",
        "address": "8 avenue des Remorqueurs",
        "postcode": "69007",
        "city": "Lyon",
        "siret": siret,
        "vat_number": "FR" + stdnum_siren.to_tva(siren).removeprefix("FR"),
        "legal_form": "SAS",
        "capital": "20000.00",
        "rcs_city": "Lyon",
    }


SELLER = _demo_seller()


@dataclass(frozen=True, slots=True)
class Demo:
    created: bool
    tenant_id: str
    users: tuple[tuple[str, str], ...]  # (login, role)
    password: str
    drivers: tuple[tuple[str, str, str], ...]  # (id, name, PIN)
    codes: tuple[dict[str, Any], ...]
    missions: int


def _examples(kind: str) -> list[dict[str, Any]]:
    folder = EXAMPLES / kind
    if not folder.is_dir():
        raise FileNotFoundError(f"the demo reads {folder}: run it from a clone of the repository")
    return [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]


def seed(conn: sa.Connection, now: datetime) -> Demo:
    created = identity.get_tenant(conn, TENANT) is None
    count = 0
    if created:
        identity.create_tenant(conn, TENANT, TENANT_NAME, payments_enabled=True, now=now)
        for login, name, role in USERS:
            identity.create_user(conn, TENANT, login, name, PASSWORD, role, actor="demo", now=now)
        for driver_id, name, pin in DRIVERS:
            create_driver(conn, TENANT, driver_id, name, pin, "driver", actor="demo", now=now)
        for party_id, name in PARTIES:
            parties.create_party(conn, TENANT, party_id, name, actor="demo", now=now)
        for document in _examples("contracts"):
            contracts.publish(conn, TENANT, document, actor="demo", now=now)
        for index, document in enumerate(_examples("missions")):
            driver_id = DRIVERS[index % len(DRIVERS)][0]
            missions.create(conn, TENANT, document, driver_id, actor="demo", now=now)
            count += 1
    if seller.get_seller(conn, TENANT) is None:  # also for a demo made before invoicing
        seller.set_seller(conn, TENANT, SELLER, actor="demo", now=now)
    codes = tuple(
        devices.create_enrolment_code(
            conn, TENANT, [driver_id], f"Tablette de {name}", created_by="demo", now=now
        )
        for driver_id, name, _ in DRIVERS
    )
    return Demo(
        created=created,
        tenant_id=TENANT,
        users=tuple((login, role) for login, _, role in USERS),
        password=PASSWORD,
        drivers=DRIVERS,
        codes=codes,
        missions=count,
    )
