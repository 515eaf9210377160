"""Gapless, chronological document numbers: one series per tenant, per kind, per year.

French rules (CGI art. 242 nonies A): invoices carry a unique number from one continuous
chronological sequence, without gap. Each series is a row of `number_series` (for
example `F2026`, the invoices of 2026; `A2026`, the credit notes) holding the last
number given. `next_number` bumps it with an UPDATE … RETURNING inside the caller's
transaction:

- the row stays locked until that transaction ends, so a second issuer of the same
  series waits, then reads the committed value: no duplicate, and numbers are given in
  commit order;
- if the issuing transaction rolls back, the bump rolls back with it: no gap;
- the first number of a series inserts the row with INSERT … ON CONFLICT DO NOTHING
  first, so two first issuers racing each other both end up bumping the one row;
- the row also keeps the last issue instant, and a document is never dated before the
  one numbered just before it: `issued_at` is `now`, or that instant if `now` is earlier
  (a clock a few milliseconds behind, a worker that waited for the lock).

The year is the tenant's local year (Europe/Paris by default) of the issue instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from server.platform.tables import number_series

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
RECEIPT = "receipt"  # a payment received in the office (server.office.office_payments)
REFUND_RECEIPT = "refund_receipt"  # a void no invoice answers (server.office.refund_receipts)
# facture, avoir, règlement, reçu de remboursement
PREFIXES = {INVOICE: "F", CREDIT_NOTE: "A", RECEIPT: "R", REFUND_RECEIPT: "RR"}
DIGITS = 6
DEFAULT_TIMEZONE = "Europe/Paris"


@dataclass(frozen=True, slots=True)
class Number:
    series: str  # "F2026"
    seq: int  # 1, 2, … within the series
    issued_at: datetime  # aware, UTC, never before the previous number's

    @property
    def text(self) -> str:
        """The number printed on the document: `F2026-000001`."""
        return format_number(self.series, self.seq)


def format_number(series: str, seq: int) -> str:
    return f"{series}-{seq:0{DIGITS}d}"


def series_for(kind: str, moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """The series of a document of `kind` issued at `moment`: prefix and local year."""
    if moment.tzinfo is None:
        raise ValueError("an issue instant must be aware")
    return f"{PREFIXES[kind]}{moment.astimezone(ZoneInfo(timezone)).year}"


def _ensure_row(conn: sa.Connection, tenant_id: str, series: str) -> None:
    """Insert the series' counter at 0 unless it exists, without failing on a race."""
    values = {"tenant_id": tenant_id, "series": series, "last_seq": 0, "last_issued_at": None}
    keys = ["tenant_id", "series"]
    if conn.dialect.name == "postgresql":
        conn.execute(
            postgresql.insert(number_series)
            .values(values)
            .on_conflict_do_nothing(index_elements=keys)
        )
    elif conn.dialect.name == "sqlite":
        conn.execute(
            sqlite.insert(number_series).values(values).on_conflict_do_nothing(index_elements=keys)
        )
    else:  # pragma: no cover - Towline runs on SQLite and PostgreSQL only
        raise NotImplementedError(conn.dialect.name)


def next_number(
    conn: sa.Connection,
    tenant_id: str,
    kind: str,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> Number:
    """The next number of `kind` for the tenant, taken in the caller's transaction (which
    must also store the document: committing one without the other would leave a gap)."""
    series = series_for(kind, now, timezone)
    where = sa.and_(number_series.c.tenant_id == tenant_id, number_series.c.series == series)
    bump = (
        sa.update(number_series)
        .where(where)
        .values(last_seq=number_series.c.last_seq + 1)
        .returning(number_series.c.last_seq, number_series.c.last_issued_at)
    )
    row = conn.execute(bump).first()
    if row is None:
        _ensure_row(conn, tenant_id, series)
        row = conn.execute(bump).one()
    issued_at = now.astimezone(UTC)
    if row.last_issued_at is not None and row.last_issued_at > issued_at:
        issued_at = row.last_issued_at
    conn.execute(sa.update(number_series).where(where).values(last_issued_at=issued_at))
    return Number(series, int(row.last_seq), issued_at)


def last_numbers(conn: sa.Connection, tenant_id: str) -> dict[str, int]:
    """Every series of the tenant with the last number given (for checks and exports)."""
    rows = conn.execute(
        sa.select(number_series.c.series, number_series.c.last_seq)
        .where(number_series.c.tenant_id == tenant_id)
        .order_by(number_series.c.series)
    )
    return {r.series: int(r.last_seq) for r in rows}
