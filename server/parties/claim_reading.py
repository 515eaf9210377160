"""Reading claims: the list, one claim with its documents and its log, their wire form,
and each claim's money in cents (`Accounts`: amount = paid + credited + open − refund_due,
the credited part derived from the credit notes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.office.issued_documents import CREDIT_NOTE
from server.parties import files as party_files
from server.parties.claim_documents import documents_state
from server.parties.claim_states import STATUS_LABELS, Status, next_actions
from server.platform.errors import not_found
from server.platform.tables import claims, documents, ordering_parties
from shared.money import from_cents, wire


def credited_cents(conn: sa.Connection, tenant_id: str, numbers: Iterable[str]) -> dict[str, int]:
    """{invoice number: cents credited incl. VAT} for the given invoices."""
    wanted = list(numbers)
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(documents.c.corrects, sa.func.sum(documents.c.total_incl_cents))
        .where(
            documents.c.tenant_id == tenant_id,
            documents.c.kind == CREDIT_NOTE,
            documents.c.corrects.in_(wanted),
        )
        .group_by(documents.c.corrects)
    )
    return {str(r[0]): int(r[1] or 0) for r in rows}


@dataclass(frozen=True, slots=True)
class Accounts:
    """A claim's money, in cents: amount = paid + credited + open − refund_due."""

    amount: int
    paid: int
    credited: int

    @property
    def balance(self) -> int:
        return self.amount - self.credited - self.paid

    @property
    def open(self) -> int:
        return max(self.balance, 0)

    @property
    def refund_due(self) -> int:
        return max(-self.balance, 0)


def accounts_of(row: Any, credited: int) -> Accounts:
    return Accounts(int(row.amount_cents), int(row.paid_cents), credited)


def claim_row(conn: sa.Connection, tenant_id: str, number: str, *, lock: bool = False) -> Any:
    query = sa.select(claims).where(
        claims.c.tenant_id == tenant_id, claims.c.invoice_number == number
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found("Demande de remboursement", "Claim", number)
    return row


def to_wire(row: Any, credited: int, party_name: str | None = None) -> dict[str, Any]:
    status = Status(row.status)
    money = accounts_of(row, credited)
    label = STATUS_LABELS[status]
    return {
        "invoice_number": row.invoice_number,
        "party_id": row.party_id,
        "party_name": party_name,
        "file_number": row.file_number,
        "mission_id": row.mission_id,
        "status": status.value,
        "status_label": {"fr": label.fr, "en": label.en},
        "amount": wire(from_cents(money.amount)),
        "paid": wire(from_cents(money.paid)),
        "credited": wire(from_cents(money.credited)),
        "open": wire(from_cents(money.open)),
        "refund_due": wire(from_cents(money.refund_due)),
        "rejection": row.rejection,
        "issued_on": row.issued_on.isoformat(),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "next_actions": [a.value for a in next_actions(status)],
    }


def _party_names(conn: sa.Connection, tenant_id: str) -> dict[str, str]:
    rows = conn.execute(
        sa.select(ordering_parties.c.id, ordering_parties.c.name).where(
            ordering_parties.c.tenant_id == tenant_id
        )
    )
    return {str(r.id): str(r.name) for r in rows}


def list_claims(
    conn: sa.Connection,
    tenant_id: str,
    *,
    party_id: str | None = None,
    status: str | None = None,
    file_number: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The tenant's claims, oldest invoice first."""
    query = sa.select(claims).where(claims.c.tenant_id == tenant_id)
    if party_id is not None:
        query = query.where(claims.c.party_id == party_id)
    if status is not None:
        query = query.where(claims.c.status == status)
    if file_number is not None:
        query = query.where(claims.c.file_number == file_number)
    rows = conn.execute(
        query.order_by(claims.c.issued_on, claims.c.invoice_number).limit(limit)
    ).all()
    credited = credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    names = _party_names(conn, tenant_id)
    return [to_wire(r, credited.get(r.invoice_number, 0), names.get(r.party_id)) for r in rows]


def get_claim(conn: sa.Connection, tenant_id: str, number: str) -> dict[str, Any]:
    """One claim with its documents (required, present, missing) and its log."""
    row = claim_row(conn, tenant_id, number)
    credited = credited_cents(conn, tenant_id, [number]).get(number, 0)
    out = to_wire(row, credited, _party_names(conn, tenant_id).get(row.party_id))
    out.update(documents_state(conn, tenant_id, row))
    log = (
        party_files.history(conn, tenant_id, row.party_id, row.file_number)
        if row.file_number
        else []
    )
    out["log"] = [
        entry
        for entry in log
        if entry["source"] not in ("claim", "payment")
        or (entry["detail"] or {}).get("invoice_number") in (None, number)
    ]
    return out


def all_accounts(conn: sa.Connection, tenant_id: str) -> dict[str, Accounts]:
    """Every claim's money, by invoice number (for totals and checks)."""
    rows = conn.execute(sa.select(claims).where(claims.c.tenant_id == tenant_id)).all()
    credited = credited_cents(conn, tenant_id, [r.invoice_number for r in rows])
    return {r.invoice_number: accounts_of(r, credited.get(r.invoice_number, 0)) for r in rows}
