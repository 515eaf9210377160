"""A tenant's end of March and April for the closing and archive tests (no tests here).

Two tablets push signed entries; the server dates them by reception. The server journal
issues an invoice and a credit note (entries in the documented format, appended here
since the invoicing module is another's), with their documents when the `documents`
table exists. Reception times (UTC; Paris is UTC+2 from 29 March):

    dev_a #1 cash 120.00 (20 %)   #2 card 60.00 (10 %)    30/03 09:00 → day 2026-03-30
    dev_b #1 cheque 80.00 (no VAT split)                  30/03 22:30 → day 2026-03-31 (00:30 Paris)
    server #1 invoice F2026-000001, 120.00 incl. VAT      31/03 08:00 → day 2026-03-31
    (1 April: nothing)
    dev_a #3 reversal of #2 (card −60.00)  #4 mission step 02/04 10:00 → day 2026-04-02
    server #2 credit note A2026-000001, 60.00             02/04 11:00 → day 2026-04-02
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from server.devices import push
from server.office import archive, closing, office_journal
from server.platform.tables import journal_entries
from shared import journal, signing
from shared.journal import EntryType, SignedEntry
from tests.sync_support import TENANT, Tablet, add_tenant, enrol

KEY = signing.private_key_from_bytes(bytes(range(1, 33)))
SERVER_HEX = signing.public_key_to_bytes(signing.public_key_of(KEY)).hex()
FIRST_CLOSE = datetime(2026, 4, 3, 8, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\nF2026-000001\n%%EOF\n"
FACTURX = b"%PDF-1.7\nF2026-000001 factur-x\n%%EOF\n"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def split(amount: str, rate: str) -> list[dict[str, str]]:
    incl = Decimal(amount)
    excl = (incl / (1 + Decimal(rate) / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return [{"rate": rate, "excl_vat": str(excl), "vat": str(incl - excl), "incl_vat": amount}]


@dataclass
class Scenario:
    engine: sa.Engine
    tablets: dict[str, Tablet] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)

    def tablet(self, device_id: str) -> Tablet:
        if device_id not in self.tablets:
            self.tablets[device_id] = Tablet(device_id)
            self.sent[device_id] = 0
            enrol(self.engine, self.tablets[device_id])
        return self.tablets[device_id]

    def write(self, device_id: str, type_: EntryType, **payload: Any) -> SignedEntry:
        [made] = self.tablet(device_id).write(type=type_, **payload)
        return made

    def collect(
        self, device_id: str, method: str, amount: str, rate: str | None = None
    ) -> SignedEntry:
        extra = {"vat": split(amount, rate)} if rate else {}
        return self.write(
            device_id,
            EntryType.COLLECTION,
            mission_id="M-1",
            method=method,
            amount=amount,
            **extra,
        )

    def push(self, device_id: str, when: datetime) -> None:
        """Everything the tablet has not sent yet, received by the server at `when`."""
        tablet = self.tablets[device_id]
        with self.engine.begin() as conn:
            result = push.receive(
                conn,
                tenant_id=TENANT,
                device_id=device_id,
                public_key=tablet.public_key,
                entries=tablet.wire(self.sent[device_id] + 1),
                revoked=False,
                now=when,
            )
        assert result.status is not None, result.to_wire("en")
        self.sent[device_id] = tablet.entries[-1].seq

    def issue(
        self,
        when: datetime,
        number: str,
        amount: str,
        rate: str,
        *,
        credit: bool = False,
        pdf: bytes = PDF,
        facturx: bytes | None = FACTURX,
    ) -> SignedEntry:
        """An issuing entry of the server journal (and its document, if the table exists)."""
        [share] = split(amount, rate)
        payload: dict[str, Any] = {
            "number": number,
            "kind": "credit_note" if credit else "invoice",
            "by_rate": [share],
            "total": {k: share[k] for k in ("excl_vat", "vat", "incl_vat")},
            "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        }
        if facturx is not None:
            payload["facturx_sha256"] = hashlib.sha256(facturx).hexdigest()
        type_ = EntryType.CREDIT_NOTE_ISSUED if credit else EntryType.INVOICE_ISSUED
        with self.engine.begin() as conn:
            signed = office_journal.append(
                conn, TENANT, type_, payload, key=KEY, actor="bureau", now=when
            )
            insert_document(
                conn,
                number,
                signed.seq,
                "credit_note" if credit else "invoice",
                pdf,
                facturx,
                when,
                share,
            )
        return signed

    def close(self, now: datetime, **options: Any) -> list[closing.TenantClosing]:
        with self.engine.begin() as conn:
            return closing.run_closings(conn, TENANT, key=KEY, now=now, **options)

    def closings(self) -> list[closing.TenantClosing]:
        with self.engine.connect() as conn:
            return closing.tenant_closings(conn, TENANT)


def _filler(column: sa.Column[Any], when: datetime) -> Any:
    kind = column.type
    if isinstance(kind, sa.LargeBinary):
        return b""
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.DateTime) or getattr(kind, "impl", None) is not None:
        return when
    if isinstance(kind, sa.Date):
        return date(2026, 3, 31)
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Numeric):
        return Decimal(0)
    return "x"


def insert_document(
    conn: sa.Connection,
    number: str,
    seq: int,
    kind: str,
    pdf: bytes,
    facturx: bytes | None,
    when: datetime,
    share: dict[str, str] | None = None,
) -> None:
    """A row of the invoicing module's `documents` table, whatever its other columns;
    with `share`, the columns its issuing entry signs say what the entry says."""
    table = archive.documents_table(conn)
    if table is None:
        return
    values = {
        c.name: _filler(c, when)
        for c in table.c
        if not c.nullable and c.default is None and c.server_default is None
    }
    wanted = {
        "tenant_id": TENANT,
        "number": number,
        "kind": kind,
        "series": number[0],
        "seq": seq,
        "journal_seq": seq,
        "mission_id": "M-1",
        "currency": "EUR",
        "pdf": pdf,
        "facturx": facturx,
        "issued_at": when,
        **(signed_columns(number, share, "bureau") if share is not None else {}),
    }
    values.update({k: v for k, v in wanted.items() if k in table.c})
    conn.execute(sa.insert(table).values(**values))


def signed_columns(number: str, share: dict[str, str], actor: str) -> dict[str, Any]:
    """The columns the verifier compares with the issuing entry (server.office.stored_columns),
    as the entry says them."""
    series, _, digits = number.rpartition("-")
    cents = {k: int(Decimal(share[k]) * 100) for k in ("excl_vat", "vat", "incl_vat")}
    return {
        "series": series,
        "seq": int(digits),
        "created_by": actor,
        "by_rate": [share],
        "total_excl_cents": cents["excl_vat"],
        "total_vat_cents": cents["vat"],
        "total_incl_cents": cents["incl_vat"],
    }


def build(engine: sa.Engine) -> Scenario:
    add_tenant(engine)
    world = Scenario(engine)
    world.collect("dev_a", "cash", "120.00", "20")
    card = world.collect("dev_a", "card", "60.00", "10")
    world.push("dev_a", utc("2026-03-30T09:00:00"))
    world.collect("dev_b", "cheque", "80.00")
    world.push("dev_b", utc("2026-03-30T22:30:00"))
    world.issue(utc("2026-03-31T08:00:00"), "F2026-000001", "120.00", "20")
    world.write(
        "dev_a",
        EntryType.REVERSAL,
        mission_id="M-1",
        reverses=journal.reference(card),
        method="card",
        amount="60.00",
        reason="payé deux fois",
        vat=split("60.00", "10"),
    )
    world.write("dev_a", EntryType.MISSION_STEP, mission_id="M-1", step="departed")
    world.push("dev_a", utc("2026-04-02T10:00:00"))
    world.issue(
        utc("2026-04-02T11:00:00"), "A2026-000001", "60.00", "10", credit=True, facturx=None
    )
    return world


def server_entries(engine: sa.Engine) -> list[SignedEntry]:
    with engine.connect() as conn:
        return office_journal.entries(conn, TENANT)


def count_closing_entries(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(journal_entries)
                .where(journal_entries.c.type == "closing")
            ).scalar_one()
        )
