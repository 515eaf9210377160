"""Helpers for the invoicing tests: a valid seller identity (check digits computed with
python-stdnum), the example contracts and missions in a tenant, the server's valuation
of a mission as ingest stores it, and field entries as the tablets write them."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pypdf
import sqlalchemy as sa
from stdnum import luhn
from stdnum.fr import siren as stdnum_siren

from server.office import contracts, missions, seller, valuation_figures
from server.people import identity
from server.people import ordering_parties as parties
from server.platform import jobs
from server.platform.tables import journal_entries, valuations
from shared import signing
from shared.canonical import canonical_json
from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.valuation import value
from tests.conftest import example

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)  # the Saturday of mission M-A-0003
KEY = signing.private_key_from_bytes(bytes(range(1, 33)))


def render(eng: sa.Engine, now: datetime = NOW) -> int:
    """Do the jobs a worker would after the issuing transactions: the documents' files."""
    return jobs.drain(jobs.Context(eng, lambda: KEY, lambda: now))


def siren_of(base8: str) -> str:
    return base8 + luhn.calc_check_digit(base8)


def siret_of(siren: str, establishment: str = "0001") -> str:
    head = siren + establishment
    return head + luhn.calc_check_digit(head)


SIREN = siren_of("73282932")  # 732829320
SIRET = siret_of(SIREN)  # 73282932000017
VAT = "FR" + stdnum_siren.to_tva(SIREN).removeprefix("FR")  # FR44732829320
SELLER = {
    "name": "Dépannage Acme SAS",
    "address": "12 rue des Lilas",
    "postcode": "69003",
    "city": "Lyon",
    "siret": SIRET,
    "vat_number": VAT,
    "legal_form": "SAS",
    "capital": "10000",
    "rcs_city": "Lyon",
}

PRIVATE_TTC = {  # prices incl. VAT, storage at 10 %: two rates on one invoice
    **example("contracts", "private"),
    "id": "PRIVATE-TTC",
    "prices_include_vat": True,
    "vat_rates": {"STO": "10"},
}
TWO_RATES = {  # 240.00 incl. VAT: 195.00 at 20 % (162.50 + 32.50), 45.00 at 10 % (40.91 + 4.09)
    **example("missions", "private-tow"),
    "id": "M-P-0002",
    "file_number": "P-2026-0002",
    "services": [{"code": "TOW"}, {"code": "STO", "quantity": "3"}],
    "distance_km": {"en_route": "12", "loaded": "45"},
}


def set_up(
    conn: sa.Connection, tenant: str = "acme", *, with_seller: bool = True, valued: bool = True
) -> None:
    """A tenant with ASSIST-A, the example contracts plus PRIVATE-TTC, and missions
    M-A-0003 (ASSIST-A pays 250.00, the beneficiary 164.00) and M-P-0002 (240.00 incl.
    VAT at two rates), each with the server's valuation unless `valued` is False."""
    if identity.get_tenant(conn, tenant) is None:
        identity.create_tenant(conn, tenant, tenant.title(), payments_enabled=True, now=NOW)
    parties.create_party(conn, tenant, "ASSIST-A", "Assistance A", actor="t", now=NOW)
    for document in (example("contracts", "assist-a"), PRIVATE_TTC):
        contracts.publish(conn, tenant, document, actor="t", now=NOW)
    if with_seller:
        seller.set_seller(conn, tenant, SELLER, actor="t", now=NOW)
    for document, contract in (
        (example("missions", "a-saturday-accident-winching"), example("contracts", "assist-a")),
        (TWO_RATES, PRIVATE_TTC),
    ):
        missions.create(conn, tenant, document, None, actor="t", now=NOW)
        if valued:
            store_valuation(conn, tenant, document, contract)


def store_valuation(
    conn: sa.Connection,
    tenant: str,
    mission: dict[str, Any],
    contract: dict[str, Any],
    *,
    now: datetime = NOW,
) -> dict[str, Any]:
    """The server's own valuation of the mission, stored as ingest stores it."""
    wire = value(load_mission(mission), load_contract(contract)).to_wire()
    conn.execute(
        sa.insert(valuations).values(
            tenant_id=tenant,
            mission_id=mission["id"],
            source="server",
            digest=wire["digest"],
            beneficiary_due_cents=int(wire["payers"]["beneficiary"]["incl_vat"].replace(".", "")),
            body=canonical_json(wire).decode("utf-8"),
            created_at=now,
            **valuation_figures.columns(wire),
        )
    )
    return wire


def field_entry(
    conn: sa.Connection,
    tenant: str,
    type_: str,
    payload: dict[str, Any],
    *,
    ref: str,
    device: str = "dev_a",
    seq: int,
) -> None:
    """A tablet's stored journal entry (hash `ref`) as the push leaves it."""
    conn.execute(
        sa.insert(journal_entries).values(
            device_id=device,
            seq=seq,
            tenant_id=tenant,
            type=type_,
            at="2026-03-14T11:00:00.000Z",
            driver_id="d1",
            mission_id=payload.get("mission_id"),
            hash=ref,
            prev_hash="0" * 64,
            sig="0" * 128,
            body=json.dumps({"type": type_, "payload": payload}),
            received_at=NOW,
        )
    )


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace (no-break spaces included) folded to one space."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))
